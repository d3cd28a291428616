"""Speech to text: turn a voice note into the text the assistant understands (issue 14).

Public surface: the :class:`Transcript` and the :class:`Transcriber` interface
(speech/transcript.py), the settings read from ``STT_*`` (speech/settings.py), the typed errors
(speech/errors.py), the client for any OpenAI-compatible ``/audio/transcriptions`` endpoint
(speech/client.py) and the Ogg reader that tells a voice note's length before it is sent
(speech/ogg.py). docs/voice-notes.md describes the settings and the errors.

Deliberately free of the channel, the actions and Rasa: the WhatsApp channel uses this package,
never the other way round, and the stand-in (standins/stt/) can use speech/ogg.py without them.
"""
from __future__ import annotations

from speech.client import OpenAICompatibleTranscriber
from speech.errors import (
    SpeechSettingsError,
    TranscriptionAuthError,
    TranscriptionError,
    TranscriptionRateLimitedError,
    TranscriptionRefusedError,
    TranscriptionResponseError,
    TranscriptionUnavailableError,
)
from speech.ogg import OggAudioInfo, read_ogg
from speech.settings import SpeechSettings
from speech.transcript import Transcriber, Transcript

__all__ = [
    "OggAudioInfo",
    "OpenAICompatibleTranscriber",
    "SpeechSettings",
    "SpeechSettingsError",
    "Transcriber",
    "Transcript",
    "TranscriptionAuthError",
    "TranscriptionError",
    "TranscriptionRateLimitedError",
    "TranscriptionRefusedError",
    "TranscriptionResponseError",
    "TranscriptionUnavailableError",
    "read_ogg",
]
