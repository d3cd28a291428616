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

Conversation keys (crypto-shredding, issue 16 item 2): the data key is a fixed
function of (secret, identifier), so anything sealed directly under it stays readable
in every old copy (SQLite ``-wal``, PostgreSQL dead tuples and WAL archives, Redis
AOF/RDB, backups) for as long as the secret exists. So each person gets a random
256-bit *conversation key* (:func:`secrets.token_bytes`), stored only wrapped: sealed
under the data key with AES-GCM, the associated data bound to pseudonym, key version
and the purpose ``conversation-key`` (:func:`privacy.sealing.seal`), padded like every
record, in a third namespace (SQL table ``<table>_keys``, Redis
``<prefix><table>_keys:``). Live and archive records are sealed under an HKDF-SHA256
sub-key of it per namespace (RFC 5869, info ``blaupause/conversation/live|archive``).
The key is created on a person's first save with an atomic insert-if-absent
(:meth:`privacy.backends.BlobBackend.add`), so instances racing on it agree, and never
rewritten (Redis: its TTL is restarted on each save). Records of the earlier format
(sealed under the data key itself) are still read, and the next save seals the live
record and the archive anew under a fresh conversation key.

Final erasure: :meth:`erase` appends the person's pseudonyms to the erasure journal,
writes a *tombstone* per pseudonym (fourth namespace ``<table>_erased``: pseudonym and
time, nothing else), destroys the wrapped keys, deletes the records, then scrubs
(SQLite: WAL checkpoint with truncation, ``secure_delete``; PostgreSQL: ``VACUUM`` of
the keys table; Redis: nothing possible, see :mod:`privacy.backends`). Once the
wrapped key is gone, no copy of a record anywhere opens with the secret and the
identifier; only an old copy of the *wrapped key* (a backup, a WAL segment, an RDB
file) would, which is why those copies need bounded retention. A read that finds a
key record or record written at or before the pseudonym's tombstone deletes it and
serves nothing (a restored backup, a stale copy), and a save of a tracker holding
events from before the tombstone (a turn that read the conversation before an
erasure and saves after it) is dropped; a turn that still holds the destroyed key
writes only what nobody can open. A new conversation after the erasure works as
usual: the tombstone only kills what is older. The journal (``PRIVACY_ERASURE_JOURNAL``
or the ``erasure_journal`` option, default ``var/erasures.journal``; ``<time>
<pseudonym>`` per line) lives outside the database, so after restoring a backup
``python -m privacy.maintenance replay-erasures`` brings the tombstones back and
deletes what they cover (``tests/integration/privacy/test_final_erasure.py``). An erasure that
cannot be journalled fails before it deletes anything (:class:`~privacy.errors.ErasureJournalError`).

Layout (follows Rasa's session semantics, see
https://rasa.com/docs/rasa/3.x/domain#session-configuration): the *live* record holds
the current session, from the last ``action_session_start`` on, exactly what
:meth:`retrieve` returns (like ``SQLTrackerStore``). Closed sessions move into one
*archive* record per user, also sealed, rewritten only when a session closes and
pruned to the retention period, so reading and writing a message never costs more
for a long-time user. :meth:`retrieve_full_tracker` joins both.

Key rotation: a record written under a retired secret is found under the user's
retired pseudonym, opened with the conversation key wrapped under the retired key
(or, in the earlier format, with the retired key itself), and on the next save
re-sealed under the current pseudonym's conversation key; the old-pseudonym records are then deleted (their
archive merged first). While ``PRIVACY_OLD_KEYS`` is set, each save costs one extra
read and delete per retired secret; ``python -m privacy.maintenance key-status``
shows when no record needs the old secret any more.

One person, one conversation (issue 9): the ``sender_id`` is the pseudonym of the
user's *anchor* (the BSUID when the webhook carries one, else the phone number; see
:class:`privacy.identity.UserIdentifiers`); the other identifiers of the request are
*aliases* (:attr:`privacy.context.UserKeys.aliases`). A conversation stored under an
alias pseudonym (the number, before BSUIDs arrived) is read from there while the
anchor has none, and :meth:`save` moves it, in this order:

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

