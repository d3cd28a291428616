"""connectors/whatsapp/limits.py: the numbers agree with Meta's documented limits, and
``validate_outbound`` refuses exactly what breaks them (at the boundary, counted in UTF-16 units).

The expected values below are written down independently of the module, from Meta's pages and
WhatsApp's Node SDK reference (the table in /work/shared/notes/whatsapp-cloud-api-facts.md,
"Sending"), so a wrong constant in limits.py fails here instead of on a user's phone.
"""
from __future__ import annotations

from typing import Any

import pytest

from connectors.whatsapp import limits
from connectors.whatsapp.limits import LIMIT_SOURCES, measure, validate_outbound

#: Meta's documented limits (name in limits.py -> value), each with where it is documented.
DOCUMENTED = {
    "TEXT_BODY_MAX": 4096,  # text messages: "Maximum 4096 characters"
    "REPLY_BUTTONS_MAX": 3,  # interactive reply buttons: at most 3
    "REPLY_BUTTON_TITLE_MAX": 20,  # Node SDK ButtonObject
    "REPLY_BUTTON_ID_MAX": 256,  # Node SDK ButtonObject
    "LIST_SECTIONS_MAX": 10,  # interactive list messages
    "LIST_ROWS_MAX": 10,  # interactive list messages: 10 rows in total
    "SECTION_TITLE_MAX": 24,  # interactive list messages
    "ROW_TITLE_MAX": 24,  # Node SDK RowObject
    "ROW_DESCRIPTION_MAX": 72,  # Node SDK RowObject
    "ROW_ID_MAX": 200,  # Node SDK RowObject
    "LIST_BUTTON_TEXT_MAX": 20,  # Node SDK / list messages
    "INTERACTIVE_BODY_MAX": 1024,  # Node SDK InteractiveObject (reply-button page)
    "HEADER_TEXT_MAX": 60,  # Node SDK InteractiveObject
    "FOOTER_TEXT_MAX": 60,  # Node SDK InteractiveObject
    "MEDIA_CAPTION_MAX": 1024,  # image messages
    "CTA_DISPLAY_TEXT_MAX": 20,  # interactive CTA URL messages
    "TEMPLATE_NAME_MAX": 512,  # message templates
}

SECRET = "Erika Mustermann 4915550000001"  # message content that must never show in a problem


@pytest.mark.parametrize(("name", "value"), sorted(DOCUMENTED.items()))
def test_each_limit_is_the_documented_one(name: str, value: int) -> None:
    assert getattr(limits, name) == value


def test_every_limit_is_documented_here_and_cites_its_source() -> None:
    declared = {name for name in limits.__all__ if name.endswith("_MAX")}
    assert declared == set(DOCUMENTED)
    assert set(LIMIT_SOURCES) == declared
    for name, source in LIMIT_SOURCES.items():
        pages = [page.strip() for page in source.split(";")]
        assert pages and all(page.startswith("https://") for page in pages), name


def test_sources_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        LIMIT_SOURCES["TEXT_BODY_MAX"] = "somewhere"  # type: ignore[index]


def test_measure_counts_utf16_code_units() -> None:
    assert measure("") == 0
    assert measure("Arbeit") == 6
    assert measure("Größe") == 5  # one unit per BMP character, composed or not
    assert measure("😀") == 2  # outside the BMP: a surrogate pair
    assert measure("👩‍💻") == 5  # ZWJ sequence: 2 + 1 + 2


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def buttons(*titles: str, ids: list[str] | None = None) -> dict[str, Any]:
    ids = ids or [f"/choice_{index}" for index in range(len(titles))]
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Was möchtest du tun?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": reply_id, "title": title}} for reply_id, title in zip(ids, titles)
                ]
            },
        },
    }


def list_message(*sections: list[dict[str, Any]], titles: list[str | None] | None = None) -> dict[str, Any]:
    titles = titles or [None] * len(sections)
    built = []
    for rows, title in zip(sections, titles):
        section: dict[str, Any] = {"rows": rows}
        if title is not None:
            section["title"] = title
        built.append(section)
    return {
        "type": "interactive",
        "interactive": {"type": "list", "body": {"text": "Angebote"}, "action": {"button": "Ansehen", "sections": built}},
    }


