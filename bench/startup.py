"""Resident memory per process and time to ready after start, for one and two Rasa instances.

Why: issue 12 asks what a Blaupause instance costs in memory and how long it takes to take
traffic after a (re)start, against stock Rasa; both decide how many instances fit on a machine
and how fast a crashed instance is replaced. Time to ready is dominated by loading the model
(TensorFlow, the DIET and TED policies); stock Rasa traces and runs a training step for each
before loading its weights, which the channel's hot path skips (rasa_compat/serving_load.py),
so the figures show that saving together with what the channel and the privacy layer add.

Variants, each started cold as a whole (processes spawned at once, the clock started just
before the spawn):

- ``rest x1``: stock Rasa 3.6 with the REST channel and the in-memory store (same model).
- ``whatsapp x1``: our channel, the encrypted SQLite store, the action server, the Graph stand-in
  (started side by side with ``rest x1``, so both load under the same conditions).
- ``whatsapp x2``: two Rasa instances sharing PostgreSQL and Redis (needs both on loopback;
  benchmark-only table and key prefix, removed afterwards): two models load at once on 2 cores.

Per Rasa process: seconds until its health URL first answers 200 (polled every 0.1 s), resident
memory (``VmRSS``) when ready and after a warm-up of a few conversations (``--turns``), and the
peak (``VmHWM``); the action server's too. Processes are the ones LocalStack spawns (``rasa run``
is one process; its children, if any, are added).

Run: ``python -m bench.startup [--rounds 2] [--no-scale]`` (about 2-3 minutes per round).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.closed_loop import run_level
from bench.common import print_table, save_section
from bench.scale_out import ScaleStacks
from bench.services import pg_redis_reachable
from bench.turn_drivers import SCRIPT, Driver, RestDriver, WhatsAppDriver
from bench.turn_stacks import BenchStacks
from harness.local_stack import LocalStack

__all__ = ["rss_mb", "run", "main"]


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child, *_children(child)]
    return found


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its children in MiB (Linux /proc; 0.0 when gone)."""
    return sum(_status_kb(p, field) for p in [pid, *_children(pid)]) / 1024


def _poll_ready(urls: Mapping[str, str], started: float, done: threading.Event) -> dict[str, float]:
    """Seconds from ``started`` until each URL first answers 200; polled until all did or ``done``."""
    ready: dict[str, float] = {}
    while len(ready) < len(urls) and not done.is_set():
        for name, url in urls.items():
            if name in ready:
                continue
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        ready[name] = time.monotonic() - started
            except OSError:
                pass
        time.sleep(0.1)
    return ready


def _timed_start(start: Callable[[], Any], urls: Callable[[], Mapping[str, str]]) -> dict[str, float]:
    """Run ``start`` (which spawns and waits) while polling ``urls`` (known once ports are chosen)."""
    done = threading.Event()
    result: dict[str, float] = {}
    started = time.monotonic()
    poller = threading.Thread(target=lambda: result.update(_poll_ready(urls(), started, done)), daemon=True)
    poller.start()
    try:
        start()
    finally:
        time.sleep(0.3)
        done.set()
        poller.join(timeout=5)
    return result


