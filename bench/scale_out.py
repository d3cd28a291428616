"""Scale-out: one against two Rasa instances on shared PostgreSQL and Redis, the load generator counted in.

Why: production runs several ``rasa run`` instances behind a load balancer, sharing the encrypted
tracker store (PostgreSQL), the atomic Redis lock store and the Redis dedup store
(tests/integration/test_scale_out.py shows that this is correct). This measures what a second instance buys
in throughput and latency, and what the shared stores cost when one user's consecutive messages
land on different instances. There is no target: the figures feed docs/performance.md.

Variants (two ``LocalStack`` s started side by side, same model, same configuration; both use one
benchmark-only table ``bench_scale_<random>`` and lock key prefix ``benchscale<random>`` in Redis
db 0, all dropped/deleted afterwards, as are the dedup records of every message sent):

- ``1 instance``: Graph stand-in, action server, one Rasa instance.
- ``2 instances``: Graph stand-in, action server, two Rasa instances. The load generator plays the
  load balancer: message ``step`` of user ``u`` goes to instance ``(u + step) % 2``, i.e. round
  robin per webhook POST with every user starting on a different instance than its neighbour, so
  consecutive messages of one user always hit different instances (the hard case for shared
  state) while the instances get equal load.

Load, timing and CPU accounting are bench/turns.py's (bench/closed_loop.py, bench/turn_drivers.py:
reused, not copied): the same closed-loop script and fresh fake users per level (4915550002001...), a turn timed from the
signed webhook POST to the Graph stand-in's ``received_at`` of its last reply, variants interleaved
per level and round, rounds pooled, one warm-up user per variant. On top, the load generator's own
CPU is counted (this process: building, signing and posting payloads, httpx), because on a 2-core
machine it competes with the servers for the same cores; the table prints its share next to the
figures, plus the cores busy in our processes and in the whole machine (other jobs included) and
the cores the hypervisor took away (steal time: the VM's 2 cores are not 2 whole cores).

Why 2 instances cannot double throughput on 2 cores: a turn costs 100-230 ms of CPU (more on a
crowded machine), most of it in the Rasa process, so one instance saturates one core at 4-10 turns/s. A second instance can only
use CPU the first left idle (the other core, while the first waits for the action server,
PostgreSQL or Redis); the cores are shared with the action server, the stand-in, the databases,
the load generator and other jobs. The verdict line says what the measured figures show.

Run: ``python -m bench.scale_out [--concurrency 10,50] [--min-turns 40] [--rounds 2]`` (about 6-7
minutes on a quiet machine, 2-3 of them loading Rasa; much longer while other jobs load the cores).
Needs PostgreSQL and Redis on loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.closed_loop import Level, add_closed_loop_options, cpu_text, interleaved_levels, level_row
from bench.common import parse_list, print_table, save_section
from bench.services import PG_URL, REDIS_URL, cleanup_pg_redis, pg_redis_reachable
from bench.turn_drivers import SCRIPT, WhatsAppDriver
from bench.turn_stacks import delete_dedup_records_of
from harness.local_stack import LocalStack

__all__ = [
    "INSTANCES",
    "LOADGEN",
    "ScaleStacks",
    "instance_for",
    "variant_name",
    "split_cpu",
    "cores_used",
    "speedups",
    "scale_verdict",
    "with_plot_rows",
    "measure",
    "run",
    "main",
]

INSTANCES = (1, 2)
LOADGEN = "loadgen"
FAKE_NUMBER_BASE = 4915550002001
DEFAULT_CONCURRENCY = (10, 50)
DEFAULT_MIN_TURNS = 40
DEFAULT_ROUNDS = 2
_GAIN = 1.1  # a speed-up above this is a gain, below 1 / _GAIN a loss; noise in between
_SATURATED = 0.9  # busy + stolen cores at or above this share of all cores: no idle CPU left
_NAN = float("nan")


# -- pure helpers (unit-tested in tests/unit/bench/test_scale_out.py) ------------------------------
def variant_name(instances: int) -> str:
    """``1 instance`` / ``2 instances``: the row label of a stack with that many Rasa processes."""
    return f"{instances} instance{'s' if instances != 1 else ''}"


def instance_for(user: str, step: int, instances: int) -> int:
    """Which Rasa instance gets message ``step`` of ``user`` (a number): round robin per POST.

    Offset by the user's number so neighbouring users start on different instances (equal load at
    every moment) and rotating per step so one user's consecutive messages never hit the same
    instance twice in a row when there are two: the case a shared lock and tracker store must get right.
    """
    return (int(user) + step) % instances


def split_cpu(cpu_ms_per_turn: Mapping[str, float]) -> tuple[float, float]:
    """(serving processes, load generator) CPU ms per turn from a row's per-process figures."""
    loadgen = cpu_ms_per_turn.get(LOADGEN, 0.0)
    return sum(cpu_ms_per_turn.values()) - loadgen, loadgen


