"""How the stand-in "transcribes": it reads what harness/voice_notes.py wrote into the file.

Why tags and not a speech model: tests need a known transcript, confidence and language for a
given voice note, deterministically and without a model on the machine. The generator writes
them as Ogg comments; real audio from elsewhere has no such tag and is "heard" as silence, the
way Whisper reports it: empty text, one segment with ``no_speech_prob`` 0.95 and
``avg_logprob`` -1.5.

The answer mirrors OpenAI's ``verbose_json`` (https://platform.openai.com/docs/api-reference/audio/verbose-json-object):
the language as Whisper's name ("german") when it is one of ours, else the code; one segment
per sentence, its share of the duration by length, each with ``avg_logprob = ln(confidence)``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from speech.ogg import read_ogg

__all__ = [
    "TRANSCRIPT_TAG", "CONFIDENCE_TAG", "LANGUAGE_TAG", "DEFAULT_CONFIDENCE", "Heard", "hear", "answer",
]

TRANSCRIPT_TAG = "BLAUPAUSE_TRANSCRIPT"
CONFIDENCE_TAG = "BLAUPAUSE_CONFIDENCE"
LANGUAGE_TAG = "BLAUPAUSE_LANGUAGE"
DEFAULT_CONFIDENCE = 0.9
_MIN_CONFIDENCE = 1e-6  # ln(0) is not a number JSON can carry
_SILENCE = {"avg_logprob": -1.5, "no_speech_prob": 0.95}

# Whisper names these languages in verbose_json; other codes are answered as codes (as
# faster-whisper servers do), so the client's mapping is exercised both ways.
_WHISPER_NAMES = {
    "de": "german", "en": "english", "fr": "french", "es": "spanish", "it": "italian", "tr": "turkish",
    "ar": "arabic", "uk": "ukrainian", "ru": "russian", "pl": "polish",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Heard:
    text: str  # "" for silence
    confidence: float
    language: str  # ISO 639-1
    duration: float


def hear(audio: bytes, audio_format: str, duration: float, language_hint: str | None) -> Heard:
    """The transcript the generator wrote into an Ogg file; silence for anything else."""
    info = read_ogg(audio) if audio_format == "ogg" else None
    tags = info.comments if info is not None else {}
    text = tags.get(TRANSCRIPT_TAG, "").strip()
    try:
        confidence = float(tags.get(CONFIDENCE_TAG, DEFAULT_CONFIDENCE))
    except ValueError:
        confidence = DEFAULT_CONFIDENCE
    if not math.isfinite(confidence):
        confidence = DEFAULT_CONFIDENCE
    language = language_hint or tags.get(LANGUAGE_TAG, "").strip().lower() or "en"
    return Heard(text, min(1.0, max(_MIN_CONFIDENCE, confidence)), language, duration)


def _segments(heard: Heard) -> list[dict[str, Any]]:
    if not heard.text:
        return [_segment(0, 0.0, heard.duration, "", **_SILENCE)]
    sentences = [s for s in _SENTENCE_END.split(heard.text) if s]
    total = sum(len(s) for s in sentences)
    segments, start = [], 0.0
    for number, sentence in enumerate(sentences):
        end = start + heard.duration * len(sentence) / total
        segments.append(_segment(number, start, end, " " + sentence,
                                 avg_logprob=math.log(heard.confidence), no_speech_prob=0.02))
        start = end
    return segments


def _segment(number: int, start: float, end: float, text: str, *, avg_logprob: float, no_speech_prob: float) -> dict[str, Any]:
    return {
        "id": number, "seek": 0, "start": round(start, 3), "end": round(end, 3), "text": text, "tokens": [],
        "temperature": 0.0, "avg_logprob": avg_logprob, "compression_ratio": 1.0, "no_speech_prob": no_speech_prob,
    }


def answer(heard: Heard, response_format: str) -> tuple[bytes, str]:
    """(body, content type) for ``json``, ``text`` or ``verbose_json``."""
    if response_format == "text":
        return (heard.text + "\n").encode("utf-8"), "text/plain"
    if response_format == "json":
        body: dict[str, Any] = {"text": heard.text}
    else:
        body = {
            "task": "transcribe",
            "language": _WHISPER_NAMES.get(heard.language, heard.language),
            "duration": round(heard.duration, 3),
            "text": heard.text,
            "segments": _segments(heard),
        }
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
