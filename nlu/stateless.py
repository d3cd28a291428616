"""The base of this project's NLU pipeline components that learn nothing.

``LanguageDetector`` and ``SearchOrAnswer`` only look at each parsed message; Rasa's graph
still asks every component to be created and to pass the training data through. Here once.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData

__all__ = ["StatelessComponent"]


class StatelessComponent(GraphComponent):
    """A pipeline component without configuration, training or persisted state."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "StatelessComponent":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # nothing to learn, and the training examples stay as annotated
