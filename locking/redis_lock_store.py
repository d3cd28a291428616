"""Rasa's Redis lock store with atomic ticket operations, for several Rasa instances.

Why: Rasa 3.6's ``RedisLockStore`` issues a ticket with a separate read and write
(``LockStore.issue_ticket``: GET the lock, add a ticket, SET it back). Two instances
handling messages of the same user at the same moment can both read the lock before
either writes it, both get ticket 0, both run the turn, and the later tracker save
overwrites the earlier one: a message and its answer vanish from the stored
conversation although the user got both replies (reproduced by tests/integration/test_scale_out.py).
The same race exists in ``finish_serving``, ``update_lock`` and ``cleanup``.
The class overrides those methods of Rasa 3.6's ``RedisLockStore`` (and keeps its key
layout), so it refuses another Rasa version (:func:`rasa_compat.require_rasa`).

Here every read-modify-write of a lock runs as a Redis optimistic transaction (WATCH the
key, read, MULTI/EXEC the write; retry when another client changed the key in between),
see https://redis.io/docs/latest/develop/interact/transactions/#optimistic-locking-using-check-and-set.
The stored format is Rasa's own (``TicketLock.dumps``), so instances with either class can
share a Redis during an upgrade (without the guarantee, of course).

Configure in endpoints.yml::

    lock_store:
      type: locking.redis_lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 1
      # key_prefix: alphanumeric, optional
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional, Tuple, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from rasa_compat import WRITTEN_FOR, log_lock_deletion, require_rasa

__all__ = ["AtomicRedisLockStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# (new lock or None to delete, result)
Mutation = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], T]]

_MAX_CONFLICT_RETRIES = 1000


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket operations are atomic across processes."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        # Rasa creates custom lock stores as ``cls(endpoint_config=...)``; tests and
        # embedders may pass RedisLockStore's keyword arguments directly.
        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            options.pop("type", None)
            kwargs = {"host": endpoint_config.url or "localhost", **options, **kwargs}
        require_rasa(WRITTEN_FOR, "AtomicRedisLockStore")  # overrides RedisLockStore's internals
        super().__init__(**kwargs)

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def _update(self, conversation_id: str, mutate: Mutation[T], *, keep_missing: bool = False) -> T:
        """Apply ``mutate`` to the stored lock atomically; retry on concurrent changes."""
        key = self._key(conversation_id)
        with self.red.pipeline() as pipe:
            for _ in range(_MAX_CONFLICT_RETRIES):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = TicketLock.from_dict(json.loads(raw)) if raw else None
                    if current is None and not keep_missing:
                        pipe.unwatch()
                        _, result = mutate(None)
                        return result
                    new, result = mutate(current)
                    pipe.multi()
                    if new is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise LockError(f"too many concurrent changes to the lock of conversation '{conversation_id}'")

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 60) -> int:
        """Create the lock if needed and add a ticket, in one atomic step."""

        def add_ticket(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._update(conversation_id, add_ticket, keep_missing=True)
        except (redis.RedisError, ValueError) as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._update(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def remove(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._update(conversation_id, remove)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket, and the whole lock when nobody else waits, atomically."""

        def remove_and_maybe_delete(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], bool]:
            if lock is None:
                return None, False
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                return lock, False
            return None, True

        deleted = self._update(conversation_id, remove_and_maybe_delete)
        log_lock_deletion(self, conversation_id, deleted)
