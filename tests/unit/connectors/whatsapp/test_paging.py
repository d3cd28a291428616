"""paging.py: the reply-id state both directions share (long payloads, "more" pages)."""
from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from connectors.whatsapp.inbound import DialogueTurn, DirectReply, to_rasa_input
from connectors.whatsapp.paging import (
    PAGE_STATE_VERSION,
    CorruptPageStateError,
    LegacyRest,
    Page,
    ResolvedReply,
    Row,
    UnknownReplyIdError,
    list_message,
    reply_ids,
    resolve_reply_id,
)
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.maps import owned_by
from connectors.whatsapp.render import legacy_pages
from connectors.whatsapp.updates.messages import ListReply

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def id_map() -> InMemoryPayloadIdMap:
    return InMemoryPayloadIdMap()


def _page(body: str, count: int, *, more: tuple[str, str] | None = None, start: int = 0) -> Page:
    rows = tuple(Row(f"Option {i}", None, f"/o{i}") for i in range(start, start + count))
    return Page(body, rows, more)


def _rows(message: dict) -> list[dict]:
    return [row for section in message["interactive"]["action"]["sections"] for row in section["rows"]]


def test_inbound_side_imports_paging_but_not_the_renderer() -> None:
    code = (
        "import sys, connectors.whatsapp.inbound\n"
        "assert 'connectors.whatsapp.paging' in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.startswith('connectors.whatsapp.render')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


async def test_payloads_that_fit_are_their_own_ids(id_map: InMemoryPayloadIdMap) -> None:
    assert await reply_ids(["/a", "/b"], 200, id_map) == ["/a", "/b"]
    assert len(id_map) == 0


async def test_long_token_like_or_padded_payloads_become_tokens(id_map: InMemoryPayloadIdMap) -> None:
    long = "/p" + "x" * 199
    ids = await reply_ids([long, "~home", " /b ", "/p" + "x" * 198], 200, id_map)
    assert ids[:3] == [id_map.token(long), id_map.token("~home"), id_map.token(" /b ")]
    assert ids[3] == "/p" + "x" * 198  # exactly 200 fits
    for reply_id, payload in zip(ids, [long, "~home", " /b "]):
        assert await resolve_reply_id(reply_id, id_map) == ResolvedReply(kind="payload", payload=payload)


async def test_repeated_payloads_get_numbered_tokens(id_map: InMemoryPayloadIdMap) -> None:
    ids = await reply_ids(["/r", "/r", "/r"], 256, id_map)
    token = id_map.token("/r")
    assert ids == ["/r", token, f"{token}.2"]
    assert [(await resolve_reply_id(i, id_map)).payload for i in ids] == ["/r"] * 3


async def test_a_single_page_has_no_more_row_and_stores_nothing(id_map: InMemoryPayloadIdMap) -> None:
    message = await list_message(_page("Wähle", 2), [], label="Optionen", id_map=id_map)
    assert message == {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Wähle"},
            "action": {
                "button": "Optionen",
                "sections": [{"title": "Optionen", "rows": [{"id": "/o0", "title": "Option 0"}, {"id": "/o1", "title": "Option 1"}]}],
            },
        },
    }
    assert len(id_map) == 0


async def test_description_is_sent_only_when_given(id_map: InMemoryPayloadIdMap) -> None:
    page = Page("b", (Row("Kurz…", "Kurz und lang", "/a"), Row("B", None, "/b")))
    rows = _rows(await list_message(page, [], label="L", id_map=id_map))
    assert rows == [{"id": "/a", "title": "Kurz…", "description": "Kurz und lang"}, {"id": "/b", "title": "B"}]


