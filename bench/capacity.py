"""Capacity: webhook latency against OFFERED message rate for 1, 2 and 3 Rasa instances (issue 11).

Why: an operator needs to know how many instances a given message rate needs and what the
metrics look like when an instance is saturated (docs/operations.md, "Capacity"). The closed-loop
benchmarks (bench/turns.py, bench/scale_out.py) measure throughput at a given number of users;
this one offers a fixed rate, like real traffic that does not wait for the server.

Load (open loop): webhooks arrive at ``rate`` per second, evenly spaced or Poisson, for
``--seconds`` per level, each a message of a fake user (4915550003001...) walking through
bench/turn_drivers.py's script twice, then leaving. A user never has two messages in flight (like a
phone): an arrival goes to an idle user, and to a new one when all are waiting (bench/capacity_figures.py).
The load generator is the load balancer: round robin per POST over the instances.

Webhook time: from the *scheduled* send to the HTTP answer. It includes the turn, because the
channel answers only after the replies were accepted by the Graph API (docs/whatsapp-delivery.md).
A POST is given up after 10 s (Meta's timeout) and, like a 503 or any other failure, counts
as 10 s in the percentiles and the share over 1 s.

Stack: bench/scale_out.py's ``ScaleStacks`` (encrypted tracker store on PostgreSQL, atomic Redis
lock store, Redis dedup store, a benchmark-only table and key prefix dropped afterwards) with
``N`` instances, one instance count at a time. When ``LocalStack`` offers ``metrics_url(i)`` (the
operator port, observability/exposition.py), each instance is scraped before and after every
level and the table shows what saturation looks like there.

Run: ``python -m bench.capacity [--instances 1,2,3] [--rates 1,2,4,8,12,16] [--seconds 20] [--poisson]
[--save]`` (the full run takes 20-30 minutes on a quiet 2-core machine, longer on a busy one; smoke form:
``--instances 1 --rates 1 --seconds 8``). Needs PostgreSQL and Redis on loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.capacity_figures import (
    DEFAULT_P99_LIMIT_S,
    LOST_AFTER_S,
    META_SLOW_S,
    UserPool,
    arrival_offsets,
    capacity_verdict,
    histogram_share_over,
    level_figures,
    metric_delta,
    replace_doc_section,
)
from bench.closed_loop import _machine_cpu_seconds, cpu_seconds, run_level
from bench.common import ROOT, format_table, machine_info, parse_list, percentile, print_table, save_section
from bench.scale_out import LOADGEN, ScaleStacks, cores_used, variant_name
from bench.services import pg_redis_reachable
from bench.turn_drivers import SCRIPT, Turn, WhatsAppDriver
from bench.turn_stacks import delete_dedup_records_of
from harness.local_stack import LocalStack

__all__ = ["CapacityStack", "BalancedDriver", "measure_level", "measure", "run", "main"]

FAKE_NUMBER_BASE = 4915550003001
DEFAULT_INSTANCES = (1, 2, 3)
DEFAULT_RATES = (1, 2, 4, 8, 12, 16)  # a quiet 2-core machine ran ~26 turns/s closed loop (docs/performance.md)
DEFAULT_SECONDS = 20.0
DOC = ROOT / "docs" / "operations.md"
HEADING = "## Capacity"
_NAN = float("nan")


@dataclass
class CapacityStack(ScaleStacks):
    """bench/scale_out.py's stacks, but a single one with ``instances`` Rasa processes."""

    instances: int = 1

    def start(self, timeout: float = 1200.0) -> "CapacityStack":
        self.stacks = [self._stack(self.instances)]
        try:
            self.stacks[0].start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def stack(self) -> LocalStack:
        return self.stacks[0]


