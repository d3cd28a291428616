"""Saving a conversation (Rasa's ``save``), including the move of alias records into the anchor's.

Why this order (issue 9): a conversation stored under an alias pseudonym (the number,
before BSUIDs arrived) or a retired pseudonym (key rotation: while ``PRIVACY_OLD_KEYS`` is
set each save costs one extra read and delete per retired secret; ``python -m
privacy.maintenance key-status`` shows when no record needs the old secret any more) is
moved by :meth:`ConversationSaving.save`, in this order:

1. the alias archives (and any older alias live session) are merged into the
   anchor's archive, and the anchor's live record is written;
2. the alias records are deleted;
3. the anchor's live record is written again with the alias marked settled.

A crash between 1 and 2 leaves both; the anchor's record wins on every read (it is
looked at first, and while it exists no alias live record is read), so exactly one
conversation is visible, and the next save finds the leftovers and deletes them
(``tests/integration/privacy/test_migration.py`` crashes a backend right after step 1). Two
instances migrating the same person at once both write the anchor first and delete
after, so they end with one conversation: the last save's live session and the
archives of both (Rasa serialises turns per ``sender_id`` with its lock store, and all
instances derive the same anchor, so in practice the two turns do not overlap).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, Iterable, Sequence

from rasa.shared.core.trackers import DialogueStateTracker

from privacy.memo import recall, remember
from privacy.store.conversation_keys import _RESOLVED
from privacy.store.identities import MAX_SETTLED_TAGS, SETTLED_MEMO, _alias_groups, _identities, _Identity
from privacy.store.sessions import (
    _any_event_until,
    _both,
    _merge_sessions,
    _now,
    _only_listening,
    _session_end,
    _session_start,
    _split_sessions,
)

__all__ = ["ConversationSaving", "SAVED_TRACKER_MEMO", "tracker_saved_in_this_request"]

logger = logging.getLogger(__name__)

#: Memo name (:mod:`privacy.memo`) of the tracker saved in this request (read by
#: :func:`tracker_saved_in_this_request`).
SAVED_TRACKER_MEMO = "privacy.store.saved_tracker"


def tracker_saved_in_this_request(sender_id: str) -> DialogueStateTracker | None:
    """The tracker the encrypted store saved for ``sender_id`` in this request, else ``None``.

    Why: after Rasa's turn the channel needs the turn's final slots (the ``language``
    of the renderer's labels). Reading them back meant a second retrieve per turn:
    the record fetched, decrypted and replayed into a tracker by Rasa, about 7 % of
    the Rasa process's time in a profile under load. The store keeps the tracker Rasa
    handed to ``save`` (sealed on disk) in the request's memo (:mod:`privacy.memo`),
    which ends with the request's ``user_context`` block and answers only for the bound
    user; an erasure empties it. ``None`` when nothing was saved in this block (the
    caller then retrieves as before). Read it, do not change it.
    """
    tracker = recall(sender_id, SAVED_TRACKER_MEMO)
    return tracker if isinstance(tracker, DialogueStateTracker) else None


class ConversationSaving:
    """Part of :class:`~privacy.store.encrypted.EncryptedTrackerStore`: writing and archiving."""

    backends: Any
    retention: timedelta


    async def _leftovers(
        self, identities: Sequence[_Identity], live_start: float
    ) -> tuple[list[_Identity], list[list[dict[str, Any]]]]:
        """Which of ``identities`` hold records, and the sessions to keep from them.

        Archived sessions are all kept; a live session only if it started before
        ``live_start`` (the session being written): a live session starting at the
        same time is the one the tracker was read from (or the copy an interrupted
        move left behind), so keeping it would duplicate the conversation.
        """
        stale: list[_Identity] = []
        kept: list[list[dict[str, Any]]] = []
        for identity in identities:
            found = await self._records_of(identity)
            kept.extend(found.archived)
            events = found.live_events
            if events and not _only_listening(events) and _session_start(events) < live_start:
                kept.append(events)
            if found.present:
                stale.append(found.identity)
        return stale, kept

    async def _delete_all(self, identities: Iterable[_Identity]) -> int:
        """Delete the identities' key records, then their live and archive records; count the latter."""
        identities = list(identities)
        for identity in identities:
            await self.backends.keys.delete(identity.pseudonym)
        deleted = 0
        for identity in identities:
            deleted += await self.backends.live.delete(identity.pseudonym)
            deleted += await self.backends.archive.delete(identity.pseudonym)
        return deleted

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Seal the current session into the anchor's live record; archive sessions that closed.

        Also moves records found under retired anchor pseudonyms and under aliases
        that are not settled yet into the anchor's records (see the module docstring:
        anchor record first, alias records deleted after, then the alias marked
        settled). Once written, the tracker is kept for the rest of the request
        (:func:`tracker_saved_in_this_request`).
        """
        keys = self._keys_for(tracker.sender_id)
        anchor = await self._resolve(_identities(keys)[0])
        if anchor.erased_at is not None and _any_event_until(tracker.events, anchor.erased_at):
            # Read before an erasure of this person (a turn that raced it): saving it would
            # bring erased content back under a new key. The turn is dropped.
            logger.warning("Not saving a conversation of %s that was read before its erasure", anchor.pseudonym)
            return
        anchor = await self._resolve(anchor, create=True)
        sessions = [[event.as_dict() for event in session] for session in _split_sessions(tracker.events)]
        live_events = sessions[-1] if sessions else []
        closed = [session for session in sessions[:-1] if not _only_listening(session)]
        live_start = _session_start(live_events) if live_events else float("inf")

        settled = await self._settled(keys)
        groups = [group for group in _alias_groups(keys) if group.tag not in settled]
        pending = [identity for group in groups for identity in group.identities]
        stale, inherited = await self._leftovers([*_identities(keys)[1:], *pending], live_start)
        now_settled = frozenset([*sorted(settled), *(group.tag for group in groups)][-MAX_SETTLED_TAGS:])

        if closed or inherited or anchor.fresh:
            # A fresh conversation key re-seals the archive too (records of the format
            # before conversation keys are opened with the data key and sealed anew here).
            await self._archive(anchor, closed + inherited)
        # Redis: the key record expires with the conversation, so each save renews it.
        touch = None if anchor.fresh else self.backends.keys.touch(anchor.pseudonym)
        if stale:
            if touch is not None:
                await touch
            # Anchor first: a crash before the deletes leaves the anchor's record, which
            # wins on every read; the next save finds the leftovers again and deletes them.
            await self.backends.live.put(self._seal_live(anchor, live_events, settled))
            deleted = await self._delete_all(stale)
            logger.info("Moved %d earlier record(s) into the conversation of %s", deleted, anchor.pseudonym)
            if now_settled != settled:
                await self.backends.live.put(self._seal_live(anchor, live_events, now_settled))
        else:
            write = self.backends.live.put(self._seal_live(anchor, live_events, now_settled))
            if touch is None:
                await write
            else:  # independent writes: renew the key and write the record in one round trip's wait
                await _both(touch, write)
        remember(tracker.sender_id, SETTLED_MEMO, now_settled)
        remember(tracker.sender_id, SAVED_TRACKER_MEMO, tracker)
        remember(tracker.sender_id, _RESOLVED, replace(anchor, fresh=False))

    async def _archive(self, current: _Identity, new_sessions: list[list[dict[str, Any]]]) -> None:
        """Merge closed sessions into the current identity's archive and drop expired ones."""
        _, archived = await self._load_archive(current)
        cutoff = (_now() - self.retention).timestamp()
        merged = [s for s in _merge_sessions(archived, new_sessions) if _session_end(s) >= cutoff]
        if merged:
            await self.backends.archive.put(self._seal(current, {"sessions": merged}))
        else:
            await self.backends.archive.delete(current.pseudonym)

    async def keys(self) -> Iterable[str]:
        """Pseudonyms with a live record (not personal data without the server secret)."""
        return await self.backends.live.list_pseudonyms()
