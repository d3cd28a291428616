"""What the media download accepts: URLs that may see the token, mime types, sizes, hashes.

Why apart from the HTTP code (download.py): these are the decisions a reviewer checks for
safety, and each is a pure function that is tested on its own.

- The access token goes only to Meta's media hosts (``https`` on ``fbsbx.com``,
  ``facebook.com``, ``whatsapp.net`` or a subdomain) or to the configured Graph API origin
  itself (the loopback stand-in, standins/meta_graph/media.py, serves its URLs there). Anything
  else (another host, plain ``http``, user info in the URL) is refused before a request is made.
- Mime types are compared by base type: parameters such as ``; codecs=opus`` are dropped and the
  case ignored (RFC 9110 section 8.3.1), so "audio/ogg; codecs=opus" is "audio/ogg".
- Meta announces ``file_size`` as a number or a string, and ``sha256`` as hex in the media
  reference (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media); base64
  is accepted as well, since webhook payloads carry hashes that way.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from yarl import URL

__all__ = ["GENERIC_TYPES", "UrlPolicy", "announced_size", "base_type", "sha256_matches"]

GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
"""Content-Types that say nothing about the media: treated like a missing Content-Type."""

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def base_type(mime_type: str) -> str:
    """``"Audio/OGG; codecs=opus"`` -> ``"audio/ogg"``."""
    return mime_type.split(";", 1)[0].strip().lower()


def announced_size(value: Any) -> int | None:
    """Meta's ``file_size`` (``12345`` or ``"12345"``) as an int; None when missing or malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def sha256_matches(announced: str, content: bytes) -> bool:
    """Whether ``content`` has the announced sha256 (hex, or base64 of the 32-byte digest)."""
    digest = hashlib.sha256(content).digest()
    text = announced.strip()
    if _HEX64.match(text):
        return bytes.fromhex(text) == digest
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None)
    except (binascii.Error, ValueError):
        return False
    return decoded == digest


class UrlPolicy:
    """Decides whether a media URL may receive the access token."""

    def __init__(self, api_base_url: str, allowed_hosts: Iterable[str]) -> None:
        base = URL(api_base_url)
        self._api_origin = (base.scheme, (base.host or "").lower(), base.port)
        self._hosts = tuple(host.strip().strip(".").lower() for host in allowed_hosts if host.strip().strip("."))

    def allows(self, url: str) -> bool:
        try:
            target = URL(url)
        except (ValueError, TypeError):
            return False
        if not target.is_absolute() or target.user is not None or target.password is not None:
            return False
        host = (target.host or "").rstrip(".").lower()
        if not host:
            return False
        if (target.scheme, host, target.port) == self._api_origin:
            return True
        if target.scheme != "https":
            return False
        return any(host == allowed or host.endswith("." + allowed) for allowed in self._hosts)
