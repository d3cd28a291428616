"""LanguageSlotPolicy: the detected language goes into the slot once per user message, and no action."""
from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_EXTRACT_SLOTS, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.language_slot import LanguageSlotPolicy, language_events

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet]
entities: [language]
slots:
  language:
    type: categorical
    values: [de, en]
    initial_value: de
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: language
responses:
  utter_greet:
    - text: hi
""")


def _tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("u", [ActionExecuted(ACTION_LISTEN_NAME), *events], slots=DOMAIN.slots)


def _user(text: str, **parse_data: Any) -> UserUttered:
    return UserUttered(text, {"name": "greet", "confidence": 1.0}, [], parse_data)


def test_detected_language_is_set_on_the_first_prediction() -> None:
    assert language_events(_tracker(_user("Hello", detected_language="en")), DOMAIN) == [SlotSet("language", "en")]


def test_after_slot_extraction_it_still_applies() -> None:
    tracker = _tracker(_user("Hello", detected_language="en"), ActionExecuted(ACTION_EXTRACT_SLOTS))
    assert language_events(tracker, DOMAIN) == [SlotSet("language", "en")]


def test_nothing_once_an_action_ran_after_the_message() -> None:
    tracker = _tracker(_user("Hello", detected_language="en"), ActionExecuted("utter_greet"))
    assert language_events(tracker, DOMAIN) == []


def test_nothing_without_detection_or_for_the_current_language() -> None:
    assert language_events(_tracker(_user("Berlin")), DOMAIN) == []
    assert language_events(_tracker(_user("Hallo", detected_language="de")), DOMAIN) == []
    assert language_events(_tracker(_user("Bonjour", detected_language="fr")), DOMAIN) == []  # not offered


def test_slot_stays_when_nothing_is_detected() -> None:
    tracker = _tracker(SlotSet("language", "en"), _user("Berlin"))
    assert language_events(tracker, DOMAIN) == []
    assert tracker.get_slot("language") == "en"


def test_policy_predicts_no_action_and_carries_the_event(tmp_path) -> None:
    policy = LanguageSlotPolicy.create(
        LanguageSlotPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("lang"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    prediction = policy.predict_action_probabilities(_tracker(_user("Hello", detected_language="en")), DOMAIN)
    assert max(prediction.probabilities) == 0.0
    assert prediction.events == [SlotSet("language", "en")]
