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

Run: ``python -m bench.tracker_store [--reps 9] [--events 10,100,1000] [--backends sqlite,postgresql,redis] [--full]``.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import statistics
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import parse_list, percentile, print_table, save_section, verdict
from privacy.backends import conversation_namespaces

__all__ = ["build_events", "turn_events", "run", "main"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
SESSION_EVERY = 40
FAKE_NUMBER_BASE = 4915550000401  # fake numbers only

_INTENTS = (
    "search_job", "inform", "more_results", "greet", "select_job", "new_search", "help",
    "thank", "privacy_info", "goodbye",
)


# -- realistic trackers -----------------------------------------------------------------------
def _user(text: str, intent: str, ts: float, entities: list[dict[str, Any]]) -> Any:
    from rasa.shared.core.events import UserUttered

    ranking = [{"name": name, "confidence": round(0.9 / (i + 1), 4)} for i, name in enumerate(_INTENTS)]
    ranking.insert(0, {"name": intent, "confidence": 0.97})
    parse_data = {
        "intent": {"name": intent, "confidence": 0.97},
        "entities": entities,
        "intent_ranking": ranking[:10],
        "text": text,
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}, "ranking": []}},
    }
    return UserUttered(
        text,
        intent={"name": intent, "confidence": 0.97},
        entities=entities,
        parse_data=parse_data,
        timestamp=ts,
        input_channel="whatsapp",
        message_id=secrets.token_hex(16),
        metadata={"channel": "whatsapp", "message_type": "text"},
    )


