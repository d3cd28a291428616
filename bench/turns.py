"""End-to-end dialogue turns: our WhatsApp channel against Rasa's plain REST channel.

Why: the WhatsApp channel adds signature checks, key derivation, an encrypted tracker store, a
sealed outbox and Graph API calls to every turn. This measures what that costs against the
cheapest way to talk to the same model: Rasa's REST channel with the in-memory tracker store.
Targets (issue 12; issue 5 asked for >= 0.9x and <= 1.2x): WhatsApp + encrypted SQLite reaches
>= 1.2x REST's throughput, with p99 turn latency at most REST's (<= 1.0x), at every concurrency;
the Rasa process's CPU milliseconds per turn are printed for both.

Variants (same action server code, same machine; the same model but for the baseline variant):

- ``rest``: ``rasa run`` with ``rest:`` in a temporary credentials.yml and an endpoints.yml with
  only the action endpoint (in-memory tracker and lock store). It shares the action server of the
  SQLite stack and is started with that ``LocalStack``'s own process helpers.
- ``whatsapp-sqlite``: ``LocalStack`` (1 instance, encrypted SQLite store, Graph stand-in).
- ``whatsapp-pg-redis`` (``--with-postgres-redis``, default on when both servers answer): a second
  ``LocalStack`` with the encrypted store on PostgreSQL (tables ``bench_turns_<random>``), Rasa's
  RedisLockStore (prefix ``bench<random>``) and the Redis dedup store; cleaned up afterwards.

Load: closed loop with 1, 10 and 50 distinct virtual users (fake numbers 4915550000401...); each
sends its next message only after the reply to the previous one arrived. Every user plays the
script "Hallo" -> "Ich suche einen Job als Koch in Berlin" (NLU + the custom action
action_search_jobs) -> "/more_results" (a tap on the "more" button; action_more_results), repeated
until each level has at least ``--min-turns`` turns. Concurrency levels run one after the other,
and within a level the variants run in rotating order (interleaved); the whole pass is repeated
``--rounds`` times (default 2, the order rotating further) and the turns of a level are pooled.
Throughput = successful turns / summed wall time of the level's passes. One warm-up user per
variant is not counted.

How a turn is timed:

- REST: from just before the POST until its response, which carries all bot messages.
- WhatsApp: from just before the signed webhook POST until the stand-in *accepted* the last reply
  of that turn (its ``received_at``, ``time.time()`` in the stand-in process; same host clock).
  The channel answers the webhook only after every reply was accepted by the Graph API
  (docs/whatsapp-delivery.md: claim, dialogue, sealed outbox, send, then 200), so the webhook
  answer is the cheapest exact "reply is there" signal for the closed loop: no polling during the
  run. After each level, one GET of /_standin/messages assigns each reply to its turn by
  recipient and time window (send <= received_at <= answer). A turn without a reply is an error.
  This is as accurate as subscribing to the stand-in's queue and costs nothing during the run.

Parts, by what they do: bench/turn_stacks.py (the processes), bench/turn_drivers.py (one
timed turn per variant), bench/closed_loop.py (levels, rounds, CPU accounting); this module
measures, compares and prints.

- ``whatsapp-sqlite-baseline`` (``--baseline-model PATH``): the SQLite stack once more, serving
  another model archive, e.g. one trained before a pipeline change. Issue 13's target: the
  current model's turns at 1 user take at most 1.10x the baseline's (mean and p50), measured in
  the same interleaved run because the machine's speed drifts between runs.

Run: ``python -m bench.turns [--concurrency 1,10,50] [--min-turns 30] [--rounds 2] [--no-postgres-redis]
[--baseline-model models/before.tar.gz]``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.closed_loop import add_closed_loop_options, cpu_text, interleaved_levels, level_row
from bench.common import parse_list, print_table, save_section, verdict
from bench.services import pg_redis_reachable
from bench.turn_drivers import SCRIPT, Driver, RestDriver, WhatsAppDriver
from bench.turn_stacks import BenchStacks, delete_dedup_records_of

__all__ = ["FAKE_NUMBER_BASE", "measure", "run", "main"]

logger = logging.getLogger(__name__)

FAKE_NUMBER_BASE = 4915550000401
TARGET_THROUGHPUT_RATIO = 1.2
TARGET_P99_RATIO = 1.0
TARGET_MODEL_LATENCY_RATIO = 1.10  # issue 13: a pipeline change adds at most 10 % to a turn at 1 user
BASELINE = "whatsapp-sqlite-baseline"


async def measure(stacks: BenchStacks, concurrency: Sequence[int], min_turns: int, rounds: int = 2) -> dict[str, Any]:
    """Run every level against every variant (interleaved); print tables; return the section."""
    assert stacks.sqlite is not None
    sqlite_procs = getattr(stacks.sqlite, "procs", {})
    rest_pids = {name: sqlite_procs[name].pid for name in ("rest", "actions") if name in sqlite_procs}
    drivers: list[Driver] = [RestDriver(stacks.rest_url, rest_pids), WhatsAppDriver("whatsapp-sqlite", stacks.sqlite)]
    if stacks.pg is not None:
        drivers.append(WhatsAppDriver("whatsapp-pg-redis", stacks.pg))
    if stacks.baseline is not None:
        drivers.append(WhatsAppDriver(BASELINE, stacks.baseline))
    pooled = await interleaved_levels(drivers, concurrency, min_turns, rounds, FAKE_NUMBER_BASE)
    rows = [level_row(driver.name, users_count, pooled[(driver.name, users_count)])
            for users_count in concurrency for driver in drivers]
    for driver in drivers:
        if isinstance(driver, WhatsAppDriver) and driver.stack is stacks.pg:
            await delete_dedup_records_of(driver)

    comparisons = _compare(rows)
    print_table(
        "Dialogue turns, closed loop (latency in ms)",
        ["variant", "users", "turns", "errors", "turns/s", "p50", "p95", "p99", "max", "replies/turn",
         "CPU ms/turn (Rasa+actions+stand-in)"],
        [[r["variant"], r["concurrency"], r["turns"], r["errors"], r["throughput"], r["p50_ms"], r["p95_ms"],
          r["p99_ms"], r["max_ms"], r["replies_per_turn"], cpu_text(r["cpu_ms_per_turn"])] for r in rows],
    )
    print_table(
        f"WhatsApp variants against REST (targets for whatsapp-sqlite: throughput >= {TARGET_THROUGHPUT_RATIO}x, "
        f"p99 <= {TARGET_P99_RATIO}x)",
        ["variant", "users", "throughput ratio", "verdict", "p99 ratio", "verdict"],
        [[c["variant"], c["concurrency"], c["throughput_ratio"], verdict(c["throughput_met"]), c["p99_ratio"],
          verdict(c["p99_met"])] for c in comparisons],
    )
    gated = [c for c in comparisons if c["variant"] == "whatsapp-sqlite"]
    model_costs = _model_costs(rows)
    if model_costs:
        print_table(
            f"The model against the baseline model (both whatsapp-sqlite; target: mean and p50 latency "
            f"<= {TARGET_MODEL_LATENCY_RATIO}x)",
            ["users", "mean ms", "baseline mean ms", "mean ratio", "p50 ratio", "verdict", "throughput ratio"],
            [[c["concurrency"], c["mean_ms"], c["baseline_mean_ms"], c["mean_ratio"], c["p50_ratio"],
              verdict(c["met"]), c["throughput_ratio"]] for c in model_costs],
        )
    return {
        "rows": rows,
        "comparisons": comparisons,
        "target_throughput_ratio": TARGET_THROUGHPUT_RATIO,
        "target_p99_ratio": TARGET_P99_RATIO,
        "target_met": all(c["throughput_met"] and c["p99_met"] for c in gated) if gated else None,
        "model_against_baseline": model_costs,
        "baseline_model": str(stacks.baseline.model) if stacks.baseline is not None else None,
        "settings": {"concurrency": list(concurrency), "min_turns": min_turns, "rounds": rounds,
                     "script": [s for s, _ in SCRIPT],
                     "variants": [d.name for d in drivers]},
    }


def _pairs(rows: Sequence[dict[str, Any]], variants: Sequence[str],
           against: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each row of ``variants`` with the row of variant ``against`` at the same concurrency."""
    for row in rows:
        if row["variant"] in variants:
            base = next((r for r in rows if r["variant"] == against and r["concurrency"] == row["concurrency"]), None)
            if base is not None:
                yield row, base


