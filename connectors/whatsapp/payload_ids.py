"""Short, stable ids for Rasa button payloads that do not fit WhatsApp's id fields.

Why: a tap on a reply button or list row comes back with only the ``id`` we sent (at most 256
characters for buttons, 200 for rows - see limits.py and
https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
Rasa payloads such as ``/select_job{"job_id":"..."}`` usually fit and are sent as they are; longer
ones are replaced by a token that this map resolves back to the full payload when the tap arrives.

Tokens are keyed digests: ``"~" + base32(HMAC-SHA256(token key, owner, value)[:10])``. The token
key is derived from the server secret (HKDF) in Redis, and is the same derived key or a random
per-process key in memory, so neither Meta, which sees the token as a button id, nor a reader of
Redis can test a guessed payload against a token (issue 16 finding 7; there is no unkeyed hash).

Per person (issue 16 item 6): the renderer remembers each value under the *owner tag* of the user
it renders for (:func:`privacy.owner_tags.owner_tag` of the user's data key, so only
computable with the user's identifier and the server secret; see :func:`owned_by`). The owner is
part of the token's HMAC input, so two persons get different tokens for the same payload and a
token says nothing that links them, and each entry is registered under its owner (Redis: an index
set ``<namespace>:owner:<tag>`` with the entry's TTL, written atomically with the entry by a Lua
script; in memory: a dict owner -> tokens). :meth:`forget_owners` removes every entry of a person
and the index itself; the channel calls it on erasure. A value remembered without an owner gets a
token shared by everyone (kept for tests and callers without a user).

Tokens resolve in every process that shares the store and the secret (Redis with a TTL in
production; the in-memory LRU is for tests and single-process development). After a key rotation
new tokens differ; tokens already sent still resolve (their values open with the retired secret
while it is in the keyring).

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

Erasure (issue 16 finding 7): tokens and paging state of a person are removed with the person's
other data (:meth:`forget_owners` with :func:`privacy.owner_tags.owner_tags`, under the
user's lock); entries nobody erases expire 30 days after last use.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from collections import OrderedDict
from typing import Protocol, runtime_checkable

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
    "owned_by",
    "OwnedPayloadIds",
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
_OWNER_LABEL = b"blaupause/payload-id-owner\x00"
_VERSION_SEPARATOR = b"\x00"


def payload_ids_key(secret: Secret) -> bytes:
    """The AES-256 key that seals payload ids under one server secret (HKDF-SHA256, RFC 5869)."""
    return secret.derive(_SEALING_INFO)


def payload_token_key(secret: Secret) -> bytes:
    """The HMAC key of payload-id tokens under one server secret (HKDF, independent of the sealing key)."""
    return secret.derive(_TOKEN_INFO)


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


@runtime_checkable
class PayloadIdMap(Protocol):
    """Stores values under their token; the renderer and the inbound side share one instance."""

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        """Store ``value`` (registered under ``owner`` when given) and return its token."""
        ...

    async def resolve(self, token: str) -> str | None:
        """The value stored under ``token``, or None when unknown or expired."""
        ...


class OwnedPayloadIds:
    """A view of a map that remembers every value under one person's owner tag.

    The webhook wraps the shared map in one view per request (:func:`owned_by`) and hands it to
    the renderer and the inbound side, which need not know whose turn it is.
    """

    def __init__(self, id_map: PayloadIdMap, owner: str) -> None:
        self._map = id_map
        self.owner = owner

    def __repr__(self) -> str:
        return f"OwnedPayloadIds({self._map!r})"  # never the owner tag

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        return await self._map.remember(value, prefix=prefix, owner=owner or self.owner)

    async def resolve(self, token: str) -> str | None:
        return await self._map.resolve(token)


def owned_by(id_map: PayloadIdMap, owner: str | None) -> PayloadIdMap:
    """``id_map`` remembering under ``owner`` (unchanged without an owner)."""
    if not owner:
        return id_map
    if isinstance(id_map, OwnedPayloadIds):
        id_map = id_map._map
    return OwnedPayloadIds(id_map, owner)


class InMemoryPayloadIdMap:
    """Bounded LRU map for tests and single-process development (lost on restart).

    Tokens are keyed with the token key of ``keyring`` when given, else with a random key of
    this process (the map never leaves the process, so its tokens need not be stable elsewhere).
    """

    def __init__(self, max_entries: int = 10_000, *, keyring: Keyring | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._token_key = payload_token_key(keyring.current) if keyring is not None else secrets.token_bytes(32)
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._owner_of: dict[str, str] = {}
        self._owners: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"InMemoryPayloadIdMap(entries={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    def token(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        """The token :meth:`remember` gives ``value`` (for tests)."""
        return make_token(value, prefix=prefix, key=self._token_key, owner=owner)

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        token = make_token(value, prefix=prefix, key=self._token_key, owner=owner)
        existing = self._entries.get(token)
        if existing is not None and existing != value:
            raise TokenCollisionError(token)
        self._entries[token] = value
        self._entries.move_to_end(token)
        if owner:
            self._owner_of[token] = owner
            self._owners.setdefault(owner, set()).add(token)
        while len(self._entries) > self._max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._unindex(evicted)
        return token

    async def resolve(self, token: str) -> str | None:
        value = self._entries.get(token)
        if value is not None:
            self._entries.move_to_end(token)
        return value

    async def forget_owners(self, owners: Iterable[str]) -> int:
        """Delete every entry remembered under these owners and their index; the count."""
        forgotten = 0
        for owner in dict.fromkeys(owner for owner in owners if owner):
            for token in self._owners.pop(owner, set()):
                self._owner_of.pop(token, None)
                if self._entries.pop(token, None) is not None:
                    forgotten += 1
        return forgotten

    def _unindex(self, token: str) -> None:
        owner = self._owner_of.pop(token, None)
        if owner is None:
            return
        tokens = self._owners.get(owner)
        if tokens is not None:
            tokens.discard(token)
            if not tokens:
                del self._owners[owner]


# KEYS[1] = the entry, KEYS[2] (optional) = its owner's index set.
# ARGV[1] = sealed value, ARGV[2] = TTL (s), ARGV[3] = token, ARGV[4] = mode:
#   "add":   store unless present; return the present value (the caller checks it) or false;
#   "touch": refresh the TTL (store again if it expired meanwhile);
#   "put":   store, replacing what is there (a value no longer openable).
# Whenever the entry is written or refreshed, the index gets the token and the same TTL, in the
# same script, so an entry never outlives its registration under its owner.
_REMEMBER = """
local ttl = tonumber(ARGV[2])
local mode = ARGV[4]
if mode == 'add' then
  local existing = redis.call('GET', KEYS[1])
  if existing then
    return existing
  end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