def turn_events(ts: float, index: int) -> list[Any]:
    """One realistic search turn: 7 events, about 4 KB of JSON."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet

    text = "Ich suche einen Job als Koch in Berlin"
    entities = [
        {"entity": "job_title", "value": "Koch", "start": 24, "end": 28, "confidence_entity": 0.99,
         "extractor": "DIETClassifier"},
        {"entity": "location", "value": "Berlin", "start": 32, "end": 38, "confidence_entity": 0.98,
         "extractor": "DIETClassifier"},
    ]
    results = "\n".join(f"{n}. Koch/Köchin (m/w/d) – Restaurant Beispiel {n}, Berlin" for n in range(1, 6))
    buttons = [{"title": "Weitere Ergebnisse", "payload": "/more_results"},
               {"title": "Neue Suche", "payload": "/new_search"}]
    return [
        _user(text, "search_job", ts, entities),
        ActionExecuted("action_search_jobs", policy="RulePolicy", confidence=1.0, timestamp=ts + 0.01),
        SlotSet("job_title", "Koch", timestamp=ts + 0.02),
        SlotSet("location", "Berlin", timestamp=ts + 0.02),
        BotUttered(f"Ich habe {40 + index} Stellen für \"Koch\" in Berlin gefunden:\n{results}",
                   data={"buttons": buttons}, metadata={"utter_action": "utter_job_results"}, timestamp=ts + 0.03),
        ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0, timestamp=ts + 0.04),
    ]


def _session_start(ts: float) -> list[Any]:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(timestamp=ts + 0.001),
        ActionExecuted("action_listen", timestamp=ts + 0.002),
    ]


def build_events(count: int, *, start: float | None = None) -> list[Any]:
    """``count`` events of a realistic conversation, a session start about every 40 events."""
    ts = (time.time() - 7 * 24 * 3600) if start is None else start
    events: list[Any] = []
    since_session = SESSION_EVERY
    index = 0
    while len(events) < count:
        if since_session >= SESSION_EVERY:
            events.extend(_session_start(ts))
            since_session = 3
            ts += 1
        turn = turn_events(ts, index)
        events.extend(turn)
        since_session += len(turn)
        index += 1
        ts += 20
    return events[:count]


# -- the stores -------------------------------------------------------------------------------
@dataclass
class StoreUnderTest:
    """One store to compare; ``context(sender)`` wraps each call (the user context or nothing)."""

    name: str
    backend: str
    store: Any
    context: Callable[[str], contextlib.AbstractContextManager[Any]]
    cleanup: Callable[[], Awaitable[None]]
    senders: dict[int, list[str]] = field(default_factory=dict)


class _Keys:
    """Per-user keys from a random keyring, as the channel derives them."""

    def __init__(self) -> None:
        from privacy.keyring import Keyring, Secret

        self.keyring = Keyring(current=Secret.generate())
        self._by_pseudonym: dict[str, Any] = {}
        self._next = FAKE_NUMBER_BASE

    def new_sender(self) -> str:
        from privacy.context import keys_for_user

        keys = keys_for_user(self.keyring, str(self._next))
        self._next += 1
        self._by_pseudonym[keys.pseudonym] = keys
        return keys.pseudonym

    def context(self, sender: str) -> contextlib.AbstractContextManager[Any]:
        from privacy.context import user_context

        return user_context(self._by_pseudonym[sender])


def _no_context(sender: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


async def _encrypted(domain: Any, backend: str, url: str, tag: str, keys: _Keys) -> StoreUnderTest:
    from privacy.store.encrypted import EncryptedTrackerStore

    table = f"bench_enc_{tag}"
    store = EncryptedTrackerStore(domain, host=url, table=table, key_prefix=f"bench{tag}:", environ={})

    async def cleanup() -> None:
        await _drop_encrypted(store, backend, url, table, tag)

    return StoreUnderTest(f"encrypted ({backend})", backend, store, keys.context, cleanup)


async def _drop_encrypted(store: Any, backend: str, url: str, table: str, tag: str) -> None:
    await store.close()
    if backend == "postgresql":
        await asyncio.to_thread(_pg_execute, [f"DROP TABLE IF EXISTS {name}" for name in conversation_namespaces(table)])
    elif backend == "redis":
        await asyncio.to_thread(_redis_delete_prefix, f"bench{tag}:")


def _pg_execute(statements: Sequence[str]) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=3)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def _redis_delete_prefix(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


async def _rasa_sqlite(domain: Any, workdir: Path) -> StoreUnderTest:
    from rasa.core.tracker_store import SQLTrackerStore

    store = SQLTrackerStore(domain, dialect="sqlite", db=str(workdir / "rasa_trackers.db"))

    async def cleanup() -> None:
        store.engine.dispose()

    return StoreUnderTest("rasa SQLTrackerStore (sqlite)", "sqlite", store, _no_context, cleanup)


async def _rasa_postgres(domain: Any, tag: str) -> StoreUnderTest:
    from rasa.core.tracker_store import SQLTrackerStore

    schema = f"bench_{tag}"
    await asyncio.to_thread(_pg_execute, [f"CREATE SCHEMA {schema}"])
    store = SQLTrackerStore(
        domain, dialect="postgresql", host="127.0.0.1", port=5432, db="test", username="postgres",
        query={"options": f"-csearch_path={schema}"},
    )

    async def cleanup() -> None:
        store.engine.dispose()
        await asyncio.to_thread(_pg_execute, [f"DROP SCHEMA IF EXISTS {schema} CASCADE"])

    return StoreUnderTest("rasa SQLTrackerStore (postgresql)", "postgresql", store, _no_context, cleanup)


async def _rasa_redis(domain: Any, tag: str) -> StoreUnderTest:
    from rasa.core.tracker_store import RedisTrackerStore

    prefix = f"bench{tag}"
    store = RedisTrackerStore(domain, host="127.0.0.1", port=6379, db=0, key_prefix=prefix)

    async def cleanup() -> None:
        await asyncio.to_thread(_redis_delete_prefix, f"{prefix}:")
        store.red.close()

    return StoreUnderTest("rasa RedisTrackerStore", "redis", store, _no_context, cleanup)


def _reachable(backend: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        if backend == "postgresql":
            _pg_execute(["SELECT 1"])
        elif backend == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
    except Exception as error:  # noqa: BLE001 - any driver error means "skip this backend"
        return f"{type(error).__name__}"
    return None


@contextlib.asynccontextmanager
async def _stores(domain: Any, backends: Sequence[str], workdir: Path, keys: _Keys,
                  skipped: dict[str, str]) -> AsyncIterator[list[StoreUnderTest]]:
    stores: list[StoreUnderTest] = []
    tag = secrets.token_hex(4)
    try:
        for backend in backends:
            problem = await asyncio.to_thread(_reachable, backend)
            if problem:
                skipped[backend] = f"server not reachable ({problem})"
                print(f"skipping {backend}: {skipped[backend]}", flush=True)
                continue
            if backend == "sqlite":
                stores.append(await _encrypted(domain, backend, f"sqlite:///{workdir / 'encrypted.db'}", tag, keys))
                stores.append(await _rasa_sqlite(domain, workdir))
            elif backend == "postgresql":
                stores.append(await _encrypted(domain, backend, PG_URL, tag, keys))
                stores.append(await _rasa_postgres(domain, tag))
            elif backend == "redis":
                stores.append(await _encrypted(domain, backend, REDIS_URL, tag, keys))
                stores.append(await _rasa_redis(domain, tag))
            else:
                raise ValueError(f"unknown backend {backend!r}")
        yield stores
    finally:
        for store in stores:
            try:
                await store.cleanup()
            except Exception as error:  # noqa: BLE001 - report and go on cleaning the others
                print(f"cleanup of {store.name} failed: {type(error).__name__}: {error}", flush=True)


# -- measurement ------------------------------------------------------------------------------
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
    keys = _Keys()
    skipped: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-trackers-") as tmp:
        async with _stores(domain, backends, Path(tmp), keys, skipped) as stores:
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
