"""Webhook builders of the username era: phone-only, phone + BSUID, BSUID-only users and the
identity system messages, shaped like Meta's
(https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids,
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples)."""
from __future__ import annotations

import pytest

from harness import meta_payloads as mp

PHONE = "4915550000001"
NEW_PHONE = "4915550000002"
BSUID = "DE.1000000000000000001"
NEW_BSUID = "DE.1000000000000000002"
PARENT = "DE.ENT.2000000000000000001"
NEW_PARENT = "DE.ENT.2000000000000000002"
USERNAME = "@erika_test"


def _value(body: dict) -> dict:
    [entry] = body["entry"]
    [change] = entry["changes"]
    assert change["field"] == "messages"
    return change["value"]


def test_phone_only_user_keeps_the_old_payload():
    value = _value(mp.payload(mp.text(PHONE, "Hallo"), profile_name="Erika"))
    [message] = value["messages"]
    assert message["from"] == PHONE and "from_user_id" not in message
    assert value["contacts"] == [{"profile": {"name": "Erika"}, "wa_id": PHONE}]


def test_user_with_phone_bsuid_parent_and_username():
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID, parent_user_id=PARENT, username=USERNAME)
    value = _value(mp.payload(mp.text(user, "Hallo"), profile_name="Erika", users=[user]))

    [message] = value["messages"]
    assert (message["from"], message["from_user_id"]) == (PHONE, BSUID)
    assert value["contacts"] == [
        {"profile": {"name": "Erika", "username": USERNAME}, "wa_id": PHONE, "user_id": BSUID, "parent_user_id": PARENT}
    ]


def test_phone_and_bsuid_without_users_gets_a_plain_contact():
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID)
    value = _value(mp.payload(mp.button_reply(user, "more", "Mehr")))
    assert value["contacts"] == [{"profile": {"name": "Testperson"}, "wa_id": PHONE, "user_id": BSUID}]


@pytest.mark.parametrize("sender", [BSUID, mp.WhatsAppUser(user_id=BSUID, username=USERNAME)])
def test_bsuid_only_username_user_has_no_from_and_no_wa_id(sender):
    users = [sender] if isinstance(sender, mp.WhatsAppUser) else []
    value = _value(mp.payload(mp.location(sender, 52.52, 13.4), users=users))

    [message] = value["messages"]
    assert "from" not in message and message["from_user_id"] == BSUID
    [contact] = value["contacts"]
    assert "wa_id" not in contact and contact["user_id"] == BSUID
    if users:
        assert contact["profile"]["username"] == USERNAME


def test_every_builder_takes_a_bsuid_sender():
    for message in (
        mp.text(BSUID, "x"), mp.button_reply(BSUID, "a", "A"), mp.list_reply(BSUID, "a", "A"),
        mp.template_button(BSUID, "p", "t"), mp.image(BSUID), mp.audio(BSUID), mp.video(BSUID),
        mp.document(BSUID), mp.sticker(BSUID), mp.contacts(BSUID), mp.reaction(BSUID, "wamid.X"),
        mp.order(BSUID), mp.unsupported(BSUID),
    ):
        assert message["from_user_id"] == BSUID and "from" not in message, message


def test_two_senders_in_one_change_get_one_contact_each():
    alice = mp.WhatsAppUser(phone=PHONE, user_id=BSUID)
    value = _value(mp.payload(mp.text(alice, "a"), mp.text(NEW_BSUID, "b"), mp.text(alice, "c")))
    assert [(c.get("wa_id"), c.get("user_id")) for c in value["contacts"]] == [(PHONE, BSUID), (None, NEW_BSUID)]


def test_user_changed_user_id_system_message():
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID, parent_user_id=PARENT)
    message = mp.user_changed_user_id(user.without_phone(), NEW_BSUID, new_parent_user_id=NEW_PARENT)
    value = _value(mp.payload(message, users=[user]))

    assert "contacts" not in value
    [sent] = value["messages"]
    assert sent["type"] == "system" and "from" not in sent and sent["from_user_id"] == NEW_BSUID
    assert sent["system"] == {
        "body": sent["system"]["body"],
        "type": "user_changed_user_id",
        "previous_user_id": BSUID,
        "user_id": NEW_BSUID,
        "previous_parent_user_id": PARENT,
        "parent_user_id": NEW_PARENT,
    }
    with pytest.raises(ValueError):
        mp.user_changed_user_id(PHONE, NEW_BSUID)  # no previous BSUID
    with pytest.raises(ValueError):
        mp.user_changed_user_id(BSUID, NEW_PHONE)  # a number is no BSUID


def test_user_changed_number_system_message():
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID, parent_user_id=PARENT)
    value = _value(mp.payload(mp.user_changed_number(user, NEW_PHONE, new_user_id=NEW_BSUID)))

    assert "contacts" not in value
    [sent] = value["messages"]
    assert sent["from"] == PHONE and sent["type"] == "system"
    system = sent["system"]
    assert system["type"] == "user_changed_number" and system["new_wa_id"] == NEW_PHONE
    assert (system["previous_user_id"], system["user_id"]) == (BSUID, NEW_BSUID)
    assert (system["previous_parent_user_id"], system["parent_user_id"]) == (PARENT, PARENT)
    with pytest.raises(ValueError):
        mp.user_changed_number(mp.WhatsAppUser(user_id=BSUID), NEW_PHONE)


def test_old_system_builder_keeps_its_shape_and_gets_no_contacts():
    message = mp.system(PHONE)
    assert message["from"] == PHONE and message["system"]["type"] == "user_changed_number"
    assert "contacts" not in _value(mp.payload(message))


def test_user_transitions():
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID, username=USERNAME)
    dropped = user.without_phone()
    assert (dropped.phone, dropped.user_id, dropped.username) == (None, BSUID, USERNAME)
    changed = dropped.with_user_id(NEW_BSUID)
    assert (changed.user_id, changed.phone) == (NEW_BSUID, None)
    assert mp.WhatsAppUser.of(BSUID) == mp.WhatsAppUser(user_id=BSUID)
    assert mp.WhatsAppUser.of(PHONE) == mp.WhatsAppUser(phone=PHONE)
    with pytest.raises(ValueError):
        mp.WhatsAppUser(phone=PHONE).without_phone()
    with pytest.raises(ValueError):
        mp.WhatsAppUser()
    with pytest.raises(ValueError):
        mp.WhatsAppUser(phone=BSUID)
    with pytest.raises(ValueError):
        mp.WhatsAppUser(user_id=PHONE)


def test_statuses_for_bsuid_recipients():
    by_bsuid = mp.status("wamid.OUT1", BSUID, "read")
    assert "recipient_id" not in by_bsuid and by_bsuid["recipient_user_id"] == BSUID
    both = mp.status("wamid.OUT1", PHONE, "delivered", recipient_user_id=BSUID)
    assert (both["recipient_id"], both["recipient_user_id"]) == (PHONE, BSUID)
    assert "recipient_user_id" not in mp.status("wamid.OUT1", PHONE, "sent")
