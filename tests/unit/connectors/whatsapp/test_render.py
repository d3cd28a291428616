"""Rendering Rasa responses as WhatsApp messages: every limit boundary, paging, passthrough."""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.whatsapp import limits
from connectors.whatsapp.limits import LIMIT_SOURCES, measure, validate_outbound
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.redis_map import RedisPayloadIdMap
from connectors.whatsapp.payload_ids.maps import owned_by
from connectors.whatsapp.paging import (
    CorruptPageStateError,
    ResolvedReply,
    UnknownReplyIdError,
    resolve_reply_id,
)
from connectors.whatsapp.render import render_response, shorten, split_text

Message = dict[str, Any]


def buttons(count: int, *, title: str = "Option {i}", payload: str = "/choose{{\"n\":{i}}}") -> list[dict[str, str]]:
    return [{"title": title.format(i=i), "payload": payload.format(i=i)} for i in range(count)]


def interactive(message: Message) -> dict[str, Any]:
    assert message["type"] == "interactive"
    return message["interactive"]


def reply_buttons(message: Message) -> list[dict[str, str]]:
    inner = interactive(message)
    assert inner["type"] == "button"
    return [button["reply"] for button in inner["action"]["buttons"]]


def rows(message: Message) -> list[dict[str, str]]:
    inner = interactive(message)
    assert inner["type"] == "list"
    assert len(inner["action"]["sections"]) == 1
    return inner["action"]["sections"][0]["rows"]


def assert_valid(messages: list[Message]) -> None:
    for message in messages:
        assert validate_outbound(message) == [], message


@pytest.fixture
def id_map() -> InMemoryPayloadIdMap:
    return InMemoryPayloadIdMap()


async def render(message: Any, id_map: InMemoryPayloadIdMap, **kwargs: Any) -> list[Message]:
    out = await render_response(message, id_map=id_map, **kwargs)
    assert_valid(out)
    return out


async def all_payloads(messages: list[Message], id_map: Any) -> list[str]:
    """Tap every option, following "more" rows through every page; return payloads in order."""
    payloads: list[str] = []
    pending = [m for m in messages if m["type"] == "interactive" and m["interactive"]["type"] in ("button", "list")]
    while pending:
        message = pending.pop(0)
        if message["interactive"]["type"] == "button":
            ids = [b["id"] for b in reply_buttons(message)]
        else:
            ids = [r["id"] for r in rows(message)]
        for reply_id in ids:
            resolved = await resolve_reply_id(reply_id, id_map)
            if resolved.kind == "more_page":
                assert_valid(list(resolved.page))
                pending.extend(resolved.page)
            else:
                assert resolved.payload is not None
                payloads.append(resolved.payload)
    return payloads


# --------------------------------------------------------------------------- empty and odd input


@pytest.mark.parametrize("message", [{}, {"text": ""}, {"text": "   \n "}, {"buttons": []}, {"unknown": 1}, {"text": None}])
async def test_empty_messages_render_nothing(message: Message, id_map: InMemoryPayloadIdMap) -> None:
    assert await render(message, id_map) == []


@pytest.mark.parametrize(
    "message",
    [
        None,
        "text",
        {"text": 5},
        {"buttons": "not a list"},
        {"buttons": [1, None, {"payload": "/x"}, {"title": "  "}, {"title": "x", "payload": {"a": 1}}]},
        {"image": 3},
        {"image": "file:///etc/passwd"},
        {"attachment": ["x"]},
        {"custom": "text"},
        {"custom": {"slack": {"blocks": []}}},
        {"custom": {"whatsapp": {"text": {"body": "no type"}}}},
        {"custom": {"whatsapp": {"type": "interactive", "interactive": {"body": {}}}}},
        {"elements": "x"},
        {"elements": [1, 2]},
    ],
)
async def test_odd_input_never_raises_and_yields_nothing(message: Any, id_map: InMemoryPayloadIdMap) -> None:
    assert await render(message, id_map) == []


