"""The BlobBackend contract against real SQLite, PostgreSQL and Redis, plus the record format.

Every backend runs the same contract tests; database-specific behaviour (Redis TTL,
SQLite file handling) has its own tests. Outages are simulated with a loopback TCP
proxy in front of the real server, so "server down, then back" is tested without
stopping the shared servers.
"""
from __future__ import annotations

import asyncio

import dataclasses
import os
import socket
import stat
import threading
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from privacy.backends import (
    ConversationBackends,
    CorruptRecordError,
    TrackerStorageUnavailable,
    UnsupportedStorageUrlError,
    open_backends,
    open_conversation_backends,
    safe_url,
    validate_table_name,
)
from privacy.backends.sqlite import sqlite_path_from_url
from privacy.errors import PrivacyConfigError, PrivacyError
from privacy.records import MalformedPayloadError, StoredRecord, pad, padded_size, unpad

RETENTION = timedelta(days=30)
NOW = datetime.now(timezone.utc)


def record(pseudonym: str = "u_alice", version: str = "v1", data: bytes = b"\x01sealed", at: datetime = NOW) -> StoredRecord:
    return StoredRecord(pseudonym=pseudonym, key_version=version, ciphertext=data, updated_at=at)


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Forwards a loopback port to a real server; ``stop`` cuts every connection like a crash."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = closed_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: socket.socket | None = None

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(0.05)
        self._server = server
        self._stopping.clear()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        server.close()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


async def drop_everything(url: str, backends: ConversationBackends, table: str) -> None:
    """Remove what a test wrote, through the interface, then the SQL tables themselves."""
    try:
        for backend in backends.all():
            for pseudonym in await backend.list_pseudonyms():
                await backend.delete(pseudonym)
    finally:
        await backends.close()
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_archive", "{table}_keys", "{table}_erased"')
            )
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/trackers.db"
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("redis_url")


@pytest.fixture
async def backends(url: str, unique_name: str) -> AsyncIterator[ConversationBackends]:
    opened = open_conversation_backends(url, retention=RETENTION, table=unique_name, key_prefix=f"test:{unique_name}:")
    yield opened
    await drop_everything(url, opened, unique_name)


# --------------------------------------------------------------- contract


async def test_get_returns_what_put_stored(backends: ConversationBackends) -> None:
    stored = record(data=bytes(range(256)) * 5)
    assert await backends.live.get("u_alice") is None
    await backends.live.put(stored)
    loaded = await backends.live.get("u_alice")
    assert loaded is not None
    assert (loaded.pseudonym, loaded.key_version, loaded.ciphertext) == ("u_alice", "v1", stored.ciphertext)
    assert abs(loaded.updated_at - stored.updated_at) < timedelta(milliseconds=1)
    assert loaded.updated_at.tzinfo is not None


async def test_add_inserts_only_when_absent_and_returns_what_is_stored(backends: ConversationBackends) -> None:
    """Issue 16 item 2: instances creating one person's conversation key at once agree on one."""
    first = record(data=b"first key", at=NOW - timedelta(hours=1))
    stored = await backends.keys.add(first)
    assert (stored.ciphertext, stored.key_version) == (b"first key", "v1")
    again = await backends.keys.add(record(version="v2", data=b"second key"))
    assert (again.ciphertext, again.key_version) == (b"first key", "v1")
    assert abs(again.updated_at - first.updated_at) < timedelta(milliseconds=1)
    loaded = await backends.keys.get("u_alice")
    assert loaded is not None and loaded.ciphertext == b"first key"
    racers = await asyncio.gather(*(backends.keys.add(record("u_bob", data=bytes([n]) * 8)) for n in range(8)))
    assert len({racer.ciphertext for racer in racers}) == 1
    await backends.keys.touch("u_alice")  # restarts a TTL (Redis) or does nothing; never rewrites
    assert (await backends.keys.get("u_alice")).ciphertext == b"first key"  # type: ignore[union-attr]
    await backends.keys.touch("u_nobody")  # no record: nothing happens
    assert await backends.keys.get("u_nobody") is None


async def test_the_four_namespaces_are_separate(backends: ConversationBackends) -> None:
    for index, backend in enumerate(backends.all()):
        await backend.put(record(data=bytes([index]) * 4))
    for index, backend in enumerate(backends.all()):
        assert (await backend.get("u_alice")).ciphertext == bytes([index]) * 4  # type: ignore[union-attr]