elseif mode == 'touch' then
  if redis.call('EXPIRE', KEYS[1], ttl) == 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
  end
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
end
if #KEYS > 1 then
  redis.call('SADD', KEYS[2], ARGV[3])
  if redis.call('TTL', KEYS[2]) < ttl then
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
return false
"""

# KEYS = owner index sets; ARGV[1] = "<namespace>:" (entries are "<namespace>:<token>").
_FORGET_OWNERS = """
local forgotten = 0
for _, index in ipairs(KEYS) do
  for _, token in ipairs(redis.call('SMEMBERS', index)) do
    forgotten = forgotten + redis.call('DEL', ARGV[1] .. token)
  end
  redis.call('DEL', index)
end
return forgotten
"""


class RedisPayloadIdMap:
    """Redis-backed map with a TTL, shared by every channel process.

    Keys are ``<namespace>:<token>`` and, per owner, the index set ``<namespace>:owner:<tag>``;
    values are sealed (see the module docstring), never the payloads in clear. A value that cannot be opened (a secret no longer in the keyring,
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
        self._remember = redis.register_script(_REMEMBER)
        self._forget = redis.register_script(_FORGET_OWNERS)

    def __repr__(self) -> str:
        return f"RedisPayloadIdMap(namespace={self._namespace!r})"

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

    def _owner_key(self, owner: str) -> str:
        return f"{self._namespace}:owner:{owner}"

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        token = make_token(value, prefix=prefix, key=self._token_key, owner=owner)
        keys = [self._key(token)] + ([self._owner_key(owner)] if owner else [])
        sealed = self._sealer.seal(token, value)
        existing = await self._remember(keys=keys, args=[sealed, self._ttl, token, "add"])
        if existing is None:
            return token
        stored = self._open(token, existing)
        if stored is None:  # sealed under a secret no longer in the keyring, or damaged: replace
            await self._remember(keys=keys, args=[sealed, self._ttl, token, "put"])
            return token
        if stored != value:
            raise TokenCollisionError(token)
        await self._remember(keys=keys, args=[sealed, self._ttl, token, "touch"])
        return token

    async def resolve(self, token: str) -> str | None:
        stored = await self._redis.get(self._key(token))
        return None if stored is None else self._open(token, stored)

    async def forget_owners(self, owners: Iterable[str]) -> int:
        """Delete every entry remembered under these owners and their index sets; the count."""
        keys = [self._owner_key(owner) for owner in dict.fromkeys(owner for owner in owners if owner)]
        if not keys:
            return 0
        return int(await self._forget(keys=keys, args=[f"{self._namespace}:"]))

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

