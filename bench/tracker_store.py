"""Tracker store cost of one turn: our EncryptedTrackerStore against Rasa's own stores.

Why: every dialogue turn retrieves the user's tracker and saves it again. Encryption must not
make that slower than Rasa's own store on the same database, otherwise privacy would cost
latency at scale. Target: never slower than Rasa's store on the same backend.

What one measurement is: what Rasa does per message. ``retrieve(sender)`` (timed), append one
realistic turn to the tracker (user message with intent ranking and entities, action, slot
sets, bot utterance with buttons, action_listen; untimed), ``save(tracker)`` (timed). The
tracker already holds N events (10, 100, 1,000; 5,000 with ``--full``) built with Rasa's own
event classes, with a session start every ~40 events as in real use. Every measurement uses a
fresh conversation prepared beforehand (untimed), so N does not grow over the repetitions.

Compared on each backend, interleaved per repetition (the order rotates each repetition, so
neither store always runs first or after the other):

- SQLite: ``EncryptedTrackerStore`` (file) vs Rasa ``SQLTrackerStore`` (file), fresh temp files
- PostgreSQL 127.0.0.1:5432/test: ``EncryptedTrackerStore`` (tables ``bench_enc_<random>``) vs
  ``SQLTrackerStore`` (its fixed ``events`` table in a schema ``bench_<random>``); both dropped
- Redis 127.0.0.1:6379: ``EncryptedTrackerStore`` (prefix ``bench<random>:``) vs
  ``RedisTrackerStore`` (prefix ``bench<random>:tracker:``); keys deleted afterwards

The encrypted store runs inside ``privacy.context.user_context`` with keys from a random keyring,
as in the channel; key derivation is not timed (the channel derives the keys once per request
whatever the store; bench/crypto.py measures it). Unreachable servers are skipped with a note.

Parts: bench/tracker_events.py (the trackers), bench/tracker_candidates.py (the stores and their
clean-up); this module measures, compares and prints.

Run: ``python -m bench.tracker_store [--reps 9] [--events 10,100,1000] [--backends sqlite,postgresql,redis] [--full]``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import parse_list, percentile, print_table, save_section, verdict
from bench.tracker_candidates import Keys, StoreUnderTest, stores_under_test
from bench.tracker_events import build_events, turn_events

__all__ = ["build_events", "turn_events", "run", "main"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


async def _prepare(store: StoreUnderTest, domain: Any, sender: str, count: int) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events(sender, build_events(count), domain.slots)
    with store.context(sender):
        await store.store.save(tracker)


async def _measure(store: StoreUnderTest, sender: str, index: int) -> tuple[float, float]:
    """(retrieve seconds, save seconds) of one turn for ``sender``."""
    clock = time.perf_counter
    with store.context(sender):
        started = clock()
        tracker = await store.store.retrieve(sender)
        retrieved = clock()
        if tracker is None:
            raise RuntimeError(f"{store.name} lost a prepared conversation")
        for event in turn_events(time.time(), index):
            tracker.update(event)
        before_save = clock()
        await store.store.save(tracker)
        saved = clock()
    return retrieved - started, saved - before_save


async def _run(sizes: Sequence[int], reps: int, backends: Sequence[str]) -> dict[str, Any]:
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "domain.yml"))
    keys = Keys()
    skipped: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-trackers-") as tmp:
        async with stores_under_test(domain, backends, Path(tmp), keys, skipped) as stores:
            for size in sizes:
                started = time.monotonic()
                for store in stores:  # one warm-up conversation + one per repetition, untimed
                    store.senders[size] = [keys.new_sender() for _ in range(reps + 1)]
                    for sender in store.senders[size]:
                        await _prepare(store, domain, sender, size)
                prepared = time.monotonic() - started
                samples: dict[str, list[tuple[float, float]]] = {s.name: [] for s in stores}
                for store in stores:
                    await _measure(store, store.senders[size][0], 0)
                for rep in range(reps):
                    shift = rep % len(stores) if stores else 0
                    for store in stores[shift:] + stores[:shift]:
                        samples[store.name].append(await _measure(store, store.senders[size][rep + 1], rep))
                print(f"  {size} events: prepared in {prepared:.1f} s, measured {reps} repetitions", flush=True)
                for store in stores:
                    totals = [r + s for r, s in samples[store.name]]
                    rows.append({
                        "backend": store.backend,
                        "store": store.name,
                        "events": size,
                        "reps": reps,
                        "median_ms": statistics.median(totals) * 1000,
                        "p95_ms": percentile(totals, 95) * 1000,
                        "retrieve_median_ms": statistics.median(r for r, _ in samples[store.name]) * 1000,
                        "save_median_ms": statistics.median(s for _, s in samples[store.name]) * 1000,
                    })
    return {"rows": rows, "skipped": skipped}


def _ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Encrypted / Rasa median per backend and size (below 1.0: ours is faster)."""
    out = []
    for row in rows:
        if not row["store"].startswith("encrypted"):
            continue
        rasa = next((r for r in rows if r["backend"] == row["backend"] and r["events"] == row["events"]
                     and not r["store"].startswith("encrypted")), None)
        if rasa is None:
            continue
        out.append({
            "backend": row["backend"],
            "events": row["events"],
            "ratio_median": row["median_ms"] / rasa["median_ms"],
            "ratio_p95": row["p95_ms"] / rasa["p95_ms"],
            "met": row["median_ms"] <= rasa["median_ms"],
        })
    return out


def run(sizes: Sequence[int] = (10, 100, 1000), reps: int = 9,
        backends: Sequence[str] = ("sqlite", "postgresql", "redis")) -> dict[str, Any]:
    """Measure, print the tables and return the results section."""
    logging.getLogger("rasa").setLevel(logging.WARNING)
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # Rasa 3.6 uses SQLAlchemy 1.4 APIs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        section = asyncio.run(_run(sizes, reps, backends))
    rows = section["rows"]
    print_table(
        "Tracker store: retrieve + save of one turn (ms; median and p95 of the repetitions)",
        ["backend", "store", "events", "median", "p95", "retrieve", "save"],
        [[r["backend"], r["store"], r["events"], r["median_ms"], r["p95_ms"], r["retrieve_median_ms"],
          r["save_median_ms"]] for r in rows],
    )
    ratios = _ratios(rows)
    print_table(
        "Tracker store: encrypted / Rasa's own (target: <= 1.0, i.e. never slower)",
        ["backend", "events", "median ratio", "p95 ratio", "verdict"],
        [[r["backend"], r["events"], r["ratio_median"], r["ratio_p95"], verdict(r["met"])] for r in ratios],
    )
    section.update({
        "ratios": ratios,
        "target": "encrypted median <= Rasa's own store's median on the same backend",
        "target_met": all(r["met"] for r in ratios) if ratios else None,
        "settings": {"sizes": list(sizes), "reps": reps, "backends": list(backends)},
    })
    return section


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.tracker_store", description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10,100,1000", help="tracker sizes in events, comma-separated")
    parser.add_argument("--reps", type=int, default=9, help="repetitions per store and size")
    parser.add_argument("--backends", default="sqlite,postgresql,redis")
    parser.add_argument("--full", action="store_true", help="also 5,000 events, 15 repetitions")
    args = parser.parse_args(argv)
    sizes = parse_list(args.events)
    reps = args.reps
    if args.full:
        sizes = sorted(set(sizes) | {5000})
        reps = max(reps, 15)
    section = run(sizes, reps, parse_list(args.backends, str))
    save_section("tracker_store", section)
    return section


if __name__ == "__main__":
    main()