def rows(count: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{index}", "title": f"Angebot {index}"} for index in range(count)]


def test_text_body_boundary() -> None:
    assert validate_outbound(text("a" * 4096)) == []
    assert validate_outbound(text("a" * 4097)) == ["text.body: 4097 characters, at most 4096"]
    # an emoji counts as two: 2,048 emoji fit, one more does not
    assert validate_outbound(text("😀" * 2048)) == []
    assert validate_outbound(text("😀" * 2048 + "a")) != []


def test_text_must_not_be_empty_and_preview_url_is_boolean() -> None:
    assert validate_outbound(text("   ")) == ["text.body: must not be empty"]
    assert validate_outbound({"type": "text", "text": {"body": "hi", "preview_url": "yes"}}) == [
        "text.preview_url: must be a boolean"
    ]
    assert validate_outbound({"type": "text", "text": {"body": "hi", "preview_url": True}}) == []


def test_reply_buttons_count_title_and_uniqueness() -> None:
    assert validate_outbound(buttons("Ja", "Nein", "Vielleicht")) == []
    assert validate_outbound(buttons("A", "B", "C", "D")) == ["interactive.action.buttons: needs 1 to 3 buttons"]
    assert validate_outbound(buttons("x" * 20)) == []
    assert validate_outbound(buttons("x" * 21)) == ["interactive.action.buttons[0].reply.title: 21 characters, at most 20"]
    # titles must differ ignoring case, ids exactly
    assert validate_outbound(buttons("Ja", "JA")) == ["interactive.action.buttons titles: duplicate value"]
    assert validate_outbound(buttons("Ja", "Nein", ids=["/a", "/a"])) == ["interactive.action.buttons ids: duplicate value"]
    assert validate_outbound(buttons("Ja", ids=["i" * 256])) == []
    assert validate_outbound(buttons("Ja", ids=["i" * 257])) != []


def test_interactive_body_header_and_footer() -> None:
    message = buttons("Ja")
    message["interactive"]["body"]["text"] = "b" * 1024
    message["interactive"]["header"] = {"type": "text", "text": "h" * 60}
    message["interactive"]["footer"] = {"text": "f" * 60}
    assert validate_outbound(message) == []
    message["interactive"]["body"]["text"] = "b" * 1025
    message["interactive"]["header"]["text"] = "h" * 61
    message["interactive"]["footer"]["text"] = "f" * 61
    assert validate_outbound(message) == [
        "interactive.body.text: 1025 characters, at most 1024",
        "interactive.header.text: 61 characters, at most 60",
        "interactive.footer.text: 61 characters, at most 60",
    ]
    del message["interactive"]["body"]
    assert "interactive.body: must be an object with 'text'" in validate_outbound(message)


def test_list_rows_are_counted_over_all_sections() -> None:
    assert validate_outbound(list_message(rows(10))) == []
    assert validate_outbound(list_message(rows(11))) == ["interactive.action.sections: 11 rows, at most 10"]
    split = list_message(rows(6, "a"), rows(5, "b"), titles=["Erste", "Zweite"])
    assert validate_outbound(split) == ["interactive.action.sections: 11 rows, at most 10"]


def test_list_sections_need_titles_only_when_there_are_several() -> None:
    assert validate_outbound(list_message(rows(2))) == []
    untitled = list_message(rows(2, "a"), rows(2, "b"))
    assert validate_outbound(untitled) == [
        "interactive.action.sections[0].title: must be a string",
        "interactive.action.sections[1].title: must be a string",
    ]
    titled = list_message(rows(2, "a"), rows(2, "b"), titles=["s" * 24, "t" * 25])
    assert validate_outbound(titled) == ["interactive.action.sections[1].title: 25 characters, at most 24"]
    eleven = list_message(*[rows(1, f"s{index}-") for index in range(11)], titles=[f"S{index}" for index in range(11)])
    assert validate_outbound(eleven) == ["interactive.action.sections: needs 1 to 10 sections"]


def test_list_row_fields() -> None:
    good = [{"id": "r" * 200, "title": "t" * 24, "description": "d" * 72}, {"id": "plain", "title": "Ohne"}]
    assert validate_outbound(list_message(good)) == []
    bad = [{"id": "r" * 201, "title": "t" * 25, "description": "d" * 73}]
    assert validate_outbound(list_message(bad)) == [
        "interactive.action.sections[0].rows[0].title: 25 characters, at most 24",
        "interactive.action.sections[0].rows[0].id: 201 characters, at most 200",
        "interactive.action.sections[0].rows[0].description: 73 characters, at most 72",
    ]
    duplicate = [{"id": "same", "title": "Eins"}, {"id": "same", "title": "Zwei"}]
    assert validate_outbound(list_message(duplicate)) == ["interactive.action.sections row ids: duplicate value"]
    message = list_message(rows(1))
    message["interactive"]["action"]["button"] = "b" * 21
    assert validate_outbound(message) == ["interactive.action.button: 21 characters, at most 20"]


def test_media_needs_exactly_one_source_and_captions_only_where_allowed() -> None:
    assert validate_outbound({"type": "image", "image": {"link": "https://example.org/a.png", "caption": "c" * 1024}}) == []
    assert validate_outbound({"type": "image", "image": {"id": "123", "caption": "c" * 1025}}) == [
        "image.caption: 1025 characters, at most 1024"
    ]
    assert validate_outbound({"type": "image", "image": {}}) == ["image: needs exactly one of 'id' or 'link'"]
    assert validate_outbound({"type": "image", "image": {"id": "1", "link": "https://example.org/a"}}) == [
        "image: needs exactly one of 'id' or 'link'"
    ]
    assert validate_outbound({"type": "video", "video": {"link": "ftp://example.org/a"}}) == [
        "video.link: must be an http(s) URL"
    ]
    assert validate_outbound({"type": "audio", "audio": {"id": "1", "caption": "no"}}) == ["audio: does not take a caption"]
    assert validate_outbound({"type": "sticker", "sticker": {"id": "1"}}) == []


def test_cta_url_and_location_request() -> None:
    cta = {
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": "Mehr dazu"},
            "action": {"name": "cta_url", "parameters": {"display_text": "d" * 20, "url": "https://example.org/job"}},
        },
    }
    assert validate_outbound(cta) == []
    cta["interactive"]["action"]["parameters"] = {"display_text": "d" * 21, "url": "javascript:alert(1)"}
    assert validate_outbound(cta) == [
        "interactive.action.parameters.display_text: 21 characters, at most 20",
        "interactive.action.parameters.url: must be an http(s) URL",
    ]
    location = {
        "type": "interactive",
        "interactive": {"type": "location_request_message", "body": {"text": "Wo?"}, "action": {"name": "send_location"}},
    }
    assert validate_outbound(location) == []
    location["interactive"]["action"]["name"] = "other"
    assert validate_outbound(location) == ["interactive.action.name: must be 'send_location'"]


