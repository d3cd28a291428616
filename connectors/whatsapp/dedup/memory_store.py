"""The single-process dedup store: claims, leases and outboxes in an LRU-bounded dict.

Why: development, tests and a one-instance deployment need the claim protocol of
:mod:`.claims` (docs/whatsapp-delivery.md) without Redis. Every operation runs without an
``await`` between read and write, so it is atomic on the asyncio event loop. Not durable:
the markers are gone after a restart, which is why the webhook core keeps a replay window
for this store.
"""
from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from connectors.whatsapp.dedup.claims import (
    DONE_TTL_SECONDS,
    Claim,
    ClaimStatus,
    LeaseLostError,
    message_key,
    new_token,
)
from connectors.whatsapp.outbox import Outbox

__all__ = ["InMemoryDedupStore"]


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
        token = new_token()
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
        expired = bool(entry.token)  # a released claim has no token; an expired one still has its holder's
        entry.token = token
        entry.lease_until = now + lease_seconds
        return Claim(ClaimStatus.ACQUIRED, token, outbox=entry.outbox, taken_over=True, lease_expired=expired)

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