"Settled" is sealed in the anchor's live document: ``aliases_settled`` lists, per
alias, a tag keyed with the anchor's data key (an alias pseudonym is never stored in
it, and nobody without the key can tell which aliases it names). A request whose
aliases are all settled never looks anything up under an alias pseudonym again; an
alias the record does not name yet (a number shared again after months) is looked up
once and then settled. :meth:`move` does the same for changed ids (Meta's
``user_changed_number`` / ``user_changed_user_id``): target first, source deleted
after. :meth:`erase` and :meth:`export` cover every pseudonym (anchor, retired,
aliases). No log line names two pseudonyms of one person: moves log the target only.

Configuration (``endpoints.yml``; Rasa 3.6 calls a custom store as
``cls(host=<url>, domain=..., event_broker=..., **other_keys)``)::

    tracker_store:
      type: privacy.tracker_store.EncryptedTrackerStore
      url: "sqlite:///var/trackers.db"     # or postgresql://..., redis://...
      retention_days: 30                   # optional
      table: encrypted_trackers            # optional, SQL table / Redis namespace
      key_prefix: "blaupause:"             # optional, Redis only
      erasure_journal: var/erasures.journal  # optional; PRIVACY_ERASURE_JOURNAL wins

The environment wins over the file: ``TRACKER_STORE_URL`` and
``PRIVACY_RETENTION_DAYS``, when set, replace ``url`` and ``retention_days``. A
deployment then keeps the committed development default (SQLite) in endpoints.yml
and sets the production database in the environment, the same variables the
maintenance CLI reads, so the bot and the purge job can never disagree.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Iterable, Mapping, Optional, Sequence, TypeVar

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
from privacy.errors import DecryptionError, ErasureJournalError, NoKeyInContextError, PrivacyConfigError
from privacy.keyring import derive_key
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
    "ERASURE_JOURNAL_ENV",
    "DEFAULT_ERASURE_JOURNAL",
    "ErasureJournal",
    "resolve_journal_path",
    "apply_erasure",
]

logger = logging.getLogger(__name__)

_A = TypeVar("_A")
_B = TypeVar("_B")

TRACKER_STORE_URL_ENV = "TRACKER_STORE_URL"
RETENTION_DAYS_ENV = "PRIVACY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30

_PAYLOAD_FORMAT = 1
_SAVED_TRACKER = "privacy.tracker_store.saved_tracker"
_SETTLED = "privacy.tracker_store.aliases_settled"
_SETTLED_TAG_LABEL = b"blaupause/alias-settled\x00"
_MAX_SETTLED_TAGS = 16
_UNREADABLE = (DecryptionError, CorruptRecordError, MalformedPayloadError)
_RESOLVED = "privacy.tracker_store.conversation_key"
_KEY_PURPOSE = "conversation-key"
_KEY_BYTES = 32
_RECORD_PURPOSE = {"events": "live", "sessions": "archive"}
_TOMBSTONE_VERSION = "erased"

ERASURE_JOURNAL_ENV = "PRIVACY_ERASURE_JOURNAL"
DEFAULT_ERASURE_JOURNAL = "var/erasures.journal"


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
    """One (pseudonym, key version, key) under which a user's records may be sealed.

    Once resolved (:meth:`EncryptedTrackerStore._resolve`) it also carries the
    unwrapped conversation key (``None``: no key record, legacy records only), the
    time of the pseudonym's last erasure (tombstone) and whether the key was created
    by this resolve.
    """

    pseudonym: str
    version: str
    key: bytes
    conversation_key: Optional[bytes] = None
    erased_at: Optional[datetime] = None
    resolved: bool = False
    fresh: bool = False

    def __repr__(self) -> str:
        return f"_Identity(pseudonym={self.pseudonym!r}, version={self.version!r})"


def _identities(keys: UserKeys) -> list[_Identity]:
    """The anchor's identities: current first, then the retired ones in keyring order."""
    return [_Identity(keys.pseudonym, keys.version, keys.key)] + [
        _Identity(retired.pseudonym, retired.version, retired.key) for retired in keys.retired
    ]