class BalancedDriver(WhatsAppDriver):
    """bench/turn_drivers.py's WhatsApp driver behind a round-robin load balancer (per POST)."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(variant_name(stack.rasa_instances), stack)
        self.pids[LOADGEN] = os.getpid()
        self.pin(None)

    def pin(self, instance: int | None) -> None:
        """Send everything to one instance (the warm-up), or round robin again with None."""
        self._next = itertools.cycle([instance] if instance is not None else range(self.stack.rasa_instances))

    def webhook_url(self, user: str, step: int) -> str:
        return self.stack.webhook_url(next(self._next))


# -- metrics of the instances (when LocalStack exposes their operator ports) -------------------------
def _metrics_urls(stack: LocalStack) -> list[str]:
    metrics_url = getattr(stack, "metrics_url", None)
    if metrics_url is None:
        return []
    try:
        urls = [metrics_url(i) for i in range(stack.rasa_instances)]
    except Exception:  # noqa: BLE001 - no port configured: the column is skipped
        return []
    return urls if all(urls) else []


async def _scrape(client: httpx.AsyncClient, urls: Sequence[str]) -> list[str]:
    async def one(url: str) -> str:
        try:
            response = await client.get(url, timeout=5.0)
            return response.text if response.status_code == 200 else ""
        except httpx.HTTPError:
            return ""

    return list(await asyncio.gather(*(one(url) for url in urls)))


def _saturation(before: Sequence[str], after: Sequence[str], wall: float) -> dict[str, Any]:
    """What each instance's own metrics said about the level (bench/README.md: what saturation looks like)."""
    per_instance = []
    for old, new in zip(before, after):
        if not new:
            per_instance.append({})
            continue
        turns = metric_delta(old, new, "blaupause_turn_duration_seconds_count")
        turn_s = metric_delta(old, new, "blaupause_turn_duration_seconds_sum")
        per_instance.append({
            "webhook_share_over_1s": histogram_share_over(old, new, "blaupause_webhook_duration_seconds", META_SLOW_S,
                                                          {"kind": "messages"}),
            "turn_mean_s": turn_s / turns if turns else _NAN,
            "webhook_503": metric_delta(old, new, "blaupause_webhook_requests_total", {"status": "503"}),
            "process_cpu_cores": cores_used(metric_delta(old, new, "process_cpu_seconds_total"), wall),
        })
    return {"per_instance": per_instance}


def _metrics_text(saturation: Mapping[str, Any]) -> str:
    parts = []
    for index, figures in enumerate(saturation.get("per_instance") or []):
        if not figures:
            parts.append(f"rasa{index}: -")
            continue
        parts.append(f"rasa{index}: >1s {figures['webhook_share_over_1s'] * 100:.0f} %, turn {figures['turn_mean_s']:.2f} s, "
                     f"503 {figures['webhook_503']:.0f}, CPU {figures['process_cpu_cores']:.2f}")
    return "; ".join(parts)


