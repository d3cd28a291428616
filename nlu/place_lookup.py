"""A place the lookup table knows is a place: the location DIET missed, taken from data/nlu/lookups.yml.

Why: DIET uses the lookup table only as a feature, next to the words around a name. In a
sentence shaped unlike the training examples it sometimes extracts no location although the
city is in the table ("Erzieher Jena Teilzeit", "ich wohn in Bergisch-Gladbach": the held-out
report, reports/nlu-heldout.md), and a search without its place asks the user again: one
message of the user's patience lost. The table is the designers' list of places the job
providers understand, so a name from it in a job search or an answer is a location.

In config.yml it runs after the intent classifiers and before the EntitySynonymMapper,
and adds one entity only when all of these hold:

* the message's intent is one of ``intents`` (default ``search_job`` and ``inform``: a place
  in small talk, "was soll ich essen?", stays no place);
* no extractor found an entity of type ``entity`` (default ``location``): DIET's choice is
  kept ("eher Fürth, nicht Nürnberg");
* a table entry occurs as whole words, case-insensitive, a space or hyphen in it matching
  either ("Bergisch Gladbach" / "bergisch-gladbach"). The longest entry at the leftmost
  place wins.

The entity's value is the text as typed; the synonym mapper after it maps spellings such as
"Koeln" to the value the providers know, as it does for DIET's entities.

Spec: https://rasa.com/docs/rasa/3.x/training-data-format#lookup-tables (the tables),
https://rasa.com/docs/rasa/3.x/custom-graph-components (the component contract).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Pattern, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

__all__ = ["PlaceLookup", "entries_pattern", "find"]

_FILE = "entries.json"
_SEPARATOR = re.compile(r"[\s\-]+")


def entries_pattern(entries: Iterable[str]) -> Optional[Pattern[str]]:
    """One case-insensitive pattern for whole-word occurrences of any entry, longest first."""
    words = sorted({e.strip() for e in entries if isinstance(e, str) and e.strip()}, key=lambda e: (-len(e), e))
    if not words:
        return None
    alternatives = [r"[\s\-]+".join(re.escape(part) for part in _SEPARATOR.split(word)) for word in words]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE | re.UNICODE)


def find(pattern: Optional[Pattern[str]], text: str) -> Optional[re.Match[str]]:
    """The leftmost occurrence (the longest there: the alternatives are ordered longest first)."""
    return pattern.search(text) if pattern is not None and text else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PlaceLookup(GraphComponent):
    """Adds the lookup table's place to a search or answer in which no extractor found one."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entity": "location", "intents": ["search_job", "inform"]}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 entries: Optional[List[str]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.entity = str(self.config["entity"])
        self.intents = frozenset(self.config["intents"] or [])
        self.entries = list(entries or [])
        self.pattern = entries_pattern(self.entries)
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not isinstance(config.get("entity", "location"), str):
            raise ValueError("PlaceLookup: `entity` must be the name of an entity (a lookup table of that name)")
        intents = config.get("intents", [])
        if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
            raise ValueError("PlaceLookup: `intents` must be a list of intent names")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PlaceLookup":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the entries of the lookup table named like the entity (inline lists in YAML)."""
        entries: List[str] = []
        for table in training_data.lookup_tables:
            if table.get("name") == self.entity and isinstance(table.get("elements"), list):
                entries += [str(e) for e in table["elements"]]
        self.entries = sorted(set(entries))
        self.pattern = entries_pattern(self.entries)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _FILE).write_text(json.dumps(self.entries, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PlaceLookup":
        try:
            with model_storage.read_from(resource) as directory:
                entries = json.loads((directory / _FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            entries = []  # trained without a table of that name: the component adds nothing
        return cls(config, model_storage, resource, entries)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        entities = list(message.get(ENTITIES) or [])
        if intent not in self.intents or any(e.get(ENTITY_ATTRIBUTE_TYPE) == self.entity for e in entities):
            return
        match = find(self.pattern, message.get(TEXT) or "")
        if match is None:
            return
        entities.append({ENTITY_ATTRIBUTE_TYPE: self.entity, ENTITY_ATTRIBUTE_VALUE: match.group(0),
                         ENTITY_ATTRIBUTE_START: match.start(), ENTITY_ATTRIBUTE_END: match.end(),
                         EXTRACTOR: type(self).__name__})
        message.set(ENTITIES, entities, add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # the training examples keep their annotated entities