def _warm(drivers: Sequence[Driver], turns: int) -> None:
    users = max(1, turns // len(SCRIPT))

    async def go() -> None:
        for index, driver in enumerate(drivers):
            await run_level(driver, [str(4915550007001 + index * 1000 + i) for i in range(users)], len(SCRIPT))

    asyncio.run(go())


def _rows(variant: str, pids: Mapping[str, int], ready: Mapping[str, float]) -> list[dict[str, Any]]:
    return [{"variant": variant, "process": name, "pid": pid, "ready_s": ready.get(name),
             "rss_ready_mb": rss_mb(pid)} for name, pid in pids.items()]


def _single(workdir: Path, turns: int) -> list[dict[str, Any]]:
    stacks = BenchStacks(workdir, with_pg_redis=False)

    def urls() -> dict[str, str]:
        while stacks.sqlite is None or not stacks.rest_port:
            time.sleep(0.05)
        sqlite = stacks.sqlite
        return {"rest x1: rasa": f"http://127.0.0.1:{stacks.rest_port}/webhooks/rest/",
                "whatsapp x1: rasa": f"http://127.0.0.1:{sqlite.rasa_ports[0]}/webhooks/whatsapp/",
                "whatsapp x1: actions": f"http://127.0.0.1:{sqlite.actions_port}/health"}

    try:
        ready = _timed_start(stacks.start, urls)
        assert stacks.sqlite is not None
        procs = stacks.sqlite.procs
        pids = {"rest x1: rasa": procs["rest"].pid, "whatsapp x1: rasa": procs["rasa0"].pid,
                "whatsapp x1: actions": procs["actions"].pid}
        rows = _rows("x1", pids, ready)
        _warm([WhatsAppDriver("whatsapp", stacks.sqlite), RestDriver(stacks.rest_url, {"rest": procs["rest"].pid})], turns)
        for row in rows:
            row["rss_warm_mb"], row["rss_peak_mb"] = rss_mb(row["pid"]), rss_mb(row["pid"], "VmHWM")
        return rows
    finally:
        stacks.stop()


def _double(workdir: Path, turns: int) -> list[dict[str, Any]]:
    scale = ScaleStacks(workdir)
    stack: LocalStack = scale._stack(2)
    scale.stacks = [stack]

    def urls() -> dict[str, str]:
        found = {f"whatsapp x2: rasa{i}": f"http://127.0.0.1:{port}/webhooks/whatsapp/"
                 for i, port in enumerate(stack.rasa_ports)}
        found["whatsapp x2: actions"] = f"http://127.0.0.1:{stack.actions_port}/health"
        return found

    try:
        ready = _timed_start(stack.start, urls)
        pids = {f"whatsapp x2: rasa{i}": stack.procs[f"rasa{i}"].pid for i in range(2)}
        pids["whatsapp x2: actions"] = stack.procs["actions"].pid
        rows = _rows("x2", pids, ready)
        _warm([WhatsAppDriver("whatsapp x2", stack)], turns)
        for row in rows:
            row["rss_warm_mb"], row["rss_peak_mb"] = rss_mb(row["pid"]), rss_mb(row["pid"], "VmHWM")
        return rows
    finally:
        scale.stop()


def run(rounds: int = 2, turns: int = 15, with_scale: bool | None = None) -> dict[str, Any]:
    """Start the variants ``rounds`` times; per process the median over rounds."""
    with_scale = pg_redis_reachable() if with_scale is None else with_scale
    collected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for round_index in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            print(f"round {round_index + 1}: starting REST x1 + WhatsApp x1 cold...", flush=True)
            for row in _single(Path(tmp) / "single", turns):
                collected[row["process"]].append(row)
            if with_scale:
                print(f"round {round_index + 1}: starting WhatsApp x2 (PostgreSQL + Redis) cold...", flush=True)
                for row in _double(Path(tmp) / "double", turns):
                    collected[row["process"]].append(row)
    summary = []
    for process, rows in collected.items():
        def median(key: str) -> float | None:
            values = [row[key] for row in rows if row.get(key) is not None]
            return statistics.median(values) if values else None
        summary.append({"process": process, "rounds": len(rows), "ready_s": median("ready_s"),
                        "rss_ready_mb": median("rss_ready_mb"), "rss_warm_mb": median("rss_warm_mb"),
                        "rss_peak_mb": median("rss_peak_mb")})
    print_table(
        f"time to ready and resident memory (median of {rounds} cold start(s); warm = after {turns} turns)",
        ["process", "ready s", "RSS ready MiB", "RSS warm MiB", "peak MiB"],
        [(r["process"], _fmt(r["ready_s"], 1), _fmt(r["rss_ready_mb"], 0), _fmt(r["rss_warm_mb"], 0),
          _fmt(r["rss_peak_mb"], 0)) for r in summary],
    )
    return {"rounds": rounds, "turns": turns, "processes": summary}


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--turns", type=int, default=15, help="warm-up turns per variant before the warm RSS")
    parser.add_argument("--no-scale", action="store_true", help="skip the two-instance PostgreSQL + Redis variant")
    parser.add_argument("--save", action="store_true", help="store the figures in bench/results/results.json")
    args = parser.parse_args(argv)
    section = run(args.rounds, args.turns, with_scale=False if args.no_scale else None)
    if args.save:
        save_section("startup", section)
    return section


if __name__ == "__main__":
    main()