async def test_unknown_keys_are_ignored(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Hallo", "recipient_id": "x", "response": "utter_greet", "foo": [1]}, id_map)
    assert out == [{"type": "text", "text": {"body": "Hallo", "preview_url": False}}]


# --------------------------------------------------------------------------- text


async def test_text_with_url_asks_for_preview(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Details: https://example.org/job/1"}, id_map)
    assert out == [{"type": "text", "text": {"body": "Details: https://example.org/job/1", "preview_url": True}}]
    plain = await render({"text": "example.org without scheme"}, id_map)
    assert plain[0]["text"]["preview_url"] is False


async def test_text_of_4096_is_one_message(id_map: InMemoryPayloadIdMap) -> None:
    text = ("wort " * 820)[:4095] + "x"
    assert len(text) == 4096
    out = await render({"text": text}, id_map)
    assert [m["text"]["body"] for m in out] == [text]


async def test_text_of_4097_is_split_on_a_word_boundary(id_map: InMemoryPayloadIdMap) -> None:
    text = " ".join(["abcd"] * 819) + " xy"  # 4,097 characters, no sentences or paragraphs
    assert len(text) == 4097
    out = await render({"text": text}, id_map)
    bodies = [m["text"]["body"] for m in out]
    assert len(bodies) == 2
    assert all(len(b) <= 4096 for b in bodies)
    assert " ".join(bodies).split() == text.split()


async def test_10000_characters_split_on_paragraphs(id_map: InMemoryPayloadIdMap) -> None:
    paragraphs = [f"Absatz {i}. " + "x" * 980 for i in range(10)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 10_000 - 100
    out = await render({"text": text}, id_map)
    bodies = [m["text"]["body"] for m in out]
    assert [len(b) <= 4096 for b in bodies] == [True] * 3
    assert "\n\n".join(bodies) == text  # every cut is at a paragraph boundary, nothing lost


async def test_10000_characters_split_on_sentences(id_map: InMemoryPayloadIdMap) -> None:
    text = " ".join(f"Satz {i} hat einige Worte." for i in range(400))[:10_000].rsplit(" ", 1)[0] + "."
    out = await render({"text": text}, id_map)
    bodies = [m["text"]["body"] for m in out]
    assert len(bodies) == 3
    assert all(len(b) <= 4096 and b.endswith(".") for b in bodies)
    assert " ".join(bodies) == text


async def test_single_word_over_the_limit_is_cut(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "y" * 10_000}, id_map)
    assert [len(m["text"]["body"]) for m in out] == [4096, 4096, 1808]


def test_split_text_prefers_lines_over_sentences() -> None:
    lines = [f"{i}. Stelle bei Firma {i} in Berlin" for i in range(40)]
    chunks = split_text("\n".join(lines), limit=200)
    assert "\n".join(chunks) == "\n".join(lines)


def test_split_text_counts_emoji_as_two() -> None:
    chunks = split_text("😀" * 10, limit=4)
    assert chunks == ["😀😀"] * 5


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab cä.!?\n\t😀")), max_size=600), st.integers(min_value=4, max_value=80))
def test_split_text_keeps_every_word_in_order(text: str, limit: int) -> None:
    chunks = split_text(text, limit=limit)
    assert all(0 < measure(c) <= limit for c in chunks)
    assert all(c == c.strip() for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())
    if all(measure(word) <= limit for word in text.split()):
        assert [w for c in chunks for w in c.split()] == text.split()


# --------------------------------------------------------------------------- buttons: counts


async def test_buttons_without_text_get_a_neutral_body(id_map: InMemoryPayloadIdMap) -> None:
    de = await render({"buttons": buttons(1)}, id_map)
    en = await render({"buttons": buttons(1)}, id_map, language="en")
    assert interactive(de[0])["body"] == {"text": "Bitte wählen:"}
    assert interactive(en[0])["body"] == {"text": "Please choose:"}


async def test_one_button_is_a_reply_button(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Weiter?", "buttons": [{"title": "Ja", "payload": "/affirm"}]}, id_map)
    assert out == [
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Weiter?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "/affirm", "title": "Ja"}}]},
            },
        }
    ]


