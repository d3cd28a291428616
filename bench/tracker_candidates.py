"""The tracker stores the benchmark compares, each on a fresh namespace, and their clean-up.

On each backend our ``EncryptedTrackerStore`` against Rasa's own store: SQLite files (fresh temp
files), PostgreSQL 127.0.0.1:5432/test (tables ``bench_enc_<random>`` against Rasa's fixed
``events`` table in a schema ``bench_<random>``), Redis 127.0.0.1:6379 (prefix
``bench<random>:`` against ``bench<random>:tracker:``); all dropped or deleted afterwards. The
encrypted store runs inside ``privacy.context.user_context`` with keys from a random keyring, as
in the channel. Unreachable servers are skipped with a note.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.services import PG_URL, REDIS_URL, pg_execute, redis_delete_prefix, unreachable
from privacy.backends import conversation_namespaces

__all__ = ["FAKE_NUMBER_BASE", "StoreUnderTest", "Keys", "stores_under_test"]

FAKE_NUMBER_BASE = 4915550000401  # fake numbers only


@dataclass
class StoreUnderTest:
    """One store to compare; ``context(sender)`` wraps each call (the user context or nothing)."""

    name: str
    backend: str
    store: Any
    context: Callable[[str], contextlib.AbstractContextManager[Any]]
    cleanup: Callable[[], Awaitable[None]]
    senders: dict[int, list[str]] = field(default_factory=dict)


class Keys:
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


async def _encrypted(domain: Any, backend: str, url: str, tag: str, keys: Keys) -> StoreUnderTest:
    from privacy.store.encrypted import EncryptedTrackerStore

    table = f"bench_enc_{tag}"
    store = EncryptedTrackerStore(domain, host=url, table=table, key_prefix=f"bench{tag}:", environ={})

    async def cleanup() -> None:
        await _drop_encrypted(store, backend, url, table, tag)

    return StoreUnderTest(f"encrypted ({backend})", backend, store, keys.context, cleanup)


async def _drop_encrypted(store: Any, backend: str, url: str, table: str, tag: str) -> None:
    await store.close()
    if backend == "postgresql":
        await asyncio.to_thread(pg_execute, [f"DROP TABLE IF EXISTS {name}" for name in conversation_namespaces(table)])
    elif backend == "redis":
        await asyncio.to_thread(redis_delete_prefix, f"bench{tag}:")



async def _rasa_sqlite(domain: Any, workdir: Path) -> StoreUnderTest:
    from rasa.core.tracker_store import SQLTrackerStore

    store = SQLTrackerStore(domain, dialect="sqlite", db=str(workdir / "rasa_trackers.db"))

    async def cleanup() -> None:
        store.engine.dispose()

    return StoreUnderTest("rasa SQLTrackerStore (sqlite)", "sqlite", store, _no_context, cleanup)


async def _rasa_postgres(domain: Any, tag: str) -> StoreUnderTest:
    from rasa.core.tracker_store import SQLTrackerStore

    schema = f"bench_{tag}"
    await asyncio.to_thread(pg_execute, [f"CREATE SCHEMA {schema}"])
    store = SQLTrackerStore(
        domain, dialect="postgresql", host="127.0.0.1", port=5432, db="test", username="postgres",
        query={"options": f"-csearch_path={schema}"},
    )

    async def cleanup() -> None:
        store.engine.dispose()
        await asyncio.to_thread(pg_execute, [f"DROP SCHEMA IF EXISTS {schema} CASCADE"])

    return StoreUnderTest("rasa SQLTrackerStore (postgresql)", "postgresql", store, _no_context, cleanup)


async def _rasa_redis(domain: Any, tag: str) -> StoreUnderTest:
    from rasa.core.tracker_store import RedisTrackerStore

    prefix = f"bench{tag}"
    store = RedisTrackerStore(domain, host="127.0.0.1", port=6379, db=0, key_prefix=prefix)

    async def cleanup() -> None:
        await asyncio.to_thread(redis_delete_prefix, f"{prefix}:")
        store.red.close()

    return StoreUnderTest("rasa RedisTrackerStore", "redis", store, _no_context, cleanup)


@contextlib.asynccontextmanager
async def stores_under_test(domain: Any, backends: Sequence[str], workdir: Path, keys: Keys,
                            skipped: dict[str, str]) -> AsyncIterator[list[StoreUnderTest]]:
    """Every store of ``backends`` whose server answers (the others land in ``skipped``), cleaned up after."""
    stores: list[StoreUnderTest] = []
    tag = secrets.token_hex(4)
    try:
        for backend in backends:
            problem = await asyncio.to_thread(unreachable, backend)
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
