"""connectors/whatsapp/delivery_statuses.py: statuses counted, failed ones recorded in the
encrypted conversation or retried, never an identifier in a log; and the notice of turn.py."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.whatsapp.core import WebhookCore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.delivery_statuses import MAX_RETRIES, DeliveryStatuses, category_of
from connectors.whatsapp.graph.errors import GraphAPIError
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.sent_copies.copies import SentCopyBook
from connectors.whatsapp.sent_copies.memory_store import InMemorySentCopies
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.turn import FAILED_DELIVERY_SLOT, Turn
from connectors.whatsapp.updates.messages import TextMessage, WebhookUpdate
from connectors.whatsapp.updates.parser import parse_update
from observability.metrics import REGISTRY
from privacy.backends import TrackerStorageUnavailable
from privacy.context import UserKeys, user_context
from privacy.keyring import Keyring, Secret
from privacy.store.encrypted import EncryptedTrackerStore

PHONE = "4915550000001"
BSUID = "DE.1234567890abcdef"
WAMID = "wamid.failedout000001"
REPLY = {"type": "text", "text": {"body": "Hier sind drei Stellen"}}
DOMAIN = Domain.from_dict({"version": "3.1", "slots": {
    "language": {"type": "any", "mappings": [{"type": "custom"}]},
    FAILED_DELIVERY_SLOT: {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]},
}})
SECRET = "statuses-app-secret"
SETTINGS = WhatsAppSettings(verify_token="v", app_secret=SECRET, access_token="t", phone_number_id="1")


class Graph:
    """Records sends; raises the queued errors in order."""

    def __init__(self, errors: list[GraphAPIError] | None = None) -> None:
        self.errors = list(errors or [])
        self.sent: list[tuple[Recipient, dict[str, Any]]] = []
        self.calls = 0

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((recipient, dict(message)))
        self.calls += 1
        return f"wamid.sent{self.calls}"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


class DownStore:
    async def retrieve(self, sender_id: str) -> None:
        raise TrackerStorageUnavailable("down")


def status(code: int | None = 131026, *, phone: str | None = PHONE, user_id: str | None = BSUID,
           state: str = "failed", wamid: str = WAMID) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": wamid, "status": state, "timestamp": "1700000000"}
    if phone:
        raw["recipient_id"] = phone
    if user_id:
        raw["recipient_user_id"] = user_id
    if code is not None:
        raw["errors"] = [{"code": code, "title": "Message failed", "message": f"details about {PHONE}"}]
    return raw


def update(*raws: dict[str, Any]) -> WebhookUpdate:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "statuses": list(raws)}
    return parse_update({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"blaupause_{name}_total", labels) or 0.0


class World:
    """Keyring, an encrypted store on SQLite, the delivery with sent copies, the statuses handler."""

    def __init__(self, tmp_path: Path, graph: Graph | None = None) -> None:
        self.keyring = Keyring(current=Secret.generate())
        self.identities = Identities(self.keyring, use_parent_user_id=False)
        self.keys: UserKeys = self.identities.keys(PHONE, BSUID, None)
        self.store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={})
        self.graph = graph or Graph()
        self.copies = SentCopyBook(InMemorySentCopies(), self.keyring)
        self.delivery = Delivery(self.graph, RecipientPacer(), self.copies)
        self.waits: list[float] = []

        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)

        self.statuses = DeliveryStatuses(References.from_keyring(self.keyring), self.identities, self.delivery, sleep=sleep)
        self.turn = Turn(handler, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(self.keyring),
                         output_factory=WhatsAppOutput, tracker_store=self.store)

    async def converse(self) -> None:
        with user_context(self.keys):
            tracker = DialogueStateTracker(self.keys.pseudonym, DOMAIN.slots)
            tracker.update(UserUttered("Hallo"))
            await self.store.save(tracker)

    async def slot(self) -> Any:
        with user_context(self.keys):
            tracker = await self.store.retrieve(self.keys.pseudonym)
        return None if tracker is None else tracker.get_slot(FAILED_DELIVERY_SLOT)


async def handler(message: Any) -> None:
    return None


def test_the_parser_reads_the_recipient_and_hides_it() -> None:
    parsed = update(status(phone=PHONE, user_id=BSUID) | {"recipient_parent_user_id": "DE.ENT.99"}).statuses[0]
    assert (parsed.phone, parsed.user_id, parsed.parent_user_id, parsed.code) == (PHONE, BSUID, "DE.ENT.99", 131026)
    assert PHONE not in repr(parsed) and BSUID not in repr(parsed) and WAMID not in repr(parsed)
    only_bsuid = update(status(phone=BSUID, user_id=None)).statuses[0]  # a BSUID in recipient_id
    assert (only_bsuid.phone, only_bsuid.user_id) == (None, BSUID)


@pytest.mark.parametrize(("code", "category"), [
    (131026, "undeliverable"), (131047, "outside_window"), (131056, "rate_limited"), (130429, "rate_limited"),
    (131000, "server_error"), (131016, "server_error"), (131051, "undeliverable"), (None, "undeliverable"),
])
def test_categories_never_carry_metas_text(code: int | None, category: str) -> None:
    assert category_of(code) == category


async def test_every_status_is_counted_and_logged_by_keyed_reference(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    world = World(tmp_path)
    before = (count("delivery_statuses", status="delivered", code="none"), count("delivery_statuses", status="failed", code="131026"),
              count("delivery_statuses", status="other", code="none"))
    await world.statuses.handle(update(status(state="delivered", code=None), status(), status(state="bogus", code=None)), world.turn)
    after = (count("delivery_statuses", status="delivered", code="none"), count("delivery_statuses", status="failed", code="131026"),
             count("delivery_statuses", status="other", code="none"))
    assert [b - a for a, b in zip(before, after)] == [1, 1, 1]
    assert "code=131026 (undeliverable)" in caplog.text and "delivered" in caplog.text
    # Meta's title is free text: never logged (the fuzz suite found a user's text as a title in the log)
    for secret in ("wamid.", PHONE, BSUID, "details about", "Message failed"):
        assert secret not in caplog.text


@pytest.mark.parametrize(("code", "category"), [(131026, "undeliverable"), (131047, "outside_window")])
async def test_a_non_retryable_failure_is_recorded_in_the_encrypted_conversation(tmp_path: Path, code: int, category: str) -> None:
    world = World(tmp_path)
    await world.converse()
    before = count("failed_deliveries_handled", action="not_retryable", code=str(code))
    await world.statuses.handle(update(status(code)), world.turn)
    assert await world.slot() == category
    assert count("failed_deliveries_handled", action="not_retryable", code=str(code)) - before == 1
    raw = (tmp_path / "trackers.db").read_bytes()
    assert category.encode() not in raw and PHONE.encode() not in raw and BSUID.encode() not in raw
    assert world.graph.sent == []


async def test_a_status_of_someone_without_a_conversation_stores_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    before = count("failed_deliveries_handled", action="unknown_message", code="131026")
    await world.statuses.handle(update(status()), world.turn)
    assert await world.slot() is None
    assert count("failed_deliveries_handled", action="unknown_message", code="131026") - before == 1
    no_ids_before = count("failed_deliveries_handled", action="unknown_message", code="131047")
    await world.statuses.handle(update(status(131047, phone=None, user_id=None)), world.turn)
    assert count("failed_deliveries_handled", action="unknown_message", code="131047") - no_ids_before == 1


async def test_a_store_that_is_down_is_counted_and_the_webhook_still_answers_200(tmp_path: Path) -> None:
    core = WebhookCore(settings=SETTINGS, store=InMemoryDedupStore(), graph=Graph(), keyring=Keyring(current=Secret.generate()),
                       id_map=InMemoryPayloadIdMap(), output_factory=WhatsAppOutput)
    turn = core.turn(handler, tracker_store=DownStore())
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "statuses": [status(131026)]}
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}).encode()
    before = count("failed_deliveries_handled", action="store_error", code="131026")
    answer = await core.handle(raw, {"X-Hub-Signature-256": compute_signature(SECRET, raw)}, turn)
    assert answer.status == 200
    assert count("failed_deliveries_handled", action="store_error", code="131026") - before == 1


async def sent_first(world: World, *, phone: str | None = PHONE) -> str:
    """Send REPLY the normal way (through Delivery.send_new), so a sealed copy is kept; its wamid."""
    from connectors.whatsapp.claims import Claims

    claims = Claims(InMemoryDedupStore(), References.from_keyring(world.keyring), lease_seconds=30.0,
                    duplicate_wait_seconds=0.0, duplicate_poll_seconds=0.01)
    inbound = TextMessage("wamid.in1", phone or BSUID, "text", 1, "1", phone=phone, user_id=BSUID, body="Hallo")
    held = claims.held("wamid.in1", await claims.claim("wamid.in1"))
    await world.delivery.send_new(inbound, held, [REPLY], world.keys)
    await world.delivery.drain()  # the copy is written in the background
    world.graph.sent.clear()
    return "wamid.sent1"


async def test_a_pair_rate_failure_is_resent_after_metas_wait_to_the_same_address(tmp_path: Path) -> None:
    world = World(tmp_path)
    await world.converse()
    wamid = await sent_first(world, phone=None)  # the user wrote without a number: BSUID address
    before = count("failed_deliveries_handled", action="retried", code="131056")
    await world.statuses.handle(update(status(131056, phone=None, wamid=wamid)), world.turn)
    await world.delivery.drain()
    assert world.waits == [6.0]
    assert world.graph.sent == [(Recipient(user_id=BSUID), REPLY)]
    assert count("failed_deliveries_handled", action="retried", code="131056") - before == 1
    assert await world.slot() is None  # resent: nothing to tell the user
    assert await world.copies.find(wamid) is None  # the old copy is gone, the new one counts a retry
    assert (await world.copies.find("wamid.sent2")).attempts == 1  # type: ignore[union-attr]


async def test_retries_stop_after_two_then_the_failure_is_recorded(tmp_path: Path) -> None:
    world = World(tmp_path)
    await world.converse()
    wamid = await sent_first(world)
    for attempt in range(MAX_RETRIES):
        await world.statuses.handle(update(status(131000, wamid=wamid)), world.turn)
        await world.delivery.drain()
        wamid = f"wamid.sent{attempt + 2}"
    assert [recipient for recipient, _ in world.graph.sent] == [Recipient(phone=PHONE)] * MAX_RETRIES
    before = count("failed_deliveries_handled", action="recorded", code="131000")
    await world.statuses.handle(update(status(131000, wamid=wamid)), world.turn)
    await world.delivery.drain()
    assert len(world.graph.sent) == MAX_RETRIES
    assert await world.slot() == "server_error"
    assert count("failed_deliveries_handled", action="recorded", code="131000") - before == 1


async def test_a_failed_resend_is_recorded(tmp_path: Path) -> None:
    from connectors.whatsapp.graph.errors import ServerError

    world = World(tmp_path)
    await world.converse()
    wamid = await sent_first(world)
    world.graph.errors.append(ServerError("down", code=131000, status=500))
    await world.statuses.handle(update(status(130429, wamid=wamid)), world.turn)
    await world.delivery.drain()
    assert await world.slot() == "rate_limited"


async def test_the_next_turn_tells_the_user_and_resets_the_slot(tmp_path: Path) -> None:
    world = World(tmp_path)
    await world.converse()
    await world.statuses.handle(update(status(131026)), world.turn)

    async def dialogue(message: Any) -> None:  # Rasa's turn: retrieve, answer, save
        tracker = await world.store.retrieve(message.sender_id)
        tracker.update(UserUttered("Hallo"))
        await world.store.save(tracker)
        await message.output_channel.send_text_message(message.sender_id, "Wie kann ich helfen?")

    turn = Turn(dialogue, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(world.keyring),
                output_factory=WhatsAppOutput, tracker_store=world.store)
    inbound = TextMessage("wamid.in2", PHONE, "text", 1, "1", phone=PHONE, user_id=BSUID, body="Hallo")
    with user_context(world.keys):
        replies = await turn.produce(inbound, world.keys, "ref")
    assert replies[0]["text"]["body"] == "Meine letzte Nachricht kam leider nicht bei dir an.\n\nWie kann ich helfen?"
    assert await world.slot() is None
    with user_context(world.keys):
        again = await turn.produce(inbound, world.keys, "ref")
    assert again[0]["text"]["body"] == "Wie kann ich helfen?"
