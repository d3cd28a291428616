"""Short, stable ids for Rasa button payloads that do not fit WhatsApp's id fields: the tokens.

Why: a tap on a reply button or list row comes back with only the ``id`` we sent (at most 256
characters for buttons, 200 for rows - see connectors/whatsapp/limits.py and
https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
Rasa payloads such as ``/select_job{"job_id":"..."}`` usually fit and are sent as they are; longer
ones are replaced by a token that a payload id map (:mod:`.maps`) resolves back to the full
payload when the tap arrives.

Tokens are keyed digests: ``"~" + base32(HMAC-SHA256(token key, owner, value)[:10])``. The token
key is derived from the server secret (HKDF) in Redis, and is the same derived key or a random
per-process key in memory, so neither Meta, which sees the token as a button id, nor a reader of
Redis can test a guessed payload against a token (issue 16 finding 7; there is no unkeyed hash).
The owner (a person's owner tag, :func:`connectors.whatsapp.outbox.owner_tag`) is part of the
HMAC input, so two persons get different tokens for the same payload and a token says nothing
that links them (issue 16 item 6).

Paging state for lists with more than 10 options is stored the same way under the prefix
``"~more:"`` (the renderer's paging of long lists).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from privacy.keyring import Secret

__all__ = [
    "PAYLOAD_TOKEN_PREFIX",
    "MORE_TOKEN_PREFIX",
    "PayloadIdError",
    "TokenCollisionError",
    "UnknownTokenPrefixError",
    "payload_token_key",
    "make_token",
    "is_token",
    "strip_disambiguator",
]

#: Prefix of a token that stands for a Rasa payload.
PAYLOAD_TOKEN_PREFIX = "~"
#: Prefix of a token that stands for the next page of a long option list.
MORE_TOKEN_PREFIX = "~more:"
_DIGEST_BYTES = 10
_DISAMBIGUATOR = "."


class PayloadIdError(Exception):
    """Base class for errors of the payload id map."""


class TokenCollisionError(PayloadIdError):
    """Two different values hashed to the same token (80 bits: not expected in practice)."""

    def __init__(self, token: str) -> None:
        super().__init__(f"token {token} already stands for a different value")
        self.token = token


class UnknownTokenPrefixError(PayloadIdError):
    """remember() was asked for a prefix other than the two defined here."""


_TOKEN_INFO = b"blaupause/payload-id-tokens/v1"
_TOKEN_LABEL = b"blaupause/payload-id-token\x00"
_OWNER_LABEL = b"blaupause/payload-id-owner\x00"


def payload_token_key(secret: Secret) -> bytes:
    """The HMAC key of payload-id tokens under one server secret (HKDF, independent of the sealing key)."""
    return secret.derive(_TOKEN_INFO)


def make_token(value: str, *, key: bytes, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
    """The token for ``value``: ``prefix`` + unpadded base32 of a 10-byte keyed digest.

    The digest is HMAC-SHA256(key, value), with ``owner`` (a person's owner tag) in the input
    when given, so a token, which Meta sees as a button id and Redis as a key name, cannot be
    matched to a guessed payload without the key (issue 16 item 6), and two persons get
    different tokens for the same payload.
    """
    if prefix not in (PAYLOAD_TOKEN_PREFIX, MORE_TOKEN_PREFIX):
        raise UnknownTokenPrefixError(f"unknown token prefix {prefix!r}")
    if not key:
        raise ValueError("a token key is required")
    data = value.encode("utf-8")
    if owner:
        data = _OWNER_LABEL + owner.encode("utf-8") + b"\x00" + data
    digest = hmac.new(key, _TOKEN_LABEL + data, hashlib.sha256).digest()[:_DIGEST_BYTES]
    return prefix + base64.b32encode(digest).decode("ascii").rstrip("=")


def is_token(reply_id: str) -> bool:
    """True when ``reply_id`` is (or could be) a token rather than a literal payload.

    The renderer never sends a literal payload starting with "~", so this test is unambiguous.
    """
    return reply_id.startswith(PAYLOAD_TOKEN_PREFIX)


def strip_disambiguator(token: str) -> str:
    """Drop the ``.2``-style suffix the renderer appends when one payload appears twice.

    WhatsApp rejects duplicate ids within a message, so the second button with the same payload
    is sent as ``<token>.2``; base32 has no ".", so the suffix cannot be confused with the token.
    """
    if token.startswith(MORE_TOKEN_PREFIX):
        return token
    head, _, _ = token.partition(_DISAMBIGUATOR)
    return head
