"""Unit tests of the capacity benchmark's pure parts: schedule, fake users, figures, verdict, docs.

Why these: they decide what docs/operations.md's capacity table says: when a webhook arrives (open
loop, never slowed by the server), that no fake user has two messages in flight, how a lost or
refused webhook counts, and which rate is called "inside Meta's guidance". No processes, no network.
"""
from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from bench.capacity_figures import (
    BEGIN,
    END,
    LOST_AFTER_S,
    UserPool,
    arrival_offsets,
    capacity_verdict,
    highest_rate,
    histogram_share_over,
    latencies_with_lost,
    level_figures,
    metric_delta,
    replace_doc_section,
)


# -- schedule ---------------------------------------------------------------------------------
def test_even_arrivals_are_evenly_spaced_at_the_rate() -> None:
    offsets = arrival_offsets(4, 5)
    assert len(offsets) == 20
    assert offsets[:3] == pytest.approx([0.0, 0.25, 0.5])


def test_poisson_arrivals_average_the_rate_and_are_repeatable() -> None:
    offsets = arrival_offsets(5, 400, poisson=True)
    assert len(offsets) == pytest.approx(2000, rel=0.1)
    gaps = [b - a for a, b in zip(offsets, offsets[1:])]
    assert statistics.fmean(gaps) == pytest.approx(0.2, rel=0.1)
    assert statistics.stdev(gaps) == pytest.approx(0.2, rel=0.15)  # exponential: sd == mean
    assert offsets == sorted(offsets) and all(0 <= o < 400 for o in offsets)
    assert arrival_offsets(5, 400, poisson=True) == offsets
    assert arrival_offsets(5, 400, poisson=True, seed=12) != offsets


@pytest.mark.parametrize("rate, seconds", [(0, 1), (1, 0), (-1, 5)])
def test_schedule_refuses_nonsense(rate: float, seconds: float) -> None:
    with pytest.raises(ValueError):
        arrival_offsets(rate, seconds, poisson=True)


# -- users ------------------------------------------------------------------------------------
def test_a_user_never_has_two_messages_in_flight() -> None:
    pool = UserPool(4915550003001)
    first, step = pool.acquire()
    second, _ = pool.acquire()
    assert (first, step) == ("4915550003001", 0)
    assert second == "4915550003002"  # the first is still waiting for its answer
    pool.release(first)
    again, step = pool.acquire()
    assert (again, step) == (first, 1)  # walks on through the script
    assert pool.size == 2


def test_the_user_idle_longest_sends_next() -> None:
    pool = UserPool(10)
    users = [pool.acquire()[0] for _ in range(3)]
    for user in reversed(users):
        pool.release(user)
    assert [pool.acquire()[0] for _ in range(3)] == list(reversed(users))
    assert pool.size == 3


def test_a_user_leaves_after_its_conversation() -> None:
    pool = UserPool(10, max_steps=2)
    sent = []
    for _ in range(5):  # one message at a time: without a limit one user would send all five
        user, step = pool.acquire()
        sent.append((user, step))
        pool.release(user)
    assert sent == [("10", 0), ("10", 1), ("11", 0), ("11", 1), ("12", 0)]


# -- figures ----------------------------------------------------------------------------------
def test_failed_and_lost_webhooks_count_as_the_timeout() -> None:
    assert latencies_with_lost([0.1, None, 12.0, 9.0]) == [0.1, LOST_AFTER_S, LOST_AFTER_S, 9.0]


def test_level_figures() -> None:
    latencies: list[float | None] = [0.1] * 97 + [1.5, None, 11.0]
    row = level_figures(5, 20, latencies, wall=25.0)
    assert row["posts"] == 100 and row["ok"] == 98 and row["failed"] == 2
    assert row["achieved_rate"] == pytest.approx(98 / 25)
    assert row["p50_s"] == pytest.approx(0.1)
    assert row["share_over_1s"] == pytest.approx(0.03)
    assert row["max_s"] == pytest.approx(LOST_AFTER_S)
    assert row["p99_s"] == pytest.approx(LOST_AFTER_S)


def test_level_without_posts_gives_nan_not_an_error() -> None:
    row = level_figures(1, 1, [], wall=0.0)
    assert row["posts"] == 0 and math.isnan(row["p50_s"]) and math.isnan(row["share_over_1s"])


# -- verdict ----------------------------------------------------------------------------------
def _row(rate: float, p50: float, p99: float, over: float) -> dict[str, Any]:
    return {"offered_rate": rate, "posts": 100, "p50_s": p50, "p99_s": p99, "share_over_1s": over}


def test_highest_rate_stops_at_the_first_failing_rate() -> None:
    rows = [_row(4, 0.2, 9, 0.0), _row(1, 0.1, 1, 0.0), _row(2, 0.9, 2, 0.0), _row(8, 0.1, 1, 0.0)]
    assert highest_rate(rows, lambda r: r["p50_s"] < 0.25) == 1  # the lucky 8/s after a bad 2/s does not count
    assert highest_rate(rows, lambda r: r["p50_s"] < 0.01) is None


def test_verdict_names_both_limits() -> None:
    rows = [_row(1, 0.2, 0.6, 0.0), _row(2, 0.24, 0.9, 0.005), _row(4, 0.3, 3.0, 0.05), _row(6, 2.0, 8.0, 0.5)]
    text = capacity_verdict(2, rows, p99_limit_s=5.0)
    assert text.startswith("Verdict, 2 instances:")
    assert "guidance (median < 250 ms, < 1 % over 1 s, failures counted as slow) up to 2 msgs/s" in text
    assert "p99 < 5 s up to 4 msgs/s" in text