def test_template_contacts_and_other_types_get_a_shape_check() -> None:
    assert validate_outbound({"type": "template", "template": {"name": "hello", "language": {"code": "de"}}}) == []
    assert validate_outbound({"type": "template", "template": {"name": "n" * 513}}) == [
        "template.name: 513 characters, at most 512",
        "template.language.code: missing",
    ]
    assert validate_outbound({"type": "contacts", "contacts": []}) == ["contacts: must be a non-empty list"]
    assert validate_outbound({"type": "contacts", "contacts": [{"name": {}}]}) == []
    assert validate_outbound({"type": "reaction", "reaction": {"message_id": "x", "emoji": "👍"}}) == []


def test_envelope_shape() -> None:
    assert validate_outbound("text") == ["message: must be an object"]
    assert validate_outbound({}) == ["type: missing"]
    assert validate_outbound({"type": "text"}) == ["text: the object for type 'text' is missing"]
    assert validate_outbound({"type": "text", "text": "hi"}) == ["text: must be an object"]
    # the address fields are accepted and not checked here
    assert validate_outbound({"messaging_product": "whatsapp", "to": "4915550000001", **text("hi")}) == []


def test_problems_never_repeat_message_content() -> None:
    too_long = [
        text(SECRET * 200),
        buttons(SECRET, SECRET.upper()),
        list_message([{"id": SECRET * 10, "title": SECRET, "description": SECRET * 3}]),
        {"type": "image", "image": {"link": "not a url " + SECRET, "caption": SECRET * 50}},
    ]
    for message in too_long:
        problems = validate_outbound(message)
        assert problems
        assert not any("Erika" in problem or "4915550000001" in problem for problem in problems)
