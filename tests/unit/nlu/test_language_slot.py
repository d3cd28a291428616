"""LanguageSlotPolicy: the conversation's language goes into the slot once per user message, and no action.

The language stays put: the tables here drive whole conversations through the policy
(short answers keep it, clear sentences switch it, an explicit request switches and holds),
and ``test_the_language_test_conversations`` replays tests/test_language.yml and checks
that the language changes exactly where its ``slot_was_set: language`` steps say.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_EXTRACT_SLOTS, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
import pytest

from nlu.language_slot import LanguageSlotPolicy, language_events

ROOT = Path(__file__).resolve().parents[3]

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, switch_language]
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


def _request(text: str, language: str) -> UserUttered:
    """An explicit request: DIET's ``language`` entity; the slot mapping sets it."""
    return UserUttered(text, {"name": "switch_language", "confidence": 1.0}, [{"entity": "language", "value": language}])


def _conversation(*turns: Any, initial: Optional[list[Event]] = None) -> list[Optional[str]]:
    """The slot's language after each user turn: a text, or a prepared UserUttered (whose
    language entity, if any, the slot mapping applies), each answered by one action."""
    events: list[Event] = [ActionExecuted(ACTION_LISTEN_NAME), *(initial or [])]
    languages = []
    for turn in turns:
        message = turn if isinstance(turn, UserUttered) else _user(turn)
        events += [message, ActionExecuted(ACTION_EXTRACT_SLOTS)]
        events += [SlotSet("language", e["value"]) for e in message.entities if e["entity"] == "language"]
        events += language_events(DialogueStateTracker.from_events("u", events, slots=DOMAIN.slots), DOMAIN)
        events += [ActionExecuted("utter_greet"), ActionExecuted(ACTION_LISTEN_NAME)]
        languages.append(DialogueStateTracker.from_events("u", events, slots=DOMAIN.slots).get_slot("language"))
    return languages


GERMAN_SEARCH = ["Hallo", "Ich suche einen Job", "Koch"]
ENGLISH_SEARCH = ["Hello", "I'm looking for work", "cook"]


@pytest.mark.parametrize("answer", ["in Hamburg", "Hamburg", "Koch Berlin", "Bielefeld pls", "20 km", "50", "ok", "👍",
                                    "Teilzeit", "Part-time", "Remote", "Homeoffice", "Teamleiter", "Manager",
                                    "within 50 km", "Thank you", "Yes please", "Hamburg please", "Hello"])
def test_short_answers_keep_german(answer: str) -> None:
    assert _conversation(*GERMAN_SEARCH, answer, "Danke") == ["de"] * 5


@pytest.mark.parametrize("answer", ["in Hamburg", "in München", "Köln bitte", "Koch Berlin", "20 km", "ok", "🙏",
                                    "Teilzeit", "nur Teilzeit", "Danke schön", "Hallo", "Vollzeit bitte"])
def test_short_answers_keep_english(answer: str) -> None:
    assert _conversation(*ENGLISH_SEARCH, answer, "thanks") == ["en"] * 5


def test_a_clear_sentence_switches_and_short_answers_then_keep_the_new_language() -> None:
    assert _conversation(*GERMAN_SEARCH, "in Hamburg", "I am looking for a job as a cook", "Berlin", "Danke") == \
        ["de", "de", "de", "de", "en", "en", "en"]
    assert _conversation(*ENGLISH_SEARCH, "Ich suche Arbeit in Köln", "Hamburg please", "Thank you") == \
        ["en", "en", "en", "de", "de", "de"]


def test_the_first_message_with_evidence_sets_the_language_on_weak_evidence() -> None:
    assert _conversation("Hello") == ["en"]
    assert _conversation("Berlin", "ok", "Thank you") == ["de", "de", "en"]  # no evidence before
    assert _conversation("Hallo", "Thank you") == ["de", "de"]  # German had evidence: established


def test_an_explicit_request_switches_at_once_and_holds() -> None:
    assert _conversation("Hallo", _request("Bitte auf Englisch", "en"), "Ich suche einen Job als Koch", "Danke",
                         _request("Auf Deutsch bitte", "de"), "Thank you") == ["de", "en", "en", "en", "de", "de"]
    # the policy itself never overrides the request of the same message
    tracker = _tracker(_user("Hallo"), _request("Bitte antworte auf Englisch, ich kann kein Deutsch", "en"))
    assert language_events(tracker, DOMAIN) == []


def test_a_new_session_starts_with_the_carried_language_but_without_the_request() -> None:
    carried = [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("language", "en"),
               ActionExecuted(ACTION_LISTEN_NAME)]
    assert _conversation("Danke", "Ich suche einen Job als Koch", initial=carried) == ["en", "de"]
    before = [_request("English please", "en"), ActionExecuted(ACTION_EXTRACT_SLOTS), SlotSet("language", "en"),
              ActionExecuted("utter_greet"), *carried]
    assert _conversation("Ich suche einen Job als Koch", initial=before) == ["de"]


def _story_turns(path: Path) -> list[tuple[str, list[tuple[str, Optional[str], str]]]]:
    """Per story of a test conversation file: (text, language the story sets after it, intent) per user turn."""
    domain = Domain.load(str(ROOT / "domain.yml"))
    stories = []
    for step in YAMLStoryReader(domain).read_from_file(str(path)):
        turns: list[tuple[str, Optional[str], str]] = []
        for event in step.events:
            if isinstance(event, UserUttered):
                turns.append((event.text, None, event.intent_name))
            elif isinstance(event, SlotSet) and event.key == "language" and turns:
                turns[-1] = (turns[-1][0], event.value, turns[-1][2])
        stories.append((step.block_name, turns))
    return stories


def test_the_language_test_conversations() -> None:
    """tests/test_language.yml: `rasa test` checks intents and actions (the same in every
    language); here the language after each message is the one its `slot_was_set` gives,
    or the one before when it gives none (the slot starts German)."""
    stories = _story_turns(ROOT / "tests" / "test_language.yml")
    assert len(stories) >= 6
    for name, turns in stories:
        texts = [_request(text, language) if intent == "switch_language" and language else text
                 for text, language, intent in turns]
        expected, language = [], "de"
        for _, set_to, _ in turns:
            language = set_to or language
            expected.append(language)
        assert _conversation(*texts) == expected, name


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