async def test_following_pages_are_stored_once_and_each_tap_stores_only_the_rest(id_map: InMemoryPayloadIdMap) -> None:
    pages = [
        _page("first", 9, more=("Weitere …", "Noch 11 weitere Optionen")),
        _page("second", 9, more=("Weitere …", "Noch 2 weitere Optionen"), start=9),
        _page("third", 2, start=18),
    ]
    first = await list_message(pages[0], pages[1:], label="Optionen", id_map=id_map)
    more = _rows(first)[-1]
    assert more["id"].startswith(MORE_TOKEN_PREFIX) and more["title"] == "Weitere …"
    assert more["description"] == "Noch 11 weitere Optionen"
    assert len(id_map) == 1  # only the pages behind "more"; their ids come when they are sent

    second = await resolve_reply_id(more["id"], id_map)
    assert second.kind == "more_page" and len(second.page) == 1
    assert second.page[0]["interactive"]["body"] == {"text": "second"}
    assert second.page[0]["interactive"]["action"]["button"] == "Optionen"
    assert [r["id"] for r in _rows(second.page[0])][:9] == [f"/o{i}" for i in range(9, 18)]
    assert len(id_map) == 2

    third = await resolve_reply_id(_rows(second.page[0])[-1]["id"], id_map)
    assert [r["title"] for r in _rows(third.page[0])] == ["Option 18", "Option 19"]
    assert len(id_map) == 2  # the last page stores nothing


async def test_stored_pages_are_per_person(id_map: InMemoryPayloadIdMap) -> None:
    pages = [_page("a", 9, more=("More …", "2 more")), _page("b", 2, start=9)]
    alice, bob = owned_by(id_map, "a" * 32), owned_by(id_map, "b" * 32)
    alice_more = _rows(await list_message(pages[0], pages[1:], label="L", id_map=alice))[-1]["id"]
    bob_more = _rows(await list_message(pages[0], pages[1:], label="L", id_map=bob))[-1]["id"]
    assert alice_more != bob_more
    await id_map.forget_owners(["a" * 32])
    with pytest.raises(UnknownReplyIdError):
        await resolve_reply_id(alice_more, bob)
    assert (await resolve_reply_id(bob_more, bob)).kind == "more_page"


async def test_a_page_with_followers_needs_a_more_row(id_map: InMemoryPayloadIdMap) -> None:
    with pytest.raises(CorruptPageStateError):
        await list_message(_page("a", 9), [_page("b", 1)], label="L", id_map=id_map)


async def test_unknown_tokens_raise_unknown(id_map: InMemoryPayloadIdMap) -> None:
    with pytest.raises(UnknownReplyIdError) as raised:
        await resolve_reply_id(id_map.token("gone") + ".3", id_map)
    assert raised.value.token == id_map.token("gone")
    with pytest.raises(UnknownReplyIdError):
        await resolve_reply_id(id_map.token("gone", prefix=MORE_TOKEN_PREFIX), id_map)


def _state(**changes: object) -> str:
    state: dict[str, object] = {
        "v": PAGE_STATE_VERSION,
        "label": "L",
        "pages": [{"body": "b", "rows": [["t", None, "/p"]], "more": None}],
    }
    state.update(changes)
    return json.dumps(state)


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[1, 2]",
        json.dumps({"v": 1, "choices": [["t", "/p"]], "label": "x", "language": "de", "offset": 9, "total": 11}),
        _state(v=99),
        _state(label=3),
        _state(pages=[]),
        _state(pages="x"),
        _state(pages=[{"body": "b", "rows": [], "more": None}]),
        _state(pages=[{"body": "b", "rows": [["t", "/p"]], "more": None}]),
        _state(pages=[{"body": None, "rows": [["t", None, "/p"]], "more": None}]),
        _state(pages=[{"body": "b", "rows": [["t", 5, "/p"]], "more": None}]),
        _state(pages=[{"body": "b", "rows": [["t", None, "/p"]], "more": ["only a title"]}]),
        _state(pages=[{"body": "b", "rows": [["t", None, "/p"]], "more": None}] * 2),  # no "more" row to reach the second
    ],
)
async def test_unusable_stored_pages_raise_corrupt(stored: str, id_map: InMemoryPayloadIdMap) -> None:
    token = await id_map.remember(stored, prefix=MORE_TOKEN_PREFIX)
    with pytest.raises(CorruptPageStateError):
        await resolve_reply_id(token, id_map)


# --------------------------------------------------------------------------- version 1 (before the deploy)
#
# Until commit 75e97f1 the renderer (then the one module render.py) stored behind "more"
# the options after the page, unfitted, as ``json.dumps(state, ensure_ascii=False,
# sort_keys=True)`` of {"v": 1, "choices": [[title, payload], ...], "label", "language",
# "offset", "total"}; a tap rendered the next page from them and stored the rest again. The
# values below are written exactly so, and the pages expected are what that code sent for
# them (its output, copied): a list sent before the deploy must page on after it.

