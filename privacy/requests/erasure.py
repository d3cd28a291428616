"""Erasure of a person from a chat request: under Rasa's lock, everything, everywhere.

Why each step (issue 16 item 4, issue 9 item 8):

- under Rasa's lock for the user's pseudonym (``lock_store.lock``, the lock every turn of
  the user takes), so a concurrent message of the same user cannot read the tracker before
  the erasure and save it back after it;
- :meth:`privacy.store.encrypted.EncryptedTrackerStore.erase` deletes every record of every
  pseudonym of the user (anchor and aliases: phone number, BSUID, parent BSUID; current and
  retired secrets; live and archived);
- the person's unsent outboxes are dropped from the channel's dedup store and the person's
  payload-id entries (long button payloads, "more" pages) from its payload id map, both
  found by their owner tags (:func:`privacy.owner_tags.owner_tags`). The channel injects
  both as the small protocols below: privacy/ never imports the channel;
- Rasa's locks of the other pseudonyms are dropped when nobody waits for them.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from privacy.context import UserKeys
from privacy.owner_tags import owner_tags

__all__ = ["OutboxDropper", "PayloadIdForgetter", "LockStoreLookup", "Erasure"]

logger = logging.getLogger(__name__)

#: How often an erasure or move waiting for the user's Rasa lock looks again (Rasa's turns: 1 s).
_LOCK_POLL_SECONDS = 0.1

#: Returns Rasa's lock store, or ``None`` when there is none (looked up per request).
LockStoreLookup = Callable[[], Any]


class OutboxDropper(Protocol):
    """The part of the dedup store an erasure uses (:meth:`DedupStore.drop_outboxes`)."""

    async def drop_outboxes(self, owners: Iterable[str]) -> int: ...


class PayloadIdForgetter(Protocol):
    """The part of the payload id map an erasure uses (:meth:`RedisPayloadIdMap.forget_owners`)."""

    async def forget_owners(self, owners: Iterable[str]) -> int: ...


class Erasure:
    """Performs one person's erasure (and holds locks for a move) against the injected stores."""

    def __init__(
        self,
        *,
        lock_store: LockStoreLookup,
        outboxes: OutboxDropper | None = None,
        payload_ids: PayloadIdForgetter | None = None,
    ) -> None:
        self._lock_store = lock_store
        self._outboxes = outboxes
        self._payload_ids = payload_ids if callable(getattr(payload_ids, "forget_owners", None)) else None

    @asynccontextmanager
    async def locked(self, *pseudonyms: str) -> AsyncIterator[None]:
        """Hold Rasa's ticket locks of these pseudonyms (sorted: no lock-order deadlock)."""
        lock_store = self._lock_store()
        async with AsyncExitStack() as stack:
            if lock_store is not None:
                for pseudonym in sorted(set(pseudonyms)):
                    await stack.enter_async_context(lock_store.lock(pseudonym, wait_time_in_seconds=_LOCK_POLL_SECONDS))
            yield

    async def erase(self, store: Any, user_keys: UserKeys, ref: str) -> int:
        """Erase everything of the person; the number of deleted records."""
        async with self.locked(user_keys.pseudonym):
            deleted = await store.erase(user_keys)
            await self._drop_outboxes(user_keys, ref)
            await self._forget_payload_ids(user_keys, ref)
        self._drop_locks(user_keys, ref)
        logger.info("message %s: erasure of %s done (%d record(s) deleted)", ref, user_keys.pseudonym, deleted)
        return int(deleted)

    async def _drop_outboxes(self, user_keys: UserKeys, ref: str) -> None:
        """Drop the person's unsent replies of earlier messages (sealed, but erased means erased)."""
        if self._outboxes is None:
            return
        try:
            dropped = await self._outboxes.drop_outboxes(owner_tags(user_keys))
        except Exception as error:  # the dedup store is down: the outboxes expire after 8 days
            logger.warning("message %s: unsent outboxes not dropped (%s)", ref, type(error).__name__)
            return
        if dropped:
            logger.info("message %s: erasure dropped %d unsent outbox(es)", ref, dropped)

    async def _forget_payload_ids(self, user_keys: UserKeys, ref: str) -> None:
        """Remove the person's payload-id entries (their long payloads and list pages)."""
        if self._payload_ids is None:
            return
        try:
            forgotten = await self._payload_ids.forget_owners(owner_tags(user_keys))
        except Exception as error:  # Redis is down: the entries expire 30 days after last use
            logger.warning("message %s: payload ids not removed (%s)", ref, type(error).__name__)
            return
        if forgotten:
            logger.info("message %s: erasure removed %d payload id(s)", ref, forgotten)

    def _drop_locks(self, user_keys: UserKeys, ref: str) -> None:
        """Remove Rasa's ticket locks of the user's pseudonyms unless a message is waiting.

        Rasa deletes a lock itself when the last ticket is served, so normally there is none;
        one left by a crashed turn (only expired tickets) is deleted here. A lock with a live
        ticket belongs to a concurrent message of the same user and stays (deleting it would
        break Rasa's one-turn-at-a-time guarantee); Rasa deletes it when that turn ends. A
        lock holds the pseudonym and ticket numbers only.
        """
        lock_store = self._lock_store()
        if lock_store is None:
            return
        for pseudonym in user_keys.pseudonyms():
            try:
                lock = lock_store.get_lock(pseudonym)
                if lock is None:
                    continue
                lock.remove_expired_tickets()  # tickets of a crashed turn
                if not lock.is_someone_waiting():
                    lock_store.delete_lock(pseudonym)
            except Exception as error:  # any lock store backend; the erasure itself has succeeded
                logger.warning("message %s: lock of %s not removed (%s)", ref, pseudonym, type(error).__name__)