# -- one level --------------------------------------------------------------------------------
async def measure_level(driver: BalancedDriver, pool: UserPool, rate: float, seconds: float, poisson: bool,
                        metrics_urls: Sequence[str]) -> dict[str, Any]:
    """Offer ``rate`` webhooks/s for ``seconds``; return the row (figures, CPU, instance metrics)."""
    offsets = arrival_offsets(rate, seconds, poisson=poisson)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=LOST_AFTER_S, limits=limits) as client:
        before = await _scrape(client, metrics_urls)
        cpu_before = {name: cpu_seconds(pid) for name, pid in driver.pids.items()}
        machine_before = _machine_cpu_seconds()
        start = time.time() + 0.05
        lateness: list[float] = []

        async def fire(due: float) -> tuple[Turn, float]:
            user, step = pool.acquire()
            try:
                return await driver.turn(client, user, step), due
            finally:
                pool.release(user)

        tasks = []
        for offset in offsets:  # common.run_open_loop's loop, on a given (possibly Poisson) schedule
            due = start + offset
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness.append(max(0.0, time.time() - due))
            tasks.append(asyncio.ensure_future(fire(due)))
        results = await asyncio.gather(*tasks)
        wall = max([start + seconds] + [turn.answered_wall for turn, _ in results]) - start
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in driver.pids.items()}
        machine_after = _machine_cpu_seconds()
        after = await _scrape(client, metrics_urls)
    await driver.finish_level([turn for turn, _ in results])  # which webhooks got no reply at all
    latencies = [None if turn.error else turn.answered_wall - due for turn, due in results]
    row = level_figures(rate, seconds, latencies, wall)
    rasa_cpu = sum(v for name, v in cpu.items() if name.startswith("rasa"))
    serving_cpu = sum(v for name, v in cpu.items() if name != LOADGEN)
    row.update(
        instances=driver.stack.rasa_instances,
        users_so_far=pool.size,  # fake users who sent so far (the pool lives across levels)
        errors={kind: sum(1 for t, _ in results if t.error == kind) for kind in {t.error for t, _ in results if t.error}},
        rasa_cores=cores_used(rasa_cpu, wall),
        serving_cpu_ms_per_msg=serving_cpu * 1000 / len(results) if results else _NAN,
        loadgen_cores=cores_used(cpu.get(LOADGEN, 0.0), wall),
        machine_cores=cores_used(machine_after[0] - machine_before[0], wall),
        stolen_cores=cores_used(machine_after[1] - machine_before[1], wall),
        loadgen_late_p99_ms=percentile(lateness, 99) * 1000 if lateness else _NAN,
        loadavg_1min=os.getloadavg()[0],
        metrics=_saturation(before, after, wall) if metrics_urls else {},
    )
    return row


def _print_rows(instances: int, rows: Sequence[Mapping[str, Any]], cpus: int) -> None:
    with_metrics = any(r.get("metrics") for r in rows)
    headers = ["offered msgs/s", "achieved msgs/s", "POSTs", "p50 ms", "p99 ms", "share > 1 s %", "503s/errors",
               "Rasa cores", "serving CPU ms/msg", "machine cores busy", "stolen", "load gen. late p99 ms"]
    print_table(
        f"Capacity, {variant_name(instances)} on PostgreSQL + Redis, open loop ({cpus} cores; failed or lost "
        f"POSTs count as {LOST_AFTER_S:.0f} s)",
        headers + (["instance metrics (share >1 s, mean turn, 503s, process CPU cores)"] if with_metrics else []),
        [[r["offered_rate"], r["achieved_rate"], r["posts"], r["p50_s"] * 1000, r["p99_s"] * 1000,
          r["share_over_1s"] * 100, _errors_text(r), r["rasa_cores"], r["serving_cpu_ms_per_msg"], r["machine_cores"],
          r["stolen_cores"], r["loadgen_late_p99_ms"]] + ([_metrics_text(r.get("metrics") or {})] if with_metrics else [])
         for r in rows],
    )


def _errors_text(row: Mapping[str, Any]) -> str:
    if not row["failed"]:
        return "0"
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(row["errors"].items())) or str(row["failed"])


async def _warm_up(driver: BalancedDriver) -> None:
    """Every message kind of the script twice on every instance, not counted: lazy code paths, connections."""
    for index in range(driver.stack.rasa_instances):
        driver.pin(index)
        await run_level(driver, [str(FAKE_NUMBER_BASE - 1 - index)], 2 * len(SCRIPT))
    driver.pin(None)


async def measure(stack: CapacityStack, rates: Sequence[float], seconds: float, poisson: bool,
                  p99_limit_s: float) -> dict[str, Any]:
    """Warm up, then every rate from low to high against one stack; print the table and verdict."""
    driver = BalancedDriver(stack.stack)
    pool = UserPool(FAKE_NUMBER_BASE + 10_000 * (stack.instances - 1), max_steps=2 * len(SCRIPT))  # fresh per count
    await _warm_up(driver)
    urls = _metrics_urls(stack.stack)
    rows = []
    for rate in sorted(rates):
        row = await measure_level(driver, pool, rate, seconds, poisson, urls)
        rows.append(row)
        print(f"  {variant_name(stack.instances)} at {rate:g} msgs/s: {row['posts']} POSTs, p50 "
              f"{row['p50_s'] * 1000:.0f} ms, p99 {row['p99_s'] * 1000:.0f} ms, {row['failed']} failed", flush=True)
        await asyncio.sleep(2.0)  # let the queue drain before the next level
    await delete_dedup_records_of(driver)
    cpus = os.cpu_count() or 1
    _print_rows(stack.instances, rows, cpus)
    text = capacity_verdict(stack.instances, rows, p99_limit_s)
    print(text + "\n", flush=True)
    return {"instances": stack.instances, "rows": rows, "verdict": text}


