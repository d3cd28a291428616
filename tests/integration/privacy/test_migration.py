"""One person, one conversation: moving a conversation from alias pseudonyms to the anchor's (issue 9).

Runs against real SQLite, PostgreSQL and Redis (PostgreSQL/Redis are required under
CI=true, see tests/support/servers.py). A person first known by their phone number arrives with a
BSUID (the anchor) and the number (an alias); later the number may disappear. The
tests show: the conversation moves (live and archive) and nothing is lost; once moved,
no alias pseudonym is looked up again (backend calls counted per pseudonym); a crash
between writing the anchor record and deleting the alias records leaves one readable
conversation and the leftover is deleted by the next save; two store instances racing
on the same migration end with one conversation; changed ids move with ``move``;
erase/export cover every pseudonym; no log line names two pseudonyms of one person.
"""
from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from tests.support.stores import STORE_BACKENDS, drop_encrypted_store, store_url_for
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from tests.integration.privacy.test_tracker_store import DOMAIN, as_dicts, session, tracker_with, user_texts

from privacy.backends import ConversationBackends
from privacy.context import UserKeys, keys_for_identifiers, keys_for_user, user_context
from privacy.identity import UserIdentifiers
from privacy.keyring import Keyring, Secret
from privacy.records import StoredRecord
from privacy.store.encrypted import EncryptedTrackerStore

PHONE = "4915550000001"
BSUID = "DE.1000000000000000001"
NEW_BSUID = "DE.1000000000000000009"
PARENT = "DE.ENT.2000000000000000001"


class SimulatedCrash(Exception):
    """The process died here (raised by a backend wrapper)."""


class Recording:
    """A backend wrapper that counts calls per (operation, pseudonym) and can crash after a put."""

    def __init__(self, inner: Any, crash_after_put_of: str | None = None) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.crash_after_put_of = crash_after_put_of

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, pseudonym: str) -> StoredRecord | None:
        self.calls.append(("get", pseudonym))
        return await self.inner.get(pseudonym)

    async def put(self, record: StoredRecord) -> None:
        self.calls.append(("put", record.pseudonym))
        await self.inner.put(record)
        if record.pseudonym == self.crash_after_put_of:
            raise SimulatedCrash("after the anchor's put, before the deletes")

    async def delete(self, pseudonym: str) -> int:
        self.calls.append(("delete", pseudonym))
        return await self.inner.delete(pseudonym)


def recorded(store: EncryptedTrackerStore, crash_after_put_of: str | None = None) -> EncryptedTrackerStore:
    """The same database through counting (and optionally crashing) wrappers."""
    backends = ConversationBackends(
        live=Recording(store.backends.live, crash_after_put_of),  # type: ignore[arg-type]
        archive=Recording(store.backends.archive),  # type: ignore[arg-type]
        keys=Recording(store.backends.keys),  # type: ignore[arg-type]
        erased=Recording(store.backends.erased),  # type: ignore[arg-type]
    )
    return EncryptedTrackerStore(DOMAIN, backends=backends, environ={}, erasure_journal=str(store.journal.path))


def calls_for(store: EncryptedTrackerStore, pseudonyms: tuple[str, ...]) -> list[tuple[str, str]]:
    calls = [call for backend in store.backends.all() for call in backend.calls]  # type: ignore[attr-defined]
    return [call for call in calls if call[1] in pseudonyms]


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


@pytest.fixture
def by_phone(keyring: Keyring) -> UserKeys:
    """The keys before BSUIDs: the phone number is the anchor."""
    return keys_for_user(keyring, PHONE)


@pytest.fixture
def by_bsuid(keyring: Keyring) -> UserKeys:
    """The keys of a webhook with number and BSUID: BSUID anchor, number alias."""
    return keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id=BSUID))


@pytest.fixture(params=STORE_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request, request.param, tmp_path)


def open_store(url: str, unique_name: str) -> EncryptedTrackerStore:
    journal = Path(tempfile.gettempdir()) / f"{unique_name}.erasures.journal"  # not the repository's var/
    return EncryptedTrackerStore(
        DOMAIN, host=url, table=unique_name, key_prefix=f"test:{unique_name}:", environ={}, erasure_journal=str(journal)
    )