async def test_three_buttons_are_reply_buttons(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Wähle", "buttons": buttons(3)}, id_map)
    assert len(out) == 1
    assert [b["title"] for b in reply_buttons(out[0])] == ["Option 0", "Option 1", "Option 2"]
    assert [b["id"] for b in reply_buttons(out[0])] == ['/choose{"n":0}', '/choose{"n":1}', '/choose{"n":2}']


@pytest.mark.parametrize("count", [4, 10])
async def test_four_to_ten_buttons_are_one_list(count: int, id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Wähle", "buttons": buttons(count)}, id_map)
    assert len(out) == 1
    inner = interactive(out[0])
    assert inner["body"] == {"text": "Wähle"}
    assert inner["action"]["button"] == "Optionen"
    assert inner["action"]["sections"][0]["title"] == "Optionen"
    assert [r["title"] for r in rows(out[0])] == [f"Option {i}" for i in range(count)]
    assert all("description" not in r for r in rows(out[0]))
    assert await all_payloads(out, id_map) == [f'/choose{{"n":{i}}}' for i in range(count)]


async def test_list_label_follows_language_and_override(id_map: InMemoryPayloadIdMap) -> None:
    en = await render({"buttons": buttons(5)}, id_map, language="en-GB")
    assert interactive(en[0])["action"]["button"] == "Options"
    custom = await render({"buttons": buttons(5)}, id_map, list_label="Alle Stellen anzeigen lassen")
    label = interactive(custom[0])["action"]["button"]
    assert label == "Alle Stellen…" and measure(label) <= limits.LIST_BUTTON_TEXT_MAX


async def test_eleven_buttons_page_into_nine_plus_more_then_two(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Wähle", "buttons": buttons(11)}, id_map)
    first = rows(out[0])
    assert len(first) == 10
    assert first[-1]["title"] == "Weitere …"
    assert first[-1]["description"] == "Noch 2 weitere Optionen"
    assert first[-1]["id"].startswith(MORE_TOKEN_PREFIX)
    page = await resolve_reply_id(first[-1]["id"], id_map)
    assert page.kind == "more_page" and page.payload is None
    assert [r["title"] for r in rows(page.page[0])] == ["Option 9", "Option 10"]
    assert interactive(page.page[0])["body"] == {"text": "Weitere Optionen (10–11 von 11):"}


async def test_twenty_five_buttons_page_end_to_end(id_map: InMemoryPayloadIdMap) -> None:
    source = buttons(25, title="Stelle {i}", payload='/select_job{{"job_id":"{i}"}}')
    out = await render({"text": "25 Treffer", "buttons": source}, id_map, language="en")
    assert len(rows(out[0])) == 10
    page2 = (await resolve_reply_id(rows(out[0])[-1]["id"], id_map)).page[0]
    assert len(rows(page2)) == 10 and rows(page2)[-1]["title"] == "More …"
    assert interactive(page2)["body"] == {"text": "More options (10–18 of 25):"}
    page3 = (await resolve_reply_id(rows(page2)[-1]["id"], id_map)).page[0]
    assert [r["title"] for r in rows(page3)] == [f"Stelle {i}" for i in range(18, 25)]
    assert interactive(page3)["body"] == {"text": "More options (19–25 of 25):"}
    reached = await all_payloads(out, id_map)
    assert reached == [b["payload"] for b in source]  # every payload exactly once, in order


@pytest.mark.redis
async def test_paging_works_across_processes_with_redis(redis_url: str, unique_name: str) -> None:
    from redis.asyncio import Redis

    from privacy.keyring import Keyring, Secret

    keyring = Keyring(current=Secret.generate())  # both processes share the server secret
    sender = RedisPayloadIdMap.from_url(redis_url, keyring=keyring, namespace=unique_name)
    receiver = RedisPayloadIdMap.from_url(redis_url, keyring=keyring, namespace=unique_name)
    source = buttons(25, payload="/p{i}" + "z" * 250, title="Stelle bei Bäckerei Sonnenschein {i}")
    try:
        out = await render_response({"buttons": source}, id_map=sender)
        assert await all_payloads(out, receiver) == [b["payload"] for b in source]
        # Paging state and long payloads are dialogue content: nothing readable in Redis.
        client = Redis.from_url(redis_url)
        stored = b"".join([await client.get(key) or b"" async for key in client.scan_iter(match=f"{unique_name}:*")])
        await client.close()
        assert stored and b"Sonnenschein" not in stored and b"zzzz" not in stored and b"/p1" not in stored
    finally:
        client = Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=f"{unique_name}:*")]
        if keys:
            await client.delete(*keys)
        await client.close()
        await sender.close()
        await receiver.close()


# --------------------------------------------------------------------------- titles


async def test_button_title_of_20_stays_a_reply_button(id_map: InMemoryPayloadIdMap) -> None:
    title = "x" * 20
    out = await render({"text": "?", "buttons": [{"title": title, "payload": "/a"}, {"title": "Nein", "payload": "/b"}]}, id_map)
    assert [b["title"] for b in reply_buttons(out[0])] == [title, "Nein"]


async def test_button_title_of_21_switches_to_a_list_with_the_full_title(id_map: InMemoryPayloadIdMap) -> None:
    title = "Teilzeit oder Minijob"  # 21 characters
    assert len(title) == 21
    out = await render({"text": "?", "buttons": [{"title": title, "payload": "/a"}, {"title": "Nein", "payload": "/b"}]}, id_map)
    assert [r["title"] for r in rows(out[0])] == [title, "Nein"]
    assert all("description" not in r for r in rows(out[0]))


async def test_row_title_of_24_is_kept(id_map: InMemoryPayloadIdMap) -> None:
    title = "y" * 24
    out = await render({"buttons": [*buttons(4), {"title": title, "payload": "/long"}]}, id_map)
    assert rows(out[0])[-1] == {"id": "/long", "title": title}


async def test_row_title_of_25_is_ellipsised_with_full_description(id_map: InMemoryPayloadIdMap) -> None:
    title = "Pflegefachkraft Intensiv"  # 24
    long_title = title + "e"  # 25
    out = await render({"buttons": [*buttons(4), {"title": long_title, "payload": "/long"}]}, id_map)
    row = rows(out[0])[-1]
    assert row["title"] == "Pflegefachkraft…"
    assert row["description"] == long_title


async def test_very_long_titles_are_ellipsised_in_description_too(id_map: InMemoryPayloadIdMap) -> None:
    title = "Sehr langer Titel " * 10
    out = await render({"buttons": [{"title": title, "payload": "/x"}]}, id_map)
    row = rows(out[0])[0]
    assert row["description"].endswith("…") and measure(row["description"]) <= 72
    assert row["title"].endswith("…") and measure(row["title"]) <= 24


def test_shorten_cuts_on_word_boundaries_and_mid_word_only_when_needed() -> None:
    assert shorten("Softwareentwickler Berlin Mitte", 20) == "Softwareentwickler…"
    assert shorten("Donaudampfschifffahrtsgesellschaft", 20) == "Donaudampfschifffah…"
    assert shorten("kurz", 20) == "kurz"
    assert shorten("a  b\n c", 20) == "a b c"
    assert shorten("Wort, und noch mehr", 8) == "Wort…"


async def test_duplicate_button_titles_are_numbered(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"buttons": [{"title": "Ja", "payload": "/a"}, {"title": "ja", "payload": "/b"}, {"title": "Ja", "payload": "/c"}]}, id_map)
    assert [b["title"] for b in reply_buttons(out[0])] == ["Ja", "ja (2)", "Ja (3)"]


