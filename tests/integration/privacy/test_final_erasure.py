"""Issue 16 item 2, "Final erasure": crypto-shredding, tombstones and the erasure journal.

Runs against real SQLite, PostgreSQL and Redis. Before this design a record was sealed
directly under the data key, a fixed function of (secret, identifier): every old copy
(a backup, a WAL archive, an AOF) stayed readable for as long as the secret existed,
and a restored backup silently brought an erased conversation back. Now:

- a record is sealed under a random per-person conversation key, stored only wrapped
  (``<table>_keys``); erasure destroys it first, so an old copy of a record no longer
  opens with the secret and the identifier (``test_an_old_copy_...`` fails on the old
  design, where the data key opens it);
- erasure writes a tombstone (``<table>_erased``); a key record or record older than it
  is deleted when read, never served (restored rows, racing saves);
- every erasure is journalled outside the database; ``replay-erasures`` removes the
  rows of a restored backup even when the tombstone is gone too.

What the design cannot do: an old copy of the *wrapped key* still opens with secret and
identifier; the SQLite test shows that after an erasure neither the database file nor
its ``-wal`` holds it (other backends: operator retention of backups, WAL, AOF/RDB).
"""
from __future__ import annotations

import asyncio
import contextvars
import io
import json
import time
from pathlib import Path
from typing import AsyncIterator

import pytest
from tests.support.stores import STORE_BACKENDS, drop_encrypted_store, store_url_for
from rasa.shared.core.events import UserUttered
from tests.integration.privacy.test_tracker_store import DOMAIN, session, tracker_with, user_texts

from privacy.backends import ConversationBackends
from privacy.context import UserKeys, keys_for_user, user_context
from privacy.errors import DecryptionError, ErasureJournalError
from privacy.identity import data_key
from privacy.keyring import Keyring, Secret
from privacy.maintenance import purge, run_command
from privacy.records import StoredRecord, pad
from privacy.sealing import OVERHEAD, seal, unseal
from privacy.store.encrypted import EncryptedTrackerStore

PHONE = "4915550000001"
OTHER = "4915550000002"


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


@pytest.fixture
def user(keyring: Keyring) -> UserKeys:
    return keys_for_user(keyring, PHONE)


@pytest.fixture(params=STORE_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request, request.param, tmp_path)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "erasures.journal"


def open_store(url: str, name: str, journal: Path) -> EncryptedTrackerStore:
    return EncryptedTrackerStore(
        DOMAIN, host=url, table=name, key_prefix=f"test:{name}:", environ={}, erasure_journal=str(journal)
    )


@pytest.fixture
async def store(url: str, unique_name: str, journal: Path) -> AsyncIterator[EncryptedTrackerStore]:
    opened = open_store(url, unique_name, journal)
    yield opened
    await drop_encrypted_store(opened, url, unique_name)  # every namespace, every table


async def a_conversation(
    store: EncryptedTrackerStore, keys: UserKeys, text: str = "vorher", start: float | None = None
) -> None:
    """An archived session and a live one, as a returning user has (by default begun two hours ago)."""
    start = time.time() - 7200 if start is None else start
    with user_context(keys):
        await store.save(tracker_with(keys.pseudonym, session(start, f"{text} eins") + session(start + 3600, f"{text} zwei")))


async def backup(backends: ConversationBackends, pseudonym: str) -> dict[str, StoredRecord]:
    """What a backup taken now holds of one pseudonym, per namespace."""
    copies = {}
    for name in ("keys", "live", "archive"):
        record = await getattr(backends, name).get(pseudonym)
        if record is not None:
            copies[name] = record
    return copies


async def restore(backends: ConversationBackends, copies: dict[str, StoredRecord]) -> None:
    for name, record in copies.items():
        await getattr(backends, name).put(record)


async def texts_in_a_new_instance(url: str, name: str, journal: Path, keys: UserKeys) -> list[str] | None:
    """What another store instance (no memo of this request) reads for ``keys``."""
    fresh = open_store(url, name, journal)
    try:
        return await retrieved_texts(fresh, keys)
    finally:
        await fresh.close()