_LONG_PAYLOAD = '/select_job{"job_id":"14","note":"' + "x" * 200 + '"}'
_NURSE = "Pflegefachkraft (m/w/d) ambulante Pflege Berlin"
_resolve_with_layout = partial(resolve_reply_id, legacy_layout=legacy_pages)


def _job(n: int) -> str:
    return _LONG_PAYLOAD if n == 14 else f'/select_job{{"job_id":"{n}"}}'


def _v1_state(numbers: range, *, offset: int, total: int, language: str = "de", label: str = "Optionen") -> str:
    """A version 1 value as the old renderer wrote it (its _list_page)."""
    state = {
        "v": 1,
        "choices": [[_NURSE if n in (12, 13) else f"Stelle {n}", _job(n)] for n in numbers],
        "label": label,
        "language": language,
        "offset": offset,
        "total": total,
    }
    return json.dumps(state, ensure_ascii=False, sort_keys=True)


def _list(body: str, rows: list[dict], label: str = "Optionen") -> dict:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": label, "sections": [{"title": label, "rows": rows}]},
        },
    }


async def test_a_version_1_rest_pages_on_as_the_old_renderer_paged_it(id_map: InMemoryPayloadIdMap) -> None:
    # 25 options were sent; the first page showed 1-9, "more" kept 10-25.
    token = await id_map.remember(_v1_state(range(10, 26), offset=9, total=25), prefix=MORE_TOKEN_PREFIX)
    second = await _resolve_with_layout(token, id_map)
    assert second.kind == "more_page" and len(second.page) == 1
    more = _rows(second.page[0])[-1]
    assert more["id"].startswith(MORE_TOKEN_PREFIX) and more["id"] != token
    assert second.page[0] == _list(
        "Weitere Optionen (10–18 von 25):",
        [
            {"id": '/select_job{"job_id":"10"}', "title": "Stelle 10"},
            {"id": '/select_job{"job_id":"11"}', "title": "Stelle 11"},
            {"id": '/select_job{"job_id":"12"}', "title": "Pflegefachkraft (m/w/d)…", "description": _NURSE},
            {"id": '/select_job{"job_id":"13"}', "title": "Pflegefachkraft… (2)", "description": _NURSE},
            {"id": id_map.token(_LONG_PAYLOAD), "title": "Stelle 14"},
            *({"id": _job(n), "title": f"Stelle {n}"} for n in range(15, 19)),
            {"id": more["id"], "title": "Weitere …", "description": "Noch 7 weitere Optionen"},
        ],
    )
    assert (await resolve_reply_id(id_map.token(_LONG_PAYLOAD), id_map)).payload == _LONG_PAYLOAD

    # What follows is stored again, now as version 2, and pages without the layout.
    assert json.loads(await id_map.resolve(more["id"]))["v"] == PAGE_STATE_VERSION
    third = await resolve_reply_id(more["id"], id_map)
    assert third.page[0] == _list(
        "Weitere Optionen (19–25 von 25):", [{"id": _job(n), "title": f"Stelle {n}"} for n in range(19, 26)]
    )


async def test_a_short_version_1_rest_is_one_last_page_in_its_language(id_map: InMemoryPayloadIdMap) -> None:
    # 19 options in English: the first page showed 1-9, "more" kept the last 10, which fit one page.
    value = _v1_state(range(10, 20), offset=9, total=19, language="en", label="Alle Stellen")
    before = len(id_map)
    token = await id_map.remember(value, prefix=MORE_TOKEN_PREFIX)
    page = (await _resolve_with_layout(token, id_map)).page[0]
    assert page["interactive"]["body"] == {"text": "More options (10–19 of 19):"}
    assert page["interactive"]["action"]["button"] == "Alle Stellen"
    assert [row["title"] for row in _rows(page)] == [
        "Stelle 10", "Stelle 11", "Pflegefachkraft (m/w/d)…", "Pflegefachkraft… (2)", *(f"Stelle {n}" for n in range(14, 20))
    ]
    assert not any(row["id"].startswith(MORE_TOKEN_PREFIX) for row in _rows(page))
    assert len(id_map) == before + 2  # the v1 value and the long payload's token, no pages behind


