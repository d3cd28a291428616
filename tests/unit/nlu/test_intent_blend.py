"""nlu/intent_blend.py: DIET's intent ranking blended with a logistic regression on the same features."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.intent_blend import IntentBlend, blend


def test_blend_is_the_weighted_mean_with_missing_intents_as_zero() -> None:
    ranking = blend({"help": 0.6, "out_of_scope": 0.4}, {"out_of_scope": 0.7, "help": 0.2, "greet": 0.1}, 0.5)
    assert [(e["name"], round(e["confidence"], 6)) for e in ranking] == [
        ("out_of_scope", 0.55), ("help", 0.4), ("greet", 0.05)]


def test_blend_weights_one_and_zero_are_either_classifier() -> None:
    diet, linear = {"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.8}
    assert blend(diet, linear, 1.0)[0] == {"name": "a", "confidence": 0.9}
    assert blend(diet, linear, 0.0)[0]["name"] == "b"


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_zero_and_one_is_refused(weight) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend({"a": 1.0}, {"a": 1.0}, weight)
    with pytest.raises(ValueError, match="between 0 and 1"):
        IntentBlend.validate_config({"diet_weight": weight})


TRAINING = {
    "greet": ["hallo", "hi", "moin", "guten morgen", "hey du", "servus"],
    "goodbye": ["tschüss", "bye", "ciao", "bis dann", "auf wiedersehen", "mach's gut"],
    "help": ["was kannst du", "hilfe", "wie funktioniert das", "was kann ich fragen", "help me", "menü"],
}


def _pipeline(tmp_path, weight: float):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        storage, Resource("cvf"), context)
    examples = [Message(data={"text": t, "intent": i}) for i, texts in TRAINING.items() for t in texts]
    data = TrainingData(training_examples=examples)
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    classifier = IntentBlend.create({**IntentBlend.get_default_config(), "diet_weight": weight},
                                    storage, Resource("blend"), context)
    classifier.train(data)
    return tokenizer, featurizer, classifier, storage, context


def _parse(parts, text: str, ranking):
    tokenizer, featurizer, classifier = parts
    message = Message(data={"text": text})
    message.set("intent", dict(ranking[0]))
    message.set("intent_ranking", ranking)
    tokenizer.process([message])
    featurizer.process([message])
    classifier.process([message])
    return message


def test_the_linear_vote_overrules_an_unsure_first_classifier(tmp_path) -> None:
    tokenizer, featurizer, classifier, *_ = _pipeline(tmp_path, 0.5)
    unsure = [{"name": "help", "confidence": 0.36}, {"name": "greet", "confidence": 0.34},
              {"name": "goodbye", "confidence": 0.30}]
    message = _parse((tokenizer, featurizer, classifier), "tschüss", unsure)
    assert message.get("intent")["name"] == "goodbye"
    assert [e["name"] for e in message.get("intent_ranking")][0] == "goodbye"
    total = sum(e["confidence"] for e in message.get("intent_ranking"))
    assert total == pytest.approx(1.0)


def test_weight_one_keeps_the_first_classifier(tmp_path) -> None:
    tokenizer, featurizer, classifier, *_ = _pipeline(tmp_path, 1.0)
    diet = [{"name": "help", "confidence": 0.6}, {"name": "goodbye", "confidence": 0.4}]
    message = _parse((tokenizer, featurizer, classifier), "tschüss", diet)
    assert message.get("intent") == {"name": "help", "confidence": pytest.approx(0.6)}


def test_the_trained_classifier_loads_from_the_model_storage(tmp_path) -> None:
    tokenizer, featurizer, classifier, storage, context = _pipeline(tmp_path, 0.5)
    loaded = IntentBlend.load({**IntentBlend.get_default_config(), "diet_weight": 0.5},
                              storage, Resource("blend"), context)
    unsure = [{"name": "help", "confidence": 0.5}, {"name": "greet", "confidence": 0.5}]
    first = _parse((tokenizer, featurizer, classifier), "moin moin", list(unsure))
    second = _parse((tokenizer, featurizer, loaded), "moin moin", list(unsure))
    assert first.get("intent_ranking") == second.get("intent_ranking")
    assert second.get("intent")["name"] == "greet"


def test_a_payload_without_text_passes_unchanged(tmp_path) -> None:
    _, _, classifier, *_ = _pipeline(tmp_path, 0.5)
    message = Message(data={"text": ""})
    message.set("intent", {"name": "voice_unsure", "confidence": 1.0})
    classifier.process([message])
    assert message.get("intent") == {"name": "voice_unsure", "confidence": 1.0}