def _all_identities(keys: UserKeys) -> list[_Identity]:
    """Every identity of the person: the anchor's (current, retired), then every alias's."""
    return [_Identity(i.pseudonym, i.version, i.key) for i in keys.all_identities()]


@dataclass(frozen=True, slots=True)
class _AliasGroup:
    """One alias identifier: its identities under every secret and its settled tag."""

    tag: str
    identities: tuple[_Identity, ...]


def _alias_groups(keys: UserKeys) -> list[_AliasGroup]:
    """The aliases of ``keys``, one group per identifier (``UserKeys.aliases`` is flat).

    ``keys_for_user`` lays aliases out identifier by identifier, current secret first,
    then one per retired secret, so each group has ``1 + len(keys.retired)`` entries.
    The tag is a keyed digest (anchor's current data key) of the alias's current
    pseudonym: it can only be computed, or recognised, by whoever holds the anchor's key.
    """
    size = 1 + len(keys.retired)
    flat = [_Identity(i.pseudonym, i.version, i.key) for i in keys.aliases]
    groups: list[_AliasGroup] = []
    for start in range(0, len(flat), size):
        chunk = tuple(flat[start:start + size])
        mac = hmac.new(keys.key, _SETTLED_TAG_LABEL + chunk[0].pseudonym.encode("ascii"), hashlib.sha256).digest()
        groups.append(_AliasGroup(base64.urlsafe_b64encode(mac[:12]).decode("ascii"), chunk))
    return groups


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


def _any_event_until(events: Iterable[Event], moment: datetime) -> bool:
    """True if any event happened at or before ``moment`` (Rasa stamps every event when it is created)."""
    limit = moment.timestamp()
    return any(float(event.timestamp or 0.0) <= limit for event in events)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _date(timestamp: Optional[float]) -> Optional[str]:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()


def _record_key(conversation_key: bytes, purpose: str) -> bytes:
    """The sub-key for one namespace (``live``/``archive``): HKDF-SHA256 (RFC 5869) of the conversation key.

    Separate keys per purpose mean a live record copied into the archive (or back)
    fails authentication, on top of the pseudonym/version binding of the AAD.
    """
    info = b"blaupause/conversation/" + purpose.encode("ascii")
    return derive_key(conversation_key, info)


def _tombstone(pseudonym: str, erased_at: datetime) -> StoredRecord:
    """An erasure marker: the pseudonym and the time, nothing else (no ciphertext)."""
    return StoredRecord(pseudonym=pseudonym, key_version=_TOMBSTONE_VERSION, ciphertext=b"", updated_at=erased_at)


def resolve_journal_path(configured: Any = None, environ: Optional[Mapping[str, str]] = None) -> Path:
    """The erasure journal: ``PRIVACY_ERASURE_JOURNAL`` if set, else ``configured``, else ``var/erasures.journal``.

    Relative paths are relative to the working directory (like ``sqlite:///var/...``).
    """
    env = os.environ if environ is None else environ
    raw = env.get(ERASURE_JOURNAL_ENV, "").strip() or (str(configured) if configured else DEFAULT_ERASURE_JOURNAL)
    return Path(raw).expanduser().absolute()


