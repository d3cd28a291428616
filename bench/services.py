"""The shared PostgreSQL and Redis servers as the benchmarks use them: reach, execute, clean up.

Why one module: every benchmark that touches the machine's shared servers must find out whether
they answer (and skip a variant with a note when not) and must remove exactly what it created
(tables, schemas and keys named ``bench…``), nothing else (bench/README.md).
"""
from __future__ import annotations

from collections.abc import Sequence

from privacy.backends import conversation_namespaces

__all__ = [
    "PG_URL",
    "REDIS_URL",
    "pg_execute",
    "redis_delete_prefix",
    "unreachable",
    "pg_redis_reachable",
    "cleanup_pg_redis",
]

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def pg_execute(statements: Sequence[str], *, connect_timeout: int = 3) -> None:
    """Run ``statements`` in autocommit mode on the test database."""
    import psycopg2

    connection = psycopg2.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=connect_timeout
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def redis_delete_prefix(prefix: str) -> int:
    """Delete every key of Redis db 0 that starts with ``prefix``; return how many there were."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


def unreachable(backend: str) -> str | None:
    """None when the server of ``backend`` (sqlite, postgresql, redis) answers, else why not."""
    try:
        if backend == "postgresql":
            pg_execute(["SELECT 1"], connect_timeout=2)
        elif backend == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
    except Exception as error:  # noqa: BLE001 - any driver error means "skip this backend"
        return f"{type(error).__name__}"
    return None


def pg_redis_reachable() -> bool:
    """True when PostgreSQL and Redis answer on loopback."""
    return unreachable("postgresql") is None and unreachable("redis") is None


def cleanup_pg_redis(table: str, key_prefix: str) -> None:
    """Drop a benchmark's tracker tables and delete its Redis keys (tracker store, lock store).

    ``table`` and ``key_prefix`` must be benchmark-only names (``bench…``): everything under
    them is removed from the shared PostgreSQL and Redis (db 0). A failure is reported, not raised.
    """
    import psycopg2
    import redis

    try:
        pg_execute([f"DROP TABLE IF EXISTS {name}" for name in conversation_namespaces(table)])
    except psycopg2.Error as error:
        print(f"cleanup: could not drop {table}: {type(error).__name__}", flush=True)
    try:
        redis_delete_prefix(key_prefix)
    except redis.RedisError as error:
        print(f"cleanup: Redis keys {key_prefix}* not deleted: {type(error).__name__}", flush=True)
