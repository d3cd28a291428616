"""Short, stable ids for Rasa button payloads that do not fit WhatsApp's id fields.

Why: a tap on a reply button or list row comes back with only the ``id`` we sent (at most 256
characters for buttons, 200 for rows - see limits.py and
https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
Rasa payloads such as ``/select_job{"job_id":"..."}`` usually fit and are sent as they are; longer
ones are replaced by a token that this map resolves back to the full payload when the tap arrives.

Tokens are content-addressed: ``"~" + base32(sha256(value)[:10])``. The same payload always gets
the same token, in every process and for every user, so a token says nothing about who saw it and
a restarted or scaled-out channel resolves it as long as the store still holds it (Redis with a
TTL in production; the in-memory LRU is for tests and single-process development).

Paging state for lists with more than 10 options is stored the same way under the prefix
``"~more:"`` (see render.py).
"""
from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

__all__ = [
    "PAYLOAD_TOKEN_PREFIX",
    "MORE_TOKEN_PREFIX",
    "DEFAULT_TTL_SECONDS",
    "PayloadIdError",
    "TokenCollisionError",
    "UnknownTokenPrefixError",
    "PayloadIdMap",
    "InMemoryPayloadIdMap",
    "RedisPayloadIdMap",
    "make_token",
    "is_token",
    "strip_disambiguator",
]

#: Prefix of a token that stands for a Rasa payload.
PAYLOAD_TOKEN_PREFIX = "~"
#: Prefix of a token that stands for the next page of a long option list.
MORE_TOKEN_PREFIX = "~more:"
#: How long Redis keeps a mapping. Users tap buttons in old messages days later; 30 days covers
#: that while letting unused entries expire. Each remember() refreshes the TTL.
DEFAULT_TTL_SECONDS = 30 * 24 * 3600
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


def make_token(value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX) -> str:
    """The stable token for ``value``: ``prefix`` + unpadded base32 of sha256(value)[:10]."""
    if prefix not in (PAYLOAD_TOKEN_PREFIX, MORE_TOKEN_PREFIX):
        raise UnknownTokenPrefixError(f"unknown token prefix {prefix!r}")
    digest = hashlib.sha256(value.encode("utf-8")).digest()[:_DIGEST_BYTES]
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


@runtime_checkable
class PayloadIdMap(Protocol):
    """Stores values under their token; the renderer and the inbound side share one instance."""

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX) -> str:
        """Store ``value`` and return its token."""
        ...

    async def resolve(self, token: str) -> str | None:
        """The value stored under ``token``, or None when unknown or expired."""
        ...


class InMemoryPayloadIdMap:
    """Bounded LRU map for tests and single-process development (lost on restart)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX) -> str:
        token = make_token(value, prefix=prefix)
        existing = self._entries.get(token)
        if existing is not None and existing != value:
            raise TokenCollisionError(token)
        self._entries[token] = value
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return token

    async def resolve(self, token: str) -> str | None:
        value = self._entries.get(token)
        if value is not None:
            self._entries.move_to_end(token)
        return value


class RedisPayloadIdMap:
    """Redis-backed map with a TTL, shared by every channel process.

    Keys are ``<namespace>:<token>``; values are the payloads (no user identifiers).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "blaupause:wa:pid",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._redis = redis
        self._namespace = namespace
        self._ttl = ttl_seconds
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "blaupause:wa:pid",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> "RedisPayloadIdMap":
        """Build a map with its own connection pool; close it with :meth:`close`."""
        instance = cls(Redis.from_url(url), namespace=namespace, ttl_seconds=ttl_seconds)
        instance._owns_client = True
        return instance

    def _key(self, token: str) -> str:
        return f"{self._namespace}:{token}"

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX) -> str:
        token = make_token(value, prefix=prefix)
        key = self._key(token)
        if await self._redis.set(key, value.encode("utf-8"), ex=self._ttl, nx=True):
            return token
        existing = await self._redis.get(key)
        if existing is None:  # expired between SET NX and GET
            await self._redis.set(key, value.encode("utf-8"), ex=self._ttl)
            return token
        if _decode(existing) != value:
            raise TokenCollisionError(token)
        await self._redis.expire(key, self._ttl)
        return token

    async def resolve(self, token: str) -> str | None:
        value = await self._redis.get(self._key(token))
        return None if value is None else _decode(value)

    async def close(self) -> None:
        """Close the connection pool when this map created it (from_url)."""
        if self._owns_client:
            await self._redis.close()


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
