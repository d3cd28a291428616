"""Parsing webhook payloads: every type, batching, statuses, tolerance and envelope errors."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.whatsapp.updates import (
    ButtonReply,
    ListReply,
    LocationMessage,
    PayloadError,
    QuickReply,
    TextMessage,
    UnsupportedMessage,
    parse_body,
    parse_update,
)

DATA = Path(__file__).parent / "data" / "updates"
WA_ID = "4915550000001"
PROFILE_NAME = "Erika Mustermann"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def only_message(name: str) -> Any:
    update = parse_update(load(name))
    assert len(update.messages) == 1 and not update.statuses
    return update.messages[0]


def test_text() -> None:
    message = only_message("text.json")
    assert isinstance(message, TextMessage)
    assert message.body == "Hallo, ich suche einen Job als Koch in Berlin"
    assert message.sender == WA_ID
    assert message.message_id.startswith("wamid.")
    assert message.timestamp == 1732200000
    assert message.phone_number_id == "100000000000001"


def test_button_reply() -> None:
    message = only_message("interactive_button_reply.json")
    assert isinstance(message, ButtonReply)
    assert message.reply_id == '/select_job{"job_id":"10000-1190587234-S"}'
    assert message.title == "Koch (m/w/d)"


def test_list_reply() -> None:
    message = only_message("interactive_list_reply.json")
    assert isinstance(message, ListReply)
    assert (message.reply_id, message.title, message.description) == ("/more_results", "Mehr Ergebnisse", "Die nächsten 5 Stellen")


def test_template_quick_reply() -> None:
    message = only_message("button.json")
    assert isinstance(message, QuickReply)
    assert (message.payload, message.text) == ("/new_search", "Neue Suche")


def test_location() -> None:
    message = only_message("location.json")
    assert isinstance(message, LocationMessage)
    assert (message.latitude, message.longitude) == (52.520008, 13.404954)


@pytest.mark.parametrize(
    ("name", "message_type"),
    [
        ("image.json", "image"),
        ("audio_voice.json", "audio"),
        ("video.json", "video"),
        ("document.json", "document"),
        ("sticker.json", "sticker"),
        ("contacts.json", "contacts"),
        ("reaction.json", "reaction"),
        ("order.json", "order"),
        ("system.json", "system"),
        ("unsupported.json", "unsupported"),
        ("unknown_type.json", "unsupported"),
    ],
)
def test_unsupported_types(name: str, message_type: str) -> None:
    message = only_message(name)
    assert type(message) is UnsupportedMessage
    assert message.message_type == message_type


def test_statuses_are_parsed_without_recipient() -> None:
    update = parse_update(load("statuses.json"))
    assert not update.messages
    assert [status.status for status in update.statuses] == ["sent", "delivered", "read", "failed"]
    failed = update.statuses[3]
    assert [(error.code, error.title) for error in failed.errors] == [(131047, "Re-engagement message")]
    assert not hasattr(failed, "recipient_id")


def test_batch_keeps_every_part_in_order() -> None:
    update = parse_update(load("batch.json"))
    assert [m.sender for m in update.messages] == [WA_ID, "4915550000002", WA_ID, "4915550000002"]
    assert [type(m).__name__ for m in update.messages] == ["TextMessage", "TextMessage", "TextMessage", "LocationMessage"]
    assert [s.status for s in update.statuses] == ["delivered", "read"]
    assert update.skipped == 0


def test_repr_leaks_neither_number_nor_text_nor_wamid() -> None:
    for name in sorted(path.name for path in DATA.glob("*.json")):
        update = parse_update(load(name))
        text = repr(update)
        assert WA_ID not in text and PROFILE_NAME not in text and "wamid." not in text, name
        for message in update.messages:
            if isinstance(message, TextMessage):
                assert message.body not in text


def test_profile_name_is_never_parsed() -> None:
    update = parse_update(load("text.json"))
    for message in update.messages:
        assert PROFILE_NAME not in json.dumps(message.__dict__)


def test_unknown_fields_and_missing_optional_ones_are_tolerated() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "future_top_level": {"x": 1},
        "entry": [
            {"id": "1", "changes": [{"value": {"messages": [
                {"from": WA_ID, "id": "wamid.A", "type": "text", "text": {"body": "hi", "new": True}, "extra": [1]}
            ]}}]},
            {"id": "2"},
            {"id": "3", "changes": [{"field": "messages"}]},
        ],
    }
    update = parse_update(payload)
    assert len(update.messages) == 1
    assert update.messages[0].timestamp is None and update.messages[0].phone_number_id is None


def test_messages_without_id_or_sender_are_skipped_and_counted() -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "messages": [{"id": "wamid.B", "type": "text", "text": {"body": "x"}}, {"from": WA_ID, "type": "text"}, "junk",
                     {"from": WA_ID, "id": "wamid.C", "type": "text", "text": {"body": "ok"}}],
        "statuses": [{"status": "sent"}, {"id": "wamid.D", "status": "read"}],
    }}]}]}
    update = parse_update(payload)
    assert [m.message_id for m in update.messages] == ["wamid.C"]
    assert [s.message_id for s in update.statuses] == ["wamid.D"]
    assert update.skipped == 4


def test_business_scoped_user_id_is_accepted_as_sender() -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": [
        {"from_user_id": "DE.1234567890123456", "id": "wamid.E", "type": "text", "text": {"body": "hallo"}}]}}]}]}
    assert parse_update(payload).messages[0].sender == "DE.1234567890123456"


@pytest.mark.parametrize(
    "content",
    [
        {"type": "text"},
        {"type": "text", "text": {"body": "   "}},
        {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"title": "no id"}}},
        {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}},
        {"type": "button", "button": {}},
        {"type": "location", "location": {"latitude": "north", "longitude": 13.4}},
        {"type": "location", "location": {"latitude": 91, "longitude": 13.4}},
        {"type": "location", "location": {"latitude": 52.5, "longitude": True}},
    ],
)
def test_unusable_content_of_known_types_becomes_unsupported(content: dict[str, Any]) -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": [
        {"from": WA_ID, "id": "wamid.F", **content}]}}]}]}
    message = parse_update(payload).messages[0]
    assert type(message) is UnsupportedMessage and message.message_type == "unsupported"
    assert message.wire_type == content["type"]


def test_change_level_errors_are_collected() -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "errors": [{"code": 131000, "title": "Something went wrong"}]}}]}]}
    assert [(e.code, e.title) for e in parse_update(payload).change_errors] == [(131000, "Something went wrong")]


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b"[]", b'"text"', b"null", b'{"object":"page","entry":[]}', b'{"entry":[]}',
     b'{"object":"whatsapp_business_account","entry":{}}',
     b'{"object":"whatsapp_business_account","entry":["x"]}',
     b'{"object":"whatsapp_business_account","entry":[{"changes":"x"}]}',
     b'{"object":"whatsapp_business_account","entry":[{"changes":[1]}]}',
     b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":[]}]}]}',
     b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":{}}}]}]}',
     b"[" * 100_000],
)
def test_envelope_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_body(body)


def test_missing_entry_or_changes_is_an_empty_update() -> None:
    assert parse_body(b'{"object":"whatsapp_business_account"}').messages == ()
    assert parse_body(b'{"object":"whatsapp_business_account","entry":[{"id":"1"}]}').messages == ()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(
        ["object", "entry", "changes", "value", "messages", "statuses", "from", "id", "type", "text", "body",
         "interactive", "button_reply", "list_reply", "location", "latitude", "longitude", "errors", "code"]), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(payload=_json)
def test_arbitrary_json_never_raises_anything_but_payload_error(payload: Any) -> None:
    if isinstance(payload, dict):
        payload = dict(payload, object="whatsapp_business_account")
    try:
        parse_update(payload)
    except PayloadError:
        pass


# Found by tests/test_reliability_fuzz.py: each of these was a 500 from the running app.
def _text_body(**overrides: Any) -> dict[str, Any]:
    payload = load("text.json")
    payload["entry"][0]["changes"][0]["value"]["messages"][0].update(overrides)
    return payload


@pytest.mark.parametrize("stamp", ["²", "①", "1" * 400, 10**40, -5])
def test_implausible_timestamps_count_as_absent(stamp: Any) -> None:
    (message,) = parse_update(_text_body(timestamp=stamp)).messages
    assert message.timestamp is None


def test_integers_beyond_pythons_digit_limit_are_a_payload_error() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[],"n":' + b"1" * 4301 + b"}"
    with pytest.raises(PayloadError):
        parse_body(body)


def test_a_coordinate_too_large_for_a_float_makes_the_location_unusable() -> None:
    payload = load("location.json")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["location"]["latitude"] = 10**310
    (message,) = parse_update(payload).messages
    assert not isinstance(message, LocationMessage)


def test_lone_surrogates_are_replaced_and_pairs_kept() -> None:
    body = json.dumps(_text_body(id="wamid.\udc00", text={"body": "Koch \ud83d\ude00 \ud800"}), ensure_ascii=True)
    (message,) = parse_body(body.encode("ascii")).messages
    assert message.message_id == "wamid.\ufffd"
    assert message.body == "Koch \U0001F600 \ufffd"
    message.message_id.encode("utf-8"), message.body.encode("utf-8")  # both encodable now
