"""Parsing webhook payloads: every type, batching, statuses, tolerance and envelope errors."""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.whatsapp.updates.messages import (
    AudioMessage,
    ButtonReply,
    IdentityChange,
    ListReply,
    LocationMessage,
    QuickReply,
    TextMessage,
    UnsupportedMessage,
)
from connectors.whatsapp.updates.parser import PayloadError, parse_body, parse_update
from tests.support.paths import UPDATES_DATA

DATA = UPDATES_DATA
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
        ("video.json", "video"),
        ("document.json", "document"),
        ("sticker.json", "sticker"),
        ("contacts.json", "contacts"),
        ("reaction.json", "reaction"),
        ("order.json", "order"),
        ("unsupported.json", "unsupported"),
        ("unknown_type.json", "unsupported"),
    ],
)
def test_unsupported_types(name: str, message_type: str) -> None:
    message = only_message(name)
    assert type(message) is UnsupportedMessage
    assert message.message_type == message_type


def test_a_voice_note_is_parsed_with_its_media_id_and_type() -> None:
    message = only_message("audio_voice.json")
    assert type(message) is AudioMessage and message.message_type == "audio"
    assert message.media_id and message.mime_type.startswith("audio/ogg") and message.voice is True
    assert message.media_id not in repr(message)


def test_an_audio_message_without_media_id_is_unsupported() -> None:
    raw = load("audio_voice.json")
    raw["entry"][0]["changes"][0]["value"]["messages"][0]["audio"].pop("id")
    message = parse_update(raw).messages[0]
    assert type(message) is UnsupportedMessage and message.message_type == "audio"


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


def test_profile_name_is_parsed_only_to_be_masked_and_never_shown() -> None:
    """The profile name is kept (out of repr) so logs and the LLM fallback can mask it by value."""
    update = parse_update(load("text.json"))
    for message in update.messages:
        assert message.profile_name == PROFILE_NAME
        assert PROFILE_NAME not in repr(message) and PROFILE_NAME not in str(message)


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


# Found by tests/reliability/test_fuzz.py: each of these was a 500 from the running app.
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


# --------------------------------------------------------------------------- identifiers (issue 9)

BSUID = "DE.1000000000000000001"
PARENT = "DE.ENT.2000000000000000001"
USERNAME = "@erika_test"


def _value(messages: list[dict[str, Any]], contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"messages": messages}
    if contacts is not None:
        value["contacts"] = contacts
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}


def _text(n: int, **ids: str) -> dict[str, Any]:
    return {"id": f"wamid.{n}", "type": "text", "text": {"body": f"Text {n}"}, **ids}


def test_identifiers_come_from_the_message_and_its_contact() -> None:
    contact = {"profile": {"name": PROFILE_NAME, "username": USERNAME}, "wa_id": WA_ID, "user_id": BSUID,
               "parent_user_id": PARENT}
    (message,) = parse_update(_value([_text(1, **{"from": WA_ID, "from_user_id": BSUID})], [contact])).messages
    assert (message.sender, message.phone, message.user_id, message.parent_user_id, message.username) == (
        WA_ID, WA_ID, BSUID, PARENT, USERNAME)
    text = repr(message)
    for secret in (WA_ID, BSUID, PARENT, USERNAME, PROFILE_NAME):
        assert secret not in text
    assert message.profile_name == PROFILE_NAME and PROFILE_NAME not in repr(message)


def test_a_message_with_only_a_bsuid_is_a_normal_message() -> None:
    contact = {"profile": {"name": PROFILE_NAME, "username": USERNAME}, "user_id": BSUID}
    (message,) = parse_update(_value([_text(1, from_user_id=BSUID)], [contact])).messages
    assert isinstance(message, TextMessage) and message.body == "Text 1"
    assert (message.sender, message.phone, message.user_id, message.username) == (BSUID, None, BSUID, USERNAME)


def test_contacts_are_matched_by_user_id_or_wa_id_in_a_batch() -> None:
    other_bsuid, other_phone = "DE.1000000000000000002", "4915550000002"
    contacts = [
        {"profile": {"username": "@other"}, "user_id": other_bsuid, "wa_id": other_phone},
        {"profile": {"username": USERNAME}, "user_id": BSUID, "parent_user_id": PARENT},
    ]
    messages = [_text(1, **{"from": other_phone}), _text(2, from_user_id=BSUID), _text(3, **{"from": "4915550000009"})]
    first, second, third = parse_update(_value(messages, contacts)).messages
    assert (first.phone, first.user_id, first.username) == (other_phone, other_bsuid, "@other")
    assert (second.phone, second.user_id, second.parent_user_id, second.username) == (None, BSUID, PARENT, USERNAME)
    assert (third.phone, third.user_id, third.username) == ("4915550000009", None, None)  # no contact of theirs


