"""One person, one conversation (issue 9) through the webhook core, the real GraphClient and the
Meta Graph stand-in: BSUID anchors, reply addressing (``to`` vs ``recipient``), lanes by person,
system messages that move a conversation, 131062, outboxes without identifiers.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.outbox import open_outbox
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from privacy.context import keys_for_user, user_context
from privacy.identity import pseudonym
from privacy.keyring import Keyring, Secret
from privacy.owner_tags import owner_tag
from privacy.requests.hook import PrivacyRequests
from privacy.store.encrypted import EncryptedTrackerStore
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, Fault, MetaGraphStandIn

PHONE = "4915550000401"
PHONE_NEW = "4915550000402"
OTHER_PHONE = "4915550000403"
BSUID = "DE.1000000000000000401"
BSUID_NEW = "DE.1000000000000000402"
PARENT = "DE.ENT.2000000000000000401"
USERNAME = "@erika_test"
PROFILE_NAME = "Erika Mustermann"
APP_SECRET = "identity-app-secret"


def settings(anchor: str = "user_id") -> WhatsAppSettings:
    return WhatsAppSettings(
        verify_token="identity-verify-token",
        app_secret=APP_SECRET,
        access_token=DEFAULT_ACCESS_TOKEN,
        phone_number_id=DEFAULT_PHONE_NUMBER_ID,
        max_body_bytes=64 * 1024,
        identity_anchor=anchor,
    )


_counter = iter(range(1, 1_000_000))


def message(
    text: str, *, phone: str | None = None, user_id: str | None = None, parent: str | None = None,
    username: str | None = USERNAME, contact: bool = True,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One text message and its ``contacts[]`` entry, shaped like Meta's 2026 webhooks."""
    raw: dict[str, Any] = {
        "id": f"wamid.identity{next(_counter):06d}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    if phone:
        raw["from"] = phone
    if user_id:
        raw["from_user_id"] = user_id
    entry: dict[str, Any] | None = None
    if contact:
        entry = {"profile": {"name": PROFILE_NAME}}
        if username:
            entry["profile"]["username"] = username
        if phone:
            entry["wa_id"] = phone
        if user_id:
            entry["user_id"] = user_id
        if parent:
            entry["parent_user_id"] = parent
    return raw, entry


def payload(*parts: tuple[dict[str, Any], dict[str, Any] | None]) -> dict[str, Any]:
    messages = [raw for raw, _ in parts]
    contacts = [entry for _, entry in parts if entry is not None]
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "4915550009999", "phone_number_id": DEFAULT_PHONE_NUMBER_ID},
        "messages": messages,
    }
    if contacts:
        value["contacts"] = contacts
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}