@pytest.fixture
async def store(url: str, unique_name: str) -> AsyncIterator[EncryptedTrackerStore]:
    opened = open_store(url, unique_name)
    yield opened
    await drop_encrypted_store(opened, url, unique_name)


async def save_by_phone(store: EncryptedTrackerStore, keys: UserKeys) -> DialogueStateTracker:
    """A conversation stored the old way: an archived session and a live one, under the phone pseudonym."""
    start = time.time() - 7200
    tracker = tracker_with(keys.pseudonym, session(start, "erste Sitzung") + session(start + 3600, "zweite Sitzung", carry_over=True))
    with user_context(keys):
        await store.save(tracker)
    return tracker


async def a_turn(store: EncryptedTrackerStore, keys: UserKeys, text: str) -> DialogueStateTracker:
    """What Rasa does for one message: retrieve, append, save."""
    with user_context(keys):
        tracker = await store.retrieve(keys.pseudonym)
        if tracker is None:
            tracker = DialogueStateTracker(keys.pseudonym, DOMAIN.slots)
        tracker.update(UserUttered(text, intent={"name": "greet", "confidence": 1.0}))
        await store.save(tracker)
    return tracker


async def full_texts(store: EncryptedTrackerStore, keys: UserKeys) -> list[str]:
    with user_context(keys):
        full = await store.retrieve_full_tracker(keys.pseudonym)
    return user_texts(full) if full is not None else []


async def records_under(store: EncryptedTrackerStore, pseudonyms: tuple[str, ...]) -> list[str]:
    found = []
    for pseudonym in pseudonyms:
        if await store.backends.live.get(pseudonym) is not None:
            found.append(f"live:{pseudonym}")
        if await store.backends.archive.get(pseudonym) is not None:
            found.append(f"archive:{pseudonym}")
    return found


# --------------------------------------------------------------- identity and keys


def test_keys_for_identifiers_anchor_on_the_bsuid_with_the_number_as_alias(keyring: Keyring, by_bsuid: UserKeys) -> None:
    assert by_bsuid.pseudonym == keys_for_user(keyring, BSUID).pseudonym
    assert [alias.pseudonym for alias in by_bsuid.aliases] == [keys_for_user(keyring, PHONE).pseudonym]
    assert by_bsuid.owns(keys_for_user(keyring, PHONE).pseudonym)
    parent = keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id=BSUID, parent_user_id=PARENT), True)
    assert parent.pseudonym == keys_for_user(keyring, PARENT).pseudonym
    assert len(parent.aliases) == 2 and len(parent.all_identities()) == 3


# --------------------------------------------------------------- migration


