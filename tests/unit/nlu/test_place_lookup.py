"""nlu/place_lookup.py: the lookup table's place where no extractor found one."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.place_lookup import PlaceLookup, entries_pattern, find

PLACES = ["Berlin", "Bergisch Gladbach", "Halle", "Halle (Saale)", "Frankfurt am Main", "Frankfurt", "Köln", "Koeln"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Erzieher Berlin Teilzeit", "Berlin"),
        ("ich wohn in Bergisch-Gladbach", "Bergisch-Gladbach"),
        ("koch in bergisch  gladbach", "bergisch  gladbach"),
        ("jobs in frankfurt am main", "frankfurt am main"),
        ("gibt es in Halle auch Stellen?", "Halle"),
        ("Sporthalle Reinigung", None),  # whole words only
        ("Berliner Luft", None),
        ("in koeln oder Berlin", "koeln"),  # the leftmost
        ("nix", None),
    ],
)
def test_finds_whole_words_leftmost_and_longest(text, expected) -> None:
    match = find(entries_pattern(PLACES), text)
    assert (match.group(0) if match else None) == expected


def test_no_entries_no_pattern() -> None:
    assert entries_pattern([]) is None and find(None, "Berlin") is None


def _component(tmp_path, config=None) -> tuple[PlaceLookup, LocalModelStorage, ExecutionContext]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    component = PlaceLookup.create({**PlaceLookup.get_default_config(), **(config or {})}, storage,
                                   Resource("places"), context)
    data = TrainingData(lookup_tables=[{"name": "location", "elements": PLACES},
                                       {"name": "job_title", "elements": ["Koch"]}])
    component.train(data)
    return component, storage, context


def _message(text: str, intent: str, entities=()) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.9})
    message.set("entities", list(entities))
    return message


def test_adds_the_place_to_a_search_without_one(tmp_path) -> None:
    component, *_ = _component(tmp_path)
    message = _message("Koch Berlin Teilzeit", "search_job", [{"entity": "job_title", "value": "Koch", "start": 0, "end": 4}])
    component.process([message])
    assert message.get("entities")[-1] == {"entity": "location", "value": "Berlin", "start": 5, "end": 11,
                                           "extractor": "PlaceLookup"}


def test_keeps_a_place_an_extractor_found(tmp_path) -> None:
    component, *_ = _component(tmp_path)
    found = {"entity": "location", "value": "Köln", "start": 13, "end": 17, "extractor": "DIETClassifier"}
    message = _message("eher Berlin, Köln", "inform", [found])
    component.process([message])
    assert message.get("entities") == [found]


def test_small_talk_names_no_place(tmp_path) -> None:
    component, *_ = _component(tmp_path)
    message = _message("wie ist das wetter in Berlin", "out_of_scope")
    component.process([message])
    assert message.get("entities") == []


def test_the_entries_load_from_the_model_storage(tmp_path) -> None:
    component, storage, context = _component(tmp_path)
    loaded = PlaceLookup.load(PlaceLookup.get_default_config(), storage, Resource("places"), context)
    assert loaded.entries == sorted(PLACES)
    message = _message("ich wohn in Halle", "inform")
    loaded.process([message])
    assert [e["value"] for e in message.get("entities")] == ["Halle"]


def test_a_model_without_the_table_adds_nothing(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    loaded = PlaceLookup.load(PlaceLookup.get_default_config(), storage, Resource("never_trained"), context)
    message = _message("Koch Berlin", "search_job")
    loaded.process([message])
    assert message.get("entities") == []


@pytest.mark.parametrize("config", [{"entity": 3}, {"intents": "search_job"}])
def test_a_wrong_config_is_refused(config) -> None:
    with pytest.raises(ValueError, match="PlaceLookup"):
        PlaceLookup.validate_config(config)
