"""Sent copies shared by every channel instance: one Redis hash per copy, with a TTL.

Why Redis: the status webhook of a message may reach another instance than the one that sent
it. Keys are ``<namespace>:<keyed reference>`` (:mod:`.copies`); fields ``blob`` (sealed),
``v`` (key version) and ``n`` (attempts). The TTL bounds the store's size (one hour of sends).
"""
from __future__ import annotations

from redis.asyncio import Redis

from connectors.whatsapp.sent_copies.copies import DEFAULT_TTL_SECONDS, SentCopy

__all__ = ["RedisSentCopies"]


class RedisSentCopies:
    def __init__(self, redis: Redis, *, namespace: str = "blaupause:wa:sent", ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._redis = redis
        self._namespace = namespace
        self._ttl = int(ttl_seconds)
        self._owns_client = False

    def __repr__(self) -> str:
        return f"RedisSentCopies(namespace={self._namespace!r})"

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> "RedisSentCopies":
        """A store with its own connection pool; close it with :meth:`close`."""
        instance = cls(Redis.from_url(url), **kwargs)  # type: ignore[arg-type]
        instance._owns_client = True
        return instance

    def _key(self, reference: str) -> str:
        return f"{self._namespace}:{reference}"

    async def put(self, reference: str, copy: SentCopy) -> None:
        key = self._key(reference)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"blob": copy.blob, "v": copy.key_version, "n": copy.attempts})
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def get(self, reference: str) -> SentCopy | None:
        fields = await self._redis.hgetall(self._key(reference))
        try:
            blob, version, attempts = fields[b"blob"], fields[b"v"].decode(), int(fields[b"n"])
        except (KeyError, ValueError, UnicodeDecodeError):
            return None
        return SentCopy(blob=blob, key_version=version, attempts=attempts)

    async def forget(self, reference: str) -> None:
        await self._redis.delete(self._key(reference))

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.close()
