"""PostgreSQL backend for scale-out deployments (several Rasa instances, one database).

SQLAlchemy 1.4 Core with psycopg2: one table per namespace
(``pseudonym TEXT PRIMARY KEY, key_version TEXT, ciphertext BYTEA, updated_at
TIMESTAMPTZ``) and ``INSERT ... ON CONFLICT DO UPDATE`` as the upsert
(https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT).
``pool_pre_ping`` tests a pooled connection before use, so connections that died
with a server restart are replaced instead of failing a user's message
(https://docs.sqlalchemy.org/en/14/core/pooling.html#disconnect-handling-pessimistic).
``add`` (insert-if-absent, for conversation keys) is ``ON CONFLICT DO NOTHING``
followed by a read in the same transaction; ``vacuum`` runs ``VACUUM`` on the small
keys table after an erasure (https://www.postgresql.org/docs/current/sql-vacuum.html).
The schema is created lazily on first use, so the bot can start while the database
is still coming up and heals when it arrives. ``hide_parameters`` keeps pseudonyms
and ciphertext out of driver error messages.
"""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.dialects.postgresql import BYTEA, insert
from sqlalchemy.engine import Connection, Engine, make_url

from privacy.backends import (
    TrackerStorageUnavailable,
    UnsupportedStorageUrlError,
    validate_table_name,
)
from privacy.records import StoredRecord

__all__ = ["PostgresBackend", "create_postgres_engine", "open_postgres_backends"]

CONNECT_TIMEOUT_SECONDS = 5

_T = TypeVar("_T")

# Errors that mean "the server is not there or the connection broke", as opposed to
# a bug in a statement. DBAPIError with connection_invalidated is handled separately.
_UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


def create_postgres_engine(url: str) -> Engine:
    """An engine for ``url`` with pessimistic disconnect handling and a short connect timeout."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError as error:
        raise UnsupportedStorageUrlError("the PostgreSQL tracker store URL cannot be parsed") from error
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername != "postgresql+psycopg2":
        raise UnsupportedStorageUrlError("the PostgreSQL tracker store uses the psycopg2 driver")
    return sa.create_engine(
        parsed,
        future=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=10,
        hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "blaupause"},
    )


class _Schema:
    """Remembers which tables exist so DDL runs once per engine, not per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = sa.MetaData()
        self.tables: dict[str, sa.Table] = {}
        self.ready: set[str] = set()
        self.lock = threading.Lock()

    def table(self, name: str) -> sa.Table:
        if name not in self.tables:
            self.tables[name] = sa.Table(
                name,
                self.metadata,
                sa.Column("pseudonym", sa.Text, primary_key=True),
                sa.Column("key_version", sa.Text, nullable=False),
                sa.Column("ciphertext", BYTEA, nullable=False),
                sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
            )
        return self.tables[name]

    def ensure(self, name: str) -> None:
        if name in self.ready:
            return
        with self.lock:
            if name in self.ready:
                return
            table = self.tables[name]
            try:
                table.create(self.engine, checkfirst=True)
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Another instance created it between our check and our CREATE.
                if not sa.inspect(self.engine).has_table(name):
                    raise
            self.ready.add(name)