async def test_duplicate_row_titles_after_shortening_are_numbered_within_limit(id_map: InMemoryPayloadIdMap) -> None:
    titles = [f"Softwareentwickler Berlin {part}" for part in ("Mitte", "Nord", "Süd", "West")]
    out = await render({"buttons": [{"title": t, "payload": f"/{i}"} for i, t in enumerate(titles)]}, id_map)
    shown = [r["title"] for r in rows(out[0])]
    assert shown[0] == "Softwareentwickler…"
    assert shown[1].endswith(" (2)") and shown[3].endswith(" (4)")
    assert len({s.casefold() for s in shown}) == 4
    assert [r["description"] for r in rows(out[0])] == titles


async def test_title_cut_only_to_fit_the_number_still_gets_a_description(id_map: InMemoryPayloadIdMap) -> None:
    title = "Fachkraft Lagerlogistik"  # 23 characters: fits, but not with " (2)"
    out = await render({"buttons": [*buttons(3), {"title": title, "payload": "/a"}, {"title": title, "payload": "/b"}]}, id_map)
    first, second = rows(out[0])[3:]
    assert first == {"id": "/a", "title": title}
    assert second["title"].endswith("… (2)") and second["description"] == title


async def test_duplicate_payloads_get_distinct_ids_that_resolve(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"buttons": [{"title": "Neu", "payload": "/restart"}, {"title": "Zurück", "payload": "/restart"}, {"title": "Abbruch", "payload": "/restart"}]}, id_map)
    ids = [b["id"] for b in reply_buttons(out[0])]
    assert len(set(ids)) == 3 and ids[0] == "/restart"
    assert await all_payloads(out, id_map) == ["/restart"] * 3


# --------------------------------------------------------------------------- payload ids


async def test_button_payload_of_256_is_sent_as_is_and_257_is_mapped(id_map: InMemoryPayloadIdMap) -> None:
    fits = "/p" + "a" * 254
    too_long = "/p" + "b" * 255
    out = await render({"buttons": [{"title": "A", "payload": fits}, {"title": "B", "payload": too_long}]}, id_map)
    ids = [b["id"] for b in reply_buttons(out[0])]
    assert ids[0] == fits
    assert ids[1] == id_map.token(too_long)
    assert await resolve_reply_id(ids[1], id_map) == ResolvedReply(kind="payload", payload=too_long)


async def test_row_payload_of_200_is_sent_as_is_and_201_is_mapped(id_map: InMemoryPayloadIdMap) -> None:
    fits = "/p" + "a" * 198
    too_long = "/p" + "b" * 199
    source = [*buttons(3), {"title": "A", "payload": fits}, {"title": "B", "payload": too_long}]
    out = await render({"buttons": source}, id_map)
    ids = [r["id"] for r in rows(out[0])]
    assert ids[3] == fits and ids[4] == id_map.token(too_long)
    assert await all_payloads(out, id_map) == [b["payload"] for b in source]


async def test_payloads_that_look_like_tokens_or_have_outer_spaces_are_mapped(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"buttons": [{"title": "A", "payload": "~home"}, {"title": "B", "payload": " /b "}]}, id_map)
    ids = [b["id"] for b in reply_buttons(out[0])]
    assert ids == [id_map.token("~home"), id_map.token(" /b ")]
    assert await all_payloads(out, id_map) == ["~home", " /b "]


async def test_plain_text_payloads_and_missing_payloads(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"buttons": [{"title": "Berlin", "payload": "Berlin"}, {"title": "Hamburg"}, {"title": "Eins", "payload": 1}]}, id_map)
    assert await all_payloads(out, id_map) == ["Berlin", "Hamburg", "1"]


