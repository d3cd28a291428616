"""What the channel and the maintenance CLI do to one person: move, erase, export.

Why these take the user's keys explicitly (not from the request context): a move
(Meta's ``user_changed_number`` / ``user_changed_user_id``), an erasure and an export
cover every pseudonym of the person (anchor, retired, aliases, settled or not) and also
run outside a turn. No log line names two pseudonyms of one person: moves log the
target only. Final erasure: :mod:`privacy.store.shredding`.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Optional

from rasa.shared.core.events import UserUttered

from privacy.context import UserKeys
from privacy.memo import forget
from privacy.records import StoredRecord
from privacy.store.conversation_keys import _UNREADABLE
from privacy.store.identities import _all_identities, _Identity
from privacy.store.sessions import _date, _merge_sessions, _now, _only_listening, _session_start
from privacy.store.shredding import _tombstone, scrub_backends

__all__ = ["PersonOperations"]

logger = logging.getLogger(__name__)


class PersonOperations:
    """Part of :class:`~privacy.store.encrypted.EncryptedTrackerStore`: :meth:`move`, :meth:`erase`, :meth:`export`."""

    backends: Any
    retention: timedelta
    journal: Any

    # ------------------------------------------------ privacy operations
    async def move(self, source: UserKeys, target: UserKeys) -> bool:
        """Move a conversation from every pseudonym of ``source`` to ``target``'s anchor.

        For changed ids (Meta's ``user_changed_number`` / ``user_changed_user_id``
        system messages): each record is opened with the old key and sealed with the
        new one; ``target`` is written first, then the ``source`` records are
        deleted, so a crash in between leaves the target readable and the next call
        (or save with the old ids as aliases) deletes the rest. When the target
        already has a live record it stays the live session and the source's live
        session joins the archive (unless it is the same session); archives merge.
        Idempotent: returns True if anything readable was moved, False if there was
        nothing under ``source``. Needs no :func:`~privacy.context.user_context`.
        """
        sources = [identity for identity in _all_identities(source) if identity.pseudonym != target.pseudonym]
        if not sources:
            return False
        forget(source.pseudonym)
        forget(target.pseudonym)
        target_anchor = await self._resolve(_Identity(target.pseudonym, target.version, target.key))
        target_record = await self._get(self.backends.live, target_anchor, "live")
        target_events: Optional[list[dict[str, Any]]] = None
        settled: frozenset[str] = frozenset()
        if target_record is not None:
            try:
                document = self._open_document(target_anchor, target_record, "events")
                target_events = document["events"]
                tags = document.get("aliases_settled")
                settled = frozenset(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else frozenset()
            except _UNREADABLE as error:
                self._warn_unreadable("live", target.pseudonym, error)

        lives: list[tuple[_Identity, StoredRecord, list[dict[str, Any]]]] = []
        archived: list[list[dict[str, Any]]] = []
        present: list[_Identity] = []
        for identity in sources:
            found = await self._records_of(identity)
            archived.extend(found.archived)
            if found.live is not None and found.live_events and not _only_listening(found.live_events):
                lives.append((found.identity, found.live, found.live_events))
            if found.present:
                present.append(found.identity)
        if not present:
            return False

        new_live: Optional[list[dict[str, Any]]] = None
        if target_events is None and lives:
            # The anchor's own (current, then retired) record first, else the newest alias copy.
            source_anchor = set(source.pseudonyms()[: 1 + len(source.retired)])
            anchors = [entry for entry in lives if entry[0].pseudonym in source_anchor]
            chosen = anchors[0] if anchors else max(lives, key=lambda entry: entry[1].updated_at)
            new_live = chosen[2]
            lives = [entry for entry in lives if entry is not chosen]
        live_start = _session_start(target_events or new_live or [])
        has_live = bool(target_events or new_live)
        archived.extend(
            events for _, _, events in lives if not has_live or _session_start(events) != live_start
        )
        if archived or new_live is not None:
            target_anchor = await self._resolve(target_anchor, create=True)
        if archived or target_anchor.fresh:
            await self._archive(target_anchor, archived)
        if new_live is not None:
            await self.backends.live.put(self._seal_live(target_anchor, new_live, settled))
        elif target_anchor.fresh and target_events is not None:  # re-seal the target's legacy live record
            await self.backends.live.put(self._seal_live(target_anchor, target_events, settled))
        deleted = await self._delete_all(present)
        moved = bool(archived or new_live)
        logger.info("Moved a conversation (%d record(s)) to %s", deleted, target.pseudonym)
        return moved

    async def erase(self, user_keys: UserKeys) -> int:
        """Erase the user for good (anchor, retired and alias pseudonyms); return the count of records.

        In this order (see the module docstring, "Final erasure"): one line per
        pseudonym in the erasure journal (fails with
        :class:`~privacy.errors.ErasureJournalError` before anything is deleted), a
        tombstone per pseudonym, the wrapped conversation keys (from then on no copy
        of a record sealed under them can be opened, wherever it lies), the live and
        archive records; then the backends scrub what they can (SQLite: checkpoint
        and truncate the WAL; PostgreSQL: VACUUM of the keys table).
        """
        forget(user_keys.pseudonym)
        identities = _all_identities(user_keys)
        erased_at = _now()
        self.journal.append([identity.pseudonym for identity in identities], erased_at)
        for identity in identities:
            await self.backends.erased.put(_tombstone(identity.pseudonym, erased_at))
        deleted = await self._delete_all(identities)
        await scrub_backends(self.backends)
        logger.info("Erased %d conversation record(s) of %s", deleted, user_keys.pseudonym)
        return deleted

    async def export(self, user_keys: UserKeys) -> dict[str, Any]:
        """A readable summary of what is stored about the user (GDPR Art. 15).

        Covers every pseudonym of the user (anchor, retired, aliases, settled or not).
        Returns ``pseudonym``, ``key_version`` (of the live record, ``None`` if none),
        ``sessions``, ``events``, ``user_messages``, ``voice_notes`` (user messages that are a
        voice note's transcript: the audio itself is never stored), ``slots`` (currently set, with
        values), ``first_activity``/``last_activity`` (ISO dates, UTC),
        ``retained_until`` (date after which the data is deleted unless the user
        writes again) and ``unreadable_records``.
        """
        unreadable = 0
        live_events: list[dict[str, Any]] = []
        key_version: Optional[str] = None
        lives: list[tuple[_Identity, StoredRecord]] = []
        for identity in _all_identities(user_keys):
            identity = await self._resolve(identity)
            record = await self._get(self.backends.live, identity, "live")
            if record is not None:
                lives.append((identity, record))
        # The live session is the one a retrieve would read: the anchor's (current, then
        # retired), else the newest alias record; any other live record is a session too.
        anchor_pseudonyms = set(user_keys.pseudonyms()[: 1 + len(user_keys.retired)])
        anchored = [entry for entry in lives if entry[0].pseudonym in anchor_pseudonyms]
        primary = anchored[0] if anchored else max(lives, key=lambda entry: entry[1].updated_at, default=None)
        archived: list[list[dict[str, Any]]] = []
        for identity, record in lives:
            try:
                events = self._open(identity, record, "events")
            except _UNREADABLE as error:
                self._warn_unreadable("live", identity.pseudonym, error)
                unreadable += 1
                continue
            if primary is not None and identity is primary[0]:
                live_events, key_version = events, record.key_version
            elif events and not _only_listening(events):
                archived.append(events)
        for identity in _all_identities(user_keys):
            existed, sessions = await self._load_archive(identity)
            unreadable += int(existed and not sessions)
            archived.extend(sessions)
        archived = _merge_sessions([], archived)

        sessions = [s for s in archived if not live_events or _session_start(s) != _session_start(live_events)]
        if live_events:
            sessions.append(live_events)
        all_events = [event for session in sessions for event in session]
        timestamps = [float(e["timestamp"]) for e in all_events if e.get("timestamp") is not None]
        slots: dict[str, Any] = {}
        if live_events:
            tracker = self._tracker(user_keys.pseudonym, live_events)
            slots = {name: slot.value for name, slot in tracker.slots.items() if slot.value is not None}
        last = max(timestamps) if timestamps else None
        return {
            "pseudonym": user_keys.pseudonym,
            "key_version": key_version,
            "sessions": sum(1 for s in sessions if s),
            "events": len(all_events),
            "user_messages": sum(1 for e in all_events if e.get("event") == UserUttered.type_name),
            "voice_notes": sum(1 for e in all_events if e.get("event") == UserUttered.type_name and _voice_note(e)),
            "slots": slots,
            "first_activity": _date(min(timestamps) if timestamps else None),
            "last_activity": _date(last),
            "retained_until": _date(last + self.retention.total_seconds()) if last is not None else None,
            "unreadable_records": unreadable,
        }


def _voice_note(event: dict[str, Any]) -> bool:
    """Whether a stored user message is a voice note's transcript (the channel's metadata marker)."""
    metadata = event.get("metadata")
    return isinstance(metadata, dict) and metadata.get("voice_note") is True
