"""A Rasa tracker store that keeps every conversation encrypted under the user's own key.

Why a custom store: Rasa's built-in stores write events in clear, with intent and
action names in their own columns. Here a backend row holds only the pseudonym
(Rasa's ``sender_id``), the key version, a padded AES-GCM ciphertext and the time of
the last write. The key is not in the process configuration: the channel derives
it from the WhatsApp id and binds it to the request with
:func:`privacy.context.user_context`; this store takes it from
:func:`privacy.context.current_user_keys` and fails closed
(:class:`~privacy.errors.NoKeyInContextError`) when it is not there, e.g. for Rasa's
HTTP API or a scheduled reminder. There is no plaintext fallback.

Layout (follows Rasa's session semantics, see
https://rasa.com/docs/rasa/3.x/domain#session-configuration): the *live* record holds
the current session, from the last ``action_session_start`` on, exactly what
:meth:`retrieve` returns (like ``SQLTrackerStore``). Closed sessions move into one
*archive* record per user, also sealed, rewritten only when a session closes and
pruned to the retention period, so reading and writing a message never costs more
for a long-time user. :meth:`retrieve_full_tracker` joins both.

Key rotation: a record written under a retired secret is found under the user's
retired pseudonym, opened with the retired key, and on the next save re-sealed under
the current key and pseudonym; the old-pseudonym records are then deleted (their
archive merged first). While ``PRIVACY_OLD_KEYS`` is set, each save costs one extra
read and delete per retired secret; ``python -m privacy.maintenance key-status``
shows when no record needs the old secret any more.

Configuration (``endpoints.yml``; Rasa 3.6 calls a custom store as
``cls(host=<url>, domain=..., event_broker=..., **other_keys)``)::

    tracker_store:
      type: privacy.tracker_store.EncryptedTrackerStore
      url: "sqlite:///var/trackers.db"     # or postgresql://..., redis://...
      retention_days: 30                   # optional
      table: encrypted_trackers            # optional, SQL table / Redis namespace
      key_prefix: "blaupause:"             # optional, Redis only

The environment wins over the file: ``TRACKER_STORE_URL`` and
``PRIVACY_RETENTION_DAYS``, when set, replace ``url`` and ``retention_days``. A
deployment then keeps the committed development default (SQLite) in endpoints.yml
and sets the production database in the environment, the same variables the
maintenance CLI reads, so the bot and the purge job can never disagree.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional, Sequence

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, UserUttered, split_events
from rasa.shared.core.trackers import DialogueStateTracker

from privacy.backends import (
    DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_TABLE,
    ConversationBackends,
    CorruptRecordError,
    open_conversation_backends,
    safe_url,
)
from privacy.context import UserKeys, current_user_keys, forget, recall, remember
from privacy.errors import DecryptionError, NoKeyInContextError, PrivacyConfigError
from privacy.records import MalformedPayloadError, StoredRecord, pad, unpad
from privacy.sealing import seal, unseal

__all__ = [
    "EncryptedTrackerStore",
    "TRACKER_STORE_URL_ENV",
    "RETENTION_DAYS_ENV",
    "DEFAULT_RETENTION_DAYS",
    "resolve_url",
    "resolve_retention_days",
    "find_encrypted_store",
    "make_fail_closed",
    "tracker_saved_in_this_request",
]

logger = logging.getLogger(__name__)

TRACKER_STORE_URL_ENV = "TRACKER_STORE_URL"
RETENTION_DAYS_ENV = "PRIVACY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30

_PAYLOAD_FORMAT = 1
_SAVED_TRACKER = "privacy.tracker_store.saved_tracker"
_UNREADABLE = (DecryptionError, CorruptRecordError, MalformedPayloadError)


def resolve_url(
    configured: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> str:
    """The tracker store URL: ``TRACKER_STORE_URL`` if set, else ``configured``.

    Raises :class:`~privacy.errors.PrivacyConfigError` when neither is given.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(TRACKER_STORE_URL_ENV, "").strip()
    if from_env:
        return from_env
    if configured:
        return configured
    raise PrivacyConfigError(
        f"no tracker store URL: set `url` under tracker_store in endpoints.yml or {TRACKER_STORE_URL_ENV}"
    )


