"""connectors/whatsapp/message_flow.py (with identities.py): the order one message follows and how each step ends it."""
from __future__ import annotations

import time
from typing import Any

import pytest
from rasa.core.lock_store import LockError

from connectors.whatsapp.claims import Claims
from connectors.whatsapp.dedup.claims import ClaimStatus, DedupUnavailableError
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.intake import Intake, ReplayWindow
from connectors.whatsapp.message_flow import MessageFlow
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.turn import Turn
from connectors.whatsapp.updates.messages import IdentityChange, TextMessage
from privacy.backends import TrackerStorageUnavailable
from privacy.context import UserKeys, keys_for_user
from privacy.errors import InvalidIdentifierError
from privacy.keyring import Keyring, Secret

SETTINGS = WhatsAppSettings(verify_token="v", app_secret="a", access_token="t", phone_number_id="1")
PHONE, PHONE_NEW = "4915550000981", "4915550000982"
BSUID, BSUID_NEW = "DE.1000000000000000981", "DE.1000000000000000982"
_ids = iter(range(1, 10_000))


class Graph:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.reads: list[str] = []

    async def send(self, recipient: Any, message: Any) -> str:
        self.sent.append(message)
        return "wamid.out"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        self.reads.append(message_id)


class Mover:
    """A post-turn hook whose move raises ``error`` (or records the move)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.moves: list[tuple[UserKeys, UserKeys]] = []

    async def after_turn(self, bot_messages: list[dict[str, Any]], user_keys: UserKeys, ref: str) -> list[dict[str, Any]]:
        return bot_messages

    async def move_conversation(self, source: UserKeys, target: UserKeys, ref: str) -> bool:
        if self.error is not None:
            raise self.error
        self.moves.append((source, target))
        return True


class DownStore(InMemoryDedupStore):
    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        raise DedupUnavailableError("down")


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def flow(keyring: Keyring, store: Any = None, graph: Graph | None = None) -> tuple[MessageFlow, Claims]:
    references = References.from_keyring(keyring)
    replay = ReplayWindow(durable=False, max_age_seconds=7 * 24 * 3600, restart_skew_seconds=300, wall_clock=time.time)
    claims = Claims(store if store is not None else InMemoryDedupStore(), references, lease_seconds=30.0,
                    duplicate_wait_seconds=0.0, duplicate_poll_seconds=0.01)
    delivery = Delivery(graph or Graph(), RecipientPacer())
    return MessageFlow(Intake(SETTINGS, references, replay), claims, Identities(keyring, use_parent_user_id=False), delivery), claims


def turn(keyring: Keyring, dialogue: Any = None, privacy: Any = None) -> Turn:
    async def answer(message: Any) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "ok"})

    return Turn(dialogue or answer, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring),
                output_factory=WhatsAppOutput, privacy=privacy)


def text(*, phone: str = PHONE, timestamp: int | None = None) -> TextMessage:
    stamp = int(time.time()) if timestamp is None else timestamp
    return TextMessage(f"wamid.flow{next(_ids)}", phone, "text", stamp, "1", phone=phone, body="Hallo")


def number_change() -> IdentityChange:
    return IdentityChange(f"wamid.flow{next(_ids)}", PHONE, "system", int(time.time()), "1", phone=PHONE,
                          change="user_changed_number", previous_phone=PHONE, new_phone=PHONE_NEW)


async def test_a_message_is_answered_and_finished(keyring: Keyring) -> None:
    graph = Graph()
    handler, claims = flow(keyring, graph=graph)
    message = text()
    assert await handler.handle(message, turn(keyring)) is Outcome.HANDLED
    await handler.delivery.drain()
    assert len(graph.sent) == 1 and graph.reads == [message.message_id]
    assert (await claims.claim(message.message_id)).status is ClaimStatus.DONE
    assert await handler.handle(message, turn(keyring)) is Outcome.DUPLICATE


async def test_a_stale_message_is_acknowledged_without_a_claim(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    handler, _ = flow(keyring, store)
    assert await handler.handle(text(timestamp=int(time.time()) - 3600), turn(keyring)) is Outcome.HANDLED
    assert not store._entries


async def test_an_unreachable_dedup_store_asks_for_a_retry(keyring: Keyring) -> None:
    handler, _ = flow(keyring, DownStore())
    assert await handler.handle(text(), turn(keyring)) is Outcome.RETRY


async def test_a_dialogue_crash_is_failed_and_the_claim_released(keyring: Keyring) -> None:
    async def crash(message: Any) -> None:
        raise RuntimeError("dialogue crashed")

    handler, claims = flow(keyring)
    message = text()
    assert await handler.handle(message, turn(keyring, crash)) is Outcome.FAILED
    assert (await claims.claim(message.message_id)).status is ClaimStatus.ACQUIRED


async def test_an_unusable_sender_is_dropped_and_finished(keyring: Keyring) -> None:
    handler, claims = flow(keyring)
    message = text(phone="12")
    assert await handler.handle(message, turn(keyring)) is Outcome.HANDLED
    assert (await claims.claim(message.message_id)).status is ClaimStatus.DONE


async def test_an_identity_change_moves_under_the_claim_and_is_never_answered(keyring: Keyring) -> None:
    graph, mover = Graph(), Mover()
    handler, claims = flow(keyring, graph=graph)
    change = number_change()
    assert await handler.handle(change, turn(keyring, privacy=mover)) is Outcome.HANDLED
    [(source, target)] = mover.moves
    assert source.pseudonym == keys_for_user(keyring, PHONE).pseudonym
    assert target.pseudonym == keys_for_user(keyring, PHONE_NEW).pseudonym
    assert not graph.sent and not graph.reads
    assert (await claims.claim(change.message_id)).status is ClaimStatus.DONE


async def test_an_identity_change_without_a_hook_is_just_acknowledged(keyring: Keyring) -> None:
    handler, claims = flow(keyring)
    change = number_change()
    assert await handler.handle(change, turn(keyring)) is Outcome.HANDLED
    assert (await claims.claim(change.message_id)).status is ClaimStatus.DONE


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(TrackerStorageUnavailable("sqlite", "move", "db down"), Outcome.RETRY), (LockError("locked"), Outcome.RETRY),
     (DedupUnavailableError("down"), Outcome.RETRY), (RuntimeError("bug"), Outcome.FAILED)],
)
async def test_a_failed_move_releases_the_claim(keyring: Keyring, error: Exception, outcome: Outcome) -> None:
    handler, claims = flow(keyring)
    change = number_change()
    assert await handler.handle(change, turn(keyring, privacy=Mover(error))) is outcome
    assert (await claims.claim(change.message_id)).status is ClaimStatus.ACQUIRED


def test_plan_move_sides(keyring: Keyring) -> None:
    identities = Identities(keyring, use_parent_user_id=False)
    change = IdentityChange("wamid.x", BSUID_NEW, "system", 1, "1", user_id=BSUID_NEW, change="user_changed_user_id",
                            previous_phone=PHONE, previous_user_id=BSUID, new_phone=PHONE, new_user_id=BSUID_NEW)
    move = identities.plan_move(change, "ref")
    assert move is not None
    source, target = move
    assert source.pseudonym == keys_for_user(keyring, BSUID).pseudonym  # the number stays with the target
    assert target.pseudonym == keys_for_user(keyring, BSUID_NEW).pseudonym
    same = IdentityChange("wamid.y", BSUID, "system", 1, "1", user_id=BSUID, change="user_changed_user_id",
                          previous_user_id=BSUID, new_user_id=BSUID.lower())
    assert identities.plan_move(same, "ref") is None
    nothing = IdentityChange("wamid.z", PHONE, "system", 1, "1", phone=PHONE, change="user_changed_number",
                             previous_phone=PHONE, new_phone=PHONE)
    assert identities.plan_move(nothing, "ref") is None


def test_the_anchor_setting_picks_the_parent_bsuid(keyring: Keyring) -> None:
    parent = "DE.ENT.2000000000000000981"
    assert Identities(keyring, use_parent_user_id=True).keys(None, BSUID, parent).pseudonym == keys_for_user(keyring, parent).pseudonym
    assert Identities(keyring, use_parent_user_id=False).keys(None, BSUID, parent).pseudonym == keys_for_user(keyring, BSUID).pseudonym
    with pytest.raises(InvalidIdentifierError):
        Identities(keyring, use_parent_user_id=False).keys(None, None, None)
