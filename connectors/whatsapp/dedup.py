"""Exactly-once handling of inbound messages: a claim with a lease per message id.

Why: Meta delivers webhooks at least once and retries a non-2xx answer "with decreasing
frequency for up to 7 days"; a slow turn (an LLM call) invites a redelivery *while* the
first delivery is still running. Without a shared claim the bot answers twice (the most
common complaint about WhatsApp connectors). Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications

States of one message id (docs/whatsapp-delivery.md explains failure cases)::

    (absent) --claim--> CLAIMED (lease) --save_outbox--> REPLYING (lease, sent=k/n) --finish--> DONE
                          |  lease expired or released: the next claim takes over  |

* A claim on an absent id creates CLAIMED with a lease (a random token and an expiry).
* A claim while the lease is alive answers BUSY (a concurrent duplicate).
* A claim after the lease expired (a crashed instance) or was released (a failed send)
  takes over: it gets a new token and, in REPLYING, the outbox, so only the unsent rest
  is sent and the dialogue is not run again.
* DONE answers every later claim with DONE and is kept for 7 days, then forgotten.

Every write after the claim is a compare-and-set on the lease token, so an instance that
lost its lease (paused longer than the lease) cannot overwrite the new holder's progress:
it gets :class:`LeaseLostError`.

The webhook core passes each message's *keyed reference* (:mod:`.references`:
HMAC of the wamid with a key derived from the server secret), never the wamid itself (a
``wamid`` embeds the sender's phone number in base64); the store keys its records by a
labelled ``sha256`` of what it is given, so even a caller that passed a raw id would not
write it. Without the server secret nothing links a record to a wamid or a person. After
a key rotation :meth:`DedupStore.claim` also gets the references under the retired secrets
(``previous``): DONE under any of them answers DONE. Values are the state, the lease
token, the sealed outbox, its key version, the counts and the outbox's owner tag (a keyed
hash of the user's data key, see :mod:`.outbox`).

Erasure (issue 9 item 8): :meth:`DedupStore.drop_outboxes` turns every unsent outbox of one
person (found by owner tag) into DONE, dropping the sealed replies at once instead of leaving
them for up to 8 days; a redelivery of such a message is then acknowledged without a reply,
and a holder still sending loses its lease at its next progress write.

Two stores: :class:`InMemoryDedupStore` (one process; bounded LRU with TTL) and
:class:`RedisDedupStore` (several Rasa instances; ``SET NX PX`` leases and Lua scripts
for the compare-and-set steps, so lease expiry is Redis' clock, not the instances').
"""
from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from connectors.whatsapp.outbox import Outbox

__all__ = [
    "DONE_TTL_SECONDS",
    "DEFAULT_LEASE_SECONDS",
    "ClaimStatus",
    "Claim",
    "DedupError",
    "LeaseLostError",
    "DedupUnavailableError",
    "DedupStore",
    "InMemoryDedupStore",
    "RedisDedupStore",
    "message_key",
    "store_from_url",
]

#: Meta retries for up to 7 days; a DONE marker must outlive every retry (plus a day).
DONE_TTL_SECONDS = 8 * 24 * 3600
#: How long a claim is valid without renewal. The holder renews it every third of this
#: while it works, so only a crashed or frozen holder loses it.
DEFAULT_LEASE_SECONDS = 30.0

_KEY_LABEL = b"blaupause/whatsapp/dedup/v1\x00"


def message_key(message_id: str) -> str:
    """The store key for a message reference: sha256 hex of the labelled reference (never the reference itself)."""
    return hashlib.sha256(_KEY_LABEL + message_id.encode("utf-8", "surrogatepass")).hexdigest()


class ClaimStatus(Enum):
    """What a claim found."""

    ACQUIRED = "acquired"  # this caller holds the lease and must handle the message
    BUSY = "busy"  # another holder's lease is alive (a concurrent duplicate)
    DONE = "done"  # handled completely before: acknowledge, do nothing


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`DedupStore.claim`.

    ``token`` identifies the lease (empty unless ACQUIRED). ``outbox`` is set when a
    previous holder already ran the dialogue and stored its replies; ``taken_over`` when
    the message had been claimed before (expired or released lease).
    """

    status: ClaimStatus
    token: str = field(default="", repr=False)
    outbox: Outbox | None = None
    taken_over: bool = False


class DedupError(Exception):
    """Base class of dedup store errors."""


class LeaseLostError(DedupError):
    """The caller's lease expired and another holder took the message over; stop working on it."""


class DedupUnavailableError(DedupError):
    """The store cannot be reached; the message must not be handled (answer 503, Meta retries)."""


