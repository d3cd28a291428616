"""What a transcription is, the one interface every transcriber implements, and how an
OpenAI-compatible answer becomes a :class:`Transcript`.

Why one interface: the channel must not care whether the words come from a self-hosted
faster-whisper, a hosted service or a test double; it needs the text, how sure the server was,
the language it heard, and how long the note was.

Answer formats (https://platform.openai.com/docs/api-reference/audio/createTranscription):
``json`` is ``{"text": ...}``; ``verbose_json`` adds ``language`` (Whisper names it, "german";
mapped to ISO 639-1 here, codes pass through), ``duration`` and ``segments`` with
``avg_logprob``, ``no_speech_prob``, ``start``, ``end`` and ``text`` each.

Confidence rule (:func:`transcript_from_answer`):

1. A segment with ``no_speech_prob > 0.6`` and ``avg_logprob < -1`` is silence (Whisper's own
   "no speech" test): it is dropped from the text and from the confidence.
2. The confidence is ``exp`` of the mean ``avg_logprob`` of the remaining segments, each
   weighted by its duration (``end - start``; equal weights when no segment has a duration),
   clamped to 0..1. ``avg_logprob`` is the mean log probability of the segment's tokens, so
   this is the geometric-mean token probability of what was said.
3. No segments (``json``, or only silence): confidence None, "the server gave no figure".
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from speech.errors import TranscriptionResponseError

__all__ = ["Transcript", "Transcriber", "transcript_from_answer", "language_code", "WHISPER_LANGUAGES"]

SILENCE_NO_SPEECH_PROB = 0.6
SILENCE_AVG_LOGPROB = -1.0

#: Whisper's language names (its ``tokenizer.LANGUAGES``) for the languages our users write in.
WHISPER_LANGUAGES: Mapping[str, str] = {
    "german": "de", "english": "en", "french": "fr", "spanish": "es", "italian": "it", "turkish": "tr",
    "arabic": "ar", "ukrainian": "uk", "russian": "ru", "polish": "pl", "dutch": "nl", "portuguese": "pt",
    "romanian": "ro", "greek": "el", "persian": "fa", "bulgarian": "bg", "croatian": "hr", "serbian": "sr",
    "albanian": "sq", "hungarian": "hu", "czech": "cs", "vietnamese": "vi", "chinese": "zh", "japanese": "ja",
    "korean": "ko", "hindi": "hi", "urdu": "ur", "pashto": "ps", "somali": "so", "swahili": "sw",
    "bosnian": "bs", "macedonian": "mk", "slovak": "sk", "slovenian": "sl", "lithuanian": "lt",
    "latvian": "lv", "estonian": "et", "danish": "da", "swedish": "sv", "norwegian": "no", "finnish": "fi",
    "hebrew": "he", "armenian": "hy", "georgian": "ka", "azerbaijani": "az", "kazakh": "kk", "tamil": "ta",
    "bengali": "bn", "punjabi": "pa", "amharic": "am", "yoruba": "yo", "hausa": "ha", "indonesian": "id",
}
_CODE = re.compile(r"[a-z]{2}")


@dataclass(frozen=True)
class Transcript:
    """What the server heard. ``text`` is stripped and "" when nothing was heard; it is kept
    out of ``repr`` so a logged object never shows what the user said."""

    text: str = field(repr=False)
    confidence: float | None
    language: str | None
    duration_seconds: float | None


@runtime_checkable
class Transcriber(Protocol):
    """Turns one voice note into text; raises a speech.errors.TranscriptionError subclass."""

    async def transcribe(
        self, audio: bytes, *, mime_type: str, language: str | None = None, deadline_seconds: float | None = None
    ) -> Transcript: ...

    async def aclose(self) -> None: ...


def language_code(value: Any) -> str | None:
    """ISO 639-1 code for a Whisper language name or a code ("de", "de-DE", "German"); else None."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    if name in WHISPER_LANGUAGES:
        return WHISPER_LANGUAGES[name]
    code = name.replace("_", "-").split("-", 1)[0]
    return code if _CODE.fullmatch(code) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _is_silence(segment: Mapping[str, Any]) -> bool:
    no_speech, logprob = _number(segment.get("no_speech_prob")), _number(segment.get("avg_logprob"))
    return (no_speech is not None and logprob is not None
            and no_speech > SILENCE_NO_SPEECH_PROB and logprob < SILENCE_AVG_LOGPROB)


def _confidence(segments: list[Mapping[str, Any]]) -> float | None:
    scored = [(s, _number(s.get("avg_logprob"))) for s in segments]
    scored = [(s, logprob) for s, logprob in scored if logprob is not None]
    if not scored:
        return None
    weights = []
    for segment, _ in scored:
        start, end = _number(segment.get("start")), _number(segment.get("end"))
        weights.append(max(0.0, end - start) if start is not None and end is not None else 0.0)
    if sum(weights) <= 0:
        weights = [1.0] * len(scored)
    mean = sum(w * logprob for w, (_, logprob) in zip(weights, scored)) / sum(weights)
    return min(1.0, max(0.0, math.exp(min(mean, 0.0))))


def transcript_from_answer(data: Any) -> Transcript:
    """A Transcript from a decoded ``json`` or ``verbose_json`` answer (module docstring).

    Raises TranscriptionResponseError when there is no ``text`` string; everything else is
    optional, since OpenAI-compatible servers differ in what they add.
    """
    if not isinstance(data, dict):
        raise TranscriptionResponseError("the transcription answer is not a JSON object")
    text = data.get("text")
    if not isinstance(text, str):
        raise TranscriptionResponseError("the transcription answer has no text")
    raw_segments = data.get("segments")
    segments = [s for s in raw_segments if isinstance(s, dict)] if isinstance(raw_segments, list) else []
    speech = [s for s in segments if not _is_silence(s)]
    if len(speech) < len(segments):
        if all(isinstance(s.get("text"), str) for s in speech):
            text = " ".join(s["text"].strip() for s in speech)
        else:  # cannot rebuild the text without the silent parts; keep the server's text
            speech = segments
    duration = _number(data.get("duration"))
    return Transcript(
        text=text.strip() if speech or not segments else "",
        confidence=_confidence(speech),
        language=language_code(data.get("language")),
        duration_seconds=duration if duration is not None and duration >= 0 else None,
    )
