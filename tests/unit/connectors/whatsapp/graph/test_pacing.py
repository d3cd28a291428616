"""Pacing: throughput token bucket and per-recipient ordering, on a fake clock where timing matters."""
from __future__ import annotations

import asyncio
import logging
import random
import time

import pytest

from connectors.whatsapp.graph.pacing import DEFAULT_MAX_MPS, Pacer, RecipientPacer, TokenBucket


class FakeClock:
    """Virtual time: ``sleep`` advances the clock instead of waiting (yielding once to the loop)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_bucket_lets_a_burst_through_then_spaces_calls_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(80, clock=clock)
    start = clock.now
    times = []
    for _ in range(200):
        await bucket.acquire()
        times.append(clock.now - start)

    assert times[:80] == [0.0] * 80
    assert times[-1] == pytest.approx((200 - 80) / 80)
    gaps = [b - a for a, b in zip(times[80:], times[81:])]
    assert all(g == pytest.approx(1 / 80) for g in gaps)


async def test_bucket_serves_concurrent_callers_without_exceeding_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock)
    start = clock.now
    done: list[int] = []

    async def caller(i: int) -> None:
        await bucket.acquire()
        done.append(i)

    await asyncio.gather(*(caller(i) for i in range(50)))

    assert done == list(range(50))  # first come, first served
    assert clock.now - start == pytest.approx(4.9)  # 1 immediately, 49 more at 10/s
    assert len(clock.slept) == 49  # one sleep per wait, no polling


async def test_bucket_refills_while_idle():
    clock = FakeClock()
    bucket = TokenBucket(8, burst=5, clock=clock)
    for _ in range(5):
        await bucket.acquire()
    clock.now += 0.375  # three tokens come back
    for _ in range(3):
        await bucket.acquire()
    assert clock.slept == []
    await bucket.acquire()
    assert clock.slept == [pytest.approx(0.125)]


async def test_bucket_with_real_clock_waits_roughly_the_expected_time():
    bucket = TokenBucket(200, burst=1)
    started = time.monotonic()
    for _ in range(11):
        await bucket.acquire()
    assert time.monotonic() - started >= 0.045  # 10 waits of 5 ms; lower bound only


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(10, burst=0.5)
    with pytest.raises(ValueError):
        RecipientPacer(-1)


async def test_one_recipient_is_served_strictly_in_order_one_at_a_time():
    pacer = RecipientPacer()
    rng = random.Random(5)
    log: list[tuple[str, int]] = []
    active = 0

    async def send(i: int) -> None:
        nonlocal active
        async with pacer.turn("pseudo-a"):
            active += 1
            assert active == 1
            log.append(("start", i))
            await asyncio.sleep(rng.uniform(0, 0.003))
            log.append(("end", i))
            active -= 1

    await asyncio.gather(*(send(i) for i in range(25)))

    assert log == [event for i in range(25) for event in (("start", i), ("end", i))]
    assert len(pacer) == 0


async def test_different_recipients_do_not_wait_for_each_other():
    pacer = RecipientPacer()
    release = asyncio.Event()
    order: list[str] = []

    async def slow() -> None:
        async with pacer.turn("pseudo-a"):
            await release.wait()
            order.append("a")

    async def fast() -> None:
        async with pacer.turn("pseudo-b"):
            order.append("b")
        release.set()

    await asyncio.wait_for(asyncio.gather(slow(), fast()), timeout=2)
    assert order == ["b", "a"]


async def test_min_gap_spaces_turns_of_one_recipient():
    clock = FakeClock()
    pacer = RecipientPacer(min_gap=0.5, clock=clock)
    start = clock.now
    starts: list[float] = []

    async def send() -> None:
        async with pacer.turn("pseudo-a"):
            starts.append(clock.now - start)

    await asyncio.gather(send(), send(), send())
    async with pacer.turn("pseudo-b"):
        starts.append(clock.now - start)

    assert starts == [0.0, pytest.approx(0.5), pytest.approx(1.0), pytest.approx(1.0)]
    assert len(pacer) == 2  # both still inside their gap
    clock.now += 1.0
    async with pacer.turn("pseudo-c"):
        pass
    assert len(pacer) == 1  # a and b pruned, c inside its gap


async def test_a_failing_send_releases_the_recipient():
    pacer = RecipientPacer()
    with pytest.raises(RuntimeError):
        async with pacer.turn("pseudo-a"):
            raise RuntimeError("send failed")
    async with asyncio.timeout(1):
        async with pacer.turn("pseudo-a"):
            pass
    assert len(pacer) == 0


async def test_cancelled_waiter_does_not_block_the_lane():
    pacer = RecipientPacer()
    release = asyncio.Event()
    done: list[int] = []

    async def holder() -> None:
        async with pacer.turn("pseudo-a"):
            await release.wait()
            done.append(0)

    async def waiter(i: int) -> None:
        async with pacer.turn("pseudo-a"):
            done.append(i)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    doomed = asyncio.create_task(waiter(1))
    last = asyncio.create_task(waiter(2))
    await asyncio.sleep(0)
    doomed.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, last), timeout=2)
    assert done == [0, 2]
    assert len(pacer) == 0


def test_pacer_takes_its_rates_from_the_constructor():
    # The values come from connectors/whatsapp/settings.py (WHATSAPP_MAX_MPS,
    # WHATSAPP_RECIPIENT_MIN_GAP_S); the pacer itself reads no environment.
    pacer = Pacer(max_mps=20, recipient_min_gap=0.25)
    assert pacer.throughput.rate == 20
    assert pacer.recipients.min_gap == 0.25
    default = Pacer()
    assert default.throughput.rate == DEFAULT_MAX_MPS == 80
    assert default.recipients.min_gap == 0.0
    assert not hasattr(Pacer, "from_env")
    with pytest.raises(ValueError):
        Pacer(recipient_min_gap=-1.0)
    with pytest.raises(ValueError):
        Pacer(max_mps=0)


async def test_pacer_combines_order_and_throughput_and_never_logs_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    pacer = Pacer(max_mps=2, burst=1, clock=clock)
    sent: list[tuple[str, int]] = []

    async def send(key: str, i: int) -> None:
        async with pacer.turn(key):
            await pacer.throughput.acquire()
            sent.append((key, i))

    key = "4915550000001"
    await asyncio.gather(*(send(key, i) for i in range(4)), *(send("pseudo-b", i) for i in range(2)))

    assert [i for k, i in sent if k == key] == [0, 1, 2, 3]
    assert clock.now - 1000.0 == pytest.approx(2.5)  # 6 sends at 2/s with a burst of 1
    assert key not in caplog.text
