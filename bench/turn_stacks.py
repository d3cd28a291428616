"""The processes of the dialogue-turn benchmarks, started side by side, and their clean-up.

``BenchStacks`` starts every variant of bench/turns.py together (Rasa takes a minute or two to
load): the REST channel next to the SQLite ``LocalStack``'s action server, the SQLite stack, and
optionally a stack on the shared PostgreSQL (tables ``bench_turns_<random>``) and Redis (lock
key prefix ``bench<random>``, the Redis dedup store), all removed again afterwards, including the
dedup records of the messages sent (keyed references of their wamids), and optionally a second
SQLite stack serving a baseline model (``--baseline-model``: what a pipeline change costs per turn).
"""
from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bench.services import PG_URL, REDIS_URL, cleanup_pg_redis
from harness.local_stack import LocalStack, free_port

if TYPE_CHECKING:
    from bench.turn_drivers import WhatsAppDriver

__all__ = ["BenchStacks", "delete_dedup_records_of"]


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
    baseline_model: Path | None = None
    sqlite: LocalStack | None = None
    pg: _PgRedisStack | None = None
    baseline: LocalStack | None = None
    rest_port: int = 0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}/webhooks/rest/webhook"

    def start(self, timeout: float = 600.0) -> "BenchStacks":
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
        if self.baseline_model is not None:
            # the SQLite stack once more, with the model a pipeline change is measured against
            self.baseline = LocalStack(workdir=self.workdir / "baseline", model=Path(self.baseline_model))
            self.baseline.workdir.mkdir(parents=True, exist_ok=True)
            starters.append(self.baseline)
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
        rasa = str(Path(sys.executable).parent / "rasa")
        stack._spawn("rest", [
            rasa, "run", "--model", str(stack.model), "--credentials", str(credentials), "--endpoints", str(endpoints),
            "--interface", "127.0.0.1", "--port", str(self.rest_port),
        ], stack.env())

    def stop(self) -> None:
        for stack in (self.sqlite, self.pg, self.baseline):
            if stack is not None:
                stack.stop()
        if self.pg is not None:
            cleanup_pg_redis(f"bench_turns_{self.tag}", f"bench{self.tag}")


def _delete_dedup_records(wamids: Sequence[str], privacy_key: str) -> int:
    """Delete the dedup records of the messages we sent (keyed references of the wamids under the
    stack's secret, as connectors/whatsapp/references.py computes them)."""
    import redis

    from connectors.whatsapp.dedup.claims import message_key
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


async def delete_dedup_records_of(driver: WhatsAppDriver) -> None:
    """Delete the Redis dedup records of every message ``driver`` sent, and say how many."""
    deleted = await asyncio.to_thread(_delete_dedup_records, driver.wamids, driver.stack.privacy_key)
    print(f"  cleanup: deleted {deleted} Redis dedup record(s) of {len(driver.wamids)} messages sent", flush=True)
