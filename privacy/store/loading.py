"""Reading a conversation: the live session (Rasa's ``retrieve``) and every session (``retrieve_full_tracker``).

Why the order (issue 9, one person, one conversation): the anchor's current pseudonym is
looked at first; while a record is there it is *the* conversation (an alias record next
to it is a leftover of an interrupted move, deleted on the next save) and no alias is
looked up. Else each retired anchor pseudonym (key rotation: a record written under a
retired secret is opened with the conversation key wrapped under the retired key, or in
the earlier format with the retired key itself), then the aliases that are not settled
yet (the newest record wins). An unreadable record ends the search: the user's
conversation is lost, not replaced by an older one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from rasa.shared.core.trackers import DialogueStateTracker

from privacy.context import UserKeys
from privacy.memo import recall, remember
from privacy.records import StoredRecord
from privacy.store.conversation_keys import _UNREADABLE
from privacy.store.identities import SETTLED_MEMO, _alias_groups, _identities, _Identity
from privacy.store.sessions import _both, _merge_sessions, _session_start

__all__ = ["ConversationLoading", "IdentityRecords"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityRecords:
    """What one identity holds: whether anything, its archived sessions, its live record and events.

    ``live_events`` is empty when there is no live record or it is unreadable (then warned).
    """

    identity: _Identity
    present: bool
    archived: list[list[dict[str, Any]]]
    live: Optional[StoredRecord]
    live_events: list[dict[str, Any]]


class ConversationLoading:
    """Part of :class:`~privacy.store.encrypted.EncryptedTrackerStore`: reading records into trackers."""

    backends: Any
    domain: Any
    max_event_history: Optional[int]

    # ------------------------------------------------------------ loading
    async def _anchor_live(self, keys: UserKeys) -> tuple[Optional[StoredRecord], Any, frozenset[str]]:
        """The anchor's current live record, its opened document (or the error) and its settled tags.

        The tags are remembered for the rest of the request, so :meth:`save` after
        :meth:`retrieve` needs no second read to know which aliases to look for.
        """
        anchor = _identities(keys)[0]
        # The live record is read together with the tombstone and the key record (not after them).
        anchor, raw = await _both(self._resolve(anchor), self._get_raw(self.backends.live, anchor.pseudonym, "live"))
        record = await self._unless_erased(self.backends.live, anchor, raw, "live")
        settled: frozenset[str] = frozenset()
        opened: Any = None
        if record is not None:
            try:
                opened = self._open_document(anchor, record, "events")
                tags = opened.get("aliases_settled")
                if isinstance(tags, list):
                    settled = frozenset(tag for tag in tags if isinstance(tag, str))
            except _UNREADABLE as error:
                opened = error
        remember(keys.pseudonym, SETTLED_MEMO, settled)
        return record, opened, settled

    async def _settled(self, keys: UserKeys) -> frozenset[str]:
        """The settled alias tags: from this request's memo, else read from the anchor's record.

        A user without aliases in this request needs no read: nothing is looked up
        under an alias either way (the tags in the record are then dropped, which
        costs one more look-up should an alias come back).
        """
        remembered = recall(keys.pseudonym, SETTLED_MEMO)
        if isinstance(remembered, frozenset):
            return remembered
        if not keys.aliases:
            return frozenset()
        _, _, settled = await self._anchor_live(keys)
        return settled

    @staticmethod
    def _pending(keys: UserKeys, settled: frozenset[str]) -> list[_Identity]:
        """Alias identities that may still hold records (their alias is not settled)."""
        return [identity for group in _alias_groups(keys) if group.tag not in settled for identity in group.identities]

    async def _newest_live(self, identities: Sequence[_Identity]) -> Optional[tuple[_Identity, StoredRecord]]:
        """Of the identities' live records, the one written last (aliases: the freshest copy wins)."""
        newest: Optional[tuple[_Identity, StoredRecord]] = None
        for identity in identities:
            identity = await self._resolve(identity)
            record = await self._get(self.backends.live, identity, "live")
            if record is not None and (newest is None or record.updated_at > newest[1].updated_at):
                newest = identity, record
        return newest

    async def _load_live(self, keys: UserKeys) -> Optional[tuple[_Identity, list[dict[str, Any]]]]:
        """The live session events and the identity they were sealed under, or ``None``.

        Looks under the anchor's current pseudonym first: when a record is there, it
        is *the* conversation (an alias record next to it is a leftover of an
        interrupted move, deleted on the next save) and no alias is looked up. Else
        under each retired anchor pseudonym, then under the aliases (the newest
        record wins). An unreadable record ends the search: the user's conversation
        is lost, not replaced by an older one.
        """
        record, opened, _ = await self._anchor_live(keys)
        anchor = await self._resolve(_identities(keys)[0])
        if record is not None:
            if isinstance(opened, dict):
                return anchor, opened["events"]
            self._warn_unreadable("live", anchor.pseudonym, opened)
            return None
        found: Optional[tuple[_Identity, StoredRecord]] = None
        for retired in _identities(keys)[1:]:
            retired = await self._resolve(retired)
            retired_record = await self._get(self.backends.live, retired, "live")
            if retired_record is not None:
                found = retired, retired_record
                break
        if found is None:
            found = await self._newest_live(self._pending(keys, frozenset()))
        if found is None:
            return None
        identity, record = found
        try:
            return identity, self._open(identity, record, "events")
        except _UNREADABLE as error:
            self._warn_unreadable("live", identity.pseudonym, error)
            return None

    async def _load_archive(self, identity: _Identity) -> tuple[bool, list[list[dict[str, Any]]]]:
        """(record existed, readable closed sessions) of one identity's archive."""
        identity = await self._resolve(identity)
        record = await self._get(self.backends.archive, identity, "archive")
        if record is None:
            return False, []
        try:
            sessions = self._open(identity, record, "sessions")
        except _UNREADABLE as error:
            self._warn_unreadable("archive", identity.pseudonym, error)
            return True, []
        return True, [session for session in sessions if isinstance(session, list)]

    async def _archived_sessions(self, identities: Iterable[_Identity]) -> list[list[dict[str, Any]]]:
        sessions: list[list[dict[str, Any]]] = []
        for identity in identities:
            _, found = await self._load_archive(identity)
            sessions.extend(found)
        return _merge_sessions([], sessions)

    async def _records_of(self, identity: _Identity) -> IdentityRecords:
        """Everything stored under one identity: archived sessions and the live record (opened)."""
        identity = await self._resolve(identity)
        existed, archived = await self._load_archive(identity)
        record = await self._get(self.backends.live, identity, "live")
        events: list[dict[str, Any]] = []
        if record is not None:
            try:
                events = self._open(identity, record, "events")
            except _UNREADABLE as error:
                self._warn_unreadable("live", identity.pseudonym, error)
        return IdentityRecords(identity, existed or record is not None, archived, record, events)

    def _tracker(self, sender_id: str, events: list[dict[str, Any]]) -> DialogueStateTracker:
        return DialogueStateTracker.from_dict(
            sender_id, events, self.domain.slots, max_event_history=self.max_event_history
        )

    # ------------------------------------------------------ Rasa interface
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The tracker of the current session, ``None`` if there is none or it is unreadable."""
        keys = self._keys_for(sender_id)
        loaded = await self._load_live(keys)
        if loaded is None:
            return None
        identity, events = loaded
        try:
            return self._tracker(sender_id, events)
        except (KeyError, TypeError, ValueError) as error:
            self._warn_unreadable("live", identity.pseudonym, error)
            return None

    async def retrieve_full_tracker(self, conversation_id: str) -> Optional[DialogueStateTracker]:
        """All retained sessions (archive, then the live session) as one tracker.

        Archives of unsettled aliases are included, so a history that has not been
        moved yet is complete too; settled aliases are not looked up.
        """
        keys = self._keys_for(conversation_id)
        loaded = await self._load_live(keys)
        pending = self._pending(keys, await self._settled(keys))
        archived = await self._archived_sessions([*_identities(keys), *pending])
        live_events = loaded[1] if loaded else []
        live_start = _session_start(live_events) if live_events else float("inf")
        events = [event for session in archived if _session_start(session) < live_start for event in session]
        events.extend(live_events)
        if not events:
            return None
        try:
            return self._tracker(conversation_id, events)
        except (KeyError, TypeError, ValueError) as error:
            self._warn_unreadable("archive", keys.pseudonym, error)
            return None
