"""Sent copies in the process: a bounded LRU with a TTL (tests, one instance).

Lost on restart, like the in-process dedup store; a status arriving after a restart finds no
copy and the failure is only recorded (docs/whatsapp-delivery.md).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from connectors.whatsapp.sent_copies.copies import DEFAULT_TTL_SECONDS, SentCopy

__all__ = ["InMemorySentCopies"]


class InMemorySentCopies:
    """At most ``max_entries`` copies, each for ``ttl_seconds``; the oldest goes first."""

    def __init__(
        self, max_entries: int = 10_000, *, ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("max_entries and ttl_seconds must be positive")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, SentCopy]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"InMemorySentCopies(entries={len(self._entries)})"

    async def put(self, reference: str, copy: SentCopy) -> None:
        self._entries[reference] = (self._clock() + self._ttl, copy)
        self._entries.move_to_end(reference)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get(self, reference: str) -> SentCopy | None:
        entry = self._entries.get(reference)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[reference]
            return None
        return entry[1]

    async def forget(self, reference: str) -> None:
        self._entries.pop(reference, None)

    async def close(self) -> None:
        self._entries.clear()