async def test_put_replaces_the_record(backends: ConversationBackends) -> None:
    await backends.live.put(record(version="v1", data=b"old", at=NOW - timedelta(days=3)))
    await backends.live.put(record(version="v2", data=b"new"))
    loaded = await backends.live.get("u_alice")
    assert loaded is not None
    assert (loaded.key_version, loaded.ciphertext) == ("v2", b"new")
    assert abs(loaded.updated_at - NOW) < timedelta(milliseconds=1)
    assert await backends.live.list_pseudonyms() == ["u_alice"]


async def test_delete_reports_how_many_records_went(backends: ConversationBackends) -> None:
    await backends.live.put(record())
    assert await backends.live.delete("u_alice") == 1
    assert await backends.live.delete("u_alice") == 0
    assert await backends.live.get("u_alice") is None


async def test_namespaces_are_separate(backends: ConversationBackends) -> None:
    await backends.live.put(record("u_alice", data=b"live"))
    await backends.archive.put(record("u_alice", data=b"archive"))
    await backends.archive.put(record("u_bob", data=b"archive"))
    assert await backends.live.list_pseudonyms() == ["u_alice"]
    assert await backends.archive.list_pseudonyms() == ["u_alice", "u_bob"]
    assert (await backends.live.get("u_alice")).ciphertext == b"live"  # type: ignore[union-attr]
    assert await backends.live.delete("u_bob") == 0
    assert await backends.archive.delete("u_alice") == 1
    assert (await backends.live.get("u_alice")).ciphertext == b"live"  # type: ignore[union-attr]


async def test_count_by_key_version(backends: ConversationBackends) -> None:
    assert await backends.live.count_by_key_version() == {}
    for name, version in [("u_a", "old"), ("u_b", "new"), ("u_c", "new")]:
        await backends.live.put(record(name, version=version))
    assert await backends.live.count_by_key_version() == {"old": 1, "new": 2}


async def test_purge_deletes_only_old_records_or_leaves_it_to_redis(
    backends: ConversationBackends, url: str, unique_name: str
) -> None:
    await backends.live.put(record("u_old", at=NOW - timedelta(days=40)))
    await backends.live.put(record("u_new", at=NOW - timedelta(days=1)))
    purged = await backends.live.purge_older_than(NOW - RETENTION)
    if url.startswith("redis"):
        assert backends.live.expires_by_itself
        assert purged == 0
        assert await backends.live.list_pseudonyms() == ["u_new", "u_old"]
        client = Redis.from_url(url)
        try:
            ttl = await client.ttl(f"test:{unique_name}:{unique_name}:u_new")
        finally:
            await client.close(close_connection_pool=True)
        assert RETENTION.total_seconds() - 60 < ttl <= RETENTION.total_seconds()
    else:
        assert not backends.live.expires_by_itself
        assert purged == 1
        assert await backends.live.list_pseudonyms() == ["u_new"]


async def test_purge_rejects_a_naive_cutoff(backends: ConversationBackends) -> None:
    with pytest.raises(ValueError):
        await backends.live.purge_older_than(datetime.now())


async def test_backends_are_reopened_after_close(backends: ConversationBackends, url: str) -> None:
    await backends.live.put(record())
    await backends.close()
    assert (await backends.live.get("u_alice")) is not None


# --------------------------------------------------------------- outages