async def retrieved_texts(store: EncryptedTrackerStore, keys: UserKeys) -> list[str] | None:
    with user_context(keys):
        tracker = await store.retrieve_full_tracker(keys.pseudonym)
    return None if tracker is None else user_texts(tracker)


def opens_with_data_key(keys: UserKeys, record: StoredRecord) -> bool:
    """Can the record be opened with what the secret and the identifier give (the data key)?"""
    try:
        unseal(keys.key, record.ciphertext, pseudonym=record.pseudonym, key_version=record.key_version)
    except DecryptionError:
        return False
    return True


# --------------------------------------------------------------- crypto-shredding
async def test_records_are_sealed_under_a_wrapped_conversation_key(
    store: EncryptedTrackerStore, user: UserKeys
) -> None:
    await a_conversation(store, user)
    wrapped = await store.backends.keys.get(user.pseudonym)
    live = await store.backends.live.get(user.pseudonym)
    assert wrapped is not None and live is not None
    assert len(wrapped.ciphertext) == OVERHEAD + 1024  # 32 bytes, padded to the smallest record bucket
    assert not opens_with_data_key(user, live)  # the data key alone opens nothing but the key record
    with pytest.raises(DecryptionError):  # the wrap is bound to its purpose: not a record
        unseal(user.key, wrapped.ciphertext, pseudonym=user.pseudonym, key_version=user.version)
    unseal(user.key, wrapped.ciphertext, pseudonym=user.pseudonym, key_version=user.version, purpose="conversation-key")


async def test_an_old_copy_of_the_live_record_cannot_be_opened_after_erasure(
    store: EncryptedTrackerStore, user: UserKeys, keyring: Keyring
) -> None:
    """Fails on the old design: there the data key (secret + identifier) opened any old copy."""
    await a_conversation(store, user)
    copies = await backup(store.backends, user.pseudonym)
    assert set(copies) == {"keys", "live", "archive"}

    assert await store.erase(user) == 2

    assert await store.backends.keys.get(user.pseudonym) is None  # the wrapped key is destroyed
    assert user.key == data_key(keyring.current, PHONE)  # all that secret + identifier give
    for name in ("live", "archive"):
        assert not opens_with_data_key(user, copies[name]), f"an old {name} copy opens with secret + identifier"
    # The store with the secret and the identifier bound cannot read a restored record either.
    await store.backends.live.put(copies["live"])
    await store.backends.archive.put(copies["archive"])
    assert await retrieved_texts(store, user) is None


async def test_restored_rows_are_not_served_while_the_tombstone_exists(
    store: EncryptedTrackerStore, user: UserKeys
) -> None:
    await a_conversation(store, user)
    copies = await backup(store.backends, user.pseudonym)
    await store.erase(user)
    tombstone = await store.backends.erased.get(user.pseudonym)
    assert tombstone is not None and tombstone.ciphertext == b""  # pseudonym and time, nothing else

    await restore(store.backends, copies)  # key record and records back, as from a backup

    assert await retrieved_texts(store, user) is None
    for name in ("keys", "live", "archive"):  # deleted on the read that found them
        assert await getattr(store.backends, name).get(user.pseudonym) is None, name


@pytest.mark.parametrize("erased_elsewhere", [True, False], ids=["other-request", "same-request"])
async def test_a_racing_save_after_the_erasure_does_not_bring_the_conversation_back(
    store: EncryptedTrackerStore, user: UserKeys, url: str, unique_name: str, journal: Path, erased_elsewhere: bool
) -> None:
    """A turn read before the erasure and saved after it (issue 16, finding 4).

    Erased from another request (the turn still holds the conversation key it read):
    the save writes under the destroyed key, so nothing readable comes back. Erased
    in a way that emptied the turn's memo: the save sees the tombstone and drops a
    tracker with events from before it.
    """
    await a_conversation(store, user)
    other_instance = open_store(url, unique_name, journal)
    try:
        with user_context(user):
            tracker = await store.retrieve(user.pseudonym)
            assert tracker is not None
            if erased_elsewhere:
                erasure = asyncio.get_running_loop().create_task(other_instance.erase(user), context=contextvars.Context())
                assert await erasure == 2
            else:
                assert await other_instance.erase(user) == 2
            tracker.update(UserUttered("noch eine Nachricht"))
            await store.save(tracker)  # the racing save
        assert await texts_in_a_new_instance(url, unique_name, journal, user) is None
    finally:
        await other_instance.close()