def run(instances: Sequence[int] = DEFAULT_INSTANCES, rates: Sequence[float] = DEFAULT_RATES,
        seconds: float = DEFAULT_SECONDS, poisson: bool = False,
        p99_limit_s: float = DEFAULT_P99_LIMIT_S) -> dict[str, Any]:
    """One stack per instance count, one after the other (never two loaded at once); all cleaned up."""
    if not pg_redis_reachable():
        raise RuntimeError("PostgreSQL (127.0.0.1:5432, db test) and Redis (127.0.0.1:6379) must be running")
    results = []
    for count in instances:
        with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
            print(f"starting {variant_name(count)} on PostgreSQL + Redis (Rasa takes a minute or two to load)...",
                  flush=True)
            stack = CapacityStack(Path(tmp), instances=count).start()
            try:
                results.append(asyncio.run(measure(stack, rates, seconds, poisson, p99_limit_s)))
            finally:
                stack.stop()
    return {
        "results": results,
        "settings": {"instances": list(instances), "rates": list(rates), "seconds": seconds,
                     "arrivals": "poisson" if poisson else "even", "lost_after_s": LOST_AFTER_S,
                     "p99_limit_s": p99_limit_s, "balancing": "round robin per POST",
                     "stores": "encrypted tracker store on PostgreSQL, AtomicRedisLockStore, Redis dedup"},
    }


def doc_block(section: Mapping[str, Any]) -> str:
    """The measured part of docs/operations.md's "Capacity": one table and verdict per instance count."""
    info = machine_info()
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {info['cpus']} cores, load average "
             f"{', '.join(map(str, info['loadavg_1_5_15']))} (`python -m bench.capacity`, "
             f"{section['settings']['seconds']:g} s per rate, {section['settings']['arrivals']} arrivals):", ""]
    for result in section["results"]:
        rows = result["rows"]
        lines += [f"**{variant_name(result['instances'])}**", "", format_table(
            ["offered msgs/s", "achieved msgs/s", "p50 ms", "p99 ms", "share > 1 s %", "503s/errors", "Rasa cores",
             "serving CPU ms/msg"],
            [[r["offered_rate"], r["achieved_rate"], r["p50_s"] * 1000, r["p99_s"] * 1000, r["share_over_1s"] * 100,
              _errors_text(r), r["rasa_cores"], r["serving_cpu_ms_per_msg"]] for r in rows]), "", result["verdict"], ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default=",".join(map(str, DEFAULT_INSTANCES)), help="Rasa instance counts")
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)), help="offered msgs/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="duration of each rate")
    parser.add_argument("--poisson", action="store_true", help="Poisson arrivals instead of evenly spaced")
    parser.add_argument("--p99-limit", type=float, default=DEFAULT_P99_LIMIT_S, help="second verdict: p99 below (s)")
    parser.add_argument("--save", action="store_true", help=f"write the tables under '{HEADING}' of --doc")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document --save writes into")
    args = parser.parse_args(argv)
    section = run(parse_list(args.instances), parse_list(args.rates, float), args.seconds, args.poisson, args.p99_limit)
    save_section("capacity", section)
    if args.save:
        doc = args.doc.read_text(encoding="utf-8") if args.doc.exists() else ""
        args.doc.write_text(replace_doc_section(doc, HEADING, doc_block(section)), encoding="utf-8")
        print(f"written under '{HEADING}' of {args.doc}", flush=True)
    return section


if __name__ == "__main__":
    main()
