"""Final erasure: tombstones, the erasure journal, and scrubbing what the backends can.

Why (issue 16 item 2): once the person's wrapped conversation keys are gone
(:mod:`privacy.store.conversation_keys`), no copy of a record anywhere opens with the
secret and the identifier; only an old copy of the *wrapped key* (a backup, a WAL
segment, an RDB file) would, which is why those copies need bounded retention. An
erasure appends the person's pseudonyms to the erasure journal, writes a *tombstone*
per pseudonym (fourth namespace ``<table>_erased``: pseudonym and time, nothing else),
destroys the wrapped keys, deletes the records, then scrubs (SQLite: WAL checkpoint with
truncation, ``secure_delete``; PostgreSQL: ``VACUUM`` of the keys table; Redis: nothing
possible, see :mod:`privacy.backends`). A read that finds a key record or record written
at or before the pseudonym's tombstone deletes it and serves nothing (a restored backup,
a stale copy), and a save of a tracker holding events from before the tombstone is
dropped. A new conversation after the erasure works as usual: the tombstone only kills
what is older. The journal (``PRIVACY_ERASURE_JOURNAL`` or the ``erasure_journal``
option, default ``var/erasures.journal``; ``<time> <pseudonym>`` per line) lives outside
the database, so after restoring a backup ``python -m privacy.maintenance
replay-erasures`` brings the tombstones back and deletes what they cover
(``tests/integration/privacy/test_final_erasure.py``). An erasure that cannot be journalled fails
before it deletes anything (:class:`~privacy.errors.ErasureJournalError`).
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from privacy.backends import ConversationBackends, CorruptRecordError
from privacy.errors import ErasureJournalError
from privacy.records import StoredRecord

__all__ = ["ErasureJournal", "apply_erasure", "scrub_backends"]

_TOMBSTONE_VERSION = "erased"


def _tombstone(pseudonym: str, erased_at: datetime) -> StoredRecord:
    """An erasure marker: the pseudonym and the time, nothing else (no ciphertext)."""
    return StoredRecord(pseudonym=pseudonym, key_version=_TOMBSTONE_VERSION, ciphertext=b"", updated_at=erased_at)


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