async def test_a_new_conversation_after_the_erasure_works_and_survives_a_replay(
    store: EncryptedTrackerStore, user: UserKeys, url: str, unique_name: str, journal: Path
) -> None:
    await a_conversation(store, user, "alt")
    await store.erase(user)
    time.sleep(0.01)
    await a_conversation(store, user, "neu", start=time.time())
    assert await retrieved_texts(store, user) == ["neu eins", "neu zwei"]
    out = io.StringIO()
    argv = ["replay-erasures", "--url", url, "--table", unique_name, "--key-prefix", f"test:{unique_name}:"]
    assert await run_command(argv, environ={"PRIVACY_ERASURE_JOURNAL": str(journal)}, stdout=out) == 0
    assert "replayed 1 erasure(s)" in out.getvalue() and "deleted 0 record(s)" in out.getvalue()
    assert await texts_in_a_new_instance(url, unique_name, journal, user) == ["neu eins", "neu zwei"]


# ------------------------------------------------------------------- the journal
async def test_replay_erasures_removes_restored_rows_when_the_tombstone_is_gone_too(
    store: EncryptedTrackerStore, user: UserKeys, keyring: Keyring, url: str, unique_name: str, journal: Path
) -> None:
    other = keys_for_user(keyring, OTHER)
    await a_conversation(store, other, "bleibt")
    await a_conversation(store, user)
    copies = await backup(store.backends, user.pseudonym)
    await store.erase(user)

    # A whole-database restore: the rows come back and the tombstone is gone.
    await restore(store.backends, copies)
    await store.backends.erased.delete(user.pseudonym)
    assert await texts_in_a_new_instance(url, unique_name, journal, user) == ["vorher eins", "vorher zwei"]

    out = io.StringIO()
    argv = ["replay-erasures", "--url", url, "--table", unique_name, "--key-prefix", f"test:{unique_name}:", "--journal", str(journal)]
    assert await run_command(argv, environ={}, stdout=out) == 0
    assert "replayed 1 erasure(s)" in out.getvalue() and "deleted 2 record(s)" in out.getvalue()

    for name in ("keys", "live", "archive"):
        assert await getattr(store.backends, name).get(user.pseudonym) is None, name
    assert await store.backends.erased.get(user.pseudonym) is not None  # the tombstone is back
    assert await retrieved_texts(store, user) is None
    assert await retrieved_texts(store, other) == ["bleibt eins", "bleibt zwei"]


async def test_the_journal_holds_only_times_and_pseudonyms(
    store: EncryptedTrackerStore, keyring: Keyring, journal: Path
) -> None:
    from privacy.identity import UserIdentifiers
    from privacy.context import keys_for_identifiers

    person = keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id="DE.1000000000000000001"))
    await a_conversation(store, person)
    await store.erase(person)
    lines = journal.read_text("ascii").splitlines()
    assert [line.split(" ")[1] for line in lines] == list(person.pseudonyms())
    for line in lines:
        stamp, pseudonym = line.split(" ")
        assert stamp.endswith("+00:00") and pseudonym.startswith("u_")
    assert PHONE not in journal.read_text() and "DE.1" not in journal.read_text()
    assert oct(journal.stat().st_mode & 0o777) == "0o600"


async def test_an_erasure_that_cannot_be_journalled_deletes_nothing(
    url: str, unique_name: str, tmp_path: Path, user: UserKeys
) -> None:
    blocked = tmp_path / "a-directory"
    blocked.mkdir()
    store = open_store(url, unique_name, blocked)  # appending to a directory fails
    try:
        await a_conversation(store, user)
        with pytest.raises(ErasureJournalError):
            await store.erase(user)
        assert await retrieved_texts(store, user) == ["vorher eins", "vorher zwei"]
    finally:
        await drop_encrypted_store(store, url, unique_name)


