"""End-to-end dialogue turns: our WhatsApp channel against Rasa's plain REST channel.

Why: the WhatsApp channel adds signature checks, key derivation, an encrypted tracker store, a
sealed outbox and Graph API calls to every turn. This measures what that costs against the
cheapest way to talk to the same model: Rasa's REST channel with the in-memory tracker store.
Targets: WhatsApp + encrypted SQLite reaches >= 90 % of REST's throughput, with p99 turn latency
within 1.2x of REST's, at every concurrency.

Variants (same model, same action server code, same machine):

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

Run: ``python -m bench.turns [--concurrency 1,10,50] [--min-turns 30] [--rounds 2] [--no-postgres-redis]``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.common import parse_list, print_table, save_section, summarize, verdict
from privacy.backends import conversation_namespaces
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign

__all__ = [
    "SCRIPT",
    "BenchStacks",
    "Level",
    "add_closed_loop_options",
    "cleanup_pg_redis",
    "delete_dedup_records_of",
    "interleaved_levels",
    "level_row",
    "pg_redis_reachable",
    "measure",
    "run",
    "main",
]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
FAKE_NUMBER_BASE = 4915550000401

#: (text for REST and WhatsApp text messages, button id when it is a tap in WhatsApp)
SCRIPT: tuple[tuple[str, str | None], ...] = (
    ("Hallo", None),
    ("Ich suche einen Job als Koch in Berlin", None),
    ("/more_results", "/more_results"),
)

TARGET_THROUGHPUT_RATIO = 0.9
TARGET_P99_RATIO = 1.2


# -- the processes ----------------------------------------------------------------------------
class _PgRedisStack(LocalStack):
    """A LocalStack whose endpoints name benchmark-only table and lock key prefix."""

    bench_tag: str = ""

    def _endpoints_file(self) -> Path:
        path = super()._endpoints_file()
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["tracker_store"]["table"] = f"bench_turns_{self.bench_tag}"
        if "lock_store" in data:
            data["lock_store"]["key_prefix"] = f"bench{self.bench_tag}"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path


@dataclass
class BenchStacks:
    """The processes of all variants: started together (Rasa takes a minute or two to load)."""

    workdir: Path
    with_pg_redis: bool = True
    sqlite: LocalStack | None = None
    pg: _PgRedisStack | None = None
    rest_port: int = 0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}/webhooks/rest/webhook"

    def start(self, timeout: float = 600.0) -> "BenchStacks":
        from harness.local_stack import free_port

        self.sqlite = LocalStack(workdir=self.workdir / "sqlite")
        self.sqlite.workdir.mkdir(parents=True, exist_ok=True)
        self.rest_port = free_port()
        self._spawn_rest(self.sqlite)
        starters = [self.sqlite]
        if self.with_pg_redis:
            self.pg = _PgRedisStack(
                workdir=self.workdir / "pg", tracker_store_url=PG_URL, lock_store_url=REDIS_URL, dedup_url=REDIS_URL
            )
            self.pg.bench_tag = self.tag
            starters.append(self.pg)
        try:
            with ThreadPoolExecutor(len(starters)) as pool:
                for future in [pool.submit(stack.start, timeout) for stack in starters]:
                    future.result()
            self.sqlite._wait(f"http://127.0.0.1:{self.rest_port}/webhooks/rest/", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_rest(self, stack: LocalStack) -> None:
        """Rasa with the REST channel and no tracker store, next to ``stack``'s action server."""
        credentials = stack.workdir / "rest-credentials.yml"
        credentials.write_text("rest:\n", encoding="utf-8")
        endpoints = stack.workdir / "rest-endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{stack.actions_port}/webhook"\n', encoding="utf-8"
        )
        rasa = str(Path(__import__("sys").executable).parent / "rasa")
        stack._spawn("rest", [
            rasa, "run", "--model", str(stack.model), "--credentials", str(credentials), "--endpoints", str(endpoints),
            "--interface", "127.0.0.1", "--port", str(self.rest_port),
        ], stack.env())

    def stop(self) -> None:
        for stack in (self.sqlite, self.pg):
            if stack is not None:
                stack.stop()
        if self.pg is not None:
            cleanup_pg_redis(f"bench_turns_{self.tag}", f"bench{self.tag}")


