"""Blob storage behind the encrypted tracker store: one small interface, three databases.

The tracker store encrypts; a backend only keeps opaque :class:`~privacy.records.StoredRecord`
rows keyed by pseudonym. Keeping the interface this small (get / put / delete / list /
count per key version / purge) is what lets SQLite, PostgreSQL and Redis share one
store implementation and one test suite, and it keeps anything that could read a
conversation out of the database layer.

A conversation uses four namespaces (see :func:`open_conversation_backends`): the *live*
one holds the current Rasa session, the *archive* one holds the closed sessions, so
that reading the live record never costs more for a user with a long history; the
*keys* one (``<table>_keys``) holds each person's wrapped conversation key and the
*erased* one (``<table>_erased``) the tombstones of erasures (pseudonym and time
only), see :mod:`privacy.store.shredding` (crypto-shredding, issue 16 item 2).

Erasure residue (issue 16, finding 3): deleting a record removes it from what the
database answers, not necessarily from its files. :meth:`BlobBackend.scrub` runs after
every erasure and does what the backend can: SQLite (``secure_delete=ON`` plus a WAL
checkpoint with truncation) leaves no byte of the record in the database file or its
``-wal``. PostgreSQL keeps dead tuples until VACUUM reuses the space (it does not zero
it) and keeps full-page images in WAL segments and in base backups; Redis keeps the
record in RDB snapshots and the AOF until the next snapshot or ``BGREWRITEAOF``. For
those the operator bounds the residue (WAL archive and backup retention, snapshot
rotation, ``VACUUM FULL`` on a schedule), and only a key that can be destroyed
(crypto-shredding, issue 16 item 2: the tracker store destroys the wrapped
conversation key first) makes such copies unreadable.

Every backend turns "the database is not reachable" into
:class:`TrackerStorageUnavailable` (driver exception kept as ``__cause__``) and recovers
by itself once the server is back, so a restarted database never needs a bot restart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, Sequence, runtime_checkable
from urllib.parse import urlsplit

from privacy.errors import PrivacyConfigError, PrivacyError
from privacy.records import StoredRecord

__all__ = [
    "BlobBackend",
    "ConversationBackends",
    "CorruptRecordError",
    "TrackerStorageUnavailable",
    "UnsupportedStorageUrlError",
    "DEFAULT_TABLE",
    "DEFAULT_REDIS_KEY_PREFIX",
    "ARCHIVE_SUFFIX",
    "conversation_namespaces",
    "KEYS_SUFFIX",
    "ERASED_SUFFIX",
    "open_backends",
    "open_conversation_backends",
    "safe_url",
    "validate_table_name",
]

DEFAULT_TABLE = "encrypted_trackers"
"""Table name (SQL) or namespace (Redis) of the live conversation records."""

ARCHIVE_SUFFIX = "_archive"
"""Appended to the live namespace to name the one holding closed sessions."""

KEYS_SUFFIX = "_keys"
"""Appended to the live namespace to name the one holding wrapped conversation keys."""

ERASED_SUFFIX = "_erased"
"""Appended to the live namespace to name the one holding erasure tombstones."""

DEFAULT_REDIS_KEY_PREFIX = "blaupause:"
"""Redis keys are ``<key_prefix><namespace>:<pseudonym>``."""

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class TrackerStorageUnavailable(PrivacyError):
    """The conversation database cannot be reached or refused the operation.

    Raised instead of a driver exception so callers need to know one type; the
    driver's exception is kept as ``__cause__``. The message names the backend and
    operation, never a pseudonym's data or SQL parameters.
    """

    def __init__(self, backend: str, operation: str, reason: str) -> None:
        self.backend = backend
        self.operation = operation
        self.reason = reason
        super().__init__(f"{backend} tracker storage unavailable during {operation}: {reason}")


class CorruptRecordError(PrivacyError):
    """A stored record does not have the shape this package writes (e.g. a half hash).

    The tracker store treats it like a record that fails decryption: the
    conversation is lost and the record is overwritten on the next save.
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"{backend} record is corrupt: {reason}")


class UnsupportedStorageUrlError(PrivacyConfigError):
    """The tracker store URL names a scheme (or a form) this package does not store to."""