def resolve_retention_days(
    configured: Any = None, environ: Optional[Mapping[str, str]] = None
) -> int:
    """Retention in days: ``PRIVACY_RETENTION_DAYS`` if set, else ``configured``, else 30."""
    env = os.environ if environ is None else environ
    raw: Any = env.get(RETENTION_DAYS_ENV, "").strip() or configured
    source = RETENTION_DAYS_ENV if env.get(RETENTION_DAYS_ENV, "").strip() else "retention_days"
    if raw is None or raw == "":
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except (TypeError, ValueError) as error:
        raise PrivacyConfigError(f"{source} must be a whole number of days") from error
    if isinstance(raw, float) and raw != days or days < 1:
        raise PrivacyConfigError(f"{source} must be a whole number of days, at least 1")
    return days


@dataclass(frozen=True, slots=True)
class _Identity:
    """One (pseudonym, key version, key) under which a user's records may be sealed."""

    pseudonym: str
    version: str
    key: bytes

    def __repr__(self) -> str:
        return f"_Identity(pseudonym={self.pseudonym!r}, version={self.version!r})"


def _identities(keys: UserKeys) -> list[_Identity]:
    """Current identity first, then the retired ones in keyring order."""
    return [_Identity(keys.pseudonym, keys.version, keys.key)] + [
        _Identity(retired.pseudonym, retired.version, retired.key) for retired in keys.retired
    ]


def _split_sessions(events: Iterable[Event]) -> list[list[Event]]:
    """Rasa's own session split (as in ``get_trackers_for_conversation_sessions``)."""
    return split_events(
        events, ActionExecuted, {"action_name": ACTION_SESSION_START_NAME}, include_splitting_event=True
    )


def _session_start(session: Sequence[dict[str, Any]]) -> float:
    return float(session[0].get("timestamp") or 0.0) if session else 0.0


def _session_end(session: Sequence[dict[str, Any]]) -> float:
    return max((float(event.get("timestamp") or 0.0) for event in session), default=0.0)


def _only_listening(session: Sequence[dict[str, Any]]) -> bool:
    """True for the ``action_listen``-only stub Rasa creates before the first session starts."""
    return all(e.get("event") == ActionExecuted.type_name and e.get("name") == ACTION_LISTEN_NAME for e in session)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _date(timestamp: Optional[float]) -> Optional[str]:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()


