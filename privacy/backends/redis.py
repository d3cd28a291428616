"""Redis backend: retention enforced by Redis itself.

Each record is a hash ``<key_prefix><namespace>:<pseudonym>`` with the fields ``v``
(key version), ``c`` (ciphertext) and ``u`` (last update, Unix seconds), written
together with ``EXPIRE <retention>`` in one MULTI/EXEC transaction, so a
conversation nobody touches for the retention period disappears without a purge job
(https://redis.io/commands/expire/). ``add`` (insert-if-absent, for conversation
keys) is one Lua script, atomic on the server (https://redis.io/commands/eval/);
``touch`` restarts a key's TTL without rewriting it. Nothing can be scrubbed after an
erasure: RDB snapshots and the AOF keep deleted keys until they are rewritten. Uses :mod:`redis.asyncio`, so nothing blocks
the event loop; the client reconnects on the next command after the server is back.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from privacy.backends import CorruptRecordError, TrackerStorageUnavailable, UnsupportedStorageUrlError
from privacy.records import StoredRecord

__all__ = ["RedisBackend", "open_redis_backends"]

SOCKET_TIMEOUT_SECONDS = 5.0

_T = TypeVar("_T")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class _SharedClient:
    """One client (and pool) shared by the namespaces of one store; closed once."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.closed = False

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.client.close(close_connection_pool=True)


class RedisBackend:
    """One namespace (key prefix) in Redis. See :class:`privacy.backends.BlobBackend`."""

    kind = "redis"
    expires_by_itself = True

    def __init__(self, shared: _SharedClient, prefix: str, retention: timedelta) -> None:
        if retention <= timedelta(0):
            raise ValueError("retention must be positive")
        self._shared = shared
        self.prefix = prefix
        self._ttl_seconds = int(retention.total_seconds())

    @property
    def _client(self) -> aioredis.Redis:
        return self._shared.client

    def _key(self, pseudonym: str) -> str:
        return self.prefix + pseudonym

    async def _run(self, operation: str, work: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await work()
        except _UNAVAILABLE as error:
            raise TrackerStorageUnavailable("redis", operation, type(error).__name__) from error

    async def get(self, pseudonym: str) -> StoredRecord | None:
        fields: dict[bytes, bytes] = await self._run("get", lambda: self._client.hgetall(self._key(pseudonym)))
        return _record(pseudonym, fields) if fields else None

    async def put(self, record: StoredRecord) -> None:
        key = self._key(record.pseudonym)
        mapping: dict[str, Any] = {
            "v": record.key_version,
            "c": record.ciphertext,
            "u": repr(record.updated_at.timestamp()),
        }

        async def work() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(key)  # no stray fields survive a rewrite
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self._ttl_seconds)
                await pipe.execute()

        await self._run("put", work)

    _ADD_SCRIPT = (
        "if redis.call('EXISTS', KEYS[1]) == 0 then "
        "redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', ARGV[2], 'u', ARGV[3]) "
        "redis.call('EXPIRE', KEYS[1], ARGV[4]) end "
        "return redis.call('HGETALL', KEYS[1])"
    )

    async def add(self, record: StoredRecord) -> StoredRecord:
        key = self._key(record.pseudonym)
        flat = await self._run(
            "add",
            lambda: self._client.eval(
                self._ADD_SCRIPT, 1, key, record.key_version, record.ciphertext,
                repr(record.updated_at.timestamp()), self._ttl_seconds,
            ),
        )
        fields = dict(zip(flat[0::2], flat[1::2])) if flat else {}
        return _record(record.pseudonym, fields) if fields else record

    async def touch(self, pseudonym: str) -> None:
        """``EXPIRE`` again: a conversation key lives as long as the conversation is written to."""
        await self._run("touch", lambda: self._client.expire(self._key(pseudonym), self._ttl_seconds))

    async def delete(self, pseudonym: str) -> int:
        return int(await self._run("delete", lambda: self._client.delete(self._key(pseudonym))))

    async def _scan_keys(self) -> list[bytes]:
        match = _glob_escape(self.prefix) + "*"
        return [key async for key in self._client.scan_iter(match=match, count=500)]

    async def list_pseudonyms(self) -> list[str]:
        keys = await self._run("list_pseudonyms", self._scan_keys)
        start = len(self.prefix.encode("utf-8"))
        return sorted(key[start:].decode("utf-8") for key in keys)

    async def count_by_key_version(self) -> dict[str, int]:
        async def work() -> dict[str, int]:
            keys = await self._scan_keys()
            counts: dict[str, int] = {}
            if not keys:
                return counts
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hget(key, "v")
                versions = await pipe.execute()
            for version in versions:
                if version is not None:  # expired between SCAN and HGET
                    name = version.decode("ascii")
                    counts[name] = counts.get(name, 0) + 1
            return counts

        return await self._run("count_by_key_version", work)

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Always 0: every record carries ``EXPIRE <retention>``, Redis deletes it itself."""
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")
        return 0

    async def scrub(self) -> bool:
        """Nothing to do from here; returns False (see the module docstring of :mod:`privacy.backends`).

        A deleted key is gone from memory, but an RDB snapshot or an AOF file written
        before the deletion keeps it until the next snapshot / ``BGREWRITEAOF``.
        """
        return False

    async def close(self) -> None:
        await self._shared.close()


def open_redis_backends(
    url: str, namespaces: Sequence[str], *, retention: timedelta, key_prefix: str
) -> list[RedisBackend]:
    """One :class:`RedisBackend` per namespace (``<key_prefix><namespace>:``), one client."""
    try:
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            health_check_interval=30,
            decode_responses=False,
        )
    except ValueError as error:
        raise UnsupportedStorageUrlError("the Redis tracker store URL cannot be parsed") from error
    shared = _SharedClient(client)
    return [RedisBackend(shared, f"{key_prefix}{namespace}:", retention) for namespace in namespaces]


def _record(pseudonym: str, fields: dict[bytes, bytes]) -> StoredRecord:
    """The record of a Redis hash as :meth:`RedisBackend.put` writes it."""
    try:
        return StoredRecord(
            pseudonym=pseudonym,
            key_version=fields[b"v"].decode("ascii"),
            ciphertext=bytes(fields[b"c"]),
            updated_at=datetime.fromtimestamp(float(fields[b"u"]), tz=timezone.utc),
        )
    except (KeyError, ValueError) as error:
        # A hash we did not write (or half of one): unreadable like a tampered blob.
        raise CorruptRecordError("redis", "hash lacks a field or has a malformed one") from error
