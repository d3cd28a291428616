"""The language of every user message, found inside Rasa's NLU pipeline.

Rasa picks each response's wording by the ``language`` slot (conditional response
variations in ``domain.yml``). This component runs after ``EntitySynonymMapper``
(config.yml) and leaves each message with at most one ``language`` entity:

* an explicit, supported one (DIET finds "English please") is kept; the slot's
  ``from_entity`` mapping takes it;
* an unsupported one ("Französisch") is dropped, so the slot is not set to it;
* otherwise, when the text on its own clearly is in one language (``wording.detection``),
  that language is recorded as ``detected_language`` in the parse data: what ``rasa shell
  nlu`` shows of the message. It is not an entity: an entity nobody annotated would be a
  wrong prediction for ``rasa test`` (tests/test_conversations.yml) and for NLU evaluation.

Whether the conversation's language changes is not decided here, on one message, but by
``nlu.language_slot.LanguageSlotPolicy``, which weighs the message against the
conversation's earlier ones (a short "in Hamburg" keeps it). Without evidence ("Berlin",
"ok", a button payload) nothing is recorded. The detection used to be a custom slot mapping
calling the action server on every message; here it costs no network round trip.
"""
from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, ENTITY_ATTRIBUTE_VALUE, TEXT
from rasa.shared.nlu.training_data.message import Message

import wording
from nlu.stateless import StatelessComponent
from wording.detection import detect_language

__all__ = ["DETECTED_LANGUAGE", "LANGUAGE_ENTITY", "LanguageDetector"]

LANGUAGE_ENTITY = "language"
# The parse data key of the language the words clearly are in (absent without evidence).
DETECTED_LANGUAGE = "detected_language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(StatelessComponent):
    """Keeps a supported ``language`` entity, drops others, records the detected language."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        labels = wording.current()
        entities = list(message.get(ENTITIES) or [])
        others = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) != LANGUAGE_ENTITY]
        requested = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) == LANGUAGE_ENTITY
                     and labels.is_supported(e.get(ENTITY_ATTRIBUTE_VALUE))]
        kept = others + requested[:1]
        if kept != entities:
            message.set(ENTITIES, kept, add_to_output=True)
        if not requested:
            detected = detect_language(message.get(TEXT) or "")
            if detected is not None:
                message.set(DETECTED_LANGUAGE, detected, add_to_output=True)
