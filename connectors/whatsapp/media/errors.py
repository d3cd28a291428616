"""Typed errors of the media download (connectors/whatsapp/media/download.py).

Why types with a ``reason``: the channel answers every failure the same way for the user
("Ich konnte deine Sprachnachricht nicht abrufen, schreib mir bitte") but counts and reports them
by cause; ``reason`` is a short, stable label for metrics and dialogue, never a free text.

Messages name only the step, the HTTP status and the attempts: never the media id, the media
URL, the access token or any bytes (docs/privacy.md: media ids and URLs are personal data), so
``str(error)`` is safe to log. Causes are suppressed (``raise ... from None``) where the
underlying library error could quote the URL.
"""
from __future__ import annotations

from typing import ClassVar

__all__ = [
    "MediaError",
    "MediaNotFoundError",
    "MediaTooLargeError",
    "MediaTypeError",
    "MediaUnavailableError",
    "MediaAuthError",
    "MediaURLRefusedError",
    "MediaIntegrityError",
]


class MediaError(Exception):
    """A media download that failed; ``status`` is the last HTTP status (None without one),
    ``attempts`` the HTTP requests made for the failing step."""

    reason: ClassVar[str] = "error"

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class MediaNotFoundError(MediaError):
    """The media id is unknown or deleted, or its URL expired twice (Graph code 100, HTTP 404/410)."""

    reason = "not_found"


class MediaTooLargeError(MediaError):
    """Announced, declared (Content-Length) or actual size above the caller's cap."""

    reason = "too_large"


class MediaTypeError(MediaError):
    """The announced or served mime type is not one the caller accepts."""

    reason = "unsupported_type"


class MediaUnavailableError(MediaError):
    """5xx, 429, timeouts or connection errors after the retries, the deadline spent, or an
    answer without the documented shape."""

    reason = "unavailable"


class MediaAuthError(MediaError):
    """The access token was refused (HTTP 401/403, Graph codes 0, 10, 190, 200-299); not retried."""

    reason = "unauthorised"


class MediaURLRefusedError(MediaError):
    """The media URL points to a host the token must not be sent to."""

    reason = "url_refused"


class MediaIntegrityError(MediaError):
    """The bytes do not match the announced sha256 (or announced size)."""

    reason = "corrupt"