async def test_resolve_reply_id_errors_are_typed(id_map: InMemoryPayloadIdMap) -> None:
    assert await resolve_reply_id("/greet", id_map) == ResolvedReply(kind="payload", payload="/greet")
    with pytest.raises(UnknownReplyIdError):
        await resolve_reply_id(id_map.token("forgotten"), id_map)
    with pytest.raises(UnknownReplyIdError):
        await resolve_reply_id(id_map.token("forgotten", prefix=MORE_TOKEN_PREFIX), id_map)
    for broken in ("not json", json.dumps({"v": 1}), json.dumps({"v": 1, "choices": [], "label": "x", "language": "de", "offset": 0, "total": 0}), json.dumps({"v": 99})):
        token = await id_map.remember(broken, prefix=MORE_TOKEN_PREFIX)
        with pytest.raises(CorruptPageStateError):
            await resolve_reply_id(token, id_map)


# --------------------------------------------------------------------------- interactive bodies


async def test_interactive_body_of_1024_is_kept(id_map: InMemoryPayloadIdMap) -> None:
    text = "z" * 1024
    out = await render({"text": text, "buttons": buttons(2)}, id_map)
    assert len(out) == 1 and interactive(out[0])["body"]["text"] == text


async def test_interactive_body_of_1025_sends_text_first_then_last_paragraph(id_map: InMemoryPayloadIdMap) -> None:
    intro = "Treffer:\n" + "\n".join(f"{i}. Stelle" for i in range(150))
    text = intro[: 1025 - len("\n\nWas nun?")] + "\n\nWas nun?"
    assert len(text) == 1025
    out = await render({"text": text, "buttons": buttons(2)}, id_map)
    assert [m["type"] for m in out] == ["text", "interactive"]
    assert out[0]["text"]["body"] == text[: -len("\n\nWas nun?")].strip()
    assert interactive(out[1])["body"] == {"text": "Was nun?"}


async def test_long_body_falls_back_to_last_sentence(id_map: InMemoryPayloadIdMap) -> None:
    text = "Ein Satz. " * 110 + "Welche Stelle?"
    out = await render({"text": text, "buttons": buttons(5)}, id_map)
    assert [m["type"] for m in out] == ["text", "interactive"]
    assert interactive(out[1])["body"] == {"text": "Welche Stelle?"}


async def test_long_body_without_boundaries_uses_neutral_body(id_map: InMemoryPayloadIdMap) -> None:
    text = "w" * 1025
    out = await render({"text": text, "buttons": buttons(2)}, id_map, language="en")
    assert out[0] == {"type": "text", "text": {"body": text, "preview_url": False}}
    assert interactive(out[1])["body"] == {"text": "Please choose:"}


async def test_last_paragraph_too_long_uses_its_last_sentence(id_map: InMemoryPayloadIdMap) -> None:
    text = "Einleitung.\n\n" + "Noch ein Satz. " * 80 + "Und jetzt?"
    out = await render({"text": text, "buttons": buttons(2)}, id_map)
    assert interactive(out[-1])["body"] == {"text": "Und jetzt?"}
    assert out[0]["text"]["body"].startswith("Einleitung.")


# --------------------------------------------------------------------------- quick replies, images, attachments


