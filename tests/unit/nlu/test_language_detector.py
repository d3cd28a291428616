"""The NLU pipeline's language detector: German stays unless the user clearly writes or asks otherwise.

``detect_language`` (wording/detection.py) decides from labels.yml's word lists; the
``LanguageDetector`` component keeps an explicit, supported ``language`` entity DIET found
(the slot's ``from_entity`` mapping), drops an unsupported one, and otherwise records the
detected language as ``detected_language`` (set into the slot by LanguageSlotPolicy).
"""
from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.language_detector import DETECTED_LANGUAGE, LanguageDetector
from wording.detection import SwitchRule, conversation_language, detect_language, language_evidence


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ich suche einen Job als Koch in Berlin", "de"),
        ("any nursing jobs near Hamburg?", "en"),
        ("Teilzeit Verkäufer München", "de"),
        ("I'm looking for a job as a cook in Berlin", "en"),
        ("Hello", "en"),
        ("Hallo", "de"),
        ("Thanks", "en"),
        ("Lösche meine Daten", "de"),
        ("delete my data", "en"),
        ("Berlin", None),
        # words German and English share are no evidence: a German user's "in Hamburg" (the
        # answer to "Wo soll der Job sein?", often by voice) must not switch the conversation to English
        ("in Hamburg", None),
        ("in Berlin", None),
        ("Koch", None),
        ("ok", None),
        ("", None),
        ('/select_job{"job_id":"job-0001"}', None),
        ("42", None),
        # English words German job seekers use are listed for both languages: no evidence
        ("Part-time", None),
        ("Hi", None),
        ("Homeoffice", None),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_evidence_is_per_language_and_explainable() -> None:
    assert language_evidence("I am looking for a job as a cook") == {"de": 0, "en": 6}  # "am", "job": both
    assert language_evidence("Danke schön") == {"de": 3, "en": 0}  # two words and the letter ö
    assert language_evidence("Koch Berlin") == {"de": 0, "en": 0}
    assert language_evidence('/inform{"location":"Berlin"}') == {}


# The short answers a user gives to the search form's questions, in the other language's words
# or in none: after a conversation in its language they never switch it.
SHORT_ANSWERS = ["in Hamburg", "Hamburg", "Koch", "Koch Berlin", "Bielefeld pls", "20 km", "20", "ok", "👍",
                 "🙏😊", "Teilzeit", "Part-time", "Remote", "Homeoffice", "Teamleiter", "Manager", "Job in Köln",
                 "within 50 km", "Thank you", "Danke schön", "Hamburg please", "Köln bitte", "nur Teilzeit",
                 "Yes please", "in München", "Sales Manager Part-time Remote", "Hi", "Hello", "Hallo"]
GERMAN_BEFORE = ["Ich suche einen Job als Koch", "Hallo"]
ENGLISH_BEFORE = ["I'm looking for work", "Hello"]


@pytest.mark.parametrize("text", SHORT_ANSWERS)
@pytest.mark.parametrize("current, earlier", [("de", GERMAN_BEFORE), ("en", ENGLISH_BEFORE),
                                              ("de", ["Hallo"]), ("en", ["Hello"])])
def test_short_answers_keep_the_conversations_language(text: str, current: str, earlier: list[str]) -> None:
    assert conversation_language(text, current, earlier) is None


@pytest.mark.parametrize(
    "text, current, earlier, expected",
    [
        # a clear sentence in the other language switches, however German the conversation was
        ("I am looking for a job as a cook", "de", GERMAN_BEFORE, "en"),
        ("I need a job in Berlin", "de", GERMAN_BEFORE, "en"),
        ("Can you help me?", "de", GERMAN_BEFORE, "en"),
        ("Ich suche Arbeit in Köln", "en", ENGLISH_BEFORE, "de"),
        ("Können Sie mir helfen?", "en", ENGLISH_BEFORE, "de"),
        # two English words outweigh a conversation that only said "Hallo", not one that said more
        ("any nursing jobs near Hamburg?", "de", ["Hallo"], "en"),
        ("any nursing jobs near Hamburg?", "de", GERMAN_BEFORE, None),
        # no clear majority: mixed messages keep the language
        ("Ich suche a job as a cook", "de", GERMAN_BEFORE, None),
        ("Ich suche a job as a cook", "en", ENGLISH_BEFORE, None),
        # German loanwords in a German sentence keep German
        ("Ich suche einen Remote Job als Teamleiter oder Manager", "de", GERMAN_BEFORE, None),
        ("Part-time Job im Homeoffice", "de", GERMAN_BEFORE, None),
        # the language it already has is no switch
        ("Ich suche Arbeit in Köln", "de", GERMAN_BEFORE, None),
    ],
)
def test_clear_sentences_switch(text: str, current: str, earlier: list[str], expected: str | None) -> None:
    assert conversation_language(text, current, earlier) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("Hello", "en"), ("Thank you", "en"), ("any nursing jobs near Hamburg?", "en"), ("Hallo", None),
     ("in Hamburg", None), ("Koch", None), ("ok", None), ("Teilzeit Verkäufer München", None)],
)
def test_the_first_language_is_set_on_weaker_evidence(text: str, expected: str | None) -> None:
    """No earlier message had evidence and none set the language: today's per-message rule
    (German is the slot's initial value, so German evidence changes nothing)."""
    assert conversation_language(text, "de", []) == expected
    assert conversation_language(text, "de", ["Berlin", "ok", "/search_job"]) == expected