@pytest.mark.parametrize("scheme", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"])
async def test_unreachable_server_raises_a_typed_error(scheme: str) -> None:
    live, archive = open_backends(scheme.format(port=closed_port()), ["t_down", "t_down_archive"], retention=RETENTION)
    calls = [
        live.get("u_alice"),
        live.put(record()),
        live.delete("u_alice"),
        live.list_pseudonyms(),
        live.count_by_key_version(),
    ]
    try:
        for call in calls:
            with pytest.raises(TrackerStorageUnavailable) as caught:
                await call
            assert isinstance(caught.value, PrivacyError)
            assert caught.value.__cause__ is not None
            assert "u_alice" not in str(caught.value)
    finally:
        await live.close()
        await archive.close()


@pytest.mark.parametrize("server", ["postgresql", "redis"])
async def test_backend_recovers_when_the_server_comes_back(
    server: str, request: pytest.FixtureRequest, unique_name: str
) -> None:
    from urllib.parse import urlsplit

    real = request.getfixturevalue("postgres_url" if server == "postgresql" else "redis_url")
    parts = urlsplit(real)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or (5432 if server == "postgresql" else 6379))
    proxied = real.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    proxy.start()
    backends = open_conversation_backends(proxied, retention=RETENTION, table=unique_name, key_prefix=f"test:{unique_name}:")
    try:
        await backends.live.put(record())
        proxy.stop()
        with pytest.raises(TrackerStorageUnavailable):
            await backends.live.get("u_alice")
        with pytest.raises(TrackerStorageUnavailable):
            await backends.live.put(record(data=b"while down"))
        proxy.start()
        loaded = await backends.live.get("u_alice")
        assert loaded is not None and loaded.ciphertext == b"\x01sealed"
        await backends.live.put(record(data=b"after restart"))
        assert (await backends.live.get("u_alice")).ciphertext == b"after restart"  # type: ignore[union-attr]
    finally:
        proxy.stop()
        await backends.close()
        direct = open_conversation_backends(real, retention=RETENTION, table=unique_name, key_prefix=f"test:{unique_name}:")
        await drop_everything(real, direct, unique_name)


# --------------------------------------------------------------- SQLite specifics


async def test_sqlite_relative_path_is_relative_to_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (live,) = open_backends("sqlite:///var/nested/trackers.db", ["conversations"], retention=RETENTION)
    try:
        await live.put(record())
    finally:
        await live.close()
    database = tmp_path / "var" / "nested" / "trackers.db"
    assert database.is_file()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert sqlite_path_from_url("sqlite:////srv/bot/trackers.db") == sqlite_path_from_url("sqlite:////srv/bot/trackers.db")
    assert str(sqlite_path_from_url("sqlite:////srv/bot/trackers.db")) == "/srv/bot/trackers.db"


@pytest.mark.parametrize("bad", ["sqlite://", "sqlite:///:memory:", "sqlite://host/x.db"])
def test_sqlite_refuses_memory_and_hosts(bad: str) -> None:
    with pytest.raises(UnsupportedStorageUrlError):
        open_backends(bad, ["conversations"], retention=RETENTION)