class DedupStore(Protocol):
    """What the webhook core needs from a store (both implementations below).

    ``durable``: whether DONE markers survive a restart of this process (Redis: yes; the
    in-process store: no). The core's replay window depends on it (docs/whatsapp-delivery.md).
    """

    durable: bool

    async def claim(self, message_id: str, lease_seconds: float, *, previous: Sequence[str] = ()) -> Claim:
        """Claim a message (see the module docstring for the outcomes).

        ``previous``: the message's references under retired secrets; DONE under any of them
        answers DONE (a message handled before a key rotation is not handled again).
        """
        ...

    async def renew(self, message_id: str, token: str, lease_seconds: float) -> None:
        """Extend a held lease; :class:`LeaseLostError` if it is no longer held."""
        ...

    async def save_outbox(self, message_id: str, token: str, outbox: Outbox) -> None:
        """Store the rendered replies (state REPLYING); :class:`LeaseLostError` if not held."""
        ...

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        """Record how many outbox messages were sent; :class:`LeaseLostError` if not held."""
        ...

    async def release(self, message_id: str, token: str) -> None:
        """Give the lease up early (after a failure) so a redelivery can take over at once."""
        ...

    async def finish(self, message_id: str, token: str) -> None:
        """Mark DONE, drop the outbox; :class:`LeaseLostError` if not held."""
        ...

    async def drop_outboxes(self, owners: Iterable[str]) -> int:
        """Mark DONE every unsent outbox whose owner tag is in ``owners`` (an erasure); the count."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _new_token() -> str:
    return secrets.token_hex(16)


@dataclass
class _Entry:
    state: str  # "claimed" | "replying" | "done"
    token: str
    lease_until: float
    expires_at: float
    outbox: Outbox | None = None


class InMemoryDedupStore:
    """Single-process store: an LRU-bounded dict with TTLs.

    All operations run without ``await`` between read and write, so they are atomic on the
    event loop. ``max_entries`` bounds memory; the least recently used entries go first
    (a DONE marker evicted early only matters if Meta redelivers that old message).
    Not durable: every marker is gone after a restart, so the webhook core refuses
    messages from before this process started (its replay window).
    """

    durable = False

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        done_ttl_seconds: float = DONE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._done_ttl = done_ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        """The stored keys (hashes), for tests and diagnostics."""
        return list(self._entries)

    def _get(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            del self._entries[key]
            return None
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _held(self, message_id: str, token: str) -> _Entry:
        now = self._clock()
        entry = self._get(message_key(message_id), now)
        if entry is None or entry.state == "done" or entry.token != token or entry.lease_until <= now:
            raise LeaseLostError("lease no longer held")
        return entry

    async def claim(self, message_id: str, lease_seconds: float, *, previous: Sequence[str] = ()) -> Claim:
        now = self._clock()
        key = message_key(message_id)
        entry = self._get(key, now)
        token = _new_token()
        if entry is None and any(
            (old := self._get(message_key(reference), now)) is not None and old.state == "done" for reference in previous
        ):
            return Claim(ClaimStatus.DONE)
        if entry is None:
            self._entries[key] = _Entry("claimed", token, now + lease_seconds, now + self._done_ttl)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return Claim(ClaimStatus.ACQUIRED, token)
        if entry.state == "done":
            return Claim(ClaimStatus.DONE)
        if entry.token and entry.lease_until > now:
            return Claim(ClaimStatus.BUSY)
        entry.token = token
        entry.lease_until = now + lease_seconds
        return Claim(ClaimStatus.ACQUIRED, token, outbox=entry.outbox, taken_over=True)

    async def renew(self, message_id: str, token: str, lease_seconds: float) -> None:
        entry = self._held(message_id, token)
        entry.lease_until = self._clock() + lease_seconds

    async def save_outbox(self, message_id: str, token: str, outbox: Outbox) -> None:
        entry = self._held(message_id, token)
        entry.state = "replying"
        entry.outbox = outbox

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        entry = self._held(message_id, token)
        if entry.outbox is None:
            raise LeaseLostError("no outbox stored for this message")
        entry.outbox = dataclasses.replace(entry.outbox, sent=sent)

    async def release(self, message_id: str, token: str) -> None:
        entry = self._entries.get(message_key(message_id))
        if entry is not None and entry.token == token and entry.state != "done":
            entry.token = ""
            entry.lease_until = 0.0

    async def finish(self, message_id: str, token: str) -> None:
        entry = self._held(message_id, token)
        entry.state = "done"
        entry.token = ""
        entry.outbox = None
        entry.expires_at = self._clock() + self._done_ttl

    async def drop_outboxes(self, owners: Iterable[str]) -> int:
        wanted = {owner for owner in owners if owner}
        now = self._clock()
        dropped = 0
        for entry in self._entries.values():
            if entry.state == "replying" and entry.outbox is not None and entry.outbox.owner in wanted:
                entry.state = "done"
                entry.token = ""
                entry.lease_until = 0.0
                entry.outbox = None
                entry.expires_at = now + self._done_ttl
                dropped += 1
        return dropped

    async def close(self) -> None:
        self._entries.clear()


# --- Redis -------------------------------------------------------------------------
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
local v = redis.call('HMGET', KEYS[1], 'blob', 'kv', 'total', 'sent', 'owner')
return {'takeover', state, v[1] or '', v[2] or '', v[3] or '', v[4] or '', v[5] or ''}
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

_RELEASE = _GUARD + "redis.call('DEL', KEYS[2])\nreturn 1\n"

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
        token = _new_token()
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
        outbox = None
        if _text(state) == "replying" and total:
            outbox = Outbox(
                blob=bytes(blob) if isinstance(blob, (bytes, bytearray)) else str(blob).encode("latin-1"),
                key_version=_text(version),
                total=int(total),
                sent=int(sent or 0),
                owner=owner,
            )
        return Claim(ClaimStatus.ACQUIRED, token, outbox=outbox, taken_over=True)

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

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.close()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def store_from_url(url: str) -> DedupStore:
    """The store for ``WHATSAPP_DEDUP_URL``: empty means in-process, otherwise Redis."""
    if not url:
        return InMemoryDedupStore()
    return RedisDedupStore.from_url(url)