def cleanup_pg_redis(table: str, key_prefix: str) -> None:
    """Drop a benchmark's tracker tables and delete its Redis keys (tracker store, lock store).

    ``table`` and ``key_prefix`` must be benchmark-only names (``bench…``): everything under
    them is removed from the shared PostgreSQL and Redis (db 0).
    """
    import psycopg2
    import redis

    try:
        connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=3)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                for name in conversation_namespaces(table):
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
        finally:
            connection.close()
    except psycopg2.Error as error:
        print(f"cleanup: could not drop {table}: {type(error).__name__}", flush=True)
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
    except redis.RedisError as error:
        print(f"cleanup: Redis keys {key_prefix}* not deleted: {type(error).__name__}", flush=True)


def _delete_dedup_records(wamids: Sequence[str], privacy_key: str) -> int:
    """Delete the dedup records of the messages we sent (keyed references of the wamids under the
    stack's secret, as connectors/whatsapp/references.py computes them)."""
    import redis

    from connectors.whatsapp.dedup import message_key
    from connectors.whatsapp.references import References
    from privacy.keyring import Keyring

    references = References.from_keyring(Keyring.from_env({"PRIVACY_KEY": privacy_key}))
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    deleted = 0
    try:
        for start in range(0, len(wamids), 500):
            keys = []
            for wamid in wamids[start:start + 500]:
                record = f"blaupause:wa:dedup:{message_key(references.dedup_key(wamid))}"
                keys += [record, record + ":lease"]
            deleted += client.delete(*keys)
    finally:
        client.close()
    return deleted


def pg_redis_reachable() -> bool:
    """True when PostgreSQL and Redis answer on loopback."""
    import psycopg2
    import redis

    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=2).close()
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (psycopg2.Error, redis.RedisError):
        return False
    return True


# -- the virtual users ------------------------------------------------------------------------
@dataclass
class _Turn:
    user: str
    sent_wall: float
    answered_wall: float
    status: int | None
    error: str | None = None
    replies: int = 0
    latency: float | None = None


class _Driver:
    """Sends one user's message to one variant and returns the timing of that turn.

    ``pids`` names the processes serving this variant, whose CPU time per turn is recorded as
    evidence of where the time goes (the database servers are not included).
    """

    name: str
    pids: dict[str, int]

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> _Turn:
        raise NotImplementedError

    async def finish_level(self, turns: list[_Turn]) -> None:
        """Fill in latency (and reply counts) of the level's turns."""


class _RestDriver(_Driver):
    name = "rest"

    def __init__(self, url: str, pids: dict[str, int]) -> None:
        self.url = url
        self.pids = pids

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> _Turn:
        text, _ = SCRIPT[step % len(SCRIPT)]
        sent = time.time()
        try:
            response = await client.post(self.url, json={"sender": f"bench-{user}", "message": text})
        except httpx.HTTPError as error:
            return _Turn(user, sent, time.time(), None, type(error).__name__)
        answered = time.time()
        replies = len(response.json()) if response.status_code == 200 else 0
        return _Turn(user, sent, answered, response.status_code, None if replies else "no reply", replies,
                     answered - sent if replies else None)


class _WhatsAppDriver(_Driver):
    def __init__(self, name: str, stack: LocalStack) -> None:
        self.name = name
        self.stack = stack
        self.wamids: list[str] = []
        self.pids = {name: proc.pid for name, proc in getattr(stack, "procs", {}).items() if name != "rest"}

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> _Turn:
        text, button = SCRIPT[step % len(SCRIPT)]
        message = mp.button_reply(user, button, "Weitere Ergebnisse") if button else mp.text(user, text)
        self.wamids.append(message["id"])
        body = encode_payload(mp.payload(message, profile_name="Bench"))
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.stack.app_secret, body)}
        sent = time.time()
        try:
            response = await client.post(self.webhook_url(user, step), content=body, headers=headers)
        except httpx.HTTPError as error:
            return _Turn(user, sent, time.time(), None, type(error).__name__)
        return _Turn(user, sent, time.time(), response.status_code,
                     None if response.status_code == 200 else f"HTTP {response.status_code}")

    def webhook_url(self, user: str, step: int) -> str:
        """Where ``user``'s message number ``step`` goes: the stack's first Rasa instance.

        A hook so that a load-balancing driver (bench/scale_out.py) can spread messages.
        """
        return self.stack.webhook_url()

    async def finish_level(self, turns: list[_Turn]) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            sent = (await client.get(f"{self.stack.graph_url}/_standin/messages")).json()["messages"]
            await client.delete(f"{self.stack.graph_url}/_standin/messages")
        by_user: dict[str, list[float]] = defaultdict(list)
        for message in sent:
            by_user[message.get("to") or message.get("recipient")].append(float(message["received_at"]))
        for turn in turns:
            if turn.error:
                continue
            # Causal order on one host clock: sent < stand-in accepted < webhook answered. No slack:
            # the next turn starts right after this answer, so any slack would steal its replies.
            arrivals = [t for t in by_user.get(turn.user, ()) if turn.sent_wall <= t <= turn.answered_wall]
            turn.replies = len(arrivals)
            if arrivals:
                turn.latency = max(arrivals) - turn.sent_wall
            else:
                turn.error = "no reply"


