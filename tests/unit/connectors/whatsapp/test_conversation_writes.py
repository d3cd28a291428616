"""connectors/whatsapp/conversation_writes.py: channel writes under Rasa's conversation lock."""
from __future__ import annotations

import asyncio

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.whatsapp.conversation_writes import append_events

DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  last_reply_failed:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
""")


def _store_with(conversation_id: str) -> InMemoryTrackerStore:
    store = InMemoryTrackerStore(DOMAIN)
    tracker = DialogueStateTracker.from_events(conversation_id, [ActionExecuted("action_listen"), UserUttered("hi")],
                                               slots=DOMAIN.slots)
    asyncio.run(store.save(tracker))
    return store


def test_appends_and_saves() -> None:
    store = _store_with("p1")
    assert asyncio.run(append_events(store, InMemoryLockStore(), "p1", [SlotSet("last_reply_failed", "undeliverable")]))
    tracker = asyncio.run(store.retrieve("p1"))
    assert tracker.get_slot("last_reply_failed") == "undeliverable"


def test_no_conversation_no_write() -> None:
    store = InMemoryTrackerStore(DOMAIN)
    assert asyncio.run(append_events(store, None, "nobody", [SlotSet("last_reply_failed", "x")])) is False
    assert asyncio.run(store.retrieve("nobody")) is None


def test_waits_for_a_running_turn_and_keeps_its_events() -> None:
    """A turn holding the lock saves its events first; the channel's event comes after, none lost."""
    store = _store_with("p2")
    locks = InMemoryLockStore()

    async def scenario() -> list[str]:
        order: list[str] = []

        async def turn() -> None:
            async with locks.lock("p2"):
                tracker = await store.retrieve("p2")
                await asyncio.sleep(0.2)  # the turn runs while the status webhook arrives
                tracker.update(UserUttered("second"))
                await store.save(tracker)
                order.append("turn")

        async def status() -> None:
            await asyncio.sleep(0.05)
            await append_events(store, locks, "p2", [SlotSet("last_reply_failed", "rate_limited")])
            order.append("status")

        await asyncio.gather(turn(), status())
        return order

    assert asyncio.run(scenario()) == ["turn", "status"]
    tracker = asyncio.run(store.retrieve("p2"))
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hi", "second"]
    assert tracker.get_slot("last_reply_failed") == "rate_limited"


def test_storage_errors_propagate() -> None:
    class Down(InMemoryTrackerStore):
        async def retrieve(self, sender_id: str):  # type: ignore[override]
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        asyncio.run(append_events(Down(DOMAIN), None, "p3", []))
