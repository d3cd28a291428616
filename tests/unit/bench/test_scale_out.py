"""Unit tests of the scale-out benchmark's helpers: load balancing, CPU split, speed-up, verdict.

Why these: they decide which instance gets a message (the hard case of shared state must really
be exercised) and how the figures are read (a wrong ratio or a verdict that contradicts the
table would mislead docs/performance.md). No processes, no network.
"""
from __future__ import annotations

import math
from typing import Any

import pytest

from bench.scale_out import (
    LOADGEN,
    cores_used,
    instance_for,
    scale_verdict,
    speedups,
    split_cpu,
    variant_name,
    with_plot_rows,
)


def _row(instances: int, users: int, throughput: float, p99: float, **extra: Any) -> dict[str, Any]:
    return {
        "variant": variant_name(instances),
        "concurrency": users,
        "errors": 0,
        "throughput": throughput,
        "throughput_per_round": [throughput * 0.9, throughput * 1.1],
        "p50_ms": p99 / 3,
        "p99_ms": p99,
        "our_cores": 0.8 * instances,
        "machine_cores": 1.5,
        "stolen_cores": 0.1,
        "serving_cpu_ms_per_turn": 95.0,
        "loadgen_cpu_ms_per_turn": 5.0,
        "loadgen_share": 0.05,
        **extra,
    }


def test_variant_names() -> None:
    assert variant_name(1) == "1 instance"
    assert variant_name(2) == "2 instances"


def test_consecutive_messages_of_a_user_alternate_between_two_instances() -> None:
    for user in ("4915550002001", "4915550002002"):
        targets = [instance_for(user, step, 2) for step in range(6)]
        assert all(a != b for a, b in zip(targets, targets[1:]))


def test_neighbouring_users_start_on_different_instances_and_load_is_even() -> None:
    users = [str(4915550002001 + i) for i in range(10)]
    first = [instance_for(user, 0, 2) for user in users]
    assert first.count(0) == first.count(1) == 5


def test_one_instance_gets_everything() -> None:
    assert {instance_for("4915550002001", step, 1) for step in range(5)} == {0}


def test_split_cpu_separates_the_load_generator() -> None:
    assert split_cpu({"graph": 2.0, "actions": 4.0, "rasa0": 90.0, LOADGEN: 6.0}) == (96.0, 6.0)
    assert split_cpu({"rasa0": 90.0}) == (90.0, 0.0)


def test_cores_used() -> None:
    assert cores_used(30.0, 20.0) == 1.5
    assert math.isnan(cores_used(1.0, 0.0))


def test_speedups_pair_variants_per_concurrency() -> None:
    rows = [_row(1, 10, 8.0, 2000.0), _row(2, 10, 10.0, 1500.0), _row(1, 50, 8.0, 9000.0), _row(2, 50, 8.0, 9900.0)]
    [at10, at50] = speedups(rows)
    assert at10["concurrency"] == 10 and at10["speedup"] == pytest.approx(1.25)
    assert at10["p99_ratio"] == pytest.approx(0.75)
    assert at10["speedup_per_round"] == pytest.approx([1.25, 1.25])
    assert at50["speedup"] == pytest.approx(1.0) and at50["p99_ratio"] == pytest.approx(1.1)


def test_speedups_skip_levels_without_both_variants_and_survive_zero_throughput() -> None:
    assert speedups([_row(2, 10, 10.0, 1.0)]) == []
    [only] = speedups([_row(1, 10, 0.0, 1.0), _row(2, 10, 5.0, 1.0)])
    assert math.isnan(only["speedup"])


@pytest.mark.parametrize("scaled, busy, word", [
    (12.0, 1.5, "using CPU the single one left idle"),
    (12.0, 1.9, "larger share from the other jobs"),
    (12.0, 1.75, "larger share from the other jobs"),  # 1.75 busy + 0.1 stolen: no idle core left
    (8.2, 1.5, "no gain beyond noise"),
    (5.0, 1.5, "a loss"),
])
def test_verdict_reads_the_figures(scaled: float, busy: float, word: str) -> None:
    rows = [_row(1, 50, 8.0, 9000.0, machine_cores=busy), _row(2, 50, scaled, 9000.0)]
    text = scale_verdict(speedups(rows), rows, cpus=2)
    assert word in text
    assert "cannot double throughput" in text
    assert "~20 turns/s" in text  # 2 cores / 100 ms per turn
    assert "5 ms of it in the load generator" in text


def test_verdict_without_levels() -> None:
    assert "no level" in scale_verdict([], [], cpus=2)


def test_plot_rows_join_the_turn_lines_under_their_own_labels() -> None:
    results = {"turns": {"rows": [{"variant": "rest", "concurrency": 1}]},
               "scale_out": {"rows": [_row(1, 10, 8.0, 1.0), _row(2, 10, 9.0, 1.0)]}}
    merged = with_plot_rows(results)
    variants = [row["variant"] for row in merged["turns"]["rows"]]
    assert variants == ["rest", "pg-redis, 1 instance (scale-out)", "pg-redis, 2 instances (scale-out)"]
    assert len(results["turns"]["rows"]) == 1  # the input is not changed
    assert with_plot_rows({"turns": {"rows": []}}) == {"turns": {"rows": []}}