async def _user_loop(driver: _Driver, client: httpx.AsyncClient, user: str, steps: int) -> list[_Turn]:
    turns = []
    for step in range(steps):
        turns.append(await driver.turn(client, user, step))
    return turns


def _cpu_seconds(pid: int) -> float:
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


async def _level(driver: _Driver, users: Sequence[str], steps: int) -> tuple[list[_Turn], float, dict[str, float]]:
    """One closed-loop level: (turns, wall seconds, CPU seconds per serving process)."""
    limits = httpx.Limits(max_connections=len(users) + 10, max_keepalive_connections=len(users) + 10)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as client:
        cpu_before = {name: _cpu_seconds(pid) for name, pid in driver.pids.items()}
        machine_before = _machine_cpu_seconds()
        started = time.time()
        per_user = await asyncio.gather(*(_user_loop(driver, client, user, steps) for user in users))
        wall = time.time() - started
        cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in driver.pids.items()}
        machine_after = _machine_cpu_seconds()  # every process, not one:
        cpu["_machine_busy_s"] = machine_after[0] - machine_before[0]
        cpu["_machine_stolen_s"] = machine_after[1] - machine_before[1]
        cpu["_loadavg_1min"] = os.getloadavg()[0]  # machine load at the end of the level, not a process
    turns = [turn for user_turns in per_user for turn in user_turns]
    await driver.finish_level(turns)
    return turns, wall, cpu


async def measure(stacks: BenchStacks, concurrency: Sequence[int], min_turns: int, rounds: int = 2) -> dict[str, Any]:
    """Run every level against every variant (interleaved); print tables; return the section."""
    assert stacks.sqlite is not None
    sqlite_procs = getattr(stacks.sqlite, "procs", {})
    rest_pids = {name: sqlite_procs[name].pid for name in ("rest", "actions") if name in sqlite_procs}
    drivers: list[_Driver] = [_RestDriver(stacks.rest_url, rest_pids), _WhatsAppDriver("whatsapp-sqlite", stacks.sqlite)]
    if stacks.pg is not None:
        drivers.append(_WhatsAppDriver("whatsapp-pg-redis", stacks.pg))
    pooled = await interleaved_levels(drivers, concurrency, min_turns, rounds, FAKE_NUMBER_BASE)
    rows = [level_row(driver.name, users_count, pooled[(driver.name, users_count)])
            for users_count in concurrency for driver in drivers]
    for driver in drivers:
        if isinstance(driver, _WhatsAppDriver) and driver.stack is stacks.pg:
            await delete_dedup_records_of(driver)

    comparisons = _compare(rows)
    print_table(
        "Dialogue turns, closed loop (latency in ms)",
        ["variant", "users", "turns", "errors", "turns/s", "p50", "p95", "p99", "max", "replies/turn",
         "CPU ms/turn (Rasa+actions+stand-in)"],
        [[r["variant"], r["concurrency"], r["turns"], r["errors"], r["throughput"], r["p50_ms"], r["p95_ms"],
          r["p99_ms"], r["max_ms"], r["replies_per_turn"], _cpu_text(r["cpu_ms_per_turn"])] for r in rows],
    )
    print_table(
        "WhatsApp variants against REST (targets for whatsapp-sqlite: throughput >= 0.9x, p99 <= 1.2x)",
        ["variant", "users", "throughput ratio", "verdict", "p99 ratio", "verdict"],
        [[c["variant"], c["concurrency"], c["throughput_ratio"], verdict(c["throughput_met"]), c["p99_ratio"],
          verdict(c["p99_met"])] for c in comparisons],
    )
    gated = [c for c in comparisons if c["variant"] == "whatsapp-sqlite"]
    return {
        "rows": rows,
        "comparisons": comparisons,
        "target_throughput_ratio": TARGET_THROUGHPUT_RATIO,
        "target_p99_ratio": TARGET_P99_RATIO,
        "target_met": all(c["throughput_met"] and c["p99_met"] for c in gated) if gated else None,
        "settings": {"concurrency": list(concurrency), "min_turns": min_turns, "rounds": rounds,
                     "script": [s for s, _ in SCRIPT],
                     "variants": [d.name for d in drivers]},
    }


