"""Two intent classifiers that disagree in different places: DIET's ranking blended with a linear one.

Why: in the seeded cross-validation (reports/nlu-cross-validation.md) DIET's errors sit on
the borders between intents that share words (help / out_of_scope, privacy_info /
export_data, affirm / deny): with ~2,000 examples a transformer trained for 60 epochs fits
each training sentence and is sometimes confidently wrong on a new one. A logistic
regression on the same sparse features (word and char n-gram counts, lookup and regex hits)
is a smoother, better calibrated model of the same words; where DIET is unsure it usually
knows, and where it is unsure DIET usually does. The average of the two probability
distributions was measured against DIET alone with the seeded folds (issue 13's closing note:
0.895 -> 0.905 weighted F1). The blended confidences meet the FallbackClassifier's thresholds
differently: search_job and inform came out close together on "Koch in Berlin" and the
conversation fell back, which nlu/search_or_answer.py settles (the intent its definition decides
holds the confidence of both).

The component is Rasa 3.6's own ``LogisticRegressionClassifier`` (same features, training,
persistence with skops) with one change in :meth:`IntentBlend.process`: instead of
replacing the intent the classifier before it (DIET) predicted, it mixes its probabilities
with DIET's ranking, ``diet_weight * p_diet + (1 - diet_weight) * p_linear``, and writes the
blended intent and ranking. DIET keeps the entities. The FallbackClassifier after it sees the
blended confidence. Messages without text (button payloads "/intent", read by Rasa's
message parser) pass unchanged.

Spec: https://rasa.com/docs/rasa/3.x/components#logisticregressionclassifier (the classifier),
https://rasa.com/docs/rasa/3.x/custom-graph-components (the component contract).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

__all__ = ["IntentBlend", "blend"]

DIET_WEIGHT = "diet_weight"


def blend(first: Mapping[str, float], second: Mapping[str, float], first_weight: float) -> List[Dict[str, Any]]:
    """The weighted mean of two intent distributions, as a ranking (highest first).

    An intent missing from one distribution (DIET's ranking is cut to its ``ranking_length``)
    counts as probability 0 there. Ties keep the name order, so the result is deterministic.
    """
    if not 0.0 <= first_weight <= 1.0:
        raise ValueError(f"{DIET_WEIGHT} must lie between 0 and 1, not {first_weight}")
    names = sorted(set(first) | set(second))
    scores = {name: first_weight * first.get(name, 0.0) + (1.0 - first_weight) * second.get(name, 0.0)
              for name in names}
    return [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: scores[name]}
            for name in sorted(names, key=lambda name: -scores[name])]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentBlend(LogisticRegressionClassifier):
    """Rasa's logistic regression intent classifier, blended with the classifier before it."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), DIET_WEIGHT: 0.5, "max_iter": 1000}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        weight = config.get(DIET_WEIGHT, 0.5)
        if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"IntentBlend: {DIET_WEIGHT} must be a number between 0 and 1, not {weight!r}")

    def process(self, messages: List[Message]) -> List[Message]:
        """Blend each message's existing intent ranking with this classifier's probabilities."""
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text or not hasattr(self.clf, "classes_"):
            return messages  # nothing to classify, or trained on no data (Rasa's own rule)
        probabilities = self.clf.predict_proba(self._create_X(with_text))
        weight = float(self.config[DIET_WEIGHT])
        for message, row in zip(with_text, probabilities):
            linear = {str(name): float(p) for name, p in zip(self.clf.classes_, row)}
            previous = {entry[INTENT_NAME_KEY]: float(entry[PREDICTED_CONFIDENCE_KEY])
                        for entry in message.get(INTENT_RANKING_KEY) or []}
            if not previous and message.get(INTENT):
                top = message.get(INTENT)
                previous = {top[INTENT_NAME_KEY]: float(top[PREDICTED_CONFIDENCE_KEY])}
            ranking = blend(previous, linear, weight if previous else 0.0)
            if self.config[RANKING_LENGTH] > 0:
                ranking = ranking[: self.config[RANKING_LENGTH]]
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # the training examples keep their annotated intents