async def test_sqlite_unopenable_file_is_unavailable_then_recovers(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database directory should be")
    (live,) = open_backends(f"sqlite:///{blocker}/trackers.db", ["conversations"], retention=RETENTION)
    try:
        with pytest.raises(TrackerStorageUnavailable) as caught:
            await live.put(record())
        assert caught.value.backend == "sqlite"
        blocker.unlink()
        await live.put(record())
        assert (await live.get("u_alice")) is not None
    finally:
        await live.close()


async def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "trackers.db"
    (live,) = open_backends(f"sqlite:///{path}", ["conversations"], retention=RETENTION)
    try:
        await live.put(record())
        with sqlite3.connect(path) as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            # A second connection can read while the store's connection is open.
            assert reader.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1
    finally:
        await live.close()


# --------------------------------------------------------------- Redis specifics


async def test_redis_half_written_hash_is_a_corrupt_record(redis_url: str, unique_name: str) -> None:
    backends = open_conversation_backends(redis_url, retention=RETENTION, table=unique_name, key_prefix=f"test:{unique_name}:")
    client = Redis.from_url(redis_url)
    try:
        await client.hset(f"test:{unique_name}:{unique_name}:u_alice", mapping={"v": "v1"})
        with pytest.raises(CorruptRecordError):
            await backends.live.get("u_alice")
    finally:
        await client.close(close_connection_pool=True)
        await drop_everything(redis_url, backends, unique_name)


async def test_redis_prefix_with_glob_characters_matches_only_itself(redis_url: str, unique_name: str) -> None:
    odd = open_conversation_backends(redis_url, retention=RETENTION, table="t", key_prefix=f"test:{unique_name}[*]:")
    plain = open_conversation_backends(redis_url, retention=RETENTION, table="t", key_prefix=f"test:{unique_name}x:")
    try:
        await odd.live.put(record("u_odd"))
        await plain.live.put(record("u_plain"))
        assert await odd.live.list_pseudonyms() == ["u_odd"]
        assert await plain.live.list_pseudonyms() == ["u_plain"]
    finally:
        await drop_everything(redis_url, odd, "t")
        await drop_everything(redis_url, plain, "t")


# --------------------------------------------------------------- configuration


@pytest.mark.parametrize("bad", ["mysql://x/y", "mongodb://localhost", "", "file:///tmp/x"])
def test_unsupported_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(UnsupportedStorageUrlError) as caught:
        open_backends(bad, ["conversations"], retention=RETENTION)
    assert isinstance(caught.value, PrivacyConfigError)


def test_missing_driver_is_a_configuration_error_not_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa swaps in its plaintext in-memory store on ImportError; we must stop instead."""
    import sys

    monkeypatch.setitem(sys.modules, "privacy.backends.redis", None)
    with pytest.raises(UnsupportedStorageUrlError, match="not installed") as caught:
        open_backends("redis://127.0.0.1:6379/0", ["conversations"], retention=RETENTION)
    assert not isinstance(caught.value, ImportError)


@pytest.mark.parametrize("bad", ['x"; DROP TABLE users; --', "1abc", "a-b", "a" * 64, ""])
def test_table_names_must_be_plain_identifiers(bad: str) -> None:
    with pytest.raises(UnsupportedStorageUrlError):
        validate_table_name(bad)


def test_archive_name_must_fit_postgres_identifier_limit() -> None:
    with pytest.raises(UnsupportedStorageUrlError):
        open_conversation_backends("sqlite:////tmp/never-created.db", retention=RETENTION, table="a" * 60)


def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("postgresql://bot:s3cret@db.internal:5432/rasa?sslmode=require") == "postgresql://db.internal:5432/rasa"
    assert "s3cret" not in safe_url("redis://:s3cret@127.0.0.1:6379/0")


# --------------------------------------------------------------- record format


def test_padding_round_trips_and_hides_exact_length() -> None:
    for size in [0, 1, 100, 1019, 1020, 1021, 5000, 70_000, 200_000]:
        payload = os.urandom(size)
        padded = pad(payload)
        assert unpad(padded) == payload
        assert len(padded) == padded_size(size + 4)
    assert len(pad(b"a" * 10)) == len(pad(b"a" * 900)) == 1024
    assert len(pad(b"a" * 1500)) == len(pad(b"a" * 2000)) == 2048
    assert padded_size(64 * 1024 + 1) == 128 * 1024
    assert padded_size(200_000) == 4 * 64 * 1024


@pytest.mark.parametrize(
    "broken",
    [
        b"",
        b"\x00\x00",
        b"\x00\x00\x00\x09abc" + b"\x00" * 20,  # not a bucket size
        b"\x00\x00\x04\x00" + b"\x00" * 1020,  # length beyond the bucket
        b"\x00\x00\x00\x01a" + b"\x00" * 1018 + b"\x01",  # non-zero padding
    ],
)
def test_unpad_rejects_anything_pad_did_not_write(broken: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        unpad(broken)


def test_stored_record_requires_aware_time_and_hides_ciphertext() -> None:
    with pytest.raises(ValueError):
        StoredRecord(pseudonym="u_a", key_version="v1", ciphertext=b"x", updated_at=datetime.now())
    with pytest.raises(ValueError):
        record(pseudonym="")
    with pytest.raises(ValueError):
        record(version="")
    local = datetime.now(timezone(timedelta(hours=2)))
    assert record(at=local).updated_at.utcoffset() == timedelta(0)
    secret_looking = record(data=b"4915550000001")
    assert "4915550000001" not in repr(secret_looking)
    assert "13 bytes" in repr(secret_looking)
    with pytest.raises(dataclasses.FrozenInstanceError):
        secret_looking.key_version = "v2"  # type: ignore[misc]


async def test_scrub_after_an_erasure_never_fails(backends: ConversationBackends, url: str) -> None:
    """SQLite checkpoints and truncates its WAL (True); PostgreSQL/Redis cannot scrub from here (False)."""
    await backends.live.put(record("u_scrub"))
    await backends.live.delete("u_scrub")
    assert await backends.live.scrub() is url.startswith("sqlite")
    assert await backends.live.get("u_scrub") is None