def test_verdict_without_a_good_rate() -> None:
    text = capacity_verdict(1, [_row(1, 0.3, 0.2, 0.0)])
    assert "up to none of the rates tried; p99 < 5 s up to 1 msgs/s" in text


# -- instance metrics -------------------------------------------------------------------------------
_BEFORE = """# HELP blaupause_webhook_duration_seconds x
blaupause_webhook_duration_seconds_bucket{kind="messages",le="0.5"} 10.0
blaupause_webhook_duration_seconds_bucket{kind="messages",le="1.0"} 10.0
blaupause_webhook_duration_seconds_bucket{kind="messages",le="+Inf"} 10.0
blaupause_webhook_duration_seconds_count{kind="messages"} 10.0
blaupause_webhook_duration_seconds_count{kind="statuses"} 5.0
process_cpu_seconds_total 3.5
"""
_AFTER = """blaupause_webhook_duration_seconds_bucket{kind="messages",le="0.5"} 20.0
blaupause_webhook_duration_seconds_bucket{kind="messages",le="1.0"} 25.0
blaupause_webhook_duration_seconds_bucket{kind="messages",le="+Inf"} 30.0
blaupause_webhook_duration_seconds_count{kind="messages"} 30.0
blaupause_webhook_duration_seconds_count{kind="statuses"} 9.0
blaupause_webhook_requests_total{method="POST",outcome="busy",status="503"} 4.0
process_cpu_seconds_total 13.5
"""


def test_metric_delta_sums_matching_samples() -> None:
    assert metric_delta(_BEFORE, _AFTER, "process_cpu_seconds_total") == pytest.approx(10.0)
    assert metric_delta(_BEFORE, _AFTER, "blaupause_webhook_duration_seconds_count") == pytest.approx(24.0)
    assert metric_delta(_BEFORE, _AFTER, "blaupause_webhook_requests_total", {"status": "503"}) == 4.0
    assert math.isnan(metric_delta(_BEFORE, _AFTER, "no_such_metric"))


def test_histogram_share_over_a_bucket_edge() -> None:
    share = histogram_share_over(_BEFORE, _AFTER, "blaupause_webhook_duration_seconds", 1.0, {"kind": "messages"})
    assert share == pytest.approx(5 / 20)  # 20 new observations, 15 of them within 1 s
    assert math.isnan(histogram_share_over(_BEFORE, _AFTER, "blaupause_webhook_duration_seconds", 0.7))
    assert math.isnan(histogram_share_over(_AFTER, _AFTER, "blaupause_webhook_duration_seconds", 1.0))


# -- docs -------------------------------------------------------------------------------------
_DOC = "# Operations\n\n## Metrics\n\ntext\n\n## Capacity\n\nHow to read it.\n\n## Later\n\nmore\n"


def test_doc_block_goes_at_the_end_of_its_section_and_is_replaced_next_time() -> None:
    once = replace_doc_section(_DOC, "## Capacity", "| table 1 |")
    assert once.index("How to read it.") < once.index(BEGIN) < once.index("| table 1 |") < once.index(END) \
        < once.index("## Later")
    twice = replace_doc_section(once, "## Capacity", "| table 2 |")
    assert "| table 1 |" not in twice and twice.count(BEGIN) == 1
    assert twice == once.replace("| table 1 |", "| table 2 |")


def test_doc_block_adds_the_heading_when_missing() -> None:
    assert replace_doc_section("", "## Capacity", "figures") == f"## Capacity\n\n{BEGIN}\nfigures\n{END}\n"
    text = replace_doc_section("# Operations\n", "## Capacity", "figures")
    assert text == f"# Operations\n\n## Capacity\n\n{BEGIN}\nfigures\n{END}\n"
    last = replace_doc_section("# Ops\n\n## Capacity\n\nintro\n", "## Capacity", "figures")
    assert last == f"# Ops\n\n## Capacity\n\nintro\n\n{BEGIN}\nfigures\n{END}\n"


# -- load balancer and metrics ports (no processes: a stand-in for LocalStack) -------------------------
class _Stack:
    rasa_instances = 3
    procs: dict[str, Any] = {}

    def webhook_url(self, instance: int = 0) -> str:
        return f"rasa{instance}"


def test_the_load_balancer_goes_round_robin_per_post_and_can_pin_for_the_warm_up() -> None:
    from bench.capacity import BalancedDriver

    driver = BalancedDriver(_Stack())  # type: ignore[arg-type]
    assert [driver.webhook_url("1", 0) for _ in range(4)] == ["rasa0", "rasa1", "rasa2", "rasa0"]
    driver.pin(2)
    assert {driver.webhook_url("1", step) for step in range(3)} == {"rasa2"}
    driver.pin(None)
    assert [driver.webhook_url("1", 0) for _ in range(3)] == ["rasa0", "rasa1", "rasa2"]


def test_instance_metrics_are_scraped_only_when_the_stack_has_ports() -> None:
    from bench.capacity import _metrics_urls

    class WithPorts(_Stack):
        def metrics_url(self, instance: int) -> str:
            return f"http://127.0.0.1:900{instance}/metrics"

    assert _metrics_urls(_Stack()) == []  # type: ignore[arg-type]
    assert _metrics_urls(WithPorts()) == [f"http://127.0.0.1:900{i}/metrics" for i in range(3)]  # type: ignore[arg-type]
