"""Readiness against the real PostgreSQL and Redis: ready, an outage, and back without a restart.

The shared servers are never stopped: an outage is a loopback proxy in front of them that
is cut (every connection closed, the port refusing) and then listens again, or a store
pointed at a port nothing listens on.
"""
from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore
from rasa.shared.core.domain import Domain

from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.readiness import Readiness
from privacy.keyring import Keyring, Secret
from privacy.store.encrypted import EncryptedTrackerStore
from tests.support.stores import drop_postgres_tables

pytestmark = pytest.mark.filterwarnings("ignore")

DOMAIN = Domain.from_dict({"version": "3.1"})
KEYRING = Keyring(Secret.from_hex("3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def via(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the loopback ``port``."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=(auth + "@" if auth else "") + f"127.0.0.1:{port}"))


class Outage:
    """A loopback port forwarding to a real server: :meth:`cut` is the outage, :meth:`restore` the end."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 0)
        self.port = closed_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream))
        await asyncio.gather(self._pump(reader, upstream), self._pump(upstream_reader, writer))

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()


class Agent:
    """What readiness reads of Rasa's Agent: is_ready(), tracker_store (wrapped), lock_store."""

    def __init__(self, tracker_store: object, lock_store: object) -> None:
        self.tracker_store = FailSafeTrackerStore(AwaitableTrackerStore(tracker_store))
        self.lock_store = lock_store

    def is_ready(self) -> bool:
        return True


def failed(report) -> list[str]:
    return [name for name, ok in report.checks.items() if not ok]


async def test_outage_of_postgres_and_redis_and_recovery(postgres_url: str, redis_url: str, unique_name: str) -> None:
    database, cache = Outage(postgres_url), Outage(redis_url)
    await database.restore()
    await cache.restore()
    store = EncryptedTrackerStore(DOMAIN, host=via(postgres_url, database.port), table=unique_name, environ={})
    dedup = RedisDedupStore.from_url(via(redis_url, cache.port))
    lock_store = RedisLockStore(host="127.0.0.1", port=cache.port, socket_timeout=0.5)
    agent = Agent(store, lock_store)
    readiness = Readiness(KEYRING, dedup, timeout=1.0, cache_seconds=0)
    try:
        assert failed(await readiness.check(agent)) == []

        await database.cut()
        report = await readiness.check(agent)
        assert failed(report) == ["tracker_store"] and report.status == 503
        await database.restore()
        assert failed(await readiness.check(agent)) == []  # back by itself, same store object

        await cache.cut()
        assert failed(await readiness.check(agent)) == ["dedup_store", "lock_store"]
        await cache.restore()
        assert failed(await readiness.check(agent)) == []
    finally:
        await store.close()
        await dedup.close()
        lock_store.red.close()
        await database.cut()
        await cache.cut()
        drop_postgres_tables(postgres_url, unique_name)


async def test_redis_tracker_store_and_stores_on_an_unused_port(redis_url: str, unique_name: str) -> None:
    store = EncryptedTrackerStore(DOMAIN, host=redis_url, key_prefix=f"test:{unique_name}:", environ={})
    agent = Agent(store, RedisLockStore(host="127.0.0.1", port=urlsplit(redis_url).port or 6379))
    assert failed(await Readiness(KEYRING, RedisDedupStore.from_url(redis_url)).check(agent)) == []

    port = closed_port()
    down = EncryptedTrackerStore(DOMAIN, host=via(redis_url, port), environ={})
    dedup_down = RedisDedupStore.from_url(via(redis_url, port))
    report = await Readiness(KEYRING, dedup_down).check(Agent(down, RedisLockStore(host="127.0.0.1", port=port)))
    assert failed(report) == ["tracker_store", "dedup_store", "lock_store"]
    assert report.as_json()["status"] == "not_ready" and str(port) not in str(report.as_json())
    for opened in (store, down):
        await opened.close()
    await dedup_down.close()


async def test_rasa_sql_store_is_asked_select_1(postgres_url: str) -> None:
    import sqlalchemy as sa

    from connectors.whatsapp.readiness import ping_tracker_store

    class SQLStore:  # Rasa's SQLTrackerStore keeps its engine in ``engine``
        def __init__(self, url: str) -> None:
            self.engine = sa.create_engine(url, connect_args={"connect_timeout": 1})

    up = SQLStore(postgres_url)
    await ping_tracker_store(up)
    down = SQLStore(via(postgres_url, closed_port()))
    with pytest.raises(sa.exc.OperationalError):
        await ping_tracker_store(down)
    up.engine.dispose()
    down.engine.dispose()