class ErasureJournal:
    """An append-only file of erasures outside the database: ``<ISO time UTC> <pseudonym>`` per line.

    Why: a database backup restored after an erasure holds the erased records *and*
    no tombstone; the journal survives the restore (keep it on other storage than
    the database and its backups) and ``python -m privacy.maintenance
    replay-erasures`` applies it again. It holds no identifier and no key: a
    pseudonym is an HMAC of the identifier under the server secret.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, pseudonyms: Sequence[str], erased_at: datetime) -> None:
        """Append one line per pseudonym and fsync; :class:`ErasureJournalError` on failure."""
        stamp = erased_at.astimezone(timezone.utc).isoformat()
        lines = "".join(f"{stamp} {pseudonym}\n" for pseudonym in pseudonyms)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, lines.encode("ascii"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except (OSError, UnicodeEncodeError) as error:
            raise ErasureJournalError(f"cannot append to the erasure journal: {type(error).__name__}") from error

    def entries(self) -> list[tuple[str, datetime]]:
        """Every (pseudonym, erasure time), in file order; [] when there is no journal yet."""
        try:
            text = self.path.read_text("ascii")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as error:
            raise ErasureJournalError(f"cannot read the erasure journal: {type(error).__name__}") from error
        found: list[tuple[str, datetime]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            stamp, _, pseudonym = line.strip().partition(" ")
            try:
                erased_at = datetime.fromisoformat(stamp)
            except ValueError as error:
                raise ErasureJournalError(f"erasure journal line {number} is malformed") from error
            if not pseudonym or " " in pseudonym or erased_at.tzinfo is None:
                raise ErasureJournalError(f"erasure journal line {number} is malformed")
            found.append((pseudonym, erased_at))
        return found


async def apply_erasure(
    backends: ConversationBackends, pseudonym: str, erased_at: datetime, *, only_older: bool = True
) -> int:
    """Erase one pseudonym: tombstone, then the wrapped key, then live and archive record.

    With ``only_older`` (replaying the journal) only records last written at or
    before ``erased_at`` go: a conversation the person began after the erasure stays.
    Returns how many live/archive records were deleted.
    """
    existing = await _quiet_get(backends.erased, pseudonym)
    if existing is None or existing.updated_at < erased_at:
        await backends.erased.put(_tombstone(pseudonym, erased_at))
    deleted = 0
    for index, backend in enumerate((backends.keys, backends.live, backends.archive)):
        if only_older:
            record = await _quiet_get(backend, pseudonym)
            if record is not None and record.updated_at > erased_at:
                continue
        removed = await backend.delete(pseudonym)
        deleted += removed if index else 0
    return deleted


async def _quiet_get(backend: Any, pseudonym: str) -> Optional[StoredRecord]:
    """``backend.get``, with a corrupt record (a hash we did not write) read as "there is one, undated"."""
    try:
        return await backend.get(pseudonym)
    except CorruptRecordError:
        return StoredRecord(
            pseudonym=pseudonym, key_version="corrupt", ciphertext=b"",
            updated_at=datetime.fromtimestamp(0, tz=timezone.utc),
        )


async def _both(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """Run two reads at once (one round trip's wait instead of two on Redis and PostgreSQL);
    the first error is raised after both have ended, so none is left unretrieved."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]  # type: ignore[return-value]


async def scrub_backends(backends: ConversationBackends) -> None:
    """After erasures: let every namespace remove what it can of deleted records.

    SQLite checkpoints and truncates the WAL; PostgreSQL vacuums the (small) keys
    table so the dead tuples of wrapped keys are reclaimed soon; Redis can do nothing.
    """
    for backend in backends.all():
        scrub = getattr(backend, "scrub", None)
        if scrub is not None:
            await scrub()
    vacuum = getattr(backends.keys, "vacuum", None)
    if vacuum is not None:
        await vacuum()


class EncryptedTrackerStore(TrackerStore):
    """Rasa ``TrackerStore`` that seals each conversation with the user's data key.

    Public extras beyond Rasa's interface: :meth:`erase`, :meth:`export` and
    :meth:`move` for the privacy actions and the channel (they take the user's keys
    explicitly, so they also work outside a request), and :meth:`close`.
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
        erasure_journal: Optional[str] = None,
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
        self.journal = ErasureJournal(resolve_journal_path(erasure_journal, environ))

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
        """Seal a live (``events``) or archive (``sessions``) document under the conversation key."""
        if identity.conversation_key is None:
            raise ValueError("records are sealed under a conversation key; resolve with create=True first")
        purpose = _RECORD_PURPOSE["sessions" if "sessions" in payload else "events"]
        document = {"format": _PAYLOAD_FORMAT, **payload}
        plaintext = pad(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        ciphertext = seal(
            _record_key(identity.conversation_key, purpose),
            plaintext,
            pseudonym=identity.pseudonym,
            key_version=identity.version,
        )
        return StoredRecord(
            pseudonym=identity.pseudonym, key_version=identity.version, ciphertext=ciphertext, updated_at=_now()
        )

    def _seal_live(self, identity: _Identity, events: list[dict[str, Any]], settled: frozenset[str]) -> StoredRecord:
        payload: dict[str, Any] = {"events": events}
        if settled:
            payload["aliases_settled"] = sorted(settled)
        return self._seal(identity, payload)

    @staticmethod
    def _open_document(identity: _Identity, record: StoredRecord, field: str) -> dict[str, Any]:
        """Decrypt ``record``; the document, checked to carry a ``field`` list; ``_UNREADABLE`` otherwise."""
        if record.key_version != identity.version:
            raise DecryptionError(f"record is labelled with key version {record.key_version!r}, expected another")
        keys = [identity.key]  # the format before conversation keys: sealed under the data key itself
        if identity.conversation_key is not None:
            keys.insert(0, _record_key(identity.conversation_key, _RECORD_PURPOSE[field]))
        for index, key in enumerate(keys):
            try:
                sealed = unseal(key, record.ciphertext, pseudonym=identity.pseudonym, key_version=identity.version)
                break
            except DecryptionError:
                if index == len(keys) - 1:
                    raise
        plaintext = unpad(sealed)
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except ValueError as error:
            raise MalformedPayloadError("sealed payload is not UTF-8 JSON") from error
        if not isinstance(document, dict) or document.get("format") != _PAYLOAD_FORMAT:
            raise MalformedPayloadError("sealed payload has an unknown format")
        if not isinstance(document.get(field), list):
            raise MalformedPayloadError(f"sealed payload lacks {field!r}")
        return document

    @classmethod
    def _open(cls, identity: _Identity, record: StoredRecord, field: str) -> list[Any]:
        """Decrypt ``record`` and return its ``field`` list; ``_UNREADABLE`` errors otherwise."""
        return cls._open_document(identity, record, field)[field]

    @staticmethod
    def _warn_unreadable(kind: str, pseudonym: str, error: Exception) -> None:
        logger.warning(
            "Discarding unreadable %s record of %s (%s: %s); the conversation starts afresh",
            kind,
            pseudonym,
            type(error).__name__,
            getattr(error, "reason", "payload check failed"),
        )

    # ------------------------------------------------- conversation keys
    @staticmethod
    def _wrap(identity: _Identity, conversation_key: bytes) -> StoredRecord:
        """The key record: the conversation key sealed under the identity's data key, padded."""
        ciphertext = seal(
            identity.key,
            pad(conversation_key),
            pseudonym=identity.pseudonym,
            key_version=identity.version,
            purpose=_KEY_PURPOSE,
        )
        return StoredRecord(
            pseudonym=identity.pseudonym, key_version=identity.version, ciphertext=ciphertext, updated_at=_now()
        )

    @staticmethod
    def _unwrap(identity: _Identity, record: StoredRecord) -> bytes:
        if record.key_version != identity.version:
            raise DecryptionError(f"key record is labelled with key version {record.key_version!r}, expected another")
        key = unpad(
            unseal(
                identity.key,
                record.ciphertext,
                pseudonym=identity.pseudonym,
                key_version=identity.version,
                purpose=_KEY_PURPOSE,
            )
        )
        if len(key) != _KEY_BYTES:
            raise MalformedPayloadError("a conversation key has 32 bytes")
        return key

    async def _resolve(self, identity: _Identity, *, create: bool = False) -> _Identity:
        """``identity`` with its tombstone time and unwrapped conversation key (created if asked).

        A key record written at or before the pseudonym's tombstone is a stale copy
        (a racing save, a restored backup) and is deleted, as is an unreadable one
        when a new key is created. The result is kept for the rest of the request
        (bound user's anchor only), so a save after a retrieve reads nothing again.
        """
        if identity.resolved and (identity.conversation_key is not None or not create):
            return identity
        cached = recall(identity.pseudonym, _RESOLVED)
        if (
            isinstance(cached, _Identity)
            and cached.pseudonym == identity.pseudonym
            and cached.version == identity.version
            and (cached.conversation_key is not None or not create)
        ):
            return cached
        tombstone, wrapped = await _both(
            _quiet_get(self.backends.erased, identity.pseudonym),
            self._get_raw(self.backends.keys, identity.pseudonym, "key"),
        )
        erased_at = tombstone.updated_at if tombstone is not None else None
        if wrapped is not None and erased_at is not None and wrapped.updated_at <= erased_at:
            await self.backends.keys.delete(identity.pseudonym)
            logger.info("Deleted a key record of %s written before its erasure", identity.pseudonym)
            wrapped = None
        conversation_key: Optional[bytes] = None
        if wrapped is not None:
            try:
                conversation_key = self._unwrap(identity, wrapped)
            except _UNREADABLE as error:
                self._warn_unreadable("key", identity.pseudonym, error)
        fresh = False
        if conversation_key is None and create:
            if wrapped is not None:
                await self.backends.keys.delete(identity.pseudonym)
            candidate_key = secrets.token_bytes(_KEY_BYTES)
            candidate = self._wrap(identity, candidate_key)
            stored = await self.backends.keys.add(candidate)
            if stored.ciphertext == candidate.ciphertext:
                conversation_key, fresh = candidate_key, True
            else:  # another instance created it first: use theirs
                conversation_key = self._unwrap(identity, stored)
        resolved = replace(
            identity, conversation_key=conversation_key, erased_at=erased_at, resolved=True, fresh=fresh
        )
        remember(identity.pseudonym, _RESOLVED, resolved)
        return resolved

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
        remember(keys.pseudonym, _SETTLED, settled)
        return record, opened, settled

    async def _settled(self, keys: UserKeys) -> frozenset[str]:
        """The settled alias tags: from this request's memo, else read from the anchor's record.

        A user without aliases in this request needs no read: nothing is looked up
        under an alias either way (the tags in the record are then dropped, which
        costs one more look-up should an alias come back).
        """
        remembered = recall(keys.pseudonym, _SETTLED)
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

    async def _get_raw(self, backend: Any, pseudonym: str, kind: str) -> Optional[StoredRecord]:
        try:
            return await backend.get(pseudonym)
        except CorruptRecordError as error:
            self._warn_unreadable(kind, pseudonym, error)
            return None

    async def _get(self, backend: Any, identity: _Identity, kind: str) -> Optional[StoredRecord]:
        """The identity's record in ``backend``; one written at or before its tombstone is deleted, not returned."""
        if not identity.resolved:
            raise ValueError("resolve the identity first")
        return await self._unless_erased(backend, identity, await self._get_raw(backend, identity.pseudonym, kind), kind)

    async def _unless_erased(
        self, backend: Any, identity: _Identity, record: Optional[StoredRecord], kind: str
    ) -> Optional[StoredRecord]:
        """``record``, unless it was written at or before the identity's tombstone: then it is deleted."""
        if record is not None and identity.erased_at is not None and record.updated_at <= identity.erased_at:
            await backend.delete(identity.pseudonym)
            logger.info("Deleted a %s record of %s written before its erasure", kind, identity.pseudonym)
            return None
        return record

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
            identity = await self._resolve(identity)
            existed, archived = await self._load_archive(identity)
            kept.extend(archived)
            record = await self._get(self.backends.live, identity, "live")
            if record is not None:
                try:
                    events = self._open(identity, record, "events")
                except _UNREADABLE as error:
                    self._warn_unreadable("live", identity.pseudonym, error)
                    events = []
                if events and not _only_listening(events) and _session_start(events) < live_start:
                    kept.append(events)
            if existed or record is not None:
                stale.append(identity)
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
        now_settled = frozenset([*sorted(settled), *(group.tag for group in groups)][-_MAX_SETTLED_TAGS:])

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
        remember(tracker.sender_id, _SETTLED, now_settled)
        remember(tracker.sender_id, _SAVED_TRACKER, tracker)
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
            identity = await self._resolve(identity)
            existed, sessions = await self._load_archive(identity)
            archived.extend(sessions)
            record = await self._get(self.backends.live, identity, "live")
            if record is not None:
                try:
                    events = self._open(identity, record, "events")
                    if events and not _only_listening(events):
                        lives.append((identity, record, events))
                except _UNREADABLE as error:
                    self._warn_unreadable("live", identity.pseudonym, error)
            if existed or record is not None:
                present.append(identity)
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
        ``sessions``, ``events``, ``user_messages``, ``slots`` (currently set, with
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
