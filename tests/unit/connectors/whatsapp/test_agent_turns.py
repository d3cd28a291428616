"""connectors/whatsapp/agent_turns.py: the turn is built once per Rasa agent, not per request."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.whatsapp.agent_turns import AgentTurns, TrackerLanguage
from connectors.whatsapp.core import WebhookCore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from privacy.requests.hook import PrivacyRequests
from connectors.whatsapp.settings import WhatsAppSettings
from privacy.keyring import Keyring, Secret
from privacy.store.encrypted import EncryptedTrackerStore

DOMAIN = Domain.from_dict({"version": "3.1", "slots": {"language": {"type": "any", "mappings": [{"type": "custom"}]}}})


class Store:
    """A tracker store answering ``retrieve`` with a tracker whose ``language`` slot is ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.retrieved: list[str] = []

    async def retrieve(self, sender_id: str) -> DialogueStateTracker:
        self.retrieved.append(sender_id)
        tracker = DialogueStateTracker(sender_id, DOMAIN.slots)
        tracker.update(SlotSet("language", self.value))
        return tracker


class Agent:
    def __init__(self, tracker_store: Any = None, nlg: Any = None) -> None:
        self.tracker_store = tracker_store
        self.nlg = nlg
        self.domain = DOMAIN
        self.lock_store = None


async def handler(message: Any) -> None:
    return None


def core() -> WebhookCore:
    settings = WhatsAppSettings(verify_token="v", app_secret="a", access_token="t", phone_number_id="1")
    return WebhookCore(settings=settings, store=InMemoryDedupStore(), graph=object(), keyring=Keyring(current=Secret.generate()),  # type: ignore[arg-type]
                       id_map=InMemoryPayloadIdMap(), output_factory=WhatsAppOutput)


def test_the_same_agent_gets_the_same_turn_and_a_replaced_one_a_new_turn() -> None:
    turns = AgentTurns(core(), handler)
    agent = Agent(Store("en"), nlg=object())
    first = turns.for_agent(agent)
    assert turns.for_agent(agent) is first
    assert first.on_new_message is handler
    assert isinstance(first.privacy, PrivacyRequests) and isinstance(first.language_lookup, TrackerLanguage)
    replaced = Agent(Store("en"), nlg=object())
    assert turns.for_agent(replaced) is not first
    second = turns.for_agent(replaced)
    replaced.tracker_store = Store("de")  # Rasa swapped the store: rebuilt once
    third = turns.for_agent(replaced)
    assert third is not second and turns.for_agent(replaced) is third


def test_without_an_agent_the_turn_has_no_lookup_and_a_hook_that_only_drops_markers() -> None:
    turns = AgentTurns(core(), handler)
    bare = turns.for_agent(None)
    # The hook is built once; without an agent it drops privacy markers (privacy.requests.hook).
    assert isinstance(bare.privacy, PrivacyRequests)
    assert bare.language_lookup is None and turns.for_agent(None) is bare
    no_nlg = turns.for_agent(Agent(Store("en")))
    assert isinstance(no_nlg.privacy, PrivacyRequests) and no_nlg.language_lookup is not None


def test_the_agents_store_is_made_fail_closed_once_per_agent(tmp_path: Path) -> None:
    encrypted = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={})
    wrapped = FailSafeTrackerStore(encrypted)
    assert wrapped._on_tracker_store_error is None
    AgentTurns(core(), handler).for_agent(Agent(wrapped, nlg=object()))
    assert wrapped._on_tracker_store_error is not None


@pytest.mark.parametrize(("value", "expected"), [("en", "en"), (None, None), (3, None)])
async def test_tracker_language_reads_the_slot_back_when_the_turn_saved_nothing(value: Any, expected: str | None) -> None:
    store = Store(value)
    assert await TrackerLanguage(store)("pseudonym-1") == expected
    assert store.retrieved == ["pseudonym-1"]
