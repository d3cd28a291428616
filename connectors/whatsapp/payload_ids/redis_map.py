"""The payload id map shared by every channel process: Redis with a TTL, values sealed.

Why Redis: a tap may reach another instance than the one that rendered the buttons, and users
tap buttons in old messages days later. Tokens resolve in every process that shares the store
and the secret; after a key rotation new tokens differ, and tokens already sent still resolve
(their values open with the retired secret while it is in the keyring, :mod:`.sealing`).
Each entry is registered under its owner (an index set ``<namespace>:owner:<tag>`` with the
entry's TTL, written atomically with the entry by a Lua script,
https://redis.io/docs/latest/develop/interact/programmability/eval-intro/), so an erasure removes
a person's entries without a scan (issue 16 finding 7).
"""
from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from connectors.whatsapp.payload_ids.sealing import PayloadSealer
from connectors.whatsapp.payload_ids.tokens import (
    PAYLOAD_TOKEN_PREFIX,
    TokenCollisionError,
    make_token,
    payload_token_key,
)
from privacy.errors import DecryptionError
from privacy.keyring import Keyring

__all__ = ["DEFAULT_TTL_SECONDS", "RedisPayloadIdMap"]

#: How long Redis keeps a mapping. Users tap buttons in old messages days later; 30 days covers
#: that while letting unused entries expire. Each remember() refreshes the TTL.
DEFAULT_TTL_SECONDS = 30 * 24 * 3600


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
