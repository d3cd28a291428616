"""Closed-loop load: virtual users that each send the next message only after the last reply.

Levels of concurrency run one after the other, every driver (variant) in rotating order,
``rounds`` times, and a level's rounds are pooled into one table row (``level_row``). Each level
records the CPU seconds of the serving processes and of the whole machine (busy and stolen
time, /proc/stat) as evidence of where the time went on a small, shared machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.common import summarize
from bench.turn_drivers import SCRIPT, Driver, Turn

__all__ = [
    "Level",
    "add_closed_loop_options",
    "cpu_seconds",
    "cpu_text",
    "interleaved_levels",
    "level_row",
    "run_level",
]


async def _user_loop(driver: Driver, client: httpx.AsyncClient, user: str, steps: int) -> list[Turn]:
    turns = []
    for step in range(steps):
        turns.append(await driver.turn(client, user, step))
    return turns


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc); 0.0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


_CLOCK_TICKS = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0


def _machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far, summed over cores (Linux /proc/stat).

    Busy is user + nice + system + irq + softirq: our processes, the database servers and other
    people's jobs, so a level's figures can be read against how busy the shared cores were. Stolen
    is time the hypervisor gave our virtual cores to someone else: cores the machine has on paper
    but could not use. (0.0, 0.0) when unavailable.
    """
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(fields[:3]) + sum(fields[5:7])
        stolen = fields[7] if len(fields) > 7 else 0
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    return busy / _CLOCK_TICKS, stolen / _CLOCK_TICKS


async def run_level(driver: Driver, users: Sequence[str], steps: int) -> tuple[list[Turn], float, dict[str, float]]:
    """One closed-loop level: (turns, wall seconds, CPU seconds per serving process)."""
    limits = httpx.Limits(max_connections=len(users) + 10, max_keepalive_connections=len(users) + 10)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as client:
        cpu_before = {name: cpu_seconds(pid) for name, pid in driver.pids.items()}
        machine_before = _machine_cpu_seconds()
        started = time.time()
        per_user = await asyncio.gather(*(_user_loop(driver, client, user, steps) for user in users))
        wall = time.time() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in driver.pids.items()}
        machine_after = _machine_cpu_seconds()  # every process, not one:
        cpu["_machine_busy_s"] = machine_after[0] - machine_before[0]
        cpu["_machine_stolen_s"] = machine_after[1] - machine_before[1]
        cpu["_loadavg_1min"] = os.getloadavg()[0]  # machine load at the end of the level, not a process
    turns = [turn for user_turns in per_user for turn in user_turns]
    await driver.finish_level(turns)
    return turns, wall, cpu


Level = tuple[list[Turn], float, dict[str, float]]  # (turns, wall seconds, CPU seconds by process)


async def interleaved_levels(drivers: Sequence[Driver], concurrency: Sequence[int], min_turns: int, rounds: int,
                             first_number: int, warmup_steps: int = len(SCRIPT)) -> dict[tuple[str, int], list[Level]]:
    """Every level against every driver, ``rounds`` times; the driver order rotates per level and round.

    Why interleaved: on a shared machine the load changes within minutes, so each variant must see
    every phase of it; pooling a level's rounds then compares like with like. Each level gets
    fresh users (numbers from ``first_number`` on) so no conversation carries over. One warm-up
    user per driver (``warmup_steps`` turns, not counted) loads lazy code paths first.
    Returns (driver name, users) -> the measured levels.
    """
    next_number = first_number

    def new_users(count: int) -> list[str]:
        nonlocal next_number
        users = [str(next_number + i) for i in range(count)]
        next_number += count
        return users

    for driver in drivers:  # warm-up: first turns load lazy code paths and open connections
        await run_level(driver, new_users(1), warmup_steps)
    pooled: dict[tuple[str, int], list[Level]] = defaultdict(list)
    for round_index in range(rounds):
        for level_index, users_count in enumerate(concurrency):
            steps = max(len(SCRIPT), -(-min_turns // users_count))
            shift = (level_index + round_index) % len(drivers)
            for driver in list(drivers[shift:]) + list(drivers[:shift]):
                turns, wall, cpu = await run_level(driver, new_users(users_count), steps)
                pooled[(driver.name, users_count)].append((turns, wall, cpu))
                print(f"  round {round_index + 1}: {driver.name} x{users_count}: {len(turns)} turns in {wall:.1f} s",
                      flush=True)
    return pooled


def level_row(variant: str, users_count: int, levels: Sequence[Level]) -> dict[str, Any]:
    """One table row from the pooled rounds of a level: throughput, latency percentiles, CPU per turn.

    Throughput is successful turns over the summed wall time, so a slow round weighs as much as it
    lasted; CPU is per turn sent (failed turns cost CPU too).
    """
    turns = [turn for level_turns, _, _ in levels for turn in level_turns]
    wall = sum(level_wall for _, level_wall, _ in levels)
    cpu: dict[str, float] = defaultdict(float)
    loads = [level_cpu.get("_loadavg_1min", float("nan")) for _, _, level_cpu in levels]
    for _, _, level_cpu in levels:
        for name, seconds in level_cpu.items():
            if not name.startswith("_"):
                cpu[name] += seconds
    ok = [t.latency for t in turns if t.latency is not None and t.error is None]
    stats = summarize(ok, scale=1000)
    return {
        "variant": variant,
        "concurrency": users_count,
        "turns": len(turns),
        "errors": sum(1 for t in turns if t.error),
        "throughput": len(ok) / wall if wall > 0 else 0.0,
        "throughput_per_round": [
            sum(1 for t in level_turns if t.latency is not None and t.error is None) / level_wall
            for level_turns, level_wall, _ in levels if level_wall > 0
        ],
        "cpu_ms_per_turn": {name: seconds * 1000 / len(turns) for name, seconds in cpu.items()} if turns else {},
        "loadavg_1min_per_round": loads,
        "mean_ms": stats["mean"],
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "p99_ms": stats["p99"],
        "max_ms": stats["max"],
        "replies_per_turn": (sum(t.replies for t in turns) / len(turns)) if turns else 0.0,
    }


def cpu_text(cpu: dict[str, float]) -> str:
    return " + ".join(f"{name} {ms:.0f}" for name, ms in cpu.items()) + (f" = {sum(cpu.values()):.0f}" if cpu else "")


def add_closed_loop_options(parser: argparse.ArgumentParser, concurrency: Sequence[int], min_turns: int,
                            rounds: int) -> None:
    """--concurrency, --min-turns and --rounds with these defaults: every closed-loop benchmark's knobs."""
    parser.add_argument("--concurrency", default=",".join(map(str, concurrency)),
                        help="virtual users per level, comma-separated")
    parser.add_argument("--min-turns", type=int, default=min_turns,
                        help="at least this many turns per level, variant and round")
    parser.add_argument("--rounds", type=int, default=rounds, help="passes over all levels (variant order rotates)")
