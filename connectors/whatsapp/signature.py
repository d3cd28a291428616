"""Webhook signature check: ``X-Hub-Signature-256`` over the raw request body.

Why over the raw bytes and before parsing: Meta signs exactly the bytes it sent
(HMAC-SHA256 with the app secret, header ``sha256=<hex>``); re-serialised JSON would not
match, and parsing unauthenticated input first would expose the parser to anyone who
knows the URL. The comparison is constant-time (``hmac.compare_digest``) so the
signature cannot be guessed byte by byte from response timings.

Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications

The error types map to HTTP statuses in :mod:`connectors.whatsapp.intake`: a missing or
malformed header is 401 (no credentials presented), a wrong signature is 403.
"""
from __future__ import annotations

import hashlib
import hmac
import re

__all__ = [
    "SIGNATURE_HEADER",
    "SignatureError",
    "MissingSignatureError",
    "MalformedSignatureError",
    "InvalidSignatureError",
    "compute_signature",
    "check_header",
    "verify_signature",
]

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


class SignatureError(Exception):
    """The request is not provably from Meta; its ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MissingSignatureError(SignatureError):
    """No ``X-Hub-Signature-256`` header (401)."""


class MalformedSignatureError(SignatureError):
    """The header is not ``sha256=`` followed by 64 hex digits (401)."""


class InvalidSignatureError(SignatureError):
    """The header is well-formed but does not match the body (403)."""


def compute_signature(app_secret: str | bytes, raw_body: bytes) -> str:
    """The header value Meta would send for ``raw_body``: ``sha256=<lowercase hex>``."""
    key = app_secret.encode("utf-8") if isinstance(app_secret, str) else app_secret
    return _PREFIX + hmac.new(key, raw_body, hashlib.sha256).hexdigest()


def check_header(header: str | None) -> str:
    """The header's value when it is well-formed; Missing/MalformedSignatureError otherwise.

    Needs no body, so a request without a plausible signature is refused before a byte of its
    body is read (issue 16: unauthenticated requests must not make the server buffer 3 MB).
    """
    if header is None or not header.strip():
        raise MissingSignatureError("missing X-Hub-Signature-256 header")
    value = header.strip()
    if not value.lower().startswith(_PREFIX) or not _HEX_DIGEST.match(value[len(_PREFIX):]):
        raise MalformedSignatureError("malformed X-Hub-Signature-256 header")
    return value


def verify_signature(app_secret: str | bytes, raw_body: bytes, header: str | None) -> None:
    """Return quietly when ``header`` signs ``raw_body``; raise a :class:`SignatureError` otherwise."""
    value = check_header(header)
    expected = compute_signature(app_secret, raw_body)[len(_PREFIX):].encode("ascii")
    presented = value[len(_PREFIX):].lower().encode("ascii")
    if not hmac.compare_digest(expected, presented):
        raise InvalidSignatureError("X-Hub-Signature-256 does not match the body")