def cores_used(cpu_seconds: float, wall_seconds: float) -> float:
    """How many cores ``cpu_seconds`` of CPU kept busy on average over ``wall_seconds`` (NaN for no time)."""
    return cpu_seconds / wall_seconds if wall_seconds > 0 else _NAN


def _ratio(numerator: float, denominator: float) -> float:
    if not denominator or math.isnan(denominator) or math.isnan(numerator):
        return _NAN
    return numerator / denominator


def speedups(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per concurrency: 2 instances against 1 (throughput, per round, p50/p99, extra cores).

    Per-round speed-ups pair the rounds in the order they ran (the variants ran back to back in
    each round), so their spread shows how much of the pooled speed-up is noise.
    """
    base_name, scaled_name = (variant_name(n) for n in INSTANCES)
    by_key = {(row["variant"], row["concurrency"]): row for row in rows}
    out = []
    for (variant, users), scaled in by_key.items():
        base = by_key.get((base_name, users))
        if variant != scaled_name or base is None:
            continue
        out.append({
            "concurrency": users,
            "throughput_1": base["throughput"],
            "throughput_2": scaled["throughput"],
            "speedup": _ratio(scaled["throughput"], base["throughput"]),
            "speedup_per_round": [_ratio(s, b) for s, b in zip(scaled["throughput_per_round"], base["throughput_per_round"])],
            "p50_ratio": _ratio(scaled["p50_ms"], base["p50_ms"]),
            "p99_ratio": _ratio(scaled["p99_ms"], base["p99_ms"]),
            "our_cores_1": base["our_cores"],
            "our_cores_2": scaled["our_cores"],
            "machine_cores_1": base["machine_cores"],
            "machine_cores_2": scaled["machine_cores"],
            "stolen_cores_1": base["stolen_cores"],
            "stolen_cores_2": scaled["stolen_cores"],
            "errors": base["errors"] + scaled["errors"],
        })
    return sorted(out, key=lambda c: c["concurrency"])


def scale_verdict(comparisons: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], cpus: int) -> str:
    """One honest sentence or three: what a second instance bought on this machine, and why not 2x.

    The CPU ceiling is ``cpus`` cores divided by the CPU one turn costs in our processes (load
    generator included, databases not), so the real ceiling is lower still. The machine counts as
    saturated when busy plus stolen cores reach 90 % of all: then no idle CPU was left to use.
    """
    if not comparisons:
        return "Verdict: no level ran with both variants."
    figures = "; ".join(
        f"{c['speedup']:.2f}x throughput, p99 {c['p99_ratio']:.2f}x at {c['concurrency']} users" for c in comparisons
    )
    top = comparisons[-1]
    base = next(r for r in rows if r["variant"] == variant_name(INSTANCES[0]) and r["concurrency"] == top["concurrency"])
    per_turn = base["serving_cpu_ms_per_turn"] + base["loadgen_cpu_ms_per_turn"]
    ceiling = cpus * 1000.0 / per_turn if per_turn > 0 else _NAN
    best = max((c["speedup"] for c in comparisons if not math.isnan(c["speedup"])), default=_NAN)
    unavailable = top["machine_cores_1"] + top["stolen_cores_1"]  # busy, or taken by the hypervisor
    saturated = unavailable >= _SATURATED * cpus
    if best >= _GAIN and saturated:
        reading = ("the second instance gained although the machine was already busy with 1 instance: the kernel "
                   "shares contended cores per runnable process, so two Rasa processes win a larger share from the "
                   "other jobs than one; on a dedicated machine that part of the gain would not exist")
    elif best >= _GAIN:
        reading = ("the second instance gained by using CPU the single one left idle (one Rasa process runs a "
                   "turn's NLU and policies on one core and waits for the action server and the stores in "
                   "between), not by adding capacity")
    elif best > 1 / _GAIN:
        reading = ("no gain beyond noise: the cores, not the number of Rasa processes, are the limit; a second "
                   "instance here buys availability, and throughput only on a machine with idle cores")
    else:
        reading = "a loss: two Rasa processes compete for the same cores and add store round trips"
    return (
        f"Verdict: 2 instances against 1 on {cpus} cores: {figures}. A second instance cannot double throughput "
        f"here: a turn costs {per_turn:.0f} ms of CPU in our processes ({base['loadgen_cpu_ms_per_turn']:.0f} ms "
        f"of it in the load generator, {base['loadgen_share'] * 100:.0f} %), so {cpus} cores cap the loop at "
        f"~{ceiling:.0f} turns/s before PostgreSQL, Redis and other jobs take their share; at "
        f"{top['concurrency']} users 1 instance ran {top['throughput_1']:.1f} turns/s using {top['our_cores_1']:.2f} "
        f"cores itself, with {top['machine_cores_1']:.1f} of {cpus} cores busy machine-wide and "
        f"{top['stolen_cores_1']:.1f} stolen by the hypervisor (2 instances: {top['throughput_2']:.1f} turns/s, "
        f"{top['our_cores_2']:.2f} cores itself, {top['machine_cores_2']:.1f} busy, {top['stolen_cores_2']:.1f} "
        f"stolen). Reading: {reading}."
    )


def with_plot_rows(results: Mapping[str, Any]) -> dict[str, Any]:
    """``results`` with the scale-out rows added to the turn-latency lines of latency.png.

    The plot draws latency against concurrency per variant; the scale-out variants are two more
    such lines, labelled so they are not mistaken for bench/turns.py's variants.
    """
    extra = [{**row, "variant": f"pg-redis, {row['variant']} (scale-out)"}
             for row in (results.get("scale_out") or {}).get("rows") or []]
    if not extra:
        return dict(results)
    turns = dict(results.get("turns") or {})
    turns["rows"] = list(turns.get("rows") or []) + extra
    return {**results, "turns": turns}


# -- the processes ----------------------------------------------------------------------------
@dataclass
class ScaleStacks:
    """One stack per variant, sharing one benchmark-only table and lock key prefix."""

    workdir: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    stacks: list[LocalStack] = field(default_factory=list)

    @property
    def table(self) -> str:
        return f"bench_scale_{self.tag}"

    @property
    def lock_prefix(self) -> str:
        return f"benchscale{self.tag}"  # Rasa accepts only alphanumeric lock key prefixes

    def start(self, timeout: float = 1200.0) -> "ScaleStacks":
        """Start both stacks side by side (loading Rasa is most of the time); clean up on failure.

        The generous timeout is for a shared machine: three Rasa processes loading at once next to
        other jobs' took more than 10 minutes on 2 cores at a load average of 8.
        """
        self.stacks = [self._stack(instances) for instances in INSTANCES]
        try:
            with ThreadPoolExecutor(len(self.stacks)) as pool:
                for future in [pool.submit(stack.start, timeout) for stack in self.stacks]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        return self

    def _stack(self, instances: int) -> LocalStack:
        return LocalStack(
            workdir=self.workdir / f"x{instances}",
            rasa_instances=instances,
            tracker_store_url=PG_URL,
            lock_store_url=REDIS_URL,
            dedup_url=REDIS_URL,
            tracker_store_options={"table": self.table},
            lock_store_options={"db": 0, "key_prefix": self.lock_prefix},  # db 0: where the cleanup looks
        )

    def stop(self) -> None:
        for stack in self.stacks:
            stack.stop()
        cleanup_pg_redis(self.table, self.lock_prefix)


# -- measuring --------------------------------------------------------------------------------
class _BalancedDriver(WhatsAppDriver):
    """bench/turn_drivers.py's WhatsApp driver behind a round-robin load balancer, counting its own CPU."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(variant_name(stack.rasa_instances), stack)
        self.pids[LOADGEN] = os.getpid()

    def webhook_url(self, user: str, step: int) -> str:
        return self.stack.webhook_url(instance_for(user, step, self.stack.rasa_instances))


def _scale_row(variant: str, users_count: int, levels: Sequence[Level]) -> dict[str, Any]:
    """bench/closed_loop.py's row plus the load generator's share and the cores busy during the level."""
    row = level_row(variant, users_count, levels)
    wall = sum(level_wall for _, level_wall, _ in levels)

    def machine(key: str) -> float:
        return sum(level_cpu.get(key, _NAN) for _, _, level_cpu in levels)

    serving, loadgen = split_cpu(row["cpu_ms_per_turn"])
    ours = (serving + loadgen) * row["turns"] / 1000.0
    row.update(
        error_kinds=dict(Counter(turn.error for level_turns, _, _ in levels for turn in level_turns if turn.error)),
        serving_cpu_ms_per_turn=serving,
        loadgen_cpu_ms_per_turn=loadgen,
        loadgen_share=_ratio(loadgen, serving + loadgen),
        our_cores=cores_used(ours, wall),
        loadgen_cores=cores_used(loadgen * row["turns"] / 1000.0, wall),
        machine_cores=cores_used(machine("_machine_busy_s"), wall),
        stolen_cores=cores_used(machine("_machine_stolen_s"), wall),
    )
    return row


def _print_tables(rows: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]], cpus: int) -> None:
    print_table(
        f"Scale-out on PostgreSQL + Redis, closed loop (latency in ms; CPU in ms per turn; {cpus} cores)",
        ["variant", "users", "turns", "errors", "turns/s", "p50", "p95", "p99", "max",
         "serving CPU ms/turn", "load gen. CPU ms/turn", "load gen. share %", "our cores", "machine cores busy",
         "cores stolen"],
        [[r["variant"], r["concurrency"], r["turns"], r["errors"], r["throughput"], r["p50_ms"], r["p95_ms"],
          r["p99_ms"], r["max_ms"], cpu_text({k: v for k, v in r["cpu_ms_per_turn"].items() if k != LOADGEN}),
          r["loadgen_cpu_ms_per_turn"], r["loadgen_share"] * 100, r["our_cores"], r["machine_cores"],
          r["stolen_cores"]] for r in rows],
    )
    for r in rows:
        if r.get("error_kinds"):  # a failed turn has no latency: say what it was instead
            kinds = ", ".join(f"{kind} x{count}" for kind, count in r["error_kinds"].items())
            print(f"errors of {r['variant']} at {r['concurrency']} users: {kinds}", flush=True)
    print_table(
        "2 instances against 1 (speed-up = throughput ratio; rounds in the order they ran)",
        ["users", "turns/s 1", "turns/s 2", "speed-up", "speed-up per round", "p50 ratio", "p99 ratio",
         "our cores 1 -> 2", "machine cores busy 1 -> 2", "stolen 1 -> 2"],
        [[c["concurrency"], c["throughput_1"], c["throughput_2"], c["speedup"],
          ", ".join(f"{s:.2f}" for s in c["speedup_per_round"]), c["p50_ratio"], c["p99_ratio"],
          _arrow(c, "our_cores"), _arrow(c, "machine_cores"), _arrow(c, "stolen_cores")] for c in comparisons],
    )