class EncryptedTrackerStore(TrackerStore):
    """Rasa ``TrackerStore`` that seals each conversation with the user's data key.

    Public extras beyond Rasa's interface: :meth:`erase` and :meth:`export` for the
    privacy actions and the channel (they take the user's keys explicitly, so they
    also work outside a request), and :meth:`close`.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        *,
        url: Optional[str] = None,
        retention_days: Any = None,
        table: str = DEFAULT_TABLE,
        key_prefix: str = DEFAULT_REDIS_KEY_PREFIX,
        environ: Optional[Mapping[str, str]] = None,
        backends: Optional[ConversationBackends] = None,
        **kwargs: Any,
    ) -> None:
        """Open the backends for the configured URL (nothing connects until first use).

        ``host`` is what Rasa 3.6 passes for ``url:`` in endpoints.yml; ``url`` is
        accepted for direct construction. ``backends`` replaces URL handling entirely
        (for tests and embedding). An event broker is refused: it would publish every
        event, message texts included, in clear.
        """
        if event_broker is not None:
            raise PrivacyConfigError(
                "EncryptedTrackerStore does not publish events: an event broker would receive "
                "every message in clear; remove event_broker from endpoints.yml"
            )
        if url and host and url != host:
            raise PrivacyConfigError("tracker_store has both `url` and `host` with different values")
        unknown = sorted(k for k in kwargs if k not in ("type", "store_type"))
        if unknown:
            logger.warning("EncryptedTrackerStore ignores unknown options: %s", ", ".join(unknown))
        super().__init__(domain, None)
        self.retention = timedelta(days=resolve_retention_days(retention_days, environ))
        if backends is None:
            resolved = resolve_url(url or host, environ)
            backends = open_conversation_backends(
                resolved, retention=self.retention, table=table, key_prefix=key_prefix
            )
            logger.info(
                "Encrypted tracker store on %s (retention %d days)", safe_url(resolved), self.retention.days
            )
        self.backends = backends

    # ------------------------------------------------------------------ keys
    @staticmethod
    def _keys_for(sender_id: str) -> UserKeys:
        """The context's keys for ``sender_id``, which must be the *current* pseudonym.

        ``current_user_keys`` also accepts a retired pseudonym; conversations are
        only ever addressed by the current one, so anything else fails closed.
        """
        keys = current_user_keys(sender_id)
        if sender_id != keys.pseudonym:
            raise NoKeyInContextError(sender_id, "conversations are addressed by the current pseudonym only")
        return keys

    # ------------------------------------------------------------- sealing
    def _seal(self, identity: _Identity, payload: dict[str, Any]) -> StoredRecord:
        document = {"format": _PAYLOAD_FORMAT, **payload}
        plaintext = pad(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        ciphertext = seal(identity.key, plaintext, pseudonym=identity.pseudonym, key_version=identity.version)
        return StoredRecord(
            pseudonym=identity.pseudonym, key_version=identity.version, ciphertext=ciphertext, updated_at=_now()
        )

    @staticmethod
    def _open(identity: _Identity, record: StoredRecord, field: str) -> list[Any]:
        """Decrypt ``record`` and return its ``field`` list; ``_UNREADABLE`` errors otherwise."""
        if record.key_version != identity.version:
            raise DecryptionError(f"record is labelled with key version {record.key_version!r}, expected another")
        plaintext = unpad(
            unseal(identity.key, record.ciphertext, pseudonym=identity.pseudonym, key_version=identity.version)
        )
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except ValueError as error:
            raise MalformedPayloadError("sealed payload is not UTF-8 JSON") from error
        if not isinstance(document, dict) or document.get("format") != _PAYLOAD_FORMAT:
            raise MalformedPayloadError("sealed payload has an unknown format")
        value = document.get(field)
        if not isinstance(value, list):
            raise MalformedPayloadError(f"sealed payload lacks {field!r}")
        return value

    @staticmethod
    def _warn_unreadable(kind: str, pseudonym: str, error: Exception) -> None:
        logger.warning(
            "Discarding unreadable %s record of %s (%s: %s); the conversation starts afresh",
            kind,
            pseudonym,
            type(error).__name__,
            getattr(error, "reason", "payload check failed"),
        )

    # ------------------------------------------------------------ loading
    async def _load_live(self, keys: UserKeys) -> Optional[tuple[_Identity, list[dict[str, Any]]]]:
        """The live session events and the identity they were sealed under, or ``None``.

        Looks under the current pseudonym first, then under each retired one. An
        unreadable record ends the search: the user's conversation is lost, not
        replaced by an older one.
        """
        for identity in _identities(keys):
            record = await self._get(self.backends.live, identity.pseudonym, "live")
            if record is None:
                continue
            try:
                return identity, self._open(identity, record, "events")
            except _UNREADABLE as error:
                self._warn_unreadable("live", identity.pseudonym, error)
                return None
        return None

    async def _get(self, backend: Any, pseudonym: str, kind: str) -> Optional[StoredRecord]:
        try:
            return await backend.get(pseudonym)
        except CorruptRecordError as error:
            self._warn_unreadable(kind, pseudonym, error)
            return None

    async def _load_archive(self, identity: _Identity) -> tuple[bool, list[list[dict[str, Any]]]]:
        """(record existed, readable closed sessions) of one identity's archive."""
        record = await self._get(self.backends.archive, identity.pseudonym, "archive")
        if record is None:
            return False, []
        try:
            sessions = self._open(identity, record, "sessions")
        except _UNREADABLE as error:
            self._warn_unreadable("archive", identity.pseudonym, error)
            return True, []
        return True, [session for session in sessions if isinstance(session, list)]

    async def _all_archived_sessions(self, keys: UserKeys) -> list[list[dict[str, Any]]]:
        sessions: list[list[dict[str, Any]]] = []
        for identity in _identities(keys):
            _, found = await self._load_archive(identity)
            sessions.extend(found)
        return _merge_sessions([], sessions)

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
        """All retained sessions (archive, then the live session) as one tracker."""
        keys = self._keys_for(conversation_id)
        loaded = await self._load_live(keys)
        archived = await self._all_archived_sessions(keys)
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

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Seal the current session into the live record; archive sessions that closed.

        Also migrates records found under retired pseudonyms to the current key and
        pseudonym and deletes the old ones (see the module docstring). Once written, the
        tracker is kept for the rest of the request (:func:`tracker_saved_in_this_request`).
        """
        keys = self._keys_for(tracker.sender_id)
        current = _identities(keys)[0]
        sessions = [[event.as_dict() for event in session] for session in _split_sessions(tracker.events)]
        live_events = sessions[-1] if sessions else []
        closed = [session for session in sessions[:-1] if not _only_listening(session)]

        inherited: list[list[dict[str, Any]]] = []
        stale: list[_Identity] = []
        for retired in _identities(keys)[1:]:
            existed, found = await self._load_archive(retired)
            if existed:
                inherited.extend(found)
                stale.append(retired)
            elif await self._get(self.backends.live, retired.pseudonym, "live") is not None:
                stale.append(retired)

        if closed or inherited:
            await self._archive(current, closed + inherited)
        await self.backends.live.put(self._seal(current, {"events": live_events}))
        for retired in stale:
            await self.backends.live.delete(retired.pseudonym)
            await self.backends.archive.delete(retired.pseudonym)
            logger.info("Migrated conversation from %s to %s", retired.pseudonym, current.pseudonym)
        remember(tracker.sender_id, _SAVED_TRACKER, tracker)

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

    # ------------------------------------------------ privacy operations
    async def erase(self, user_keys: UserKeys) -> int:
        """Delete every record of the user (all pseudonyms, live and archived); return the count."""
        forget(user_keys.pseudonym)
        deleted = 0
        for identity in _identities(user_keys):
            deleted += await self.backends.live.delete(identity.pseudonym)
            deleted += await self.backends.archive.delete(identity.pseudonym)
        logger.info("Erased %d conversation record(s) of %s", deleted, user_keys.pseudonym)
        return deleted

    async def export(self, user_keys: UserKeys) -> dict[str, Any]:
        """A readable summary of what is stored about the user (GDPR Art. 15).

        Returns ``pseudonym``, ``key_version`` (of the live record, ``None`` if none),
        ``sessions``, ``events``, ``user_messages``, ``slots`` (currently set, with
        values), ``first_activity``/``last_activity`` (ISO dates, UTC),
        ``retained_until`` (date after which the data is deleted unless the user
        writes again) and ``unreadable_records``.
        """
        unreadable = 0
        live_events: list[dict[str, Any]] = []
        key_version: Optional[str] = None
        for identity in _identities(user_keys):
            record = await self._get(self.backends.live, identity.pseudonym, "live")
            if record is None:
                continue
            try:
                live_events = self._open(identity, record, "events")
                key_version = record.key_version
            except _UNREADABLE as error:
                self._warn_unreadable("live", identity.pseudonym, error)
                unreadable += 1
            break
        archived: list[list[dict[str, Any]]] = []
        for identity in _identities(user_keys):
            existed, found = await self._load_archive(identity)
            unreadable += int(existed and not found)
            archived.extend(found)
        archived = _merge_sessions([], archived)

        sessions = [s for s in archived if not live_events or _session_start(s) < _session_start(live_events)]
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
            "slots": slots,
            "first_activity": _date(min(timestamps) if timestamps else None),
            "last_activity": _date(last),
            "retained_until": _date(last + self.retention.total_seconds()) if last is not None else None,
            "unreadable_records": unreadable,
        }

    async def close(self) -> None:
        """Release database connections."""
        await self.backends.close()


def _merge_sessions(
    existing: list[list[dict[str, Any]]], new: list[list[dict[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """Sessions of both lists in start order, one per start time (existing ones win).

    Start times identify sessions: a full tracker saved again (Rasa's HTTP API does
    that) carries sessions the archive already holds, and they must not double.
    """
    by_start: dict[float, list[dict[str, Any]]] = {}
    for session in [*existing, *new]:
        if session:
            by_start.setdefault(_session_start(session), session)
    return [by_start[start] for start in sorted(by_start)]


def tracker_saved_in_this_request(sender_id: str) -> Optional[DialogueStateTracker]:
    """The tracker an :class:`EncryptedTrackerStore` saved for ``sender_id`` in this request.

    Why: after Rasa's turn the channel needs the turn's final slots (the ``language``
    of the renderer's labels). Reading them back meant a second retrieve per turn:
    the record fetched, decrypted and replayed into a tracker by Rasa, about 7 % of
    the Rasa process's time in a profile under load. The store keeps the tracker it
    has just written (sealed) in :func:`privacy.context.remember`'s memo instead,
    which ends with the request's ``user_context`` block and answers only for the
    bound user; :meth:`EncryptedTrackerStore.erase` empties it. ``None`` when nothing
    was saved in this block (the caller then retrieves as before). The tracker is the
    object Rasa handed to :meth:`~EncryptedTrackerStore.save`: read it, do not change it.
    """
    tracker = recall(sender_id, _SAVED_TRACKER)
    return tracker if isinstance(tracker, DialogueStateTracker) else None


def find_encrypted_store(store: Any) -> EncryptedTrackerStore:
    """Unwrap Rasa's ``FailSafeTrackerStore``/``AwaitableTrackerStore`` around our store.

    ``rasa.core.agent.Agent`` always wraps the configured store, so the channel
    (``request.app.ctx.agent.tracker_store``) needs this to reach :meth:`erase`.
    Raises ``TypeError`` when no encrypted store is configured.
    """
    seen = 0
    while not isinstance(store, EncryptedTrackerStore):
        inner = getattr(store, "_tracker_store", None)
        if inner is None or seen > 4:
            raise TypeError("the agent's tracker store is not an EncryptedTrackerStore")
        store, seen = inner, seen + 1
    return store


def _reraise(error: Exception) -> None:
    raise error


def make_fail_closed(store: Any) -> bool:
    """Make Rasa's ``FailSafeTrackerStore`` wrapper pass our store's errors on.

    Why: ``rasa.core.agent.Agent`` wraps every tracker store in ``FailSafeTrackerStore``,
    which turns a failed ``retrieve`` into "no conversation" (the user silently starts
    afresh) and a failed ``save`` into a plaintext copy in an in-memory store, while the
    webhook is acknowledged. For an encrypted store neither is acceptable: a missing key
    must fail closed, and a database that is down must make the webhook fail so Meta
    redelivers the message later (nothing lost). The wrapper calls
    ``_on_tracker_store_error`` instead of logging when it is set; setting it to re-raise
    keeps the wrapper in place for everything else.

    Returns True when a wrapper around an :class:`EncryptedTrackerStore` was changed
    (idempotent); False when no encrypted store is configured.
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    try:
        find_encrypted_store(store)
    except TypeError:
        return False
    changed = False
    seen = 0
    while store is not None and not isinstance(store, EncryptedTrackerStore) and seen <= 4:
        if isinstance(store, FailSafeTrackerStore):
            store._on_tracker_store_error = _reraise
            changed = True
        store, seen = getattr(store, "_tracker_store", None), seen + 1
    return changed
