"""Events the channel adds to a stored conversation outside a Rasa turn, under Rasa's lock.

Why: a failed delivery is recorded when Meta's status webhook arrives, and the notice's slot is
reset after the next turn; both read, change and save the person's tracker while another
webhook of the same person may be running a Rasa turn on another request (or another
instance). Rasa serialises its own turns per conversation with the agent's lock store
(``rasa.core.lock_store.LockStore.lock``; the atomic Redis lock store across instances, see
locking/redis_lock_store.py); taking the same lock here keeps an event written by the channel
from overwriting or being overwritten by a turn's events.

The caller binds the person's keys first (``privacy.context.user_context``): the encrypted
store needs them to open and seal the conversation.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

__all__ = ["append_events"]


async def append_events(tracker_store: Any, lock_store: Any | None, conversation_id: str, events: Sequence[Any]) -> bool:
    """Append ``events`` to the stored conversation and save it; False when there is none yet.

    Holds ``lock_store``'s lock for ``conversation_id`` (when there is a lock store) from the
    read to the save. Storage errors propagate (the callers log them by type and go on).
    """
    async with AsyncExitStack() as stack:
        if lock_store is not None:
            await stack.enter_async_context(lock_store.lock(conversation_id))
        tracker = await tracker_store.retrieve(conversation_id)
        if tracker is None or not tracker.events:
            return False
        for event in events:
            tracker.update(event)
        await tracker_store.save(tracker)
        return True