def system(
    change: str, *, phone: str | None = None, user_id: str | None = None, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    """A system message (no ``contacts[]``, as Meta sends them)."""
    raw: dict[str, Any] = {
        "id": f"wamid.system{next(_counter):06d}",
        "timestamp": str(int(time.time())),
        "type": "system",
        "system": {"body": "changed", "type": change, **(fields or {})},
    }
    if phone:
        raw["from"] = phone
    if user_id:
        raw["from_user_id"] = user_id
    return payload((raw, None))


def signed(body_payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(body_payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": compute_signature(APP_SECRET, body)}


class Dialogue:
    """Answers through the output channel like Rasa; records messages and overlapping turns."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[UserMessage] = []
        self.delay = delay
        self.running = 0
        self.max_running = 0

    async def __call__(self, user_message: UserMessage) -> None:
        self.received.append(user_message)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            await user_message.output_channel.send_response(user_message.sender_id, {"text": f"Antwort: {user_message.text}"})
        finally:
            self.running -= 1


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def make_core(graph: Any, keyring: Keyring, *, anchor: str = "user_id", store: Any = None) -> WebhookCore:
    return WebhookCore(
        settings=settings(anchor),
        store=store if store is not None else InMemoryDedupStore(),
        graph=graph,
        keyring=keyring,
        id_map=InMemoryPayloadIdMap(),
        output_factory=WhatsAppOutput,
        options=DeliveryOptions(duplicate_wait_seconds=0.0),
    )


# --------------------------------------------------------------------------- addressing and anchors


async def test_bsuid_only_user_is_answered_via_recipient(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    assert (await core.receive(*signed(payload(message("Hallo", user_id=BSUID))), dialogue)).status == 200
    await core.drain()
    [received] = dialogue.received
    assert received.sender_id == pseudonym(keyring.current, BSUID)
    [sent] = standin.messages
    assert (sent.address_field, sent.recipient, sent.to) == ("recipient", BSUID, None)
    channel_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("connectors.whatsapp"))
    assert "dialogue produced 1 reply" in channel_log
    for secret in (BSUID, USERNAME, PROFILE_NAME):
        assert secret not in channel_log


async def test_user_with_number_and_bsuid_is_answered_to_the_number_and_keyed_on_the_bsuid(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    assert (await core.receive(*signed(payload(message("Hallo", phone=PHONE, user_id=BSUID))), dialogue)).status == 200
    assert dialogue.received[0].sender_id == pseudonym(keyring.current, BSUID)
    [sent] = standin.messages
    assert (sent.address_field, sent.to) == ("to", PHONE)


async def test_conversation_stays_keyed_on_the_bsuid_when_the_number_disappears(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    assert (await core.receive(*signed(payload(message("Koch", phone=PHONE, user_id=BSUID))), dialogue)).status == 200
    assert (await core.receive(*signed(payload(message("in Berlin", user_id=BSUID))), dialogue)).status == 200
    assert [m.sender_id for m in dialogue.received] == [pseudonym(keyring.current, BSUID)] * 2
    assert [(m.address_field, m.address) for m in standin.messages] == [("to", PHONE), ("recipient", BSUID)]


async def test_the_bsuid_from_the_contact_completes_a_message_that_names_only_the_number(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    raw, contact = message("Hallo", phone=PHONE, user_id=BSUID)
    del raw["from_user_id"]
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    assert (await core.receive(*signed(payload((raw, contact))), dialogue)).status == 200
    assert dialogue.received[0].sender_id == pseudonym(keyring.current, BSUID)
    assert standin.messages[0].to == PHONE


async def test_parent_anchor_keys_on_the_parent_but_answers_the_business_bsuid(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    dialogue = Dialogue()
    parent_core = make_core(graph, keyring, anchor="parent_user_id")
    assert (await parent_core.receive(*signed(payload(message("Hallo", user_id=BSUID, parent=PARENT))), dialogue)).status == 200
    assert dialogue.received[0].sender_id == pseudonym(keyring.current, PARENT)
    assert (standin.messages[0].address_field, standin.messages[0].recipient) == ("recipient", BSUID)
    # Without a parent BSUID in the webhook the parent setting falls back to the BSUID.
    assert (await parent_core.receive(*signed(payload(message("Noch da", user_id=BSUID))), dialogue)).status == 200
    assert dialogue.received[1].sender_id == pseudonym(keyring.current, BSUID)
    # The default setting keys on the per-business BSUID even when a parent is present.
    default_core = make_core(graph, keyring)
    assert (await default_core.receive(*signed(payload(message("Hallo", user_id=BSUID, parent=PARENT))), dialogue)).status == 200
    assert dialogue.received[2].sender_id == pseudonym(keyring.current, BSUID)


async def test_one_persons_messages_with_and_without_number_share_one_lane(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    dialogue = Dialogue(delay=0.05)
    body = payload(
        message("eins", phone=PHONE, user_id=BSUID),
        message("zwei", user_id=BSUID),
        message("drei", phone=PHONE, contact=False),
    )
    assert (await make_core(graph, keyring).receive(*signed(body), dialogue)).status == 200
    assert [m.text for m in dialogue.received] == ["eins", "zwei", "drei"]
    assert dialogue.max_running == 1  # one lane: never two turns of the person at once
    # Two different people still run concurrently.
    others = Dialogue(delay=0.05)
    body = payload(message("a", user_id=BSUID), message("b", phone=OTHER_PHONE, user_id=BSUID_NEW))
    assert (await make_core(graph, keyring).receive(*signed(body), others)).status == 200
    assert others.max_running == 2


# --------------------------------------------------------------------------- 131062 and the outbox


async def test_131062_is_undeliverable_and_not_redelivered_in_a_loop(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    standin.reject_bsuid_recipients()
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    request = signed(payload(message("Hallo", user_id=BSUID)))
    assert (await core.receive(*request, dialogue)).status == 200
    assert (await core.receive(*request, dialogue)).status == 200  # Meta's redelivery: a duplicate
    assert len(dialogue.received) == 1 and not standin.messages


async def test_outbox_holds_no_identifier_and_the_retry_rebuilds_the_recipient(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    store = InMemoryDedupStore()
    core = make_core(graph, keyring, store=store)
    dialogue = Dialogue()
    request = signed(payload(message("Hallo", user_id=BSUID, parent=PARENT)))
    standin.inject_faults(Fault(status=500, code=131000), 2)  # both attempts of the client fail
    assert (await core.receive(*request, dialogue)).status == 503
    [entry] = store._entries.values()
    assert entry.outbox is not None
    keys = keys_for_user(keyring, BSUID, [PARENT])
    assert entry.outbox.owner == owner_tag(keys.key)
    stored = repr(entry) + entry.outbox.blob.hex() + entry.outbox.owner + json.dumps(open_outbox(keys, entry.outbox))
    for identifier in (BSUID, PARENT, USERNAME, BSUID.encode().hex()):
        assert identifier not in stored
    assert (await core.receive(*request, dialogue)).status == 200
    assert len(dialogue.received) == 1
    assert [(m.address_field, m.recipient) for m in standin.messages] == [("recipient", BSUID)]


# --------------------------------------------------------------------------- system messages

DOMAIN = Domain.from_dict({"version": "3.1", "slots": {"job_title": {"type": "text", "mappings": [{"type": "custom"}]}}})


async def _generate(name: str, language: str, variables: Any) -> dict[str, Any]:
    return {"text": name}


@pytest.fixture
async def tracker_store(tmp_path: Path) -> Any:
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/identity.db", environ={})
    yield store
    await store.close()


async def _save_conversation(store: EncryptedTrackerStore, keys: Any, job: str) -> None:
    with user_context(keys):
        tracker = DialogueStateTracker(keys.pseudonym, DOMAIN.slots)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                      UserUttered("Koch"), SlotSet("job_title", job)):
            tracker.update(event)
        await store.save(tracker)


async def _job_of(store: EncryptedTrackerStore, keys: Any) -> str | None:
    with user_context(keys):
        tracker = await store.retrieve(keys.pseudonym)
    return None if tracker is None else tracker.get_slot("job_title")


@pytest.mark.parametrize(
    ("change", "before", "after", "sender"),
    [
        # user_changed_user_id: from_user_id and system.user_id are the new BSUID.
        ("user_changed_user_id", dict(user_id=BSUID), dict(user_id=BSUID_NEW),
         dict(user_id=BSUID_NEW, previous_user_id=BSUID, fields={"user_id": BSUID_NEW})),
        # user_changed_number: from is the old number, system.new_wa_id the new one; new BSUID too.
        ("user_changed_number", dict(phone=PHONE, user_id=BSUID), dict(phone=PHONE_NEW, user_id=BSUID_NEW),
         dict(phone=PHONE, user_id=BSUID_NEW, previous_user_id=BSUID, fields={"new_wa_id": PHONE_NEW, "user_id": BSUID_NEW})),
        # An older payload: only numbers (system.wa_id), no BSUIDs at all.
        ("user_changed_number", dict(phone=PHONE), dict(phone=PHONE_NEW),
         dict(phone=PHONE, fields={"wa_id": PHONE_NEW})),
    ],
)
async def test_system_message_moves_the_conversation_and_gets_no_reply(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tracker_store: EncryptedTrackerStore,
    change: str, before: dict[str, str], after: dict[str, str], sender: dict[str, Any],
) -> None:
    old_ids = [v for v in (before.get("user_id"), before.get("phone")) if v]
    new_ids = [v for v in (after.get("user_id"), after.get("phone")) if v]
    old_keys = keys_for_user(keyring, old_ids[0], old_ids[1:])
    new_keys = keys_for_user(keyring, new_ids[0], new_ids[1:])
    await _save_conversation(tracker_store, old_keys, "Koch")
    requests = PrivacyRequests(store=lambda: tracker_store, generate=_generate, lock_store=InMemoryLockStore())
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    fields = dict(sender["fields"])
    if "previous_user_id" in sender:
        fields["previous_user_id"] = sender["previous_user_id"]
    request = signed(system(change, phone=sender.get("phone"), user_id=sender.get("user_id"), fields=fields))

    assert (await core.receive(*request, dialogue, privacy_requests=requests)).status == 200
    await core.drain()
    assert not dialogue.received and not standin.messages and not standin.reads
    assert await _job_of(tracker_store, new_keys) == "Koch"
    assert await _job_of(tracker_store, keys_for_user(keyring, old_ids[0])) is None
    # Meta's redelivery of the same system message: acknowledged, nothing moves twice.
    assert (await core.receive(*request, dialogue, privacy_requests=requests)).status == 200
    assert await _job_of(tracker_store, new_keys) == "Koch"
    # The next message under the new identity continues the conversation.
    assert (await core.receive(*signed(payload(message("weiter", **after))), dialogue)).status == 200
    assert dialogue.received[0].sender_id == new_keys.pseudonym


async def test_system_message_without_an_encrypted_store_is_just_acknowledged(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    core = make_core(graph, keyring)
    dialogue = Dialogue()
    request = signed(system("user_changed_user_id", user_id=BSUID_NEW, fields={"previous_user_id": BSUID, "user_id": BSUID_NEW}))
    assert (await core.receive(*request, dialogue)).status == 200
    assert not dialogue.received and not standin.messages


async def test_other_system_messages_still_reach_the_dialogue_as_unsupported(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    dialogue = Dialogue()
    request = signed(system("customer_identity_changed", phone=PHONE, user_id=BSUID))
    assert (await make_core(graph, keyring).receive(*request, dialogue)).status == 200
    assert [m.text for m in dialogue.received] == ['/unsupported_message{"message_type":"system"}']


async def test_an_identity_change_naming_the_same_identity_moves_nothing(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tracker_store: EncryptedTrackerStore
) -> None:
    keys = keys_for_user(keyring, BSUID)
    await _save_conversation(tracker_store, keys, "Koch")
    requests = PrivacyRequests(store=lambda: tracker_store, generate=_generate, lock_store=InMemoryLockStore())
    same = BSUID.lower()  # BSUIDs compare case-insensitively: the same person, the same pseudonym
    request = signed(system("user_changed_user_id", user_id=same, fields={"previous_user_id": BSUID, "user_id": same}))
    assert (await make_core(graph, keyring).receive(*request, Dialogue(), privacy_requests=requests)).status == 200
    assert await _job_of(tracker_store, keys) == "Koch"
    assert not standin.messages


async def test_an_address_in_a_native_custom_message_is_neither_sealed_nor_used(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    async def native(user_message: UserMessage) -> None:
        custom = {"whatsapp": {"type": "text", "text": {"body": "Hallo"}, "recipient": "DE.1000000000000000999"}}
        await user_message.output_channel.send_response(user_message.sender_id, {"custom": custom})

    store = InMemoryDedupStore()
    core = make_core(graph, keyring, store=store)
    assert (await core.receive(*signed(payload(message("Hallo", user_id=BSUID))), native)).status == 200
    [sent] = standin.messages
    assert (sent.address_field, sent.recipient, sent.message["text"]["body"]) == ("recipient", BSUID, "Hallo")
