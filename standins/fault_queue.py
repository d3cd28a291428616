"""Injected faults, first in first out, and how long a held request waits: shared by the aiohttp stand-ins.

Why one module: the Graph API stand-in (standins/meta_graph/faults.py, which adds seeded random
faults) and the speech-to-text stand-in (standins/stt/faults.py) queue faults for the next
requests, remember which ones they served (tests and ``GET /_standin/faults`` read them) and
hold a request for a timeout fault until the stand-in stops; each stand-in keeps only what its
faults are and how it answers them.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["FaultQueue", "hold"]

F = TypeVar("F")


class FaultQueue(Generic[F]):
    """Queued faults, first in first out, and the ones served so far."""

    def __init__(self) -> None:
        self._queue: deque[F] = deque()
        self._served: list[F] = []

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def served(self) -> tuple[F, ...]:
        """Faults answered so far, oldest first."""
        return tuple(self._served)

    def inject(self, fault: F, count: int = 1) -> None:
        """Answer the next ``count`` requests with ``fault`` (queued after earlier faults)."""
        if count < 0:
            raise ValueError("count must not be negative")
        self._queue.extend([fault] * count)

    def clear_queue(self) -> None:
        self._queue.clear()

    def clear(self) -> None:
        """Drop queued faults (a subclass may turn more off)."""
        self.clear_queue()

    def forget_served(self) -> None:
        self._served.clear()

    def take(self) -> F | None:
        """The fault for this request, recorded as served; None when the request goes through."""
        fault = self._next()
        if fault is not None:
            self._served.append(fault)
        return fault

    def _next(self) -> F | None:
        return self._queue.popleft() if self._queue else None


async def hold(seconds: float | None, stopping: asyncio.Event) -> bool:
    """Wait ``seconds`` (a fault's timeout, a latency); True when the stand-in stopped first."""
    if not seconds:
        return stopping.is_set()
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True
