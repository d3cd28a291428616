"""Outbound pacing: stay under the business number's throughput and keep each user's messages in order.

Why: Meta caps a business phone number at 80 messages per second by default (error 130429
beyond that; https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput), and
one bot turn often becomes several Graph API calls (text, then buttons). Sent concurrently they
can overtake each other, so a user would see the buttons before the question. Sending the calls
for one user one at a time, in the order they were requested, keeps the conversation readable;
an optional minimum gap softens Meta's per-user pair rate limit (error 131056,
https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).

Both limiters are asyncio-native: waiting is a single ``sleep`` for exactly the time needed
(no polling) and queues are FIFO (asyncio.Lock wakes waiters in arrival order). The per-user
key is whatever opaque string the caller passes (use a pseudonym, not the phone number); it is
never logged, nor a metric label: a wait is counted only by its kind
(``blaupause_pacing_waits``, ``blaupause_pacing_wait_seconds``). The rates come from the channel's settings (``WHATSAPP_MAX_MPS``,
``WHATSAPP_RECIPIENT_MIN_GAP_S``, validated there); this module reads no environment.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from observability.metrics import PACING_KINDS, pacing_wait_duration, pacing_waits

__all__ = [
    "Clock",
    "MonotonicClock",
    "TokenBucket",
    "RecipientPacer",
    "Pacer",
    "DEFAULT_MAX_MPS",
]

DEFAULT_MAX_MPS = 80.0
"""Meta's default throughput per business phone number (messages per second)."""


_EPSILON = 1e-9  # float drift in refills must not cause a pointless micro-sleep

# Counted only when a send really waits: ``throughput`` (the number's token bucket),
# ``recipient`` (behind the same user's previous send), ``pair_rate`` (the minimum gap).
_WAITS = {kind: pacing_waits.labels(kind) for kind in PACING_KINDS}
_WAIT_SECONDS = {kind: pacing_wait_duration.labels(kind) for kind in PACING_KINDS}


class Clock(Protocol):
    """Time source; tests pass a fake one to check rates without waiting."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TokenBucket:
    """Token bucket: ``rate`` tokens per second, holding at most ``burst`` tokens (default: rate).

    A full bucket lets a burst of ``burst`` calls through at once; after that calls are spaced
    at 1/rate. Waiters are served first come, first served.
    """

    def __init__(self, rate: float, burst: float | None = None, *, clock: Clock | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        capacity = rate if burst is None else burst
        if capacity < 1:
            raise ValueError("burst must allow at least one token")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock: Clock = clock or MonotonicClock()
        self._tokens = self.capacity
        self._updated = self._clock.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Take one token, sleeping exactly as long as needed for it to be available."""
        async with self._lock:
            self._refill()
            if self._tokens < 1 - _EPSILON:
                wait = (1 - self._tokens) / self.rate
                _WAITS["throughput"].inc()
                _WAIT_SECONDS["throughput"].observe(wait)
                await self._clock.sleep(wait)
                self._refill()
                # A fake or coarse clock may wake a hair early; never go below zero.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    last_done: float | None = None


class RecipientPacer:
    """One lane per recipient key: calls for one key run one at a time, in call order.

    ``min_gap`` (seconds, default 0) is kept between the end of one call and the start of the
    next for the same key. Lanes are dropped as soon as nobody uses them and their gap is over,
    so memory stays bounded by the number of active conversations.
    """

    def __init__(self, min_gap: float = 0.0, *, clock: Clock | None = None) -> None:
        if min_gap < 0:
            raise ValueError("min_gap must not be negative")
        self.min_gap = float(min_gap)
        self._clock: Clock = clock or MonotonicClock()
        self._lanes: dict[str, _Lane] = {}

    def __len__(self) -> int:
        """Number of lanes currently held (active keys plus keys still inside their gap)."""
        return len(self._lanes)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Wait for ``key``'s turn; the body of the ``async with`` is the only one running for it.

        Order is the order in which ``turn`` was entered: nothing awaits before the lane's
        FIFO lock is requested.
        """
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.users += 1
        try:
            queued = self._clock.monotonic() if lane.lock.locked() else None
            async with lane.lock:
                if queued is not None:  # waited for this user's previous send
                    _WAITS["recipient"].inc()
                    _WAIT_SECONDS["recipient"].observe(self._clock.monotonic() - queued)
                if lane.last_done is not None and self.min_gap > 0:
                    wait = lane.last_done + self.min_gap - self._clock.monotonic()
                    if wait > 0:
                        _WAITS["pair_rate"].inc()
                        _WAIT_SECONDS["pair_rate"].observe(wait)
                        await self._clock.sleep(wait)
                try:
                    yield
                finally:
                    lane.last_done = self._clock.monotonic()
        finally:
            lane.users -= 1
            self._prune()

    def _prune(self) -> None:
        now = self._clock.monotonic()
        idle = [
            key
            for key, lane in self._lanes.items()
            if lane.users == 0 and (lane.last_done is None or now - lane.last_done >= self.min_gap)
        ]
        for key in idle:
            del self._lanes[key]


class Pacer:
    """Both limits together: ``async with pacer.turn(key):`` keeps the user's order, and each
    ``await pacer.throughput.acquire()`` inside it (one per HTTP send, retries included) keeps the
    number under its messages-per-second limit.
    """

    def __init__(self, max_mps: float = DEFAULT_MAX_MPS, recipient_min_gap: float = 0.0, *, burst: float | None = None, clock: Clock | None = None) -> None:
        self.throughput = TokenBucket(max_mps, burst, clock=clock)
        self.recipients = RecipientPacer(recipient_min_gap, clock=clock)

    def turn(self, key: str) -> AbstractAsyncContextManager[None]:
        """Same as ``RecipientPacer.turn``."""
        return self.recipients.turn(key)
