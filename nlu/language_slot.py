"""Sets the ``language`` slot to the language the NLU pipeline detected, inside Rasa's turn.

``nlu.language_detector.LanguageDetector`` records ``detected_language`` in a message's
parse data when the words clearly are in one language. This policy never predicts an
action (its probabilities are all zero); on the turn's first prediction after that user
message it returns a ``SlotSet("language", …)`` as a prediction event, which Rasa applies
whichever policy wins, before the predicted action runs (``MessageProcessor._run_action``),
so the first response already uses the new language. An explicit request ("English
please") fills the slot through its ``from_entity`` mapping instead, and without evidence
the slot keeps its value.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.constants import POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_EXTRACT_SLOTS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

import wording
from nlu.language_detector import DETECTED_LANGUAGE

__all__ = ["LanguageSlotPolicy", "LANGUAGE_SLOT"]

LANGUAGE_SLOT = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class LanguageSlotPolicy(Policy):
    """Applies the detected language to the ``language`` slot; predicts no action."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Below every other policy (TEDPolicy has 1): it never wins, its events apply anyway.
        return {POLICY_PRIORITY: 0}

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource  # nothing to learn or persist

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        return self._prediction(self._default_predictions(domain), events=language_events(tracker, domain))


def language_events(tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
    """``[SlotSet("language", detected)]`` on the first prediction after a user message
    whose detected language differs from the slot; else ``[]``."""
    if LANGUAGE_SLOT not in {slot.name for slot in domain.slots}:
        return []
    message = _unanswered_user_message(tracker)
    if message is None:
        return []
    detected = (message.parse_data or {}).get(DETECTED_LANGUAGE)
    if not wording.current().is_supported(detected) or detected == tracker.get_slot(LANGUAGE_SLOT):
        return []
    return [SlotSet(LANGUAGE_SLOT, detected)]


def _unanswered_user_message(tracker: DialogueStateTracker) -> Optional[UserUttered]:
    """The latest user message if no action but the slot extraction ran after it."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_EXTRACT_SLOTS:
            return None
    return None
