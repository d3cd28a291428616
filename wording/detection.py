"""Which language a message clearly is in: a transparent word-list scorer.

Rasa's NLU pipeline runs it on every user message (``nlu.language_detector.LanguageDetector``
records the result as ``detected_language``), and ``nlu.language_slot.LanguageSlotPolicy``
puts it into the ``language`` slot, by which Rasa picks each response's wording.

It is a word-list scorer rather than a statistical model: messages are short ("Koch",
"Berlin", "ok"), and for those the right answer is "no evidence, keep the current
language". Only a clear majority of language-specific words switches. The languages are
those of labels.yml (``languages``); the word lists and evidence letters are its
``actions.language_detection`` section, so a designer adds a language there.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
import threading
from typing import Any, Optional

import wording

__all__ = ["detect_language", "LanguageEvidence"]

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


# One LanguageEvidence per Labels object (wording.current() returns one per labels file), kept
# with the object itself so that an identity is never reused.
_evidence_cache: dict[int, tuple[wording.Labels, LanguageEvidence]] = {}
_lock = threading.Lock()
_MAX_ENTRIES = 16


def _evidence(labels: wording.Labels) -> LanguageEvidence:
    with _lock:
        hit = _evidence_cache.get(id(labels))
        if hit is not None and hit[0] is labels:
            return hit[1]
    evidence = LanguageEvidence.from_labels(labels)
    with _lock:
        if len(_evidence_cache) >= _MAX_ENTRIES:
            _evidence_cache.clear()
        _evidence_cache[id(labels)] = (labels, evidence)
    return evidence


def detect_language(text: str) -> Optional[str]:
    """The language the text clearly is in (a code of labels.yml's ``languages``), else None.

    Button payloads ("/intent{...}") and texts without evidence return None, so the
    conversation keeps its language.
    """
    if not text or text.startswith("/"):
        return None
    return _evidence(wording.current()).detect(text)
