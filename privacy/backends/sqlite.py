"""SQLite backend: the single-host default (``sqlite:///var/trackers.db``).

Uses the stdlib :mod:`sqlite3` with one connection per database file, guarded by a
lock and driven from a worker thread (:func:`asyncio.to_thread`) so Sanic's event
loop never waits on the disk. WAL mode lets a maintenance process (``python -m
privacy.maintenance``) read while the bot writes; the busy timeout makes a writer
wait for a concurrent one instead of failing at once. ``secure_delete`` overwrites
deleted rows (and freed pages) with zeros, so erasure also removes the (encrypted)
bytes from the database file. In WAL mode the old page images stay in the ``-wal``
file until a checkpoint copies the pages back and the log is reset, so
:meth:`SQLiteBackend.scrub` (called after every erasure) runs
``PRAGMA wal_checkpoint(TRUNCATE)``: afterwards the ``-wal`` file is empty and the
database file holds zeros where the erased records were (issue 16, finding 3;
``tests/integration/privacy/test_erasure_residue.py`` scans the bytes).

The conversation keys (``<table>_keys``) live in the same file, so the same
scrub removes every copy of an erased person's wrapped key.

See https://www.sqlite.org/wal.html and https://www.sqlite.org/pragma.html.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence, TypeVar
from urllib.parse import unquote, urlsplit

from privacy.backends import (
    TrackerStorageUnavailable,
    UnsupportedStorageUrlError,
    validate_table_name,
)
from privacy.records import StoredRecord

__all__ = ["SQLiteBackend", "SQLiteDatabase", "open_sqlite_backends", "sqlite_path_from_url"]

BUSY_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


def sqlite_path_from_url(url: str) -> Path:
    """The database file a ``sqlite:///`` URL names, made absolute.

    Follows SQLAlchemy's convention: three slashes and a relative path
    (``sqlite:///var/trackers.db``) are relative to the working directory at startup,
    four slashes (``sqlite:////srv/bot/trackers.db``) are absolute. An in-memory
    database is refused because it would silently lose every conversation.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite" or parts.netloc:
        raise UnsupportedStorageUrlError("an SQLite URL looks like sqlite:///relative/path.db")
    raw = unquote(parts.path)[1:] if parts.path.startswith("/") else unquote(parts.path)
    if not raw or raw == ":memory:":
        raise UnsupportedStorageUrlError("an SQLite tracker store needs a file path, not memory")
    return Path(raw).expanduser().absolute()


class SQLiteDatabase:
    """One SQLite file shared by the namespaces (tables) stored in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._ready_tables: set[str] = set()

    def run(self, operation: str, table: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` on the connection (blocking; call it from a worker thread).

        Any operational failure drops the connection so the next call reopens the
        file: that is how a deleted, replaced or temporarily unreadable file heals.
        """
        with self._lock:
            try:
                connection = self._connect()
                if table not in self._ready_tables:
                    _create_table(connection, table)
                    self._ready_tables.add(table)
                return work(connection)
            except OSError as error:
                self._drop()
                raise TrackerStorageUnavailable("sqlite", operation, type(error).__name__) from error
            except sqlite3.OperationalError as error:
                self._drop()
                raise TrackerStorageUnavailable("sqlite", operation, str(error)) from error
            except sqlite3.DatabaseError as error:
                if type(error) is not sqlite3.DatabaseError:  # integrity/programming errors are bugs
                    raise
                self._drop()
                raise TrackerStorageUnavailable("sqlite", operation, str(error)) from error

    def close(self) -> None:
        """Close the connection; the next operation reopens it."""
        with self._lock:
            self._drop()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Create the file owner-only before SQLite does (it would honour the umask).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # autocommit: every statement here is one transaction
            check_same_thread=False,  # guarded by self._lock, used from worker threads
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._ready_tables.clear()
        if connection is not None:
            try:
                connection.close()
            except sqlite3.Error:
                pass  # already broken; nothing left to release


def _create_table(connection: sqlite3.Connection, table: str) -> None:
    connection.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}" ('
        " pseudonym TEXT PRIMARY KEY NOT NULL,"
        " key_version TEXT NOT NULL,"
        " ciphertext BLOB NOT NULL,"
        " updated_at REAL NOT NULL)"
    )
    connection.execute(f'CREATE INDEX IF NOT EXISTS "{table}_updated_at" ON "{table}" (updated_at)')


