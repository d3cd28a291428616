"""Which language a message is in, and when it changes a conversation's: a transparent word-list scorer.

Rasa's NLU pipeline runs it on every user message (``nlu.language_detector.LanguageDetector``
records the result as ``detected_language``), and ``nlu.language_slot.LanguageSlotPolicy``
decides with :func:`conversation_language` whether the ``language`` slot, by which Rasa
picks each response's wording, changes.

It is a word-list scorer rather than a statistical model: messages are short ("Koch",
"Berlin", "ok", "in Hamburg", "20 km"), and for those the right answer is "no evidence,
keep the current language". A message's *evidence* for a language is the number of its
words only that language lists, plus one for letters only it uses (:func:`language_evidence`).
Two rules use it:

* the first message with evidence (no language yet): the leader wins on weak evidence
  (:func:`detect_language`: two words, or one in a message of at most two words);
* later, the conversation's language stays unless the message clearly outweighs it
  (:class:`SwitchRule`): at least ``min_words`` words, a clear majority for the new
  language, and evidence at least the conversation's recent weight for the current one.

The languages are those of labels.yml (``languages``); the word lists, evidence letters
and the switch thresholds are its ``actions.language_detection`` section, so a designer
adds a language or tunes the rule there.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
import threading
from typing import Any, Optional

import wording

__all__ = ["conversation_language", "detect_language", "language_evidence", "LanguageEvidence", "SwitchRule"]

# The first language (none yet): a leader with this much evidence, or with any in a message this short.
_MIN_EVIDENCE = 2
_SHORT_MESSAGE_WORDS = 2


@dataclass(frozen=True)
class SwitchRule:
    """When a message changes a conversation's language once it has one.

    The defaults are documented here; labels.yml's ``actions.language_detection.switch``
    overrides them. A message switches from the current language to another one only if
    all hold:

    * it has at least ``min_words`` words (a short answer - "in Hamburg", "Koch Berlin",
      "Thank you" - never switches);
    * its evidence for the new language is at least ``majority`` times its evidence for
      all others together (a clear majority; "Ich suche a job as a cook" does not switch);
    * its evidence for the new language is at least the *bar*: the conversation's weight
      for the current language - the evidence for it minus the evidence against it in the
      user's last ``recent_messages`` messages - counted from ``min_evidence`` up to
      ``max_bar``. A conversation that clearly is in its language needs more to switch, and
      a full sentence ("I am looking for a job as a cook": 6) always can.
    """

    min_words: int = 3
    majority: int = 2
    min_evidence: int = 2
    max_bar: int = 4
    recent_messages: int = 3

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> "SwitchRule":
        given = section.get("switch") or {}
        return cls(**{f.name: int(given[f.name]) for f in fields(cls) if f.name in given})

    def bar(self, current: str, recent: Iterable[Mapping[str, int]]) -> int:
        """The evidence a message needs to switch away from ``current`` after ``recent``."""
        weight = 0
        for scores in list(recent)[: self.recent_messages]:
            weight += scores.get(current, 0) - sum(v for k, v in scores.items() if k != current)
        return max(self.min_evidence, min(weight, self.max_bar))

    def switches_to(self, scores: Mapping[str, int], words: int, current: str,
                    recent: Iterable[Mapping[str, int]]) -> Optional[str]:
        """The language a message with ``scores`` and ``words`` words switches to, else None."""
        leader = _leader(scores)
        if leader is None or leader == current or words < self.min_words:
            return None
        others = sum(v for k, v in scores.items() if k != leader)
        if scores[leader] < self.majority * others or scores[leader] < self.bar(current, recent):
            return None
        return leader


@dataclass(frozen=True)
class LanguageEvidence:
    """Per language: the words only it lists, and the letters that point to it."""

    words: Mapping[str, frozenset[str]]
    letters: Mapping[str, re.Pattern[str]]
    word: re.Pattern[str]
    switch: SwitchRule = SwitchRule()

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
            switch=SwitchRule.from_section(section),
        )

    def measure(self, text: str) -> tuple[dict[str, int], int]:
        """Per language its evidence in ``text``, and the number of words of ``text``."""
        if not text or text.startswith("/"):  # a button payload is no one's language
            return {}, 0
        words = [w.lower() for w in self.word.findall(text)]
        scores = {language: sum(1 for w in words if w in listed) for language, listed in self.words.items()}
        for language, letters in self.letters.items():
            if letters.search(text):
                scores[language] = scores.get(language, 0) + 1
        return scores, len(words)

    def detect(self, text: str) -> Optional[str]:
        scores, words = self.measure(text)
        leader = _leader(scores)
        if leader is None:
            return None
        if scores[leader] >= _MIN_EVIDENCE or words <= _SHORT_MESSAGE_WORDS:
            return leader
        return None


def _leader(scores: Mapping[str, int]) -> Optional[str]:
    """The one language with the most evidence, if it has any and no other has as much."""
    best = max(scores.values(), default=0)
    leaders = [language for language, score in scores.items() if score == best]
    return leaders[0] if best >= 1 and len(leaders) == 1 else None


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

    The weak rule for a conversation's first language. Button payloads ("/intent{...}")
    and texts without evidence return None, so the conversation keeps its language.
    """
    return _evidence(wording.current()).detect(text)


def language_evidence(text: str) -> dict[str, int]:
    """Per language the evidence in ``text`` (its words only that language lists, plus one
    for its letters): what every decision here is made of, and what a log may show."""
    return _evidence(wording.current()).measure(text)[0]


def conversation_language(text: str, current: Optional[str], earlier: Iterable[str], *,
                          established: bool = False) -> Optional[str]:
    """The language the conversation switches to with the user message ``text``, else None.

    ``current`` is the ``language`` slot; ``earlier`` the user's earlier messages since the
    language was last set (latest first); ``established`` whether it was set (a request,
    a switch, carried into a new session). With neither a set language nor evidence in an
    earlier message the conversation has no language yet, and the weak rule of
    :func:`detect_language` applies; after that the :class:`SwitchRule`, whose bar is the
    weight of the latest earlier messages that have evidence.
    """
    evidence = _evidence(wording.current())
    recent: list[dict[str, int]] = []
    for earlier_text in earlier:  # the latest few with evidence; "ok" or "Berlin" weigh nothing
        scores = evidence.measure(earlier_text)[0]
        if any(scores.values()):
            recent.append(scores)
            if len(recent) >= evidence.switch.recent_messages:
                break
    if not established and not recent:
        detected = evidence.detect(text)
        return detected if detected != current else None
    scores, words = evidence.measure(text)
    return evidence.switch.switches_to(scores, words, current or "", recent)
