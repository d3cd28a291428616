"""render/layout.py: choices as reply buttons, (paged) lists and CTA URL buttons."""
from __future__ import annotations

import pytest

from connectors.whatsapp.paging import resolve_reply_id
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.render.labels import channel_labels
from connectors.whatsapp.render.layout import Choice, choice_messages, cta_messages, page_bounds, parse_choices


def _choices(count: int) -> list[Choice]:
    return [Choice(f"Option {i}", f"/o{i}") for i in range(count)]


def _rows(message: dict) -> list[dict]:
    return [row for section in message["interactive"]["action"]["sections"] for row in section["rows"]]


def test_parse_choices_splits_payloads_links_and_junk(caplog: pytest.LogCaptureFixture) -> None:
    raw = [
        {"title": " Ja ", "payload": "/affirm"},
        {"title": "Eins", "payload": 1},
        {"title": "Ohne"},
        {"title": "Web", "url": "https://e.org"},
        {"title": "Kaputt", "url": "javascript:x"},
        {"payload": "/x"},
        {"title": True, "payload": "/t"},
        "junk",
    ]
    choices, links = parse_choices(raw)
    assert choices == [Choice("Ja", "/affirm"), Choice("Eins", "1"), Choice("Ohne", "Ohne")]
    assert links == [Choice("Web", "https://e.org")]
    assert "ignoring 4 button(s)" in caplog.text
    assert parse_choices("not a list") == ([], [])


@pytest.mark.parametrize(
    ("count", "bounds"),
    [
        (1, [(0, 1)]),
        (10, [(0, 10)]),
        (11, [(0, 9), (9, 11)]),
        (19, [(0, 9), (9, 19)]),
        (20, [(0, 9), (9, 18), (18, 20)]),
        (25, [(0, 9), (9, 18), (18, 25)]),
    ],
)
def test_page_bounds(count: int, bounds: list[tuple[int, int]]) -> None:
    assert page_bounds(count) == bounds


async def test_three_short_choices_are_reply_buttons() -> None:
    out = await choice_messages("Weiter?", _choices(3), id_map=InMemoryPayloadIdMap(), labels=channel_labels("de"), label="Optionen")
    assert len(out) == 1 and out[0]["interactive"]["type"] == "button"


async def test_a_long_title_makes_a_list_with_the_full_title() -> None:
    choices = [Choice("Teilzeit oder Minijob", "/a"), Choice("Nein", "/b")]
    out = await choice_messages(None, choices, id_map=InMemoryPayloadIdMap(), labels=channel_labels("en"), label="Options")
    assert out[0]["interactive"]["body"] == {"text": "Please choose:"}
    assert [r["title"] for r in _rows(out[0])] == ["Teilzeit oder Minijob", "Nein"]


async def test_long_lists_page_lazily_with_fitted_labels() -> None:
    id_map = InMemoryPayloadIdMap()
    out = await choice_messages("Wähle", _choices(20), id_map=id_map, labels=channel_labels("de"), label="Optionen")
    more = _rows(out[0])[-1]
    assert more["id"].startswith(MORE_TOKEN_PREFIX)
    assert (more["title"], more["description"]) == ("Weitere …", "Noch 11 weitere Optionen")
    assert len(id_map) == 1
    page2 = (await resolve_reply_id(more["id"], id_map)).page[0]
    assert page2["interactive"]["body"] == {"text": "Weitere Optionen (10–18 von 20):"}
    assert _rows(page2)[-1]["description"] == "Noch 2 weitere Optionen"
    page3 = (await resolve_reply_id(_rows(page2)[-1]["id"], id_map)).page[0]
    assert [r["title"] for r in _rows(page3)] == ["Option 18", "Option 19"]


async def test_a_choice_titled_like_the_more_row_is_told_apart() -> None:
    choices = [Choice("Weitere …", "/w"), *_choices(10)]
    out = await choice_messages("Wähle", choices, id_map=InMemoryPayloadIdMap(), labels=channel_labels("de"), label="Optionen")
    titles = [r["title"] for r in _rows(out[0])]
    assert titles[0] == "Weitere …" and titles[-1] == "Weitere … (2)"


def test_cta_uses_the_text_for_a_single_link_and_the_open_label_otherwise() -> None:
    labels = channel_labels("en")
    one, used = cta_messages("Zur Anzeige", [Choice("Anzeige öffnen", "https://e.org/1")], labels)
    assert used and one[0]["interactive"]["body"] == {"text": "Zur Anzeige"}
    assert one[0]["interactive"]["action"]["parameters"] == {"display_text": "Anzeige öffnen", "url": "https://e.org/1"}
    two, used = cta_messages("Text", [Choice("A", "https://e.org/a"), Choice("B", "https://e.org/b")], labels)
    assert not used and [m["interactive"]["body"]["text"] for m in two] == ["A", "B"]
    assert {m["interactive"]["action"]["parameters"]["display_text"] for m in two} == {"Open"}
