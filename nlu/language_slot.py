"""Sets the ``language`` slot when the conversation's language changes, inside Rasa's turn.

The language stays put: a short or ambiguous message ("in Hamburg", "Koch Berlin", "ok",
"20 km", an emoji) keeps the conversation's language, and only a message that clearly
outweighs it switches (``wording.detection.conversation_language``; the rule and its
thresholds are labels.yml's ``actions.language_detection.switch``). The weight is read
from the tracker's events - the user's messages since the language was last set - so
nothing new is stored. The first language of a conversation is set on weaker evidence.

This policy never predicts an action (its probabilities are all zero); on the turn's
first prediction after a user message it returns a ``SlotSet("language", …)`` as a
prediction event, which Rasa applies whichever policy wins, before the predicted action
runs (``MessageProcessor._run_action``), so the first response already uses the new
language. An explicit request ("English please", the switch_language buttons) fills the
slot through its ``from_entity`` mapping instead, and the language the user chose holds
until they choose another (this policy leaves it alone until the next session).
``nlu.language_detector.LanguageDetector`` records the message's own language as
``detected_language`` for ``rasa shell nlu``; the decision here reads the texts.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.constants import POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_EXTRACT_SLOTS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITY_ATTRIBUTE_TYPE

import wording
from wording.detection import conversation_language

__all__ = ["LanguageSlotPolicy", "LANGUAGE_SLOT"]

LANGUAGE_SLOT = "language"
# The intent of an explicit request; its ``language`` entity fills the slot.
SWITCH_LANGUAGE_INTENT = "switch_language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class LanguageSlotPolicy(Policy):
    """Applies a change of the conversation's language to the ``language`` slot; predicts no action."""

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
    """``[SlotSet("language", new)]`` on the first prediction after a user message that
    changes the conversation's language; else ``[]``."""
    if LANGUAGE_SLOT not in {slot.name for slot in domain.slots}:
        return []
    events = tracker.applied_events()
    position = _unanswered_user_message(events)
    if position is None:
        return []
    message = events[position]
    if _is_explicit_request(message):
        return []
    earlier, established, requested = _since_language_was_set(events[:position])
    if requested:  # the user chose the language: it holds until they choose another
        return []
    switched = conversation_language(message.text or "", tracker.get_slot(LANGUAGE_SLOT), earlier,
                                     established=established)
    if not wording.current().is_supported(switched):
        return []
    return [SlotSet(LANGUAGE_SLOT, switched)]


def _unanswered_user_message(events: List[Event]) -> Optional[int]:
    """The position of the latest user message if no action but the slot extraction ran after it."""
    for position in range(len(events) - 1, -1, -1):
        event = events[position]
        if isinstance(event, UserUttered):
            return position
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_EXTRACT_SLOTS:
            return None
    return None


def _is_explicit_request(message: UserUttered) -> bool:
    """"English please", a language button: the slot mapping and the dialogue handle it."""
    return (message.intent_name == SWITCH_LANGUAGE_INTENT
            or any(entity.get(ENTITY_ATTRIBUTE_TYPE) == LANGUAGE_SLOT for entity in message.entities or []))


def _since_language_was_set(events: List[Event]) -> Tuple[List[str], bool, bool]:
    """The user's texts since the language was last set (latest first; the message of the
    turn that set it included), whether it was set in this session, and whether that was
    an explicit request."""
    texts: List[str] = []
    established = False
    for event in reversed(events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            texts.append(event.text or "")
            if established:
                return texts, True, _is_explicit_request(event)
        elif isinstance(event, SlotSet) and event.key == LANGUAGE_SLOT:
            established = True
    return texts, established, False
