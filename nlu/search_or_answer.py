"""Search or answer: the one distinction between ``search_job`` and ``inform`` that DIET cannot see.

data/nlu/search.yml defines the two intents by what a message names: ``search_job`` asks for
jobs or names a job title *and* a place ("Koch Berlin", "Ich suche was in Köln"); ``inform``
is a bare answer or one changed criterion ("Berlin", "nur Teilzeit", "20 km"). A text
classifier sees words, not how many criteria the message holds, so in the seeded
cross-validation the two were each other's most frequent confusion (reports/nlu-cross-validation.md):
"Kellner Kiel" taken for an answer, a bare "Dresden" for a search.

This component runs after the classifier and the entity extractors (config.yml) and looks
only at messages the classifier took for one of the two. By the definition above
(:func:`definition`):

* a message with a ``job_title`` and a ``location`` entity is ``search_job``;
* a message without that pair, with at least one search criterion and none of the request
  words of labels.yml (``actions.search_request_words``: suche, Job, Stelle, looking, …) is
  ``inform``;
* anything else is left to the classifier.

When the definition decides (the pair is there, or criteria without a request word), the
classifier's confidence in *both* intents belongs to the decided one: its confidence becomes
the sum of the two and the other's becomes 0. The classifier spreading its mass over two
intents the definition tells apart is not an unsure classifier, so the FallbackClassifier
after it must not fall back on their ambiguity ("Koch in Berlin": search_job 0.48, inform 0.45
fell back with ``ambiguity_threshold: 0.05``). When the definition does not decide, the
ranking is left as the classifier made it; every other intent is left alone.
Both intents start the search form outside it (data/rules.yml), so a wrong call costs no
turn; the gain is that the measured intent matches the definition the designers wrote.
"""
from __future__ import annotations

import re
from typing import FrozenSet, List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

import wording
from nlu.stateless import StatelessComponent

__all__ = ["SearchOrAnswer", "definition", "SEARCH", "ANSWER", "CRITERIA"]

SEARCH = "search_job"
ANSWER = "inform"
#: The entities that are search criteria (the search form's and the refinements' slots).
CRITERIA = frozenset({"job_title", "location", "working_time", "radius", "remote"})
_PAIR = frozenset({"job_title", "location"})
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def request_words(labels: wording.Labels) -> FrozenSet[str]:
    """labels.yml ``actions.search_request_words``, lowercase (empty if the key is absent)."""
    try:
        words = labels.section("actions").get("search_request_words") or ""
    except wording.LabelsError:
        return frozenset()
    return frozenset(str(words).lower().split())


def definition(text: str, entity_types: FrozenSet[str], words: FrozenSet[str]) -> Optional[str]:
    """The intent data/nlu/search.yml's definition gives the message, None where it is silent.

    A job title and a place is a search; one or more criteria without a request word is an
    answer; a request word with one criterion, or no criterion at all, is for the classifier.
    """
    if _PAIR <= entity_types:
        return SEARCH
    if entity_types & CRITERIA and not any(word.lower() in words for word in _WORD.findall(text)):
        return ANSWER
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SearchOrAnswer(StatelessComponent):
    """Applies the search/answer definition to the classifier's ``search_job``/``inform``."""

    def process(self, messages: List[Message]) -> List[Message]:
        words = request_words(wording.current())
        for message in messages:
            self._process(message, words)
        return messages

    @staticmethod
    def _process(message: Message, words: FrozenSet[str]) -> None:
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) not in (SEARCH, ANSWER):
            return
        types = frozenset(e.get(ENTITY_ATTRIBUTE_TYPE) for e in message.get(ENTITIES) or [])
        decided = definition(message.get(TEXT) or "", types, words)
        if decided is None:
            return
        other = ANSWER if decided == SEARCH else SEARCH
        ranking = [dict(entry) for entry in message.get(INTENT_RANKING_KEY) or []]
        confidence = {entry.get(INTENT_NAME_KEY): entry.get(PREDICTED_CONFIDENCE_KEY, 0.0) for entry in ranking}
        confidence.setdefault(intent[INTENT_NAME_KEY], intent.get(PREDICTED_CONFIDENCE_KEY, 0.0))
        merged = confidence.get(decided, 0.0) + confidence.get(other, 0.0)
        for entry in ranking:  # the decided intent holds the mass of both
            if entry.get(INTENT_NAME_KEY) == decided:
                entry[PREDICTED_CONFIDENCE_KEY] = merged
            elif entry.get(INTENT_NAME_KEY) == other:
                entry[PREDICTED_CONFIDENCE_KEY] = 0.0
        if ranking and decided not in confidence:
            ranking.append({INTENT_NAME_KEY: decided, PREDICTED_CONFIDENCE_KEY: merged})
        ranking.sort(key=lambda entry: entry.get(PREDICTED_CONFIDENCE_KEY, 0.0), reverse=True)
        message.set(INTENT, {INTENT_NAME_KEY: decided, PREDICTED_CONFIDENCE_KEY: merged}, add_to_output=True)
        if ranking:
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