async def test_a_version_1_tap_through_the_inbound_side_reaches_every_option(id_map: InMemoryPayloadIdMap) -> None:
    token = await id_map.remember(_v1_state(range(10, 41), offset=9, total=40), prefix=MORE_TOKEN_PREFIX)
    reached: list[str] = []
    bodies: list[str] = []
    while token:
        tap = ListReply("wamid.X", "4915550000951", "interactive", None, None, reply_id=token, title="Weitere …")
        reply = await to_rasa_input(tap, id_map, resolver=_resolve_with_layout)
        assert isinstance(reply, DirectReply) and len(reply.messages) == 1
        bodies.append(reply.messages[0]["interactive"]["body"]["text"])
        token = None
        for row in _rows(reply.messages[0]):
            if row["id"].startswith(MORE_TOKEN_PREFIX):
                token = row["id"]
            else:
                reached.append((await resolve_reply_id(row["id"], id_map)).payload)
    assert reached == [_job(n) for n in range(10, 41)]  # every option once, in order
    assert bodies == [
        "Weitere Optionen (10–18 von 40):",
        "Weitere Optionen (19–27 von 40):",
        "Weitere Optionen (28–36 von 40):",
        "Weitere Optionen (37–40 von 40):",
    ]


def _v1(**changes: object) -> str:
    state = json.loads(_v1_state(range(10, 12), offset=9, total=11))
    state.update(changes)
    return json.dumps(state)


@pytest.mark.parametrize(
    "stored",
    [
        _v1(choices=[]),
        _v1(choices="Stelle 10"),
        _v1(choices=[["Stelle 10"]]),
        _v1(choices=[["Stelle 10", "/a", "extra"]]),
        _v1(choices=[["Stelle 10", 10]]),
        _v1(choices=[[None, "/a"]]),
        _v1(label=None),
        _v1(language=7),
        _v1(offset="9"),
        _v1(offset=-1),
        _v1(offset=True),
        _v1(total=10),  # fewer in all than before and behind the page
        _v1(v=True),
        json.dumps({"v": 1, "choices": [["Stelle 10", "/a"]], "label": "Optionen", "offset": 9, "total": 10}),
    ],
)
async def test_a_malformed_version_1_value_is_corrupt_and_the_tap_falls_back_to_its_title(
    stored: str, id_map: InMemoryPayloadIdMap
) -> None:
    token = await id_map.remember(stored, prefix=MORE_TOKEN_PREFIX)
    with pytest.raises(CorruptPageStateError):
        await _resolve_with_layout(token, id_map)
    tap = ListReply("wamid.X", "4915550000951", "interactive", None, None, reply_id=token, title="Weitere …")
    turn = await to_rasa_input(tap, id_map, resolver=_resolve_with_layout)
    assert isinstance(turn, DialogueTurn) and turn.text == "Weitere …" and turn.message_type == "list_reply"


async def test_version_1_needs_the_layout_and_gets_the_rest_as_stored(id_map: InMemoryPayloadIdMap) -> None:
    token = await id_map.remember(_v1_state(range(10, 12), offset=9, total=11), prefix=MORE_TOKEN_PREFIX)
    with pytest.raises(CorruptPageStateError):
        await resolve_reply_id(token, id_map)  # the inbound side's default: no renderer, no layout
    seen: list[LegacyRest] = []

    def layout(rest: LegacyRest) -> list[Page]:
        seen.append(rest)
        return [_page("b", 1)]

    page = (await resolve_reply_id(token, id_map, legacy_layout=layout)).page[0]
    assert seen == [LegacyRest("Optionen", "de", (("Stelle 10", _job(10)), ("Stelle 11", _job(11))), 9, 11)]
    assert page["interactive"]["action"]["button"] == "Optionen" and _rows(page) == [{"id": "/o0", "title": "Option 0"}]
    with pytest.raises(CorruptPageStateError):  # a layout that gives nothing
        await resolve_reply_id(token, id_map, legacy_layout=lambda rest: [])