def test_a_single_contact_matches_a_single_sender_unless_it_contradicts() -> None:
    contact = {"profile": {"username": USERNAME}, "user_id": BSUID}
    (message,) = parse_update(_value([_text(1, **{"from": WA_ID})], [contact])).messages
    assert (message.phone, message.user_id, message.username) == (WA_ID, BSUID, USERNAME)
    contradicting = {"wa_id": "4915550000002", "user_id": BSUID}
    (message,) = parse_update(_value([_text(1, **{"from": WA_ID})], [contradicting])).messages
    assert (message.phone, message.user_id) == (WA_ID, None)
    two_senders = [_text(1, **{"from": WA_ID}), _text(2, **{"from": "4915550000002"})]
    assert all(m.user_id is None for m in parse_update(_value(two_senders, [contact])).messages)


@pytest.mark.parametrize(
    "contacts", [None, [], "x", [1, None], [{"wa_id": 5, "user_id": ["x"], "profile": "p"}], [{"profile": {"username": 7}}]]
)
def test_broken_contacts_are_tolerated(contacts: Any) -> None:
    value = _value([_text(1, from_user_id=BSUID)])
    value["entry"][0]["changes"][0]["value"]["contacts"] = contacts
    (message,) = parse_update(value).messages
    assert (message.sender, message.user_id, message.phone, message.username) == (BSUID, BSUID, None, None)


def test_a_bsuid_in_from_is_taken_as_a_bsuid() -> None:
    (message,) = parse_update(_value([_text(1, **{"from": BSUID})])).messages
    assert (message.sender, message.phone, message.user_id) == (BSUID, None, BSUID)


def _system(system: dict[str, Any], **ids: str) -> Any:
    raw = {"id": "wamid.S", "timestamp": "1732200000", "type": "system", "system": {"body": "changed", **system}, **ids}
    (message,) = parse_update(_value([raw])).messages
    return message


def test_user_changed_user_id_is_an_identity_change() -> None:
    message = _system({"type": "user_changed_user_id", "previous_user_id": BSUID, "user_id": "DE.1000000000000000009",
                       "previous_parent_user_id": PARENT, "parent_user_id": "DE.ENT.2000000000000000009"},
                      from_user_id="DE.1000000000000000009")
    assert isinstance(message, IdentityChange) and message.change == "user_changed_user_id"
    assert (message.previous_user_id, message.new_user_id) == (BSUID, "DE.1000000000000000009")
    assert (message.previous_parent_user_id, message.new_parent_user_id) == (PARENT, "DE.ENT.2000000000000000009")
    assert message.previous_phone is None and message.new_phone is None
    for secret in (BSUID, PARENT, "DE.1000000000000000009"):
        assert secret not in repr(message)


def test_user_changed_user_id_takes_the_new_bsuid_from_the_sender_and_keeps_the_number() -> None:
    message = _system({"type": "user_changed_user_id", "previous_user_id": BSUID},
                      **{"from": WA_ID, "from_user_id": "DE.1000000000000000009"})
    assert (message.previous_user_id, message.new_user_id) == (BSUID, "DE.1000000000000000009")
    assert message.previous_phone == message.new_phone == WA_ID


def test_user_changed_number_old_and_new_shapes() -> None:
    old_shape = only_message("system.json")  # Meta's older payload: system.wa_id, no BSUIDs
    assert isinstance(old_shape, IdentityChange) and old_shape.change == "user_changed_number"
    assert (old_shape.previous_phone, old_shape.new_phone) == (WA_ID, "4915550000004")
    assert old_shape.previous_user_id is None and old_shape.new_user_id is None
    new_shape = _system({"type": "user_changed_number", "new_wa_id": "4915550000004", "previous_user_id": BSUID,
                         "user_id": "DE.1000000000000000009"}, **{"from": WA_ID, "from_user_id": "DE.1000000000000000009"})
    assert (new_shape.previous_phone, new_shape.new_phone) == (WA_ID, "4915550000004")
    assert (new_shape.previous_user_id, new_shape.new_user_id) == (BSUID, "DE.1000000000000000009")
    unchanged_bsuid = _system({"type": "user_changed_number", "new_wa_id": "4915550000004"},
                              **{"from": WA_ID, "from_user_id": BSUID})
    assert unchanged_bsuid.previous_user_id == unchanged_bsuid.new_user_id == BSUID


def test_other_system_messages_stay_unsupported() -> None:
    message = _system({"type": "customer_identity_changed", "identity": "x"}, **{"from": WA_ID})
    assert type(message) is UnsupportedMessage and message.message_type == "system"
    broken = _system({"type": ["user_changed_number"]}, **{"from": WA_ID})
    assert type(broken) is UnsupportedMessage


def test_user_id_update_changes_are_tolerated() -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "user_id_update", "value": {"user_id": BSUID, "previous_user_id": "DE.1"}}]}]}
    assert parse_update(payload).messages == ()