def test_a_set_language_is_established_without_earlier_evidence() -> None:
    """After an explicit request or a new session's carried-over slot, short English words
    no longer switch a German conversation."""
    assert conversation_language("Thank you", "de", [], established=True) is None
    assert conversation_language("Hello", "de", [], established=True) is None
    assert conversation_language("I am looking for a job as a cook", "de", [], established=True) == "en"


def test_the_bar_is_the_recent_weight_between_its_bounds() -> None:
    rule = SwitchRule(min_words=3, majority=2, min_evidence=2, max_bar=3, recent_messages=3)
    assert rule.bar("de", [{"de": 1, "en": 0}]) == 2
    assert rule.bar("de", [{"de": 4, "en": 0}]) == 3
    assert rule.bar("de", [{"de": 0, "en": 2}, {"de": 1, "en": 0}]) == 2  # English earlier lowers it
    assert rule.bar("de", [{"de": 0, "en": 0}] * 3 + [{"de": 9, "en": 0}]) == 2  # only the latest count
    assert rule.switches_to({"de": 0, "en": 2}, 2, "de", []) is None  # too short
    assert rule.switches_to({"de": 2, "en": 3}, 6, "de", []) is None  # no clear majority
    assert rule.switches_to({"de": 1, "en": 2}, 6, "de", []) == "en"


def test_the_thresholds_come_from_labels_yml() -> None:
    import wording
    from wording.detection import LanguageEvidence

    rule = LanguageEvidence.from_labels(wording.current()).switch
    assert rule == SwitchRule.from_section(wording.current().section("actions.language_detection"))
    assert SwitchRule.from_section({"switch": {"max_bar": 5}}).max_bar == 5
    assert SwitchRule.from_section({}) == SwitchRule()


def _processed(text: str, entities: list[dict[str, Any]] | None = None) -> Message:
    message = Message.build(text=text)
    message.set("entities", list(entities or []), add_to_output=True)
    [processed] = LanguageDetector().process([message])
    return processed


def _output(message: Message) -> dict[str, Any]:
    return message.as_dict(only_output_properties=True)


def test_explicit_supported_entity_is_kept_over_the_words() -> None:
    requested = {"entity": "language", "value": "en", "start": 9, "end": 17, "extractor": "DIETClassifier"}
    message = _processed("Kannst du Englisch schreiben?", [requested])
    assert message.get("entities") == [requested]
    assert DETECTED_LANGUAGE not in _output(message)


def test_unsupported_entity_is_dropped_and_the_words_decide() -> None:
    message = _processed("Sprichst du Französisch?", [{"entity": "language", "value": "fr"}])
    assert message.get("entities") == []
    assert _output(message)[DETECTED_LANGUAGE] == "de"  # as before: "fr" is not offered, "du" is German


def test_unsupported_entity_is_dropped_without_evidence() -> None:
    message = _processed("Français", [{"entity": "language", "value": "fr"}])
    assert message.get("entities") == []
    assert DETECTED_LANGUAGE not in _output(message)


def test_detected_language_is_recorded_and_other_entities_stay() -> None:
    job = {"entity": "job_title", "value": "nurse", "start": 4, "end": 11}
    message = _processed("any nursing jobs near Hamburg?", [job])
    assert message.get("entities") == [job]  # no entity nobody annotated
    assert _output(message)[DETECTED_LANGUAGE] == "en"


@pytest.mark.parametrize("text", ["Berlin", "ok", "42", "", '/select_job{"job_id":"job-0001"}'])
def test_nothing_is_added_for_neutral_text_or_payloads(text: str) -> None:
    location = {"entity": "location", "value": "Berlin", "start": 0, "end": 6}
    for entities in ([], [location]):
        message = _processed(text, entities)
        assert message.get("entities") == entities
        assert DETECTED_LANGUAGE not in _output(message)


def test_only_one_language_entity_is_kept() -> None:
    message = _processed("English or German?", [{"entity": "language", "value": "en"},
                                                  {"entity": "language", "value": "de"}])
    assert [e["value"] for e in message.get("entities")] == ["en"]


def test_training_data_passes_unchanged() -> None:
    data = TrainingData([Message.build(text="Hello", intent="greet")])
    assert LanguageDetector().process_training_data(data) is data
    assert data.training_examples[0].get("entities") is None