Level = tuple[list[_Turn], float, dict[str, float]]  # (turns, wall seconds, CPU seconds by process)


async def interleaved_levels(drivers: Sequence[_Driver], concurrency: Sequence[int], min_turns: int, rounds: int,
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
        await _level(driver, new_users(1), warmup_steps)
    pooled: dict[tuple[str, int], list[Level]] = defaultdict(list)
    for round_index in range(rounds):
        for level_index, users_count in enumerate(concurrency):
            steps = max(len(SCRIPT), -(-min_turns // users_count))
            shift = (level_index + round_index) % len(drivers)
            for driver in list(drivers[shift:]) + list(drivers[:shift]):
                turns, wall, cpu = await _level(driver, new_users(users_count), steps)
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
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "p99_ms": stats["p99"],
        "max_ms": stats["max"],
        "replies_per_turn": (sum(t.replies for t in turns) / len(turns)) if turns else 0.0,
    }


async def delete_dedup_records_of(driver: _WhatsAppDriver) -> None:
    """Delete the Redis dedup records of every message ``driver`` sent, and say how many."""
    deleted = await asyncio.to_thread(_delete_dedup_records, driver.wamids, driver.stack.privacy_key)
    print(f"  cleanup: deleted {deleted} Redis dedup record(s) of {len(driver.wamids)} messages sent", flush=True)


def _cpu_text(cpu: dict[str, float]) -> str:
    return " + ".join(f"{name} {ms:.0f}" for name, ms in cpu.items()) + (f" = {sum(cpu.values()):.0f}" if cpu else "")


def _compare(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if row["variant"] == "rest":
            continue
        base = next((r for r in rows if r["variant"] == "rest" and r["concurrency"] == row["concurrency"]), None)
        if base is None or not base["throughput"] or not base["p99_ms"] == base["p99_ms"]:
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


def run(concurrency: Sequence[int] = (1, 10, 50), min_turns: int = 30, with_pg_redis: bool | None = None,
        stacks: BenchStacks | None = None, rounds: int = 2) -> dict[str, Any]:
    """Measure against ``stacks`` (started) or start them here and stop them afterwards."""
    if stacks is not None:
        return asyncio.run(measure(stacks, concurrency, min_turns, rounds))
    if with_pg_redis is None:
        with_pg_redis = pg_redis_reachable()
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        print(f"starting REST + WhatsApp/SQLite{' + WhatsApp/PostgreSQL+Redis' if with_pg_redis else ''} "
              "(Rasa takes a minute or two to load)...", flush=True)
        started = BenchStacks(Path(tmp), with_pg_redis=with_pg_redis).start()
        try:
            return asyncio.run(measure(started, concurrency, min_turns, rounds))
        finally:
            started.stop()


def add_closed_loop_options(parser: argparse.ArgumentParser, concurrency: Sequence[int], min_turns: int,
                            rounds: int) -> None:
    """--concurrency, --min-turns and --rounds with these defaults: every closed-loop benchmark's knobs."""
    parser.add_argument("--concurrency", default=",".join(map(str, concurrency)),
                        help="virtual users per level, comma-separated")
    parser.add_argument("--min-turns", type=int, default=min_turns,
                        help="at least this many turns per level, variant and round")
    parser.add_argument("--rounds", type=int, default=rounds, help="passes over all levels (variant order rotates)")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.turns", description=__doc__.splitlines()[0])
    add_closed_loop_options(parser, (1, 10, 50), min_turns=30, rounds=2)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--with-postgres-redis", dest="pg", action="store_true", default=None,
                       help="also the PostgreSQL tracker store + Redis lock/dedup variant (default: if reachable)")
    group.add_argument("--no-postgres-redis", dest="pg", action="store_false")
    args = parser.parse_args(argv)
    section = run(parse_list(args.concurrency), args.min_turns, args.pg, rounds=args.rounds)
    save_section("turns", section)
    return section


if __name__ == "__main__":
    main()
