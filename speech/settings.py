"""Where the transcription server is and how much audio and time a voice note may take.

Why in the environment, like the LLM (actions/llm/client.py): the operator picks the server
(a self-hosted faster-whisper next to the assistant, or a hosted OpenAI-compatible service) per
deployment, and an unset ``STT_BASE_URL`` is a supported deployment: voice notes then get
today's polite "please write to me" (:meth:`SpeechSettings.from_env` returns None).

Variables (docs/voice-notes.md has the table):

* ``STT_BASE_URL``: e.g. ``http://127.0.0.1:8000/v1``; the client POSTs to
  ``{base_url}/audio/transcriptions``. Unset or empty: speech to text is off.
* ``STT_MODEL`` (``whisper-1``), ``STT_API_KEY`` (optional bearer token).
* ``STT_TIMEOUT_S`` (15, > 0): the longest a transcription may take, retry included; a caller's
  deadline can only shorten it.
* ``STT_MAX_BYTES`` (5000000, 1 .. 16 MB): Meta's audio limit is 16 MB
  (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
* ``STT_MAX_SECONDS`` (180, > 0): longer voice notes are not transcribed (checked by the caller,
  e.g. with speech/ogg.py).
* ``STT_CONFIRM_BELOW`` (0.6, 0 .. 1): a transcript with a confidence below it is confirmed with
  the user before it is acted on.
* ``STT_RESPONSE_FORMAT`` (``verbose_json`` or ``json``): ``json`` has no segments, so no
  confidence; use it only for servers without ``verbose_json``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from speech.errors import SpeechSettingsError

__all__ = ["SpeechSettings", "META_AUDIO_LIMIT_BYTES", "RESPONSE_FORMATS"]

META_AUDIO_LIMIT_BYTES = 16 * 1024 * 1024
RESPONSE_FORMATS = ("verbose_json", "json")

_DEFAULT_MODEL = "whisper-1"
_DEFAULT_TIMEOUT_S = 15.0
_DEFAULT_MAX_BYTES = 5_000_000
_DEFAULT_MAX_SECONDS = 180.0
_DEFAULT_CONFIRM_BELOW = 0.6


@dataclass(frozen=True)
class SpeechSettings:
    """The transcription server and the caps of one deployment; validated on construction."""

    base_url: str
    model: str = _DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = _DEFAULT_TIMEOUT_S
    max_bytes: int = _DEFAULT_MAX_BYTES
    max_seconds: float = _DEFAULT_MAX_SECONDS
    confirm_below: float = _DEFAULT_CONFIRM_BELOW
    response_format: str = "verbose_json"

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpeechSettingsError("STT_BASE_URL", "STT_BASE_URL must be an http(s) URL with a host")
        if parts.query or parts.fragment:
            raise SpeechSettingsError("STT_BASE_URL", "STT_BASE_URL must not carry a query or a fragment")
        if not self.model.strip():
            raise SpeechSettingsError("STT_MODEL", "STT_MODEL is empty")
        if self.api_key is not None and (not self.api_key.strip() or any(c.isspace() for c in self.api_key)):
            raise SpeechSettingsError("STT_API_KEY", "STT_API_KEY must not be blank or contain whitespace")
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise SpeechSettingsError("STT_TIMEOUT_S", "STT_TIMEOUT_S must be a number of seconds > 0")
        if isinstance(self.max_bytes, bool) or not 1 <= self.max_bytes <= META_AUDIO_LIMIT_BYTES:
            raise SpeechSettingsError(
                "STT_MAX_BYTES", f"STT_MAX_BYTES must be between 1 and {META_AUDIO_LIMIT_BYTES} (Meta's audio limit)"
            )
        if not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise SpeechSettingsError("STT_MAX_SECONDS", "STT_MAX_SECONDS must be a number of seconds > 0")
        if not (math.isfinite(self.confirm_below) and 0.0 <= self.confirm_below <= 1.0):
            raise SpeechSettingsError("STT_CONFIRM_BELOW", "STT_CONFIRM_BELOW must be between 0 and 1")
        if self.response_format not in RESPONSE_FORMATS:
            raise SpeechSettingsError("STT_RESPONSE_FORMAT", f"STT_RESPONSE_FORMAT must be one of {RESPONSE_FORMATS}")

    @property
    def transcriptions_url(self) -> str:
        """``{base_url}/audio/transcriptions`` (a trailing slash of the base is ignored)."""
        return f"{self.base_url.rstrip('/')}/audio/transcriptions"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "SpeechSettings | None":
        """The settings from ``STT_*``; None when ``STT_BASE_URL`` is unset or empty (speech off).

        Raises SpeechSettingsError naming the variable when a value is malformed: a wrong
        setting is an operator's mistake to see at start-up, not a silent "off".
        """
        base_url = environ.get("STT_BASE_URL", "").strip()
        if not base_url:
            return None
        return cls(
            base_url=base_url,
            model=environ.get("STT_MODEL", "").strip() or _DEFAULT_MODEL,
            api_key=environ.get("STT_API_KEY", "").strip() or None,
            timeout_seconds=_number(environ, "STT_TIMEOUT_S", _DEFAULT_TIMEOUT_S),
            max_bytes=_integer(environ, "STT_MAX_BYTES", _DEFAULT_MAX_BYTES),
            max_seconds=_number(environ, "STT_MAX_SECONDS", _DEFAULT_MAX_SECONDS),
            confirm_below=_number(environ, "STT_CONFIRM_BELOW", _DEFAULT_CONFIRM_BELOW),
            response_format=environ.get("STT_RESPONSE_FORMAT", "").strip().lower() or "verbose_json",
        )


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SpeechSettingsError(name, f"{name} must be a number") from None
    if not math.isfinite(value):
        raise SpeechSettingsError(name, f"{name} must be a finite number")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SpeechSettingsError(name, f"{name} must be a whole number of bytes") from None
