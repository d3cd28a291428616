"""Unit tests of the benchmark helpers that decide what a figure means.

Why these: a wrong percentile or a pacing schedule that drifts would make every benchmark
table wrong without anyone noticing; the benchmarks themselves are not run in tests.
"""
from __future__ import annotations

import asyncio
import math
import time

import numpy as np
import pytest

from bench.common import (
    achieved_rate,
    due_times,
    format_table,
    parse_list,
    per_op_microseconds,
    percentile,
    run_open_loop,
    summarize,
)


@pytest.mark.parametrize("p", [0, 1, 25, 50, 90, 95, 99, 99.9, 100])
def test_percentile_matches_numpy_linear(p: float) -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0, 100.0]
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([4.2], 99) == 4.2


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([0.0, 10.0], 50) == 5.0
    assert percentile([0.0, 10.0], 99) == pytest.approx(9.9)


@pytest.mark.parametrize("values, p", [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_rejects_bad_input(values: list[float], p: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, p)


def test_summarize_scales_and_handles_empty_samples() -> None:
    stats = summarize([0.001, 0.002, 0.003], scale=1000)
    assert stats["n"] == 3
    assert stats["p50"] == pytest.approx(2.0)
    assert stats["max"] == pytest.approx(3.0)
    empty = summarize([])
    assert empty["n"] == 0 and math.isnan(empty["p99"])


def test_per_op_microseconds_divides_by_calls() -> None:
    timings = per_op_microseconds(lambda: time.sleep(0.001), number=3, repeat=2)
    assert len(timings) == 2
    assert all(900 <= t <= 50_000 for t in timings)


def test_due_times_are_evenly_spaced_at_the_offered_rate() -> None:
    times = due_times(200, 0.5)
    assert len(times) == 100
    assert times[0] == 0.0
    assert times[1] == pytest.approx(0.005)
    assert times[-1] == pytest.approx(99 / 200)


@pytest.mark.parametrize("rate, seconds", [(0, 1), (10, 0), (-5, 1)])
def test_due_times_rejects_non_positive_input(rate: float, seconds: float) -> None:
    with pytest.raises(ValueError):
        due_times(rate, seconds)


def test_achieved_rate() -> None:
    assert achieved_rate([0.0, 0.01, 0.02, 0.03]) == pytest.approx(100.0)
    assert achieved_rate([1.0]) == 0.0


def test_open_loop_does_not_wait_for_slow_responses() -> None:
    """Responses ten times slower than the send interval must not slow the sending down."""
    starts: list[float] = []

    async def fire(index: int, scheduled: float) -> int:
        starts.append(time.perf_counter())
        await asyncio.sleep(0.05)  # "server" latency: 10x the 5 ms interval
        return index

    async def scenario() -> tuple[list[int], list[float], float]:
        began = time.perf_counter()
        results, lateness = await run_open_loop(200, 0.25, fire)
        return results, lateness, time.perf_counter() - began

    results, lateness, elapsed = asyncio.run(scenario())
    assert results == list(range(50))
    assert len(lateness) == 50
    assert achieved_rate(starts) == pytest.approx(200, rel=0.25)
    # closed loop would need 50 x 50 ms = 2.5 s; open loop: schedule + one response
    assert elapsed < 1.0


def test_open_loop_passes_the_scheduled_time_not_the_actual_start() -> None:
    scheduled: list[float] = []

    async def fire(index: int, at: float) -> None:
        scheduled.append(at)

    asyncio.run(run_open_loop(100, 0.1, fire))
    gaps = [b - a for a, b in zip(scheduled, scheduled[1:])]
    assert all(gap == pytest.approx(0.01, abs=1e-9) for gap in gaps)


def test_format_table_aligns_numbers_right_and_text_left() -> None:
    table = format_table(["name", "ms"], [["a", 1.234], ["longer", 123.4], ["nan", float("nan")]])
    lines = table.splitlines()
    assert lines[0] == "| name   |   ms |"
    assert lines[1] == "| ------ | ---: |"
    assert lines[2] == "| a      | 1.23 |"
    assert lines[3] == "| longer |  123 |"
    assert lines[4] == "| nan    |    - |"


def test_format_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError):
        format_table(["a", "b"], [[1]])


def test_parse_list() -> None:
    assert parse_list("50, 200,500") == [50, 200, 500]
    assert parse_list("sqlite,redis", str) == ["sqlite", "redis"]
    with pytest.raises(ValueError):
        parse_list(" , ")
