"""Raw scanners for data at rest: prove that no personal data sits in a store in readable form.

Why raw: the promise is that a stolen database (or a backup, or a Redis dump) reveals nothing. A
test that reads conversations through :class:`privacy.store.encrypted.EncryptedTrackerStore` would
only show that the store decrypts; these scanners look at what an attacker would see instead:

* :func:`scan_files` / :func:`scan_sqlite_file`: the bytes of files (an SQLite database with its
  ``-wal``/``-journal``/``-shm`` siblings, so free pages and uncommitted pages count too);
* :func:`scan_postgres`: every row of every table of a PostgreSQL database (or of given tables),
  each value as the driver returns it (``bytea`` as bytes, everything else as its text);
* :func:`scan_redis`: every key name and every value (strings, hashes, lists, sets, sorted sets,
  streams) of every Redis database that holds keys, optionally only keys with given prefixes.

Every scanner returns :class:`Finding` objects: where a needle was found and which one; an empty
list means "nothing found". Needles are matched case-insensitively (ASCII case) in several
encodings a value could be stored in: UTF-8, JSON's ``\\uXXXX`` escapes, Latin-1 and UTF-16-LE
(see :func:`encodings_of`). ``Finding`` shows a short excerpt around the hit so a failing test
says exactly what leaked where.

Identifiers of the username era are needles too (:func:`identity_needles`): a business-scoped
user id (``DE.1000000000000000001``) also in the forms a store might cut it into (without the
country prefix, its bare digits), a parent BSUID (``DE.ENT.2000000000000000001``) likewise, and a
username (``@erika_test``) with and without its ``@``. Facts: docs/whatsapp-delivery.md.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

__all__ = [
    "Finding",
    "Needles",
    "encodings_of",
    "phone_formats",
    "bsuid_formats",
    "username_formats",
    "needles",
    "identity_needles",
    "find_in",
    "scan_bytes",
    "scan_files",
    "scan_sqlite_file",
    "postgres_tables",
    "scan_postgres",
    "redis_databases",
    "redis_keys",
    "scan_redis",
]

_EXCERPT = 40


@dataclass(frozen=True)
class Finding:
    """One needle found in one place (``where``: file, ``table[row].column`` or ``redis db/key``)."""

    where: str
    needle: str
    excerpt: bytes

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.where}: …{self.excerpt!r}…"


Needles = Mapping[str, Sequence[bytes]]
"""A needle's label (the readable secret) -> the byte patterns that betray it."""


