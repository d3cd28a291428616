"""standins/fault_queue.py: faults first in first out, what was served, and holding a request."""
from __future__ import annotations

import asyncio

import pytest

from standins.fault_queue import FaultQueue, hold


def test_faults_are_served_in_order_and_remembered() -> None:
    queue: FaultQueue[str] = FaultQueue()
    queue.inject("a", 2)
    queue.inject("b")
    assert queue.queued == 3
    assert [queue.take(), queue.take(), queue.take(), queue.take()] == ["a", "a", "b", None]
    assert queue.served == ("a", "a", "b")
    queue.forget_served()
    assert queue.served == ()


def test_clear_drops_the_queue_but_not_what_was_served() -> None:
    queue: FaultQueue[str] = FaultQueue()
    queue.inject("a", 3)
    queue.take()
    queue.clear()
    assert (queue.queued, queue.take(), queue.served) == (0, None, ("a",))


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        FaultQueue().inject("a", -1)


async def test_hold_waits_and_is_released_by_stopping() -> None:
    stopping = asyncio.Event()
    assert await hold(None, stopping) is False
    assert await hold(0.01, stopping) is False
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, stopping.set)
    started = loop.time()
    assert await hold(30, stopping) is True
    assert loop.time() - started < 5
    assert await hold(0, stopping) is True
