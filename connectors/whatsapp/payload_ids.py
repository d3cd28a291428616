"""Short, stable ids for Rasa button payloads that do not fit WhatsApp's id fields.

Why: a tap on a reply button or list row comes back with only the ``id`` we sent (at most 256
characters for buttons, 200 for rows - see limits.py and
https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
Rasa payloads such as ``/select_job{"job_id":"..."}`` usually fit and are sent as they are; longer
ones are replaced by a token that this map resolves back to the full payload when the tap arrives.

Tokens are content-addressed: ``"~" + base32(digest(value)[:10])``, in Redis with a keyed digest
(HMAC with a key derived from the server secret, so neither Meta, which sees the token as a
button id, nor a reader of Redis can test a guessed payload against it). The same payload always
gets the same token, in every process and for every user, so a token says nothing about who saw it
and a restarted or scaled-out channel resolves it as long as the store still holds it (Redis with
a TTL in production; the in-memory LRU is for tests and single-process development). After a key
rotation new tokens differ; tokens already sent still resolve (their values open with the retired
secret while it is in the keyring).

Paging state for lists with more than 10 options is stored the same way under the prefix
``"~more:"`` (see render.py).

Privacy (issue 9 item 8): long payloads and paging state are dialogue content (the titles and
payloads of the options shown to one user, e.g. the job offers of their search), so in Redis
each value is sealed with AES-256-GCM (:mod:`privacy.sealing`) under a key derived from the
server secret (HKDF-SHA256, info ``blaupause/payload-ids/v1``; independent of every user key),
padded like tracker records and bound to its token (the token is the associated data, so a
value cannot be moved under another token). Stored: ``<key version> NUL <sealed blob>``.
Values sealed under a retired secret still open while that secret is in the keyring.
The in-memory map never leaves the process and stores values as they are.

Erasure (issue 16 finding 7): tokens and paging state are shared by all users by design (the
same payload gets the same token for everyone), so nothing in the map belongs to or points at
one person and an erasure has nothing to remove here; entries expire 30 days after last use.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from privacy.errors import DecryptionError
from privacy.keyring import Keyring, Secret
from privacy.records import MalformedPayloadError, pad, unpad
from privacy.sealing import seal, unseal

__all__ = [
    "PAYLOAD_TOKEN_PREFIX",
    "MORE_TOKEN_PREFIX",
    "DEFAULT_TTL_SECONDS",
    "PayloadIdError",
    "TokenCollisionError",
    "UnknownTokenPrefixError",
    "PayloadIdMap",
    "PayloadSealer",
    "payload_ids_key",
    "payload_token_key",
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


_SEALING_INFO = b"blaupause/payload-ids/v1"
_TOKEN_INFO = b"blaupause/payload-id-tokens/v1"
_TOKEN_LABEL = b"blaupause/payload-id-token\x00"
_VERSION_SEPARATOR = b"\x00"


def payload_ids_key(secret: Secret) -> bytes:
    """The AES-256 key that seals payload ids under one server secret (HKDF-SHA256, RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEALING_INFO).derive(secret.value)


def payload_token_key(secret: Secret) -> bytes:
    """The HMAC key of payload-id tokens under one server secret (HKDF, independent of the sealing key)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOKEN_INFO).derive(secret.value)


class PayloadSealer:
    """Seals and opens stored payload-id values with keys derived from the keyring's secrets."""

    def __init__(self, keyring: Keyring) -> None:
        secrets_ = (keyring.current, *keyring.retired)
        self._keys = {secret.version: payload_ids_key(secret) for secret in secrets_}
        self._version = keyring.current.version

    def __repr__(self) -> str:
        return f"PayloadSealer(version={self._version!r})"

    def seal(self, token: str, value: str) -> bytes:
        """``<version> NUL <AES-GCM(pad(value))>`` bound to ``token``."""
        blob = seal(self._keys[self._version], pad(value.encode("utf-8")), pseudonym=token, key_version=self._version)
        return self._version.encode("ascii") + _VERSION_SEPARATOR + blob

    def open(self, token: str, stored: bytes) -> str:
        """The value sealed for ``token``; :class:`DecryptionError` if it cannot be opened."""
        version_raw, separator, blob = stored.partition(_VERSION_SEPARATOR)
        version = version_raw.decode("ascii", errors="replace")
        key = self._keys.get(version)
        if not separator or key is None:
            raise DecryptionError("payload id sealed under an unknown key version")
        try:
            return unpad(unseal(key, blob, pseudonym=token, key_version=version)).decode("utf-8")
        except (MalformedPayloadError, UnicodeDecodeError) as error:
            raise DecryptionError("payload id content is malformed") from error


def make_token(value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, key: bytes | None = None) -> str:
    """The stable token for ``value``: ``prefix`` + unpadded base32 of a 10-byte digest.

    Without ``key`` the digest is sha256(value) (the in-process map); with ``key`` it is
    HMAC-SHA256(key, value), so a token, which Meta sees as a button id and Redis as a key
    name, cannot be matched to a guessed payload without the server secret (issue 16 item 6).
    """
    if prefix not in (PAYLOAD_TOKEN_PREFIX, MORE_TOKEN_PREFIX):
        raise UnknownTokenPrefixError(f"unknown token prefix {prefix!r}")
    data = value.encode("utf-8")
    full = hmac.new(key, _TOKEN_LABEL + data, hashlib.sha256).digest() if key is not None else hashlib.sha256(data).digest()
    digest = full[:_DIGEST_BYTES]
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

    Keys are ``<namespace>:<token>``; values are sealed (see the module docstring), never
    the payloads in clear. A value that cannot be opened (a secret no longer in the keyring,
    a tampered entry) resolves as unknown, like an expired one.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        keyring: Keyring,
        namespace: str = "blaupause:wa:pid",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._sealer = PayloadSealer(keyring)
        self._token_key = payload_token_key(keyring.current)
        self._redis = redis
        self._namespace = namespace
        self._ttl = ttl_seconds
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        keyring: Keyring,
        namespace: str = "blaupause:wa:pid",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> "RedisPayloadIdMap":
        """Build a map with its own connection pool; close it with :meth:`close`."""
        instance = cls(Redis.from_url(url), keyring=keyring, namespace=namespace, ttl_seconds=ttl_seconds)
        instance._owns_client = True
        return instance

    def _key(self, token: str) -> str:
        return f"{self._namespace}:{token}"

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX) -> str:
        token = make_token(value, prefix=prefix, key=self._token_key)
        key = self._key(token)
        sealed = self._sealer.seal(token, value)
        if await self._redis.set(key, sealed, ex=self._ttl, nx=True):
            return token
        existing = await self._redis.get(key)
        if existing is None:  # expired between SET NX and GET
            await self._redis.set(key, sealed, ex=self._ttl)
            return token
        stored = self._open(token, existing)
        if stored is None:  # sealed under a secret no longer in the keyring, or damaged: replace
            await self._redis.set(key, sealed, ex=self._ttl)
            return token
        if stored != value:
            raise TokenCollisionError(token)
        await self._redis.expire(key, self._ttl)
        return token

    async def resolve(self, token: str) -> str | None:
        stored = await self._redis.get(self._key(token))
        return None if stored is None else self._open(token, stored)

    def _open(self, token: str, stored: bytes | str) -> str | None:
        raw = stored if isinstance(stored, bytes) else stored.encode("latin-1")
        try:
            return self._sealer.open(token, raw)
        except DecryptionError:
            return None

    async def close(self) -> None:
        """Close the connection pool when this map created it (from_url)."""
        if self._owns_client:
            await self._redis.close()