def encodings_of(secret: str) -> tuple[bytes, ...]:
    """Byte patterns under which ``secret`` could be stored, lowercased for a case-blind match.

    UTF-8 is what every store here writes; JSON with ``ensure_ascii`` turns "Köln" into
    ``K\\u00f6ln``; Latin-1 and UTF-16-LE cover other drivers and dumps. Patterns that are
    equal collapse (an ASCII secret has three distinct ones).
    """
    if not secret:
        raise ValueError("an empty needle matches everything")
    forms = [
        secret.encode("utf-8"),
        json.dumps(secret, ensure_ascii=True)[1:-1].encode("ascii"),
        secret.encode("utf-16-le"),
    ]
    try:
        forms.append(secret.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    unique: list[bytes] = []
    for form in forms:
        lowered = form.lower()
        if lowered not in unique:
            unique.append(lowered)
    return tuple(unique)


def phone_formats(wa_id: str) -> tuple[str, ...]:
    """The ways a German WhatsApp id can be written, plus its bare subscriber part.

    ``4915550000501`` -> ``4915550000501``, ``+4915550000501``, ``+49 155 50000501``,
    ``0155 50000501``, ``015550000501``, ``004915550000501`` and ``15550000501``; the last one
    is contained in all the unspaced forms, the spaced forms are checked on their own.
    """
    if not wa_id.isdigit() or not wa_id.startswith("49") or len(wa_id) < 10:
        raise ValueError("expected a German wa_id: digits starting with 49")
    national = wa_id[2:]
    area, rest = national[:3], national[3:]
    return (
        wa_id,
        "+" + wa_id,
        f"+49 {area} {rest}",
        f"0{area} {rest}",
        f"0{area}/{rest}",
        "0" + national,
        "00" + wa_id,
        national,
    )


_MIN_FRAGMENT = 6
"""Shortest fragment of an identifier worth a needle of its own: shorter ones (a 3-letter
username, a short BSUID tail) would match random ciphertext and base64 by chance."""


def bsuid_formats(user_id: str) -> tuple[str, ...]:
    """The ways a (parent) business-scoped user id could be written down.

    ``DE.1000000000000000001`` -> itself, ``1000000000000000001`` (the part after the country
    prefix, e.g. a column that drops the country); ``DE.ENT.2000000000000000001`` -> itself,
    ``ENT.2000000000000000001`` and ``2000000000000000001``. The tail forms are contained in the
    full one, so a leak of the whole id is reported under all of them; each stands for a
    different way to cut the id. Case does not matter (the match is case-blind).
    """
    parts = user_id.split(".")
    if len(parts) < 2 or not parts[0].isalpha() or not all(parts[1:]):
        raise ValueError("expected a business-scoped user id such as DE.1000000000000000001")
    forms = [user_id, ".".join(parts[1:]), parts[-1]]
    return tuple(form for form in dict.fromkeys(forms) if len(form) >= _MIN_FRAGMENT)


def username_formats(username: str) -> tuple[str, ...]:
    """A WhatsApp username with and without the leading ``@`` (``@erika_test``, ``erika_test``);
    the bare name only when it is long enough not to match by chance."""
    bare = username.lstrip("@")
    if not bare:
        raise ValueError("an empty username matches everything")
    forms = ["@" + bare]
    if len(bare) >= _MIN_FRAGMENT:
        forms.append(bare)
    return tuple(forms)


def identity_needles(
    phone: Optional[str] = None,
    user_id: Optional[str] = None,
    parent_user_id: Optional[str] = None,
    username: Optional[str] = None,
) -> dict[str, tuple[bytes, ...]]:
    """Needles for every identifier a webhook may carry for one person, in all their formats
    (:func:`phone_formats`, :func:`bsuid_formats`, :func:`username_formats`) and encodings
    (:func:`encodings_of`). A phone number that is not a German wa_id is used as given."""
    formats: list[str] = []
    if phone:
        try:
            formats.extend(phone_formats(phone))
        except ValueError:
            formats.append(phone)
    for bsuid in (user_id, parent_user_id):
        if bsuid:
            formats.extend(bsuid_formats(bsuid))
    if username:
        formats.extend(username_formats(username))
    if not formats:
        raise ValueError("identity_needles needs at least one identifier")
    return needles(formats)


def needles(secrets: Iterable[str]) -> dict[str, tuple[bytes, ...]]:
    """Needles for plain strings (message texts, names, phone number formats)."""
    return {secret: encodings_of(secret) for secret in dict.fromkeys(secrets)}


def find_in(haystack: bytes, patterns: Needles, where: str) -> list[Finding]:
    """Every needle of ``patterns`` that occurs in ``haystack`` (first occurrence each)."""
    lowered = haystack.lower()
    found: list[Finding] = []
    for label, forms in patterns.items():
        for form in forms:
            at = lowered.find(form)
            if at >= 0:
                excerpt = haystack[max(0, at - _EXCERPT) : at + len(form) + _EXCERPT]
                found.append(Finding(where, label, excerpt))
                break
    return found


def scan_bytes(data: bytes, patterns: Needles, where: str = "bytes") -> list[Finding]:
    """Alias of :func:`find_in` for readability at call sites."""
    return find_in(data, patterns, where)


# ---------------------------------------------------------------------------- files
def scan_files(paths: Iterable[Path], patterns: Needles) -> list[Finding]:
    """Scan each existing file's raw bytes (missing files are skipped, not an error)."""
    found: list[Finding] = []
    for path in paths:
        if path.is_file():
            found.extend(find_in(path.read_bytes(), patterns, str(path)))
    return found


def sqlite_files(path: Path) -> list[Path]:
    """The database file and the siblings SQLite may keep data in (journal, WAL, shared memory)."""
    return [path] + [path.with_name(path.name + suffix) for suffix in ("-journal", "-wal", "-shm")]


def scan_sqlite_file(path: Path, patterns: Needles) -> list[Finding]:
    """Scan an SQLite database file and its siblings byte by byte (deleted pages included).

    Raises ``FileNotFoundError`` when the database itself does not exist: a scan of nothing
    must not pass as "nothing found".
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    return scan_files(sqlite_files(path), patterns)


# ----------------------------------------------------------------------- PostgreSQL
def _pg_connect(url: str) -> Any:
    import psycopg2

    return psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1), connect_timeout=5)


def postgres_tables(url: str) -> list[tuple[str, str]]:
    """(schema, table) of every ordinary and partitioned table outside the system schemas."""
    connection = _pg_connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2"
            )
            return [(schema, table) for schema, table in cursor.fetchall()]
    finally:
        connection.close()


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    return str(value).encode("utf-8")


def scan_postgres(
    url: str, patterns: Needles, tables: Optional[Sequence[str]] = None
) -> tuple[list[Finding], dict[str, int]]:
    """Scan every row of ``tables`` (``"schema.table"`` or ``"table"`` for ``public``), or of all
    tables of the database when ``tables`` is None.

    Returns (findings, rows scanned per table). Tables dropped while the scan runs (other test
    runs share the database) are skipped; a table named explicitly that does not exist raises.
    """
    import psycopg2
    from psycopg2 import sql

    if tables is None:
        targets = postgres_tables(url)
        must_exist = False
    else:
        targets = [tuple(name.split(".", 1)) if "." in name else ("public", name) for name in tables]  # type: ignore[misc]
        must_exist = True
    found: list[Finding] = []
    counts: dict[str, int] = {}
    connection = _pg_connect(url)
    connection.autocommit = True
    try:
        for schema, table in targets:
            label = f"{schema}.{table}"
            with connection.cursor(name=None) as cursor:
                try:
                    cursor.execute(sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
                except psycopg2.errors.UndefinedTable:
                    if must_exist:
                        raise
                    continue
                columns = [column.name for column in cursor.description]
                rows = 0
                for row in cursor:
                    for column, value in zip(columns, row):
                        found.extend(find_in(_as_bytes(value), patterns, f"postgres {label}[{rows}].{column}"))
                    rows += 1
                counts[label] = rows
            found.extend(find_in(label.encode("utf-8"), patterns, f"postgres table name {label}"))
    finally:
        connection.close()
    return found, counts


# ---------------------------------------------------------------------------- Redis
def redis_databases(url: str) -> list[int]:
    """Numbers of the Redis databases that hold at least one key (from ``INFO keyspace``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keyspace = client.info("keyspace")
    finally:
        client.close()
    return sorted(int(name[2:]) for name in keyspace if name.startswith("db"))


def _with_db(url: str, db: int) -> str:
    head, _, tail = url.partition("://")
    hostport = tail.split("/", 1)[0].split("?", 1)[0]
    return f"{head}://{hostport}/{db}"


def _values(client: Any, key: bytes) -> Iterator[bytes]:
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        value = client.get(key)
        if value is not None:
            yield value
    elif kind == "hash":
        for field, value in client.hgetall(key).items():
            yield field
            yield value
    elif kind == "list":
        yield from client.lrange(key, 0, -1)
    elif kind == "set":
        yield from client.smembers(key)
    elif kind == "zset":
        for member, score in client.zrange(key, 0, -1, withscores=True):
            yield member
            yield str(score).encode()
    elif kind == "stream":
        for entry_id, fields in client.xrange(key):
            yield entry_id
            for field, value in fields.items():
                yield field
                yield value
    # "none": the key expired between SCAN and TYPE; nothing to read.


def redis_keys(url: str, prefixes: Sequence[str] = ("",), dbs: Optional[Sequence[int]] = None) -> dict[int, list[bytes]]:
    """Key names per database (all non-empty databases unless ``dbs``), filtered by prefix."""
    import redis

    result: dict[int, list[bytes]] = {}
    for db in redis_databases(url) if dbs is None else dbs:
        client = redis.Redis.from_url(_with_db(url, db))
        try:
            keys = [key for key in client.scan_iter(count=1000) if any(key.startswith(p.encode()) for p in prefixes)]
        finally:
            client.close()
        result[db] = sorted(keys)
    return result


def scan_redis(
    url: str, patterns: Needles, prefixes: Sequence[str] = ("",), dbs: Optional[Sequence[int]] = None
) -> tuple[list[Finding], dict[int, int]]:
    """Scan every key name and value (all types) in the given or all non-empty databases.

    Only keys starting with one of ``prefixes`` are read (default: every key). Returns
    (findings, keys scanned per database).
    """
    import redis

    found: list[Finding] = []
    counts: dict[int, int] = {}
    for db, keys in redis_keys(url, prefixes, dbs).items():
        client = redis.Redis.from_url(_with_db(url, db))
        try:
            for key in keys:
                where = f"redis db{db} {key.decode('utf-8', 'replace')}"
                found.extend(find_in(key, patterns, where + " (key name)"))
                for value in _values(client, key):
                    found.extend(find_in(_as_bytes(value), patterns, where))
        finally:
            client.close()
        counts[db] = len(keys)
    return found, counts
