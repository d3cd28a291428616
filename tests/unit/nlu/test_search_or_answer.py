"""nlu/search_or_answer.py: search_job and inform by what a message names (data/nlu/search.yml)."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

import wording
from nlu.search_or_answer import SearchOrAnswer, request_words

WORDS = request_words(wording.current())


@pytest.mark.parametrize(
    "intent, text, entities, expected",
    [
        ("inform", "Kellner Kiel", {"job_title", "location"}, "search_job"),
        ("inform", "cleaner bremen remote", {"job_title", "location", "remote"}, "search_job"),
        ("search_job", "Dresden", {"location"}, "inform"),
        ("search_job", "nur Vollzeit", {"working_time"}, "inform"),
        ("search_job", "geht auch in Hamburg?", {"location"}, "inform"),
        ("search_job", "nurse", {"job_title"}, "inform"),
        # left alone: a request word, no criterion, the pair, or another intent
        ("search_job", "Ich suche was in Berlin", {"location"}, None),
        ("search_job", "Koch Job", {"job_title"}, None),
        ("search_job", "any vacancies in Leipzig?", {"location"}, None),
        ("search_job", "ich möchte arbeiten", frozenset(), None),
        ("search_job", "Koch Berlin", {"job_title", "location"}, None),
        ("inform", "Berlin", {"location"}, None),
        ("inform", "nur Teilzeit", {"working_time"}, None),
        ("greet", "Moin Koch Berlin", {"job_title", "location"}, None),
        ("inform", "Koch", {"job_title", "language"}, None),
    ],
)
def test_decides_by_the_definition(intent, text, entities, expected) -> None:
    """``expected`` is the intent the component turns the classifier's into; None: it keeps it."""
    other = "inform" if intent == "search_job" else "search_job"
    message = _message(text, intent, [(intent, 0.6), (other, 0.3), ("help", 0.1)], sorted(entities))
    SearchOrAnswer().process([message])
    assert message.get("intent")["name"] == (expected or intent)


def test_request_words_come_from_labels_yml() -> None:
    assert {"suche", "job", "looking", "stelle"} <= WORDS


def _message(text: str, intent: str, ranking: list[tuple[str, float]], entities: list[str]) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": ranking[0][1]})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    message.set("entities", [{"entity": e, "value": "x", "start": 0, "end": 1} for e in entities])
    return message


def test_the_decided_intent_holds_the_confidence_of_both() -> None:
    message = _message("Kellner Kiel", "inform", [("inform", 0.6), ("search_job", 0.3), ("greet", 0.1)],
                       ["job_title", "location"])
    SearchOrAnswer().process([message])
    assert message.get("intent")["name"] == "search_job"
    assert message.get("intent")["confidence"] == pytest.approx(0.9)
    assert [e["name"] for e in message.get("intent_ranking")] == ["search_job", "greet", "inform"]
    assert message.get("intent_ranking")[2]["confidence"] == 0.0


def test_a_close_call_between_the_two_is_no_ambiguity_for_the_fallback() -> None:
    """The stories' "Koch in Berlin" after an unsure voice note: 0.48 against 0.45 fell back."""
    message = _message("Koch in Berlin", "search_job", [("search_job", 0.48), ("inform", 0.45), ("help", 0.07)],
                       ["job_title", "location"])
    SearchOrAnswer().process([message])
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "search_job" and ranking[0]["confidence"] == pytest.approx(0.93)
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.05


def test_where_the_definition_is_silent_the_ranking_stays() -> None:
    ranking = [("search_job", 0.5), ("inform", 0.45), ("help", 0.05)]
    message = _message("Ich suche was in Berlin", "search_job", ranking, ["location"])
    SearchOrAnswer().process([message])
    assert message.get("intent") == {"name": "search_job", "confidence": 0.5}
    assert [(e["name"], e["confidence"]) for e in message.get("intent_ranking")] == ranking


def test_other_messages_are_untouched() -> None:
    message = _message("Hallo", "greet", [("greet", 0.9), ("inform", 0.1)], [])
    SearchOrAnswer().process([message])
    assert message.get("intent") == {"name": "greet", "confidence": 0.9}