async def test_a_conversation_under_the_number_moves_to_the_bsuid(
    store: EncryptedTrackerStore, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    before = await save_by_phone(store, by_phone)
    with user_context(by_bsuid):  # found under the alias before anything moves
        found = await store.retrieve(by_bsuid.pseudonym)
    assert found is not None and user_texts(found) == ["zweite Sitzung"]
    assert await full_texts(store, by_bsuid) == ["erste Sitzung", "zweite Sitzung"]

    await a_turn(store, by_bsuid, "mit BSUID")

    assert await records_under(store, (by_phone.pseudonym,)) == []
    assert await records_under(store, (by_bsuid.pseudonym,)) == [f"live:{by_bsuid.pseudonym}", f"archive:{by_bsuid.pseudonym}"]
    assert await full_texts(store, by_bsuid) == ["erste Sitzung", "zweite Sitzung", "mit BSUID"]
    with user_context(by_bsuid):  # the live session is the one that was under the number, continued
        live = await store.retrieve(by_bsuid.pseudonym)
    second = [i for i, e in enumerate(as_dicts(before)) if e.get("name") == "action_session_start"][1]
    assert live is not None and as_dicts(live)[:-1] == as_dicts(before)[second:]


async def test_the_conversation_continues_after_the_number_disappears(
    store: EncryptedTrackerStore, keyring: Keyring, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    await save_by_phone(store, by_phone)
    await a_turn(store, by_bsuid, "mit Nummer und BSUID")
    bsuid_only = keys_for_identifiers(keyring, UserIdentifiers(user_id=BSUID))
    assert bsuid_only.aliases == ()
    await a_turn(store, bsuid_only, "nur noch BSUID")
    assert await full_texts(store, bsuid_only) == ["erste Sitzung", "zweite Sitzung", "mit Nummer und BSUID", "nur noch BSUID"]
    assert list(await store.keys()) == [by_bsuid.pseudonym]


async def test_once_moved_no_alias_pseudonym_is_looked_up_again(
    store: EncryptedTrackerStore, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    await save_by_phone(store, by_phone)
    counted = recorded(store)
    await a_turn(counted, by_bsuid, "Umzug")  # the move: the alias is read and deleted
    aliases = tuple(alias.pseudonym for alias in by_bsuid.aliases)
    assert ("delete", by_phone.pseudonym) in calls_for(counted, aliases)

    for number in range(3):  # later turns, each in its own request (empty memo), a fresh instance too
        later = recorded(store)
        await a_turn(later, by_bsuid, f"danach {number}")
        assert await full_texts(later, by_bsuid) == ["erste Sitzung", "zweite Sitzung", "Umzug"] + [
            f"danach {n}" for n in range(number + 1)
        ]
        with user_context(by_bsuid):  # a save without a retrieve before it (e.g. Rasa's HTTP API)
            tracker = await later.retrieve(by_bsuid.pseudonym)
        fresh = recorded(store)
        with user_context(by_bsuid):
            await fresh.save(tracker)  # type: ignore[arg-type]
        assert calls_for(later, aliases) == [], "an alias pseudonym was looked up after the move"
        assert calls_for(fresh, aliases) == [], "an alias pseudonym was looked up after the move"


async def test_a_crash_between_the_anchor_write_and_the_alias_delete_loses_nothing(
    store: EncryptedTrackerStore, url: str, unique_name: str, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    await save_by_phone(store, by_phone)
    crashing = recorded(store, crash_after_put_of=by_bsuid.pseudonym)
    with pytest.raises(SimulatedCrash):
        await a_turn(crashing, by_bsuid, "kurz vor dem Absturz")
    deletes = [call for call in calls_for(crashing, (by_phone.pseudonym,)) if call[0] == "delete"]
    assert deletes == []  # the crash came after the anchor's put, before any delete
    assert await records_under(store, (by_phone.pseudonym,)) != []  # the leftover is there

    restarted = open_store(url, unique_name)  # a new process on the same database
    try:
        # exactly one conversation is read: the anchor's, with the message of the crashed turn
        assert await full_texts(restarted, by_bsuid) == ["erste Sitzung", "zweite Sitzung", "kurz vor dem Absturz"]
        with user_context(by_bsuid):
            summary = await restarted.export(by_bsuid)
        assert summary["user_messages"] == 3 and summary["sessions"] == 2
        await a_turn(restarted, by_bsuid, "nach dem Neustart")
        assert await records_under(restarted, (by_phone.pseudonym,)) == []  # leftover gone after the next save
        assert await full_texts(restarted, by_bsuid) == [
            "erste Sitzung", "zweite Sitzung", "kurz vor dem Absturz", "nach dem Neustart"
        ]
        assert list(await restarted.keys()) == [by_bsuid.pseudonym]
    finally:
        await restarted.close()


async def test_two_instances_migrating_the_same_person_end_with_one_conversation(
    store: EncryptedTrackerStore, url: str, unique_name: str, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    await save_by_phone(store, by_phone)
    first, second = open_store(url, unique_name), open_store(url, unique_name)
    both_read = asyncio.Barrier(2)

    async def racing_turn(instance: EncryptedTrackerStore, text: str) -> DialogueStateTracker:
        with user_context(by_bsuid):
            tracker = await instance.retrieve(by_bsuid.pseudonym)
            assert tracker is not None and user_texts(tracker) == ["zweite Sitzung"]  # both read the alias
            await both_read.wait()  # ... before either writes: both migrate at the same time
            tracker.update(UserUttered(text, intent={"name": "greet", "confidence": 1.0}))
            await instance.save(tracker)
        return tracker

    try:
        trackers = await asyncio.gather(racing_turn(first, "Instanz eins"), racing_turn(second, "Instanz zwei"))
        assert await records_under(store, (by_phone.pseudonym,)) == []
        assert list(await store.keys()) == [by_bsuid.pseudonym]
        with user_context(by_bsuid):
            live = await store.retrieve(by_bsuid.pseudonym)
        assert live is not None
        # the live record is exactly one instance's whole save (the last), never a mix
        assert as_dicts(live) in [as_dicts(t) for t in trackers]
        last = user_texts(live)[-1]
        assert await full_texts(store, by_bsuid) == ["erste Sitzung", "zweite Sitzung", last]
        # Rasa serialises turns per sender_id: the next turn continues that conversation
        await a_turn(first, by_bsuid, "weiter")
        assert await full_texts(second, by_bsuid) == ["erste Sitzung", "zweite Sitzung", last, "weiter"]
        assert list(await store.keys()) == [by_bsuid.pseudonym]
    finally:
        await first.close()
        await second.close()


async def test_an_older_alias_session_next_to_the_anchor_is_archived_not_lost(
    store: EncryptedTrackerStore, keyring: Keyring, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    """A BSUID-only conversation began while the number's conversation still existed: both are kept."""
    await save_by_phone(store, by_phone)
    await a_turn(store, keys_for_identifiers(keyring, UserIdentifiers(user_id=BSUID)), "ohne Nummer begonnen")
    await a_turn(store, by_bsuid, "mit Nummer")
    assert await records_under(store, (by_phone.pseudonym,)) == []
    assert await full_texts(store, by_bsuid) == ["erste Sitzung", "zweite Sitzung", "ohne Nummer begonnen", "mit Nummer"]


async def test_an_alias_stored_under_a_retired_secret_moves_too(store: EncryptedTrackerStore) -> None:
    old, new = Secret.generate(), Secret.generate()
    before = keys_for_user(Keyring(current=old), PHONE)
    await save_by_phone(store, before)
    after = keys_for_identifiers(Keyring(current=new, retired=(old,)), UserIdentifiers(phone=PHONE, user_id=BSUID))
    await a_turn(store, after, "nach Rotation und BSUID")
    assert list(await store.keys()) == [after.pseudonym]
    assert await full_texts(store, after) == ["erste Sitzung", "zweite Sitzung", "nach Rotation und BSUID"]


# --------------------------------------------------------------- changed ids


async def test_move_follows_a_changed_bsuid_and_is_idempotent(
    store: EncryptedTrackerStore, keyring: Keyring, by_phone: UserKeys
) -> None:
    source = keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id=BSUID))
    target = keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id=NEW_BSUID))
    await save_by_phone(store, by_phone)
    await a_turn(store, source, "alte BSUID")
    assert await store.move(source, target) is True
    assert await records_under(store, source.pseudonyms()) == []
    assert await full_texts(store, target) == ["erste Sitzung", "zweite Sitzung", "alte BSUID"]
    assert await store.move(source, target) is False  # nothing left to move
    await a_turn(store, target, "neue BSUID")
    assert await full_texts(store, target) == ["erste Sitzung", "zweite Sitzung", "alte BSUID", "neue BSUID"]


async def test_move_into_an_existing_conversation_keeps_the_targets_live_session(
    store: EncryptedTrackerStore, keyring: Keyring
) -> None:
    source = keys_for_user(keyring, PHONE)
    target = keys_for_user(keyring, NEW_BSUID)
    await save_by_phone(store, source)
    start = time.time() - 600
    with user_context(target):
        await store.save(tracker_with(target.pseudonym, session(start, "neue Nummer")))
    assert await store.move(source, target) is True
    with user_context(target):
        live = await store.retrieve(target.pseudonym)
    assert user_texts(live) == ["neue Nummer"]  # type: ignore[arg-type]
    assert await full_texts(store, target) == ["erste Sitzung", "zweite Sitzung", "neue Nummer"]
    assert list(await store.keys()) == [target.pseudonym]


async def test_a_crash_during_a_move_is_completed_by_the_next_move(
    store: EncryptedTrackerStore, keyring: Keyring
) -> None:
    source, target = keys_for_user(keyring, BSUID), keys_for_user(keyring, NEW_BSUID)
    await save_by_phone(store, source)
    with pytest.raises(SimulatedCrash):
        await recorded(store, crash_after_put_of=target.pseudonym).move(source, target)
    assert await full_texts(store, target) == ["erste Sitzung", "zweite Sitzung"]  # target readable already
    assert await store.move(source, target) is True
    assert list(await store.keys()) == [target.pseudonym]
    assert await full_texts(store, target) == ["erste Sitzung", "zweite Sitzung"]


# --------------------------------------------------------------- erase and export


async def test_erase_and_export_cover_anchor_aliases_and_retired_pseudonyms(
    store: EncryptedTrackerStore, keyring: Keyring
) -> None:
    old = Secret.generate()
    rotated = Keyring(current=keyring.current, retired=(old,))
    await save_by_phone(store, keys_for_user(Keyring(current=old), PHONE))  # alias, retired secret
    with user_context(keys_for_user(keyring, BSUID)):  # anchor, current secret, not moved yet
        await store.save(tracker_with(keys_for_user(keyring, BSUID).pseudonym, session(time.time() - 60, "neu")))
    everyone = keys_for_identifiers(rotated, UserIdentifiers(phone=PHONE, user_id=BSUID))

    summary = await store.export(everyone)
    assert summary["user_messages"] == 3 and summary["sessions"] == 3

    assert await store.erase(everyone) == 3
    assert await records_under(store, everyone.pseudonyms()) == []
    assert list(await store.keys()) == []


# --------------------------------------------------------------- logs


async def test_no_log_line_names_two_pseudonyms_of_one_person(
    store: EncryptedTrackerStore, keyring: Keyring, by_phone: UserKeys, by_bsuid: UserKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="privacy")
    await save_by_phone(store, by_phone)
    await a_turn(store, by_bsuid, "Umzug")
    target = keys_for_identifiers(keyring, UserIdentifiers(phone=PHONE, user_id=NEW_BSUID))
    assert await store.move(by_bsuid, target)
    await store.erase(target)
    everyone = {by_phone.pseudonym, by_bsuid.pseudonym, target.pseudonym}
    assert caplog.records, "the move and the erasure are logged"
    for record in caplog.records:
        line = record.getMessage()
        assert sum(pseudonym in line for pseudonym in everyone) <= 1, line


async def test_the_settled_flag_is_sealed_and_names_no_alias(
    store: EncryptedTrackerStore, by_phone: UserKeys, by_bsuid: UserKeys
) -> None:
    await save_by_phone(store, by_phone)
    await a_turn(store, by_bsuid, "Umzug")
    record = await store.backends.live.get(by_bsuid.pseudonym)
    assert record is not None and b"aliases_settled" not in record.ciphertext
    from privacy.store.identities import _alias_groups, _Identity  # the sealed document, opened with the anchor's key

    anchor = await store._resolve(_Identity(by_bsuid.pseudonym, by_bsuid.version, by_bsuid.key))
    document = store._open_document(anchor, record, "events")
    tags = document["aliases_settled"]
    assert isinstance(tags, list) and len(tags) == 1
    assert by_phone.pseudonym not in str(document) and PHONE not in str(document)
    assert tags == [group.tag for group in _alias_groups(by_bsuid)]
    other = keys_for_identifiers(Keyring(current=Secret.generate()), UserIdentifiers(phone=PHONE, user_id=BSUID))
    assert [group.tag for group in _alias_groups(other)] != tags  # keyed: another secret gives other tags