@runtime_checkable
class BlobBackend(Protocol):
    """Opaque conversation records keyed by pseudonym, in one namespace.

    All methods are coroutines and must not block the event loop for long (Rasa
    calls the store from Sanic's loop): blocking drivers run in a worker thread.
    """

    kind: str
    """Short backend name for logs and CLI output: ``sqlite``, ``postgresql``, ``redis``."""

    expires_by_itself: bool
    """True when the database deletes records after the retention period itself (Redis TTL)."""

    async def get(self, pseudonym: str) -> StoredRecord | None:
        """The record stored for ``pseudonym``, or ``None``."""
        ...

    async def put(self, record: StoredRecord) -> None:
        """Insert or replace the record for ``record.pseudonym``."""
        ...

    async def add(self, record: StoredRecord) -> StoredRecord:
        """Insert ``record`` unless one exists for its pseudonym; return the stored one (atomic).

        Two instances creating a person's conversation key at once both end up using
        the one that was stored first.
        """
        ...

    async def touch(self, pseudonym: str) -> None:
        """Restart the record's expiry (Redis TTL) without rewriting it; no-op elsewhere."""
        ...

    async def delete(self, pseudonym: str) -> int:
        """Delete the record for ``pseudonym``; return how many were deleted (0 or 1)."""
        ...

    async def list_pseudonyms(self) -> list[str]:
        """Every pseudonym with a record (pseudonyms are not personal data without the secret)."""
        ...

    async def count_by_key_version(self) -> dict[str, int]:
        """How many records were sealed under each key version."""
        ...

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Delete records last written before ``cutoff``; return how many."""
        ...

    async def scrub(self) -> bool:
        """After an erasure, remove what the database keeps of deleted records; True if done.

        Never raises for "could not scrub now" (the erasure itself succeeded).
        """
        ...

    async def close(self) -> None:
        """Release connections; safe to call more than once."""
        ...


@dataclass(frozen=True, slots=True)
class ConversationBackends:
    """The namespaces one conversation store uses (see the module docstring)."""

    live: BlobBackend
    archive: BlobBackend
    keys: BlobBackend
    erased: BlobBackend

    def all(self) -> tuple[BlobBackend, ...]:
        """Every namespace: live, archive, keys, erased."""
        return (self.live, self.archive, self.keys, self.erased)

    async def close(self) -> None:
        """Close every namespace (they usually share one connection)."""
        for backend in self.all():
            await backend.close()


def validate_table_name(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise.

    Table names come from endpoints.yml and end up in DDL, so anything but
    ``[A-Za-z_][A-Za-z0-9_]*`` is refused rather than quoted.
    """
    if not _TABLE_NAME.match(name):
        raise UnsupportedStorageUrlError(
            f"table name {name!r} must match {_TABLE_NAME.pattern} (letters, digits, underscore)"
        )
    return name


def safe_url(url: str) -> str:
    """``url`` without credentials, path parameters or query, for log lines."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def open_backends(
    url: str,
    namespaces: Sequence[str],
    *,
    retention: timedelta,
    key_prefix: str = DEFAULT_REDIS_KEY_PREFIX,
) -> list[BlobBackend]:
    """Open one backend per namespace for ``url``, sharing one connection (pool).

    Supported URLs (SQLAlchemy-style for the SQL databases):
    ``sqlite:///relative/path.db`` (relative to the working directory),
    ``sqlite:////absolute/path.db``, ``postgresql://user@host:5432/db`` (also
    ``postgres://`` and ``postgresql+psycopg2://``), ``redis://host:6379/0`` and
    ``rediss://`` for TLS. A namespace is a table name for SQL databases and part of
    the key prefix for Redis. Nothing connects here; the first operation does.
    """
    if not namespaces:
        raise ValueError("at least one namespace is needed")
    scheme = urlsplit(url).scheme.lower()
    try:
        if scheme == "sqlite":
            from privacy.backends.sqlite import open_sqlite_backends

            return list(open_sqlite_backends(url, namespaces))
        if scheme in ("postgresql", "postgres", "postgresql+psycopg2"):
            from privacy.backends.postgres import open_postgres_backends

            return list(open_postgres_backends(url, namespaces))
        if scheme in ("redis", "rediss"):
            from privacy.backends.redis import open_redis_backends

            return list(open_redis_backends(url, namespaces, retention=retention, key_prefix=key_prefix))
    except ImportError as error:
        # Rasa's custom-store loader answers an ImportError by silently using its
        # in-memory (plaintext) store; a configuration error stops the bot instead.
        raise UnsupportedStorageUrlError(f"the driver for {scheme} URLs is not installed") from error
    raise UnsupportedStorageUrlError(
        f"tracker store URL scheme {scheme or '(none)'!r} is not supported; "
        "use sqlite:///, postgresql:// or redis://"
    )


def conversation_namespaces(table: str = DEFAULT_TABLE) -> list[str]:
    """The SQL tables (Redis namespaces) one conversation store uses: live, archive, keys, erased."""
    return [table, table + ARCHIVE_SUFFIX, table + KEYS_SUFFIX, table + ERASED_SUFFIX]


def open_conversation_backends(
    url: str,
    *,
    retention: timedelta,
    table: str = DEFAULT_TABLE,
    key_prefix: str = DEFAULT_REDIS_KEY_PREFIX,
) -> ConversationBackends:
    """Open the live, archive, keys and erased namespaces the tracker store and the CLI agree on."""
    names = conversation_namespaces(table)
    for name in names:
        validate_table_name(name)  # PostgreSQL identifiers end at 63 characters
    live, archive, keys, erased = open_backends(url, names, retention=retention, key_prefix=key_prefix)
    return ConversationBackends(live=live, archive=archive, keys=keys, erased=erased)