class SQLiteBackend:
    """One namespace (table) in an SQLite file. See :class:`privacy.backends.BlobBackend`."""

    kind = "sqlite"
    expires_by_itself = False

    def __init__(self, database: SQLiteDatabase, table: str) -> None:
        self._database = database
        self.table = validate_table_name(table)

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return await asyncio.to_thread(self._database.run, operation, self.table, work)

    async def get(self, pseudonym: str) -> StoredRecord | None:
        def work(connection: sqlite3.Connection) -> tuple | None:
            return connection.execute(
                f'SELECT key_version, ciphertext, updated_at FROM "{self.table}" WHERE pseudonym = ?',
                (pseudonym,),
            ).fetchone()

        row = await self._run("get", work)
        if row is None:
            return None
        key_version, ciphertext, updated_at = row
        return StoredRecord(
            pseudonym=pseudonym,
            key_version=key_version,
            ciphertext=bytes(ciphertext),
            updated_at=datetime.fromtimestamp(updated_at, tz=timezone.utc),
        )

    async def put(self, record: StoredRecord) -> None:
        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                f'INSERT INTO "{self.table}" (pseudonym, key_version, ciphertext, updated_at)'
                " VALUES (?, ?, ?, ?) ON CONFLICT (pseudonym) DO UPDATE SET"
                " key_version = excluded.key_version, ciphertext = excluded.ciphertext,"
                " updated_at = excluded.updated_at",
                (record.pseudonym, record.key_version, record.ciphertext, record.updated_at.timestamp()),
            )

        await self._run("put", work)

    async def add(self, record: StoredRecord) -> StoredRecord:
        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                f'INSERT INTO "{self.table}" (pseudonym, key_version, ciphertext, updated_at)'
                " VALUES (?, ?, ?, ?) ON CONFLICT (pseudonym) DO NOTHING",
                (record.pseudonym, record.key_version, record.ciphertext, record.updated_at.timestamp()),
            )

        await self._run("add", work)  # one connection behind a lock: nothing runs in between
        stored = await self.get(record.pseudonym)
        return stored if stored is not None else record

    async def touch(self, pseudonym: str) -> None:
        """No-op: SQLite records do not expire (``purge`` deletes them)."""

    async def delete(self, pseudonym: str) -> int:
        def work(connection: sqlite3.Connection) -> int:
            return connection.execute(
                f'DELETE FROM "{self.table}" WHERE pseudonym = ?', (pseudonym,)
            ).rowcount

        return await self._run("delete", work)

    async def list_pseudonyms(self) -> list[str]:
        def work(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute(f'SELECT pseudonym FROM "{self.table}" ORDER BY pseudonym')
            return [pseudonym for (pseudonym,) in rows]

        return await self._run("list_pseudonyms", work)

    async def count_by_key_version(self) -> dict[str, int]:
        def work(connection: sqlite3.Connection) -> dict[str, int]:
            rows = connection.execute(
                f'SELECT key_version, COUNT(*) FROM "{self.table}" GROUP BY key_version'
            )
            return {version: count for version, count in rows}

        return await self._run("count_by_key_version", work)

    async def purge_older_than(self, cutoff: datetime) -> int:
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")

        def work(connection: sqlite3.Connection) -> int:
            return connection.execute(
                f'DELETE FROM "{self.table}" WHERE updated_at < ?', (cutoff.timestamp(),)
            ).rowcount

        return await self._run("purge_older_than", work)

    async def scrub(self) -> bool:
        """Checkpoint the WAL into the database file and truncate it to zero bytes.

        Returns False when a reader (e.g. a maintenance process) still uses an older
        snapshot: the checkpoint then could not finish and the WAL keeps old page
        images until the next scrub or automatic checkpoint. Logged, never raised,
        because the erasure itself has succeeded.
        """

        def work(connection: sqlite3.Connection) -> bool:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0

        done = await self._run("scrub", work)
        if not done:
            logger.warning("SQLite WAL checkpoint after an erasure was blocked by a reader; retried on the next one")
        return done

    async def close(self) -> None:
        await asyncio.to_thread(self._database.close)


def open_sqlite_backends(url: str, namespaces: Sequence[str]) -> list[SQLiteBackend]:
    """One :class:`SQLiteBackend` per namespace, all in the file ``url`` names."""
    database = SQLiteDatabase(sqlite_path_from_url(url))
    return [SQLiteBackend(database, namespace) for namespace in namespaces]
