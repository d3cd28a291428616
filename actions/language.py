"""Which language to answer in: the default language first, another when the user writes it or asks.

Rasa picks each response's wording by the ``language`` slot (conditional response
variations in ``domain.yml``). This action fills that slot on every user message through a
``custom`` slot mapping (https://rasa.com/docs/rasa/3.x/domain#custom-slot-mappings), so the
detection runs before any response is chosen and designers never touch Python.

The detector is a transparent word-list scorer rather than a statistical model: messages
are short ("Koch", "Berlin", "ok"), and for those the right answer is "no evidence, keep
the current language". Only a clear majority of language-specific words switches. The
languages are those of labels.yml (``languages``); the word lists and evidence letters are
its ``actions.language_detection`` section, so a designer adds a language there.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

import wording
from actions.label_cache import derived

__all__ = ["ActionDetectLanguage", "detect_language", "LanguageEvidence"]

# A language wins with this many evidence words, or with one in a message this short.
_MIN_EVIDENCE = 2
_SHORT_MESSAGE_WORDS = 2


@dataclass(frozen=True)
class LanguageEvidence:
    """Per language: the words only it lists, and the letters that point to it."""

    words: Mapping[str, frozenset[str]]
    letters: Mapping[str, re.Pattern[str]]
    word: re.Pattern[str]

    @classmethod
    def from_labels(cls, labels: wording.Labels) -> "LanguageEvidence":
        section = _detection_section(labels)
        listed = {
            language: frozenset(str(words).lower().split())
            for language, words in (section.get("words") or {}).items()
            if language in labels.languages and words
        }
        # A word listed for two languages carries no evidence.
        counts: dict[str, int] = {}
        for words in listed.values():
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        distinctive = {language: frozenset(w for w in words if counts[w] == 1) for language, words in listed.items()}
        letters = {
            language: str(chars)
            for language, chars in (section.get("letters") or {}).items()
            if language in labels.languages and chars
        }
        extra = sorted({char for text in (*letters.values(), *(" ".join(w) for w in listed.values()))
                        for char in text.lower() if char.isalpha() and not ("a" <= char <= "z")})
        return cls(
            words=distinctive,
            letters={language: re.compile(f"[{re.escape(chars)}]", re.IGNORECASE) for language, chars in letters.items()},
            word=re.compile(f"[a-z{re.escape(''.join(extra))}]+", re.IGNORECASE),
        )

    def detect(self, text: str) -> Optional[str]:
        words = [w.lower() for w in self.word.findall(text)]
        scores = {language: sum(1 for w in words if w in listed) for language, listed in self.words.items()}
        for language, letters in self.letters.items():
            if letters.search(text):
                scores[language] = scores.get(language, 0) + 1
        if not scores:
            return None
        best = max(scores.values())
        leaders = [language for language, score in scores.items() if score == best]
        if len(leaders) != 1 or best < 1:
            return None
        if best >= _MIN_EVIDENCE or len(words) <= _SHORT_MESSAGE_WORDS:
            return leaders[0]
        return None


def _detection_section(labels: wording.Labels) -> Mapping[str, Any]:
    try:
        return labels.section("actions.language_detection")
    except wording.LabelsError:
        return {}


def _evidence(labels: wording.Labels) -> LanguageEvidence:
    return derived(labels, LanguageEvidence.from_labels)


def detect_language(text: str) -> Optional[str]:
    """The language the text clearly is in (a code of labels.yml's ``languages``), else None.

    Button payloads ("/intent{...}") and texts without evidence return None, so the
    conversation keeps its language.
    """
    if not text or text.startswith("/"):
        return None
    return _evidence(wording.current()).detect(text)


class ActionDetectLanguage(Action):
    """Fills the ``language`` slot from an explicit request or from the message's words."""

    def name(self) -> Text:
        return "action_detect_language"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        requested = next(tracker.get_latest_entity_values("language"), None)
        detected = requested if wording.current().is_supported(requested) else None
        if detected is None:
            detected = detect_language((tracker.latest_message or {}).get("text") or "")
        if detected is None or detected == tracker.get_slot("language"):
            return []
        return [SlotSet("language", detected)]