class PostgresBackend:
    """One namespace (table) in PostgreSQL. See :class:`privacy.backends.BlobBackend`."""

    kind = "postgresql"
    expires_by_itself = False

    def __init__(self, schema: _Schema, table: str) -> None:
        self._schema = schema
        self.table_name = validate_table_name(table)
        self._table = schema.table(self.table_name)

    def _blocking(self, operation: str, work: Callable[[Connection], _T]) -> _T:
        try:
            self._schema.ensure(self.table_name)
            with self._schema.engine.begin() as connection:
                return work(connection)
        except sqlalchemy.exc.DBAPIError as error:
            if isinstance(error, _UNAVAILABLE) or error.connection_invalidated:
                raise TrackerStorageUnavailable("postgresql", operation, type(error.orig).__name__) from error
            raise
        except sqlalchemy.exc.TimeoutError as error:  # pool exhausted; not a DBAPIError
            raise TrackerStorageUnavailable("postgresql", operation, "connection pool timeout") from error

    async def _run(self, operation: str, work: Callable[[Connection], _T]) -> _T:
        return await asyncio.to_thread(self._blocking, operation, work)

    async def get(self, pseudonym: str) -> StoredRecord | None:
        row = await self._run("get", lambda connection: connection.execute(self._select(pseudonym)).first())
        return _record(pseudonym, row) if row is not None else None

    def _select(self, pseudonym: str) -> sa.sql.Select:
        table = self._table
        return sa.select(table.c.key_version, table.c.ciphertext, table.c.updated_at).where(
            table.c.pseudonym == pseudonym
        )

    def _insert(self, record: StoredRecord) -> Any:
        return insert(self._table).values(
            pseudonym=record.pseudonym,
            key_version=record.key_version,
            ciphertext=record.ciphertext,
            updated_at=record.updated_at,
        )

    async def put(self, record: StoredRecord) -> None:
        table = self._table
        statement = self._insert(record)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.pseudonym],
            set_={
                "key_version": statement.excluded.key_version,
                "ciphertext": statement.excluded.ciphertext,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self._run("put", lambda connection: connection.execute(statement))

    async def add(self, record: StoredRecord) -> StoredRecord:
        statement = self._insert(record).on_conflict_do_nothing(index_elements=[self._table.c.pseudonym])
        query = self._select(record.pseudonym)

        def work(connection: Connection) -> sa.engine.Row | None:
            connection.execute(statement)
            return connection.execute(query).first()

        row = await self._run("add", work)
        if row is None:  # deleted by a concurrent transaction right after our insert
            return record
        return _record(record.pseudonym, row)

    async def touch(self, pseudonym: str) -> None:
        """No-op: PostgreSQL records do not expire (``purge`` deletes them)."""

    async def vacuum(self) -> bool:
        """``VACUUM`` this table (outside a transaction); True if it ran.

        Used for the small keys table after an erasure: the dead tuple of a wrapped
        key becomes free space sooner (VACUUM does not zero it, and WAL segments and
        base backups keep their copies: see :mod:`privacy.backends`).
        """

        def work() -> None:
            self._schema.ensure(self.table_name)
            with self._schema.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    sa.text(f'VACUUM "{self.table_name}"')
                )

        try:
            await asyncio.to_thread(work)
        except sqlalchemy.exc.SQLAlchemyError:
            return False
        return True

    async def delete(self, pseudonym: str) -> int:
        statement = sa.delete(self._table).where(self._table.c.pseudonym == pseudonym)
        return await self._run("delete", lambda connection: connection.execute(statement).rowcount)

    async def list_pseudonyms(self) -> list[str]:
        query = sa.select(self._table.c.pseudonym).order_by(self._table.c.pseudonym)
        return await self._run("list_pseudonyms", lambda connection: list(connection.execute(query).scalars()))

    async def count_by_key_version(self) -> dict[str, int]:
        table = self._table
        query = sa.select(table.c.key_version, sa.func.count()).group_by(table.c.key_version)

        def work(connection: Connection) -> dict[str, int]:
            return {version: count for version, count in connection.execute(query)}

        return await self._run("count_by_key_version", work)

    async def purge_older_than(self, cutoff: datetime) -> int:
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")
        statement = sa.delete(self._table).where(self._table.c.updated_at < cutoff)
        return await self._run("purge_older_than", lambda connection: connection.execute(statement).rowcount)

    async def scrub(self) -> bool:
        """Nothing to do from here; returns False (see the module docstring of :mod:`privacy.backends`).

        A deleted row stays as a dead tuple until VACUUM reuses its space (without
        zeroing it), and in the WAL and base backups until they are recycled; only
        the operator's retention of WAL archives and backups bounds that.
        """
        return False

    async def close(self) -> None:
        await asyncio.to_thread(self._schema.engine.dispose)


def open_postgres_backends(url: str, namespaces: Sequence[str]) -> list[PostgresBackend]:
    """One :class:`PostgresBackend` per namespace, sharing one engine (connection pool)."""
    schema = _Schema(create_postgres_engine(url))
    return [PostgresBackend(schema, namespace) for namespace in namespaces]


def _record(pseudonym: str, row: Any) -> StoredRecord:
    """The record of a row selected by ``PostgresBackend._select``."""
    return StoredRecord(
        pseudonym=pseudonym, key_version=row.key_version, ciphertext=bytes(row.ciphertext), updated_at=row.updated_at
    )
