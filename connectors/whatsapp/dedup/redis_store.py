"""The dedup store shared by several Rasa instances: claims and leases in Redis.

Why Redis: with more than one instance, a redelivery may reach another process than the
first delivery, so the claim of :mod:`.claims` must live outside the processes. The lease is
a ``SET NX PX`` key, so its expiry is Redis' clock, not the instances'; every
compare-and-set step is a Lua script, which Redis runs atomically
(https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from connectors.whatsapp.dedup.claims import (
    DONE_TTL_SECONDS,
    Claim,
    ClaimStatus,
    DedupUnavailableError,
    LeaseLostError,
    message_key,
    new_token,
)
from connectors.whatsapp.outbox import Outbox

__all__ = ["RedisDedupStore"]

# KEYS[1] = record hash, KEYS[2] = lease string (claim: KEYS[3..] = the records under retired
# secrets, only read for a DONE state). Lua scripts run atomically in Redis.
# An outbox's owner tag is kept in the hash and indexed in the set <namespace>:owner:<tag>
# (KEYS[3] of save), so an erasure finds the person's unsent outboxes without a scan.

_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'done' then return {'done'} end
if not state then
  for i = 3, #KEYS do
    if redis.call('HGET', KEYS[i], 'state') == 'done' then return {'done'} end
  end
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy'} end
if not state then
  redis.call('HSET', KEYS[1], 'state', 'claimed')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'new'}
end
local v = redis.call('HMGET', KEYS[1], 'blob', 'kv', 'total', 'sent', 'owner', 'released')
redis.call('HDEL', KEYS[1], 'released')
return {'takeover', state, v[1] or '', v[2] or '', v[3] or '', v[4] or '', v[5] or '', v[6] or ''}
"""

_GUARD = "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end\n"

_RENEW = _GUARD + "redis.call('PEXPIRE', KEYS[2], ARGV[2])\nreturn 1\n"

_SAVE_OUTBOX = _GUARD + """
redis.call('HSET', KEYS[1], 'state', 'replying', 'blob', ARGV[2], 'kv', ARGV[3], 'total', ARGV[4], 'sent', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'owner', ARGV[6])
  redis.call('SADD', KEYS[3], KEYS[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return 1
"""

_MARK_SENT = _GUARD + """
if redis.call('HGET', KEYS[1], 'state') ~= 'replying' then return 0 end
redis.call('HSET', KEYS[1], 'sent', ARGV[2])
return 1
"""

# A released lease is marked, so the next claim can tell a release from an expired lease.
_RELEASE = _GUARD + """
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'released', '1') end
return 1
"""

_FINISH = _GUARD + """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then redis.call('SREM', ARGV[3] .. owner, KEYS[1]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'done')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS[1] = the owner's index set; ARGV[1] = owner tag, ARGV[2] = DONE TTL (ms).
_DROP_OUTBOXES = """
local dropped = 0
for _, record in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('HGET', record, 'state') == 'replying' and redis.call('HGET', record, 'owner') == ARGV[1] then
    redis.call('DEL', record)
    redis.call('HSET', record, 'state', 'done')
    redis.call('PEXPIRE', record, ARGV[2])
    redis.call('DEL', record .. ':lease')
    dropped = dropped + 1
  end
end
redis.call('DEL', KEYS[1])
return dropped
"""


class RedisDedupStore:
    """Store shared by several Rasa instances through Redis.

    Keys: ``<namespace>:<sha256>`` (a hash: state, sealed outbox, key version, counts) and
    ``<namespace>:<sha256>:lease`` (the lease token, expiring by ``PX``). Redis errors
    become :class:`DedupUnavailableError`. Durable: markers outlive a restart of any instance.
    """

    durable = True

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "blaupause:wa:dedup",
        done_ttl_seconds: float = DONE_TTL_SECONDS,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._done_ttl_ms = int(done_ttl_seconds * 1000)
        self._owns_client = owns_client
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._save = redis.register_script(_SAVE_OUTBOX)
        self._mark = redis.register_script(_MARK_SENT)
        self._release = redis.register_script(_RELEASE)
        self._finish = redis.register_script(_FINISH)
        self._drop = redis.register_script(_DROP_OUTBOXES)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "RedisDedupStore":
        """A store with its own connection pool (closed by :meth:`close`)."""
        return cls(Redis.from_url(url), owns_client=True, **kwargs)

    def _keys(self, message_id: str) -> list[str]:
        record = f"{self._namespace}:{message_key(message_id)}"
        return [record, record + ":lease"]

    @property
    def _owner_prefix(self) -> str:
        return f"{self._namespace}:owner:"

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except RedisError as exc:
            raise DedupUnavailableError(f"dedup store unavailable ({type(exc).__name__})") from exc

    async def _guarded(self, script: Any, message_id: str, token: str, *args: Any) -> None:
        if not await self._run(script, self._keys(message_id), [token, *args]):
            raise LeaseLostError("lease no longer held")

    async def claim(self, message_id: str, lease_seconds: float, *, previous: Sequence[str] = ()) -> Claim:
        token = new_token()
        keys = self._keys(message_id) + [self._keys(reference)[0] for reference in previous]
        reply = await self._run(self._claim, keys, [token, max(1, int(lease_seconds * 1000)), self._done_ttl_ms])
        kind = _text(reply[0])
        if kind == "done":
            return Claim(ClaimStatus.DONE)
        if kind == "busy":
            return Claim(ClaimStatus.BUSY)
        if kind == "new":
            return Claim(ClaimStatus.ACQUIRED, token)
        state, blob, version, total, sent = (reply[1], reply[2], reply[3], reply[4], reply[5])
        owner = _text(reply[6]) if len(reply) > 6 else ""
        released = len(reply) > 7 and _text(reply[7]) == "1"
        outbox = None
        if _text(state) == "replying" and total:
            outbox = Outbox(
                blob=bytes(blob) if isinstance(blob, (bytes, bytearray)) else str(blob).encode("latin-1"),
                key_version=_text(version),
                total=int(total),
                sent=int(sent or 0),
                owner=owner,
            )
        return Claim(ClaimStatus.ACQUIRED, token, outbox=outbox, taken_over=True, lease_expired=not released)

    async def renew(self, message_id: str, token: str, lease_seconds: float) -> None:
        await self._guarded(self._renew, message_id, token, max(1, int(lease_seconds * 1000)))

    async def save_outbox(self, message_id: str, token: str, outbox: Outbox) -> None:
        keys = [*self._keys(message_id), self._owner_prefix + outbox.owner]
        args = [token, outbox.blob, outbox.key_version, outbox.total, self._done_ttl_ms, outbox.owner]
        if not await self._run(self._save, keys, args):
            raise LeaseLostError("lease no longer held")

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        await self._guarded(self._mark, message_id, token, sent)

    async def release(self, message_id: str, token: str) -> None:
        await self._run(self._release, self._keys(message_id), [token])

    async def finish(self, message_id: str, token: str) -> None:
        await self._guarded(self._finish, message_id, token, self._done_ttl_ms, self._owner_prefix)

    async def drop_outboxes(self, owners: Iterable[str]) -> int:
        dropped = 0
        for owner in dict.fromkeys(owner for owner in owners if owner):
            dropped += int(await self._run(self._drop, [self._owner_prefix + owner], [owner, self._done_ttl_ms]))
        return dropped

    async def ping(self) -> None:
        """Raise unless Redis answers (the readiness check, connectors/whatsapp/readiness.py)."""
        await self._redis.ping()

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.close()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)