def _arrow(comparison: Mapping[str, Any], key: str) -> str:
    return f"{comparison[key + '_1']:.2f} -> {comparison[key + '_2']:.2f}"


async def measure(stacks: ScaleStacks, concurrency: Sequence[int], min_turns: int, rounds: int) -> dict[str, Any]:
    """Run every level against both variants (interleaved); print tables and verdict; return the section."""
    drivers = [_BalancedDriver(stack) for stack in stacks.stacks]
    pooled = await interleaved_levels(drivers, concurrency, min_turns, rounds, FAKE_NUMBER_BASE,
                                      warmup_steps=2 * len(SCRIPT))  # every instance sees every message kind
    rows = [_scale_row(d.name, users, pooled[(d.name, users)]) for users in concurrency for d in drivers]
    for driver in drivers:
        await delete_dedup_records_of(driver)
    cpus = os.cpu_count() or 1
    comparisons = speedups(rows)
    _print_tables(rows, comparisons, cpus)
    text = scale_verdict(comparisons, rows, cpus)
    print(text + "\n", flush=True)
    return {
        "rows": rows,
        "comparisons": comparisons,
        "verdict": text,
        "settings": {"concurrency": list(concurrency), "min_turns": min_turns, "rounds": rounds,
                     "instances": list(INSTANCES), "script": [s for s, _ in SCRIPT],
                     "balancing": "round robin per POST: instance (user number + step) % instances",
                     "stores": "encrypted tracker store on PostgreSQL, AtomicRedisLockStore, Redis dedup"},
    }


def run(concurrency: Sequence[int] = DEFAULT_CONCURRENCY, min_turns: int = DEFAULT_MIN_TURNS,
        rounds: int = DEFAULT_ROUNDS) -> dict[str, Any]:
    """Start both stacks, measure, stop them and remove every table and key the run created."""
    if not pg_redis_reachable():
        raise RuntimeError("PostgreSQL (127.0.0.1:5432, db test) and Redis (127.0.0.1:6379) must be running")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        print("starting 1-instance and 2-instance stacks on PostgreSQL + Redis "
              "(Rasa takes a minute or two to load)...", flush=True)
        stacks = ScaleStacks(Path(tmp)).start()
        try:
            return asyncio.run(measure(stacks, concurrency, min_turns, rounds))
        finally:
            stacks.stop()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__.splitlines()[0])
    add_closed_loop_options(parser, DEFAULT_CONCURRENCY, DEFAULT_MIN_TURNS, DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    section = run(parse_list(args.concurrency), args.min_turns, args.rounds)
    save_section("scale_out", section)
    return section


if __name__ == "__main__":
    main()