async def test_quick_replies_render_like_buttons_and_win_over_buttons(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Sprache?", "quick_replies": [{"title": "Deutsch", "payload": "/de"}], "buttons": buttons(5)}, id_map)
    assert [b["title"] for b in reply_buttons(out[0])] == ["Deutsch"]


async def test_image_with_short_text_gets_a_caption(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Unser Büro", "image": "https://example.org/a.png"}, id_map)
    assert out == [{"type": "image", "image": {"link": "https://example.org/a.png", "caption": "Unser Büro"}}]


async def test_an_image_that_cannot_be_sent_does_not_take_its_text_along(id_map: InMemoryPayloadIdMap) -> None:
    """Found by the response gallery: an image that is no http(s) link was dropped with its caption."""
    assert await render_response({"text": "Schau", "image": "bilder/logo.png"}, id_map=id_map) == [
        {"type": "text", "text": {"body": "Schau", "preview_url": False}}
    ]


async def test_image_caption_boundary_1024_and_1025(id_map: InMemoryPayloadIdMap) -> None:
    ok = await render({"text": "c" * 1024, "image": "https://example.org/a.png"}, id_map)
    assert len(ok) == 1 and ok[0]["image"]["caption"] == "c" * 1024
    long = await render({"text": "c" * 1025, "image": "https://example.org/a.png"}, id_map)
    assert [m["type"] for m in long] == ["text", "image"] and "caption" not in long[1]["image"]


async def test_image_alone_and_with_buttons(id_map: InMemoryPayloadIdMap) -> None:
    alone = await render({"image": "https://example.org/a.png"}, id_map)
    assert alone == [{"type": "image", "image": {"link": "https://example.org/a.png"}}]
    with_buttons = await render({"text": "Gefällt's?", "image": "https://example.org/a.png", "buttons": buttons(2)}, id_map)
    assert [m["type"] for m in with_buttons] == ["image", "interactive"]
    assert "caption" not in with_buttons[0]["image"]
    assert interactive(with_buttons[1])["body"] == {"text": "Gefällt's?"}


async def test_attachment_url_becomes_a_document(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"attachment": "https://example.org/files/Datenschutz%20Info.pdf"}, id_map)
    assert out == [{"type": "document", "document": {"link": "https://example.org/files/Datenschutz%20Info.pdf", "filename": "Datenschutz Info.pdf"}}]


async def test_attachment_graph_object_passes_through(id_map: InMemoryPayloadIdMap) -> None:
    video = {"type": "video", "video": {"link": "https://example.org/v.mp4", "caption": "So geht's"}}
    assert await render({"attachment": video}, id_map) == [video]


async def test_elements_render_as_cards(id_map: InMemoryPayloadIdMap) -> None:
    elements = [
        {"title": "Koch", "subtitle": "Berlin", "image_url": "https://example.org/k.png", "buttons": [{"title": "Details", "payload": '/select_job{"job_id":"1"}'}]},
        {"title": "Kellner", "subtitle": "Hamburg"},
    ]
    out = await render({"elements": elements}, id_map)
    assert [m["type"] for m in out] == ["image", "interactive", "text"]
    assert interactive(out[1])["body"] == {"text": "Koch\nBerlin"}
    assert out[2]["text"]["body"] == "Kellner\nHamburg"


async def test_url_buttons_become_cta_url_messages(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Zur Anzeige", "buttons": [{"title": "Anzeige öffnen", "url": "https://example.org/job/1"}]}, id_map)
    assert out == [
        {
            "type": "interactive",
            "interactive": {
                "type": "cta_url",
                "body": {"text": "Zur Anzeige"},
                "action": {"name": "cta_url", "parameters": {"display_text": "Anzeige öffnen", "url": "https://example.org/job/1"}},
            },
        }
    ]
    mixed = await render({"text": "Was nun?", "buttons": [{"title": "Neu", "payload": "/new_search"}, {"title": "Website", "url": "https://example.org"}]}, id_map)
    assert [interactive(m)["type"] for m in mixed] == ["button", "cta_url"]
    assert interactive(mixed[1])["body"] == {"text": "Website"}
    assert interactive(mixed[1])["action"]["parameters"]["display_text"] == "Öffnen"


# --------------------------------------------------------------------------- custom passthrough


CTA = {
    "type": "interactive",
    "interactive": {
        "type": "cta_url",
        "body": {"text": "Datenschutzerklärung lesen"},
        "action": {"name": "cta_url", "parameters": {"display_text": "Öffnen", "url": "https://example.org/privacy"}},
    },
}
LOCATION_REQUEST = {
    "type": "interactive",
    "interactive": {"type": "location_request_message", "body": {"text": "Wo suchst du?"}, "action": {"name": "send_location"}},
}
TEMPLATE = {"type": "template", "template": {"name": "job_alert", "language": {"code": "de"}}}


@pytest.mark.parametrize("native", [CTA, LOCATION_REQUEST, TEMPLATE])
async def test_custom_whatsapp_key_passes_through(native: Message, id_map: InMemoryPayloadIdMap) -> None:
    assert await render({"custom": {"whatsapp": native}}, id_map) == [native]


async def test_custom_that_is_itself_a_message_passes_through(id_map: InMemoryPayloadIdMap) -> None:
    assert await render({"custom": LOCATION_REQUEST}, id_map) == [LOCATION_REQUEST]


async def test_custom_list_of_messages_and_order_after_text(id_map: InMemoryPayloadIdMap) -> None:
    out = await render({"text": "Hallo", "custom": {"whatsapp": [CTA, {"bad": 1}, LOCATION_REQUEST]}}, id_map)
    assert out == [{"type": "text", "text": {"body": "Hallo", "preview_url": False}}, CTA, LOCATION_REQUEST]


async def test_custom_routing_keys_are_dropped_and_domain_dict_not_shared(id_map: InMemoryPayloadIdMap) -> None:
    native = {"messaging_product": "whatsapp", "to": "4915550000009", **copy.deepcopy(CTA)}
    message = {"custom": {"whatsapp": native}}
    out = await render(message, id_map)
    assert out == [CTA]
    out[0]["interactive"]["body"]["text"] = "changed downstream"
    assert native["interactive"]["body"]["text"] == "Datenschutzerklärung lesen"


async def test_custom_recipient_key_is_dropped_too(id_map: InMemoryPayloadIdMap) -> None:
    # issue 16: a BSUID-addressed native message names its address in "recipient", not "to".
    native = {"messaging_product": "whatsapp", "recipient": "DE.1000000000000000001", **copy.deepcopy(CTA)}
    out = await render({"custom": {"whatsapp": native}}, id_map)
    assert out == [CTA] and "recipient" not in out[0]


async def test_custom_over_limits_still_passes_but_is_flagged(id_map: InMemoryPayloadIdMap, caplog: pytest.LogCaptureFixture) -> None:
    broken = copy.deepcopy(CTA)
    broken["interactive"]["action"]["parameters"]["display_text"] = "Viel zu langer Linktext hier"
    out = await render_response({"custom": {"whatsapp": broken}}, id_map=id_map)
    assert out == [broken]
    assert "may be rejected by Meta" in caplog.text
    assert "Viel zu langer" not in caplog.text  # message texts never logged above DEBUG


# --------------------------------------------------------------------------- property test


TEXTS = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.builds(
        lambda parts: "".join(parts),
        st.lists(st.sampled_from(["Wort ", "Satz. ", "\n", "\n\n", "https://example.org/x ", "😀", "ä" * 50, "x" * 300]), max_size=40),
    ),
)
TITLES = st.one_of(st.text(max_size=40), st.sampled_from(["Ja", "ja", "JA", "Softwareentwickler Berlin Mitte", "Softwareentwickler Berlin Nord", "😀" * 12]))
PAYLOADS = st.one_of(st.none(), st.text(min_size=1, max_size=300).filter(str.strip), st.sampled_from(["/affirm", "~x", "/p" + "q" * 260]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXTS,
    choices=st.lists(st.tuples(TITLES, PAYLOADS), max_size=30),
    links=st.lists(st.tuples(TITLES, st.sampled_from(["https://example.org/a", "not a url"])), max_size=3),
    language=st.sampled_from(["de", "en", "fr"]),
    image=st.sampled_from([None, "https://example.org/i.png"]),
)
def test_every_rendered_message_satisfies_every_limit(
    text: str | None,
    choices: list[tuple[str, str | None]],
    links: list[tuple[str, str]],
    language: str,
    image: str | None,
) -> None:
    async def run() -> None:
        id_map = InMemoryPayloadIdMap()
        raw: list[dict[str, str]] = [{"title": title, **({"payload": payload} if payload is not None else {})} for title, payload in choices]
        raw += [{"title": title, "url": url} for title, url in links]
        message: Message = {"text": text, "buttons": raw, "image": image}
        out = await render_response(message, id_map=id_map, language=language)
        assert_valid(out)
        expected = [
            payload if payload is not None else " ".join(title.split())
            for title, payload in choices
            if " ".join(title.split())
        ]
        assert await all_payloads(out, id_map) == expected

    asyncio.run(run())


# --------------------------------------------------------------------------- validator


def test_every_limit_constant_has_a_source() -> None:
    constants = [name for name in limits.__all__ if name.endswith("_MAX")]
    assert constants and set(constants) == set(LIMIT_SOURCES)
    assert all(source.startswith("https://") for source in LIMIT_SOURCES.values())


def _good_list() -> Message:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "b"},
            "action": {"button": "Optionen", "sections": [{"title": "s", "rows": [{"id": "1", "title": "t", "description": "d"}]}]},
        },
    }


