"""Run every benchmark, print the tables, write bench/results/results.json and latency.png.

Why one runner: the figures in docs/performance.md should come from one run on one machine
state. The in-process benchmarks (crypto, tracker stores) run first, while no Rasa process is
loading or serving, then one set of processes (REST, WhatsApp/SQLite and, when reachable,
WhatsApp/PostgreSQL+Redis) is started once and shared by the webhook and turn benchmarks,
because starting Rasa costs a minute or two on a shared 2-core machine. The scale-out benchmark
runs last, on its own 1- and 2-instance stacks (PostgreSQL + Redis), started after the others
stopped so that no idle Rasa process holds memory or a loading one steals CPU from a measurement.
Start-up time and resident memory (bench/startup.py) come last: cold starts of their own.
The CPU profile (bench/profile.py, py-spy) is a separate command; it needs ptrace rights.

Run: ``python -m bench.run_all [--full] [--only crypto,tracker_store,webhook_ack,turns,scale_out,startup]``.
The default run takes about 13-15 minutes, most of it loading Rasa (four times). ``--with-capacity`` adds
the capacity benchmark (bench/capacity.py: 1, 2 and 3 instances at offered rates, 20-30 minutes)
at the very end; it is never part of the default run.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import capacity, crypto, scale_out, services, startup, tracker_store, turn_stacks, turns, webhook_ack
from bench.common import PLOT_FILE, RESULTS_FILE, load_results, parse_list, plot_latency, save_section

__all__ = ["BENCHMARKS", "main"]

BENCHMARKS = ("crypto", "tracker_store", "webhook_ack", "turns", "scale_out", "startup")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="benchmarks to run, comma-separated")
    parser.add_argument("--full", action="store_true",
                        help="longer runs: more rounds, 5,000-event trackers, 20 s per rate, 4 rounds of turns"
                             " and of scale-out")
    parser.add_argument("--with-capacity", action="store_true",
                        help="also run bench/capacity.py (1, 2, 3 instances at offered rates; long) at the end")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--with-postgres-redis", dest="pg", action="store_true", default=None)
    group.add_argument("--no-postgres-redis", dest="pg", action="store_false")
    args = parser.parse_args(argv)
    chosen = parse_list(args.only, str)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    warnings.filterwarnings("ignore")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.getLogger("rasa").setLevel(logging.WARNING)
    began = time.monotonic()
    timings: dict[str, float] = {}

    if "crypto" in chosen:
        started = time.monotonic()
        rounds, batch = (25, 50.0) if args.full else (15, 20.0)
        save_section("crypto", crypto.run(rounds=rounds, batch_ms=batch))
        timings["crypto"] = time.monotonic() - started
    if "tracker_store" in chosen:
        started = time.monotonic()
        sizes, reps = ((10, 100, 1000, 5000), 15) if args.full else ((10, 100, 1000), 9)
        save_section("tracker_store", tracker_store.run(sizes, reps))
        timings["tracker_store"] = time.monotonic() - started

    if "webhook_ack" in chosen or "turns" in chosen:
        with_pg = services.pg_redis_reachable() if args.pg is None else args.pg
        if "turns" not in chosen:
            with_pg = False
        with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
            started = time.monotonic()
            print(f"\nstarting REST + WhatsApp/SQLite{' + WhatsApp/PostgreSQL+Redis' if with_pg else ''} "
                  "(Rasa takes a minute or two to load)...", flush=True)
            stacks = turn_stacks.BenchStacks(Path(tmp), with_pg_redis=with_pg).start()
            timings["start_processes"] = time.monotonic() - started
            try:
                if "webhook_ack" in chosen:
                    started = time.monotonic()
                    seconds = 20.0 if args.full else 6.0
                    section = webhook_ack.run((50, 200, 500), seconds, 2, stack=stacks.sqlite)
                    save_section("webhook_ack", section)
                    timings["webhook_ack"] = time.monotonic() - started
                if "turns" in chosen:
                    started = time.monotonic()
                    min_turns, rounds = (50, 4) if args.full else (30, 2)
                    save_section("turns", turns.run((1, 10, 50), min_turns, stacks=stacks, rounds=rounds))
                    timings["turns"] = time.monotonic() - started
            finally:
                stacks.stop()
    if "scale_out" in chosen:
        _run_scale_out(args.full, args.pg, timings)
    if "startup" in chosen:
        started = time.monotonic()
        save_section("startup", startup.run(rounds=2 if args.full else 1, with_scale=args.pg))
        timings["startup"] = time.monotonic() - started
    if args.with_capacity:
        _run_capacity(args.pg, timings)

    results = load_results()
    plot = plot_latency(scale_out.with_plot_rows(results))
    total = time.monotonic() - began
    print("\nseconds per step: " + ", ".join(f"{name} {secs:.0f}" for name, secs in timings.items())
          + f"; total {total:.0f}", flush=True)
    print(f"results: {RESULTS_FILE}" + (f"\nplot: {PLOT_FILE}" if plot else ""), flush=True)
    return results


def _run_scale_out(full: bool, with_pg: bool | None, timings: dict[str, float]) -> None:
    """The scale-out benchmark needs PostgreSQL and Redis: skip it (and say so) without them."""
    if with_pg is False or not services.pg_redis_reachable():
        print("\nscale_out skipped: needs PostgreSQL and Redis on loopback", flush=True)
        return
    started = time.monotonic()
    min_turns, rounds = (60, 4) if full else (40, 2)
    save_section("scale_out", scale_out.run(scale_out.DEFAULT_CONCURRENCY, min_turns, rounds))
    timings["scale_out"] = time.monotonic() - started


def _run_capacity(with_pg: bool | None, timings: dict[str, float]) -> None:
    """The capacity benchmark (only with --with-capacity) needs PostgreSQL and Redis too."""
    if with_pg is False or not services.pg_redis_reachable():
        print("\ncapacity skipped: needs PostgreSQL and Redis on loopback", flush=True)
        return
    started = time.monotonic()
    save_section("capacity", capacity.run())
    timings["capacity"] = time.monotonic() - started


if __name__ == "__main__":
    main()
