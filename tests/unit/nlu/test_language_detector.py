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
from wording.detection import detect_language


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
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


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
