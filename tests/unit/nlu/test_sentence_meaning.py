"""nlu/sentence_meaning.py: the encoder's vector as a sentence feature, beside the n-grams."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.sentence_meaning import SentenceMeaning, shared_encoder


def _featurizer(tmp_path, **config) -> SentenceMeaning:
    return SentenceMeaning.create({**SentenceMeaning.get_default_config(), **config},
                                  LocalModelStorage(tmp_path), Resource("meaning"),
                                  ExecutionContext(graph_schema=None, model_id="test"))  # type: ignore[arg-type]


def test_each_message_with_text_gets_the_scaled_sentence_vector_only(tmp_path) -> None:
    messages = [Message(data={"text": "Ich suche einen Job als Koch"}), Message(data={"text": "hallo"})]
    _featurizer(tmp_path, scale=3.0).process(messages)
    expected = shared_encoder().encode(["Ich suche einen Job als Koch", "hallo"]) * 3.0
    for message, vector in zip(messages, expected):
        sequence, sentence = message.get_dense_features("text")
        assert sequence is None
        assert sentence.features.shape == (1, 384)
        assert np.abs(sentence.features[0] - vector).max() < 1e-5


def test_training_examples_are_featurized_and_payloads_are_left_alone(tmp_path) -> None:
    data = TrainingData(training_examples=[Message(data={"text": "was kannst du", "intent": "help"})])
    payload = Message(data={"intent": {"name": "greet"}})
    featurizer = _featurizer(tmp_path)
    assert featurizer.process_training_data(data) is data
    assert data.training_examples[0].get_dense_features("text")[1].features.shape == (1, 384)
    featurizer.process([payload])
    assert payload.features == []


def test_the_encoder_is_loaded_once_per_process_and_layer_count(tmp_path) -> None:
    assert shared_encoder() is shared_encoder()
    assert shared_encoder(2) is shared_encoder(2) is _featurizer(tmp_path, layers=2).encoder
    assert shared_encoder(2).layers == 2 and shared_encoder().layers == 6
    # all layers named or left out: the same encoder, not a second copy of the weights
    assert shared_encoder(6) is shared_encoder(None)


@pytest.mark.parametrize("layers", [0, 7, 1.5, "2", True])
def test_a_layer_count_the_encoder_has_not_is_refused(layers) -> None:
    with pytest.raises(ValueError, match="SentenceMeaning: layers must be a whole number from 1 to 6"):
        SentenceMeaning.validate_config({"layers": layers})


@pytest.mark.parametrize("scale", [0, -1.0, "10", True])
def test_a_scale_that_is_not_a_positive_number_is_refused(scale) -> None:
    with pytest.raises(ValueError, match="positive number"):
        SentenceMeaning.validate_config({"scale": scale})
