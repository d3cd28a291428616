"""Typed errors of speech to text: a bad setting, and why a transcription failed.

Why types with a ``reason``: the channel answers every failed transcription the same way ("please
write to me"), but operators must tell an outage from a rate limit, a refused file or a wrong key,
and a metric needs a short label without personal data. ``TranscriptionError.reason`` is that
label; the HTTP ``status`` and OpenAI's error ``code`` are kept where there was one.

Messages never carry the transcript, the audio, the API key or the server's own error message
(some servers echo parts of the request; OpenAI's 401 echoes part of the key).

Error shape and codes: https://platform.openai.com/docs/guides/error-codes/api-errors
"""
from __future__ import annotations

__all__ = [
    "SpeechSettingsError",
    "TranscriptionError",
    "TranscriptionUnavailableError",
    "TranscriptionRateLimitedError",
    "TranscriptionRefusedError",
    "TranscriptionAuthError",
    "TranscriptionResponseError",
]


class SpeechSettingsError(ValueError):
    """An ``STT_*`` variable is malformed; ``variable`` names it (the message never holds a key)."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


class TranscriptionError(Exception):
    """Base of every transcription failure; catching it is enough to answer "please write"."""

    reason = "error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TranscriptionUnavailableError(TranscriptionError):
    """5xx after the retry, a timeout, a connection error, or the caller's deadline was spent."""

    reason = "unavailable"


class TranscriptionRateLimitedError(TranscriptionError):
    """429 and the retry did not fit the deadline (or failed as well); ``retry_after`` in seconds."""

    reason = "rate_limited"

    def __init__(
        self, message: str, *, status: int | None = 429, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class TranscriptionRefusedError(TranscriptionError):
    """The audio or the request is not acceptable (400/413/415/422, or refused before sending:
    too large, empty, a type we cannot name). Sending the same audio again cannot help."""

    reason = "refused"


class TranscriptionAuthError(TranscriptionError):
    """401/403 (wrong or missing key) or 404 (the model or the endpoint does not exist)."""

    reason = "unauthorised"


class TranscriptionResponseError(TranscriptionError):
    """A 2xx answer that is not a transcription we can read (not JSON, no ``text``)."""

    reason = "bad_response"
