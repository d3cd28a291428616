"""The language detector keeps German unless the user clearly writes or asks for English."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionDetectLanguage, detect_language


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
        ("Koch", None),
        ("ok", None),
        ("", None),
        ('/select_job{"job_id":"job-0001"}', None),
        ("42", None),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def _tracker(text: str, language: str = "de", entities: list | None = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": "u_test",
            "slots": {"language": language},
            "latest_message": {"text": text, "intent": {"name": "inform"}, "entities": entities or []},
            "events": [],
            "active_loop": {},
        }
    )


async def test_action_switches_to_english_on_english_text() -> None:
    events = await ActionDetectLanguage().run(CollectingDispatcher(), _tracker("show me more jobs please"), {})
    assert events == [SlotSet("language", "en")]


async def test_action_keeps_language_without_evidence() -> None:
    assert await ActionDetectLanguage().run(CollectingDispatcher(), _tracker("Berlin", "en"), {}) == []


async def test_explicit_request_wins_over_words() -> None:
    tracker = _tracker(
        "Kannst du Englisch schreiben?", "de", [{"entity": "language", "value": "en", "start": 9, "end": 17}]
    )
    assert await ActionDetectLanguage().run(CollectingDispatcher(), tracker, {}) == [SlotSet("language", "en")]


async def test_unknown_requested_language_falls_back_to_words() -> None:
    tracker = _tracker("Sprichst du Französisch?", "de", [{"entity": "language", "value": "fr"}])
    assert await ActionDetectLanguage().run(CollectingDispatcher(), tracker, {}) == []