# --------------------------------------------------------- backward compatibility
def legacy_record(keys: UserKeys, document: dict) -> StoredRecord:
    """A record as written before conversation keys: sealed directly under the data key."""
    plaintext = pad(json.dumps({"format": 1, **document}).encode("utf-8"))
    from datetime import datetime, timezone

    return StoredRecord(
        pseudonym=keys.pseudonym,
        key_version=keys.version,
        ciphertext=seal(keys.key, plaintext, pseudonym=keys.pseudonym, key_version=keys.version),
        updated_at=datetime.now(timezone.utc),
    )


async def test_records_of_the_earlier_format_are_read_and_resealed_on_the_next_save(
    store: EncryptedTrackerStore, user: UserKeys
) -> None:
    start = time.time() - 7200
    archived = [event.as_dict() for event in session(start, "alt archiviert")]
    live = [event.as_dict() for event in session(start + 3600, "alt live")]
    await store.backends.archive.put(legacy_record(user, {"sessions": [archived]}))
    await store.backends.live.put(legacy_record(user, {"events": live}))

    assert await retrieved_texts(store, user) == ["alt archiviert", "alt live"]
    with user_context(user):
        tracker = await store.retrieve(user.pseudonym)
        assert tracker is not None
        await store.save(tracker)

    assert await store.backends.keys.get(user.pseudonym) is not None
    for name in ("live", "archive"):
        record = await getattr(store.backends, name).get(user.pseudonym)
        assert record is not None and not opens_with_data_key(user, record), f"{name} not re-sealed"
    assert await retrieved_texts(store, user) == ["alt archiviert", "alt live"]


# ------------------------------------------------------------------------ purge
async def test_purge_deletes_orphaned_keys_and_old_tombstones(tmp_path: Path, user: UserKeys) -> None:
    from datetime import timedelta

    store = open_store(f"sqlite:///{tmp_path}/t.db", "encrypted_trackers", tmp_path / "j")
    try:
        await a_conversation(store, user)
        await store.backends.live.delete(user.pseudonym)
        await store.backends.archive.delete(user.pseudonym)
        await store.erase(keys_for_user(Keyring(current=Secret.generate()), OTHER))
        from datetime import datetime, timezone

        await purge(store.backends, timedelta(days=30), now=datetime.now(timezone.utc) + timedelta(days=31))
        assert await store.backends.keys.list_pseudonyms() == []
        assert await store.backends.erased.list_pseudonyms() == []
    finally:
        await store.close()


async def test_purge_keeps_the_key_of_a_long_running_conversation(tmp_path: Path, user: UserKeys) -> None:
    from datetime import datetime, timedelta, timezone

    store = open_store(f"sqlite:///{tmp_path}/t.db", "encrypted_trackers", tmp_path / "j")
    try:
        await a_conversation(store, user)
        old = await store.backends.keys.get(user.pseudonym)
        assert old is not None  # a key written 40 days ago, the conversation still going on
        await store.backends.keys.put(StoredRecord(
            pseudonym=old.pseudonym, key_version=old.key_version, ciphertext=old.ciphertext,
            updated_at=datetime.now(timezone.utc) - timedelta(days=40),
        ))
        await purge(store.backends, timedelta(days=30))
        assert await retrieved_texts(store, user) == ["vorher eins", "vorher zwei"]
    finally:
        await store.close()


async def test_a_record_of_the_earlier_format_under_a_retired_secret_moves_to_the_new_scheme(
    store: EncryptedTrackerStore,
) -> None:
    old, new = Secret.generate(), Secret.generate()
    before = keys_for_user(Keyring(current=old), PHONE)
    live = [event.as_dict() for event in session(time.time() - 600, "vor der Rotation")]
    await store.backends.live.put(legacy_record(before, {"events": live}))

    after = keys_for_user(Keyring(current=new, retired=(old,)), PHONE)
    assert await retrieved_texts(store, after) == ["vor der Rotation"]
    with user_context(after):
        tracker = await store.retrieve(after.pseudonym)
        assert tracker is not None
        await store.save(tracker)

    assert await store.backends.live.get(before.pseudonym) is None
    assert await store.backends.keys.get(after.pseudonym) is not None
    record = await store.backends.live.get(after.pseudonym)
    assert record is not None and not opens_with_data_key(after, record)
    assert await retrieved_texts(store, after) == ["vor der Rotation"]