def _good_buttons() -> Message:
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "b"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "t"}}]}},
    }


def _mutate(base: Message, path: tuple[Any, ...], value: Any) -> Message:
    message = copy.deepcopy(base)
    target: Any = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return message


@pytest.mark.parametrize(
    "message",
    [
        {"type": "text", "text": {"body": "x" * 4096, "preview_url": True}},
        {"messaging_product": "whatsapp", "to": "49", "type": "text", "text": {"body": "hi"}},
        {"type": "image", "image": {"id": "123", "caption": "x" * 1024}},
        {"type": "document", "document": {"link": "https://e.org/a.pdf", "filename": "a.pdf"}},
        {"type": "sticker", "sticker": {"id": "1"}},
        {"type": "location", "location": {"latitude": 1, "longitude": 2}},
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "A"}}]},
        _good_list(),
        _good_buttons(),
        CTA,
        LOCATION_REQUEST,
        TEMPLATE,
    ],
)
def test_validator_accepts_what_meta_accepts(message: Message) -> None:
    assert validate_outbound(message) == []


@pytest.mark.parametrize(
    "message",
    [
        "not a dict",
        {},
        {"type": "text"},
        {"type": "text", "text": "hi"},
        {"type": "text", "text": {"body": "x" * 4097}},
        {"type": "text", "text": {"body": "   "}},
        {"type": "text", "text": {"body": "hi", "preview_url": "yes"}},
        {"type": "text", "text": {"body": "😀" * 2049}},
        {"type": "image", "image": {}},
        {"type": "image", "image": {"id": "1", "link": "https://e.org/a.png"}},
        {"type": "image", "image": {"link": "ftp://e.org/a.png"}},
        {"type": "image", "image": {"id": "1", "caption": "x" * 1025}},
        {"type": "audio", "audio": {"id": "1", "caption": "x"}},
        {"type": "contacts", "contacts": []},
        {"type": "template", "template": {"name": "x"}},
        {"type": "interactive", "interactive": {"type": "button"}},
        _mutate(_good_buttons(), ("interactive", "body"), {"text": "b" * 1025}),
        _mutate(_good_buttons(), ("interactive", "body"), None),
        _mutate(_good_buttons(), ("interactive", "footer"), {"text": "f" * 61}),
        _mutate(_good_buttons(), ("interactive", "header"), {"type": "text", "text": "h" * 61}),
        _mutate(_good_buttons(), ("interactive", "header"), {"type": "gif"}),
        _mutate(_good_buttons(), ("interactive", "action", "buttons"), []),
        _mutate(_good_buttons(), ("interactive", "action", "buttons"), [{"type": "reply", "reply": {"id": str(i), "title": str(i)}} for i in range(4)]),
        _mutate(_good_buttons(), ("interactive", "action", "buttons", 0, "reply", "title"), "t" * 21),
        _mutate(_good_buttons(), ("interactive", "action", "buttons", 0, "reply", "id"), "i" * 257),
        _mutate(_good_buttons(), ("interactive", "action", "buttons", 0, "type"), "url"),
        _mutate(_good_buttons(), ("interactive", "action", "buttons"), [{"type": "reply", "reply": {"id": "1", "title": "Ja"}}, {"type": "reply", "reply": {"id": "2", "title": "ja"}}]),
        _mutate(_good_buttons(), ("interactive", "action", "buttons"), [{"type": "reply", "reply": {"id": "1", "title": "A"}}, {"type": "reply", "reply": {"id": "1", "title": "B"}}]),
        _mutate(_good_list(), ("interactive", "action", "button"), "b" * 21),
        _mutate(_good_list(), ("interactive", "action", "sections"), []),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "rows", 0, "title"), "t" * 25),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "rows", 0, "description"), "d" * 73),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "rows", 0, "id"), "i" * 201),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "rows"), [{"id": str(i), "title": str(i)} for i in range(11)]),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "rows"), [{"id": "1", "title": "a"}, {"id": "1", "title": "b"}]),
        _mutate(_good_list(), ("interactive", "action", "sections", 0, "title"), "s" * 25),
        _mutate(_good_list(), ("interactive", "action", "sections"), [{"rows": [{"id": "1", "title": "a"}]}, {"title": "x", "rows": [{"id": "2", "title": "b"}]}]),
        _mutate(CTA, ("interactive", "action", "parameters", "display_text"), "d" * 21),
        _mutate(CTA, ("interactive", "action", "parameters", "url"), "javascript:alert(1)"),
        _mutate(CTA, ("interactive", "action", "name"), "open"),
        _mutate(LOCATION_REQUEST, ("interactive", "action", "name"), "get_location"),
    ],
)
def test_validator_rejects_what_meta_rejects(message: Any) -> None:
    assert validate_outbound(message) != []