def _compare(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    channels = [row["variant"] for row in rows if row["variant"] not in ("rest", BASELINE)]
    for row, base in _pairs(rows, channels, "rest"):
        if not base["throughput"] or not base["p99_ms"] == base["p99_ms"]:
            continue
        throughput_ratio = row["throughput"] / base["throughput"]
        p99_ratio = row["p99_ms"] / base["p99_ms"]
        out.append({
            "variant": row["variant"],
            "concurrency": row["concurrency"],
            "throughput_ratio": throughput_ratio,
            "p99_ratio": p99_ratio,
            "throughput_met": throughput_ratio >= TARGET_THROUGHPUT_RATIO and row["errors"] == 0,
            "p99_met": p99_ratio <= TARGET_P99_RATIO,
        })
    return out


def _model_costs(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """whatsapp-sqlite against the same stack serving the baseline model, per concurrency."""
    out = []
    for row, base in _pairs(rows, ["whatsapp-sqlite"], BASELINE):
        if not base["mean_ms"] or base["mean_ms"] != base["mean_ms"]:
            continue
        mean_ratio = row["mean_ms"] / base["mean_ms"]
        p50_ratio = row["p50_ms"] / base["p50_ms"]
        out.append({
            "concurrency": row["concurrency"],
            "mean_ms": row["mean_ms"],
            "baseline_mean_ms": base["mean_ms"],
            "mean_ratio": mean_ratio,
            "p50_ratio": p50_ratio,
            "throughput_ratio": row["throughput"] / base["throughput"] if base["throughput"] else float("nan"),
            "met": mean_ratio <= TARGET_MODEL_LATENCY_RATIO and p50_ratio <= TARGET_MODEL_LATENCY_RATIO
            and row["errors"] == 0 and base["errors"] == 0,
        })
    return out


def run(concurrency: Sequence[int] = (1, 10, 50), min_turns: int = 30, with_pg_redis: bool | None = None,
        stacks: BenchStacks | None = None, rounds: int = 2, baseline_model: Path | None = None) -> dict[str, Any]:
    """Measure against ``stacks`` (started) or start them here and stop them afterwards."""
    if stacks is not None:
        return asyncio.run(measure(stacks, concurrency, min_turns, rounds))
    if with_pg_redis is None:
        with_pg_redis = pg_redis_reachable()
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        print(f"starting REST + WhatsApp/SQLite{' + WhatsApp/PostgreSQL+Redis' if with_pg_redis else ''}"
              f"{f' + WhatsApp/SQLite serving {baseline_model}' if baseline_model else ''} "
              "(Rasa takes a minute or two to load)...", flush=True)
        started = BenchStacks(Path(tmp), with_pg_redis=with_pg_redis, baseline_model=baseline_model).start()
        try:
            return asyncio.run(measure(started, concurrency, min_turns, rounds))
        finally:
            started.stop()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.turns", description=__doc__.splitlines()[0])
    add_closed_loop_options(parser, (1, 10, 50), min_turns=30, rounds=2)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--with-postgres-redis", dest="pg", action="store_true", default=None,
                       help="also the PostgreSQL tracker store + Redis lock/dedup variant (default: if reachable)")
    group.add_argument("--no-postgres-redis", dest="pg", action="store_false")
    parser.add_argument("--baseline-model", type=Path, default=None,
                        help="also serve this model archive (e.g. trained before a pipeline change) on a second "
                             "SQLite stack and compare latencies (issue 13: at most +10%% at 1 user)")
    args = parser.parse_args(argv)
    if args.baseline_model is not None and not args.baseline_model.is_file():
        parser.error(f"--baseline-model: no model archive at {args.baseline_model}")
    section = run(parse_list(args.concurrency), args.min_turns, args.pg, rounds=args.rounds,
                  baseline_model=args.baseline_model)
    save_section("turns", section)
    return section


if __name__ == "__main__":
    main()
