"""paging.py: the reply-id state both directions share (long payloads, "more" pages)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.whatsapp.paging import (
    PAGE_STATE_VERSION,
    CorruptPageStateError,
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