# --------------------------------------------------------------------------- per person (issue 16 item 6)


async def test_two_users_get_different_tokens_and_pages_stay_theirs(id_map: InMemoryPayloadIdMap) -> None:
    """The webhook renders through owned_by(map, owner tag): tokens differ per person, paging works,
    and forgetting one person's owner tag removes their long payloads and every "more" page."""
    alice, bob = owned_by(id_map, "a" * 32), owned_by(id_map, "b" * 32)
    long_payload = "/p" + "x" * 300
    source = [*buttons(24, title="Stelle {i}", payload='/select_job{{"job_id":"{i}"}}'), {"title": "L", "payload": long_payload}]
    alice_out = await render({"text": "25 Treffer", "buttons": source}, alice)
    bob_out = await render({"text": "25 Treffer", "buttons": source}, bob)
    alice_more, bob_more = rows(alice_out[0])[-1]["id"], rows(bob_out[0])[-1]["id"]
    assert alice_more.startswith(MORE_TOKEN_PREFIX) and alice_more != bob_more
    assert await all_payloads(alice_out, alice) == [b["payload"] for b in source]  # paging end to end
    assert await all_payloads(bob_out, bob) == [b["payload"] for b in source]
    alice_tokens = set(id_map._owners["a" * 32])
    assert len(alice_tokens) == 3  # two "more" pages and the long payload, all registered to her
    assert not alice_tokens & set(id_map._owners["b" * 32])

    assert await id_map.forget_owners(["a" * 32]) == 3
    with pytest.raises(UnknownReplyIdError):
        await resolve_reply_id(alice_more, alice)
    assert await all_payloads(bob_out, bob) == [b["payload"] for b in source]
