"""EncryptedTrackerStore against real SQLite, PostgreSQL and Redis.

Uses real Rasa trackers and a Domain built from a dict. The raw-scan test reads what
actually reached each database (SQLite file bytes, every PostgreSQL row, every Redis
value) and checks that no phone number, message text, intent, action or slot name is
there.
"""
from __future__ import annotations

import dataclasses
import logging
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator

import pytest
from tests.support.stores import STORE_BACKENDS, drop_encrypted_store, store_url_for
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from redis.asyncio import Redis

from privacy.backends import TrackerStorageUnavailable
from privacy.context import UserKeys, keys_for_user, user_context
from privacy.errors import NoKeyInContextError, PrivacyConfigError
from privacy.keyring import Keyring, Secret
from privacy.maintenance import key_status
from privacy.store.encrypted import EncryptedTrackerStore
from privacy.store.saving import tracker_saved_in_this_request
from rasa_compat import unwrap_tracker_store

ALICE = "4915550000001"
BOB = "4915550000002"
SECRET_TEXT = "Meine Nummer ist 4915550000001, ich suche Pflegefachkraft in Rostock"
INTENT = "search_job_by_title"
ACTION = "action_search_jobs_custom"
RESPONSE = "utter_results_found_custom"
SLOT = "job_title_wanted"
SLOT_VALUE = "Pflegefachkraft"

DOMAIN = Domain.from_dict(
    {
        "version": "3.1",
        "intents": [INTENT, "greet"],
        "entities": ["job_title"],
        "slots": {
            SLOT: {"type": "text", "mappings": [{"type": "from_entity", "entity": "job_title"}]},
            "location": {"type": "text", "mappings": [{"type": "custom"}]},
        },
        "responses": {RESPONSE: [{"text": "Ich habe Stellen gefunden."}]},
        "actions": [ACTION],
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
)


def session(start: float, text: str = SECRET_TEXT, *, carry_over: bool = False) -> list[Event]:
    """One Rasa session as the processor records it: start, a user turn, an action, a reply."""
    events: list[Event] = [ActionExecuted("action_session_start", timestamp=start)]
    if carry_over:
        events.append(SlotSet(SLOT, SLOT_VALUE, timestamp=start + 0.001))
    events += [
        SessionStarted(timestamp=start + 0.002),
        ActionExecuted("action_listen", timestamp=start + 0.003),
        UserUttered(
            text,
            intent={"name": INTENT, "confidence": 0.97},
            entities=[{"entity": "job_title", "value": SLOT_VALUE, "start": 40, "end": 55}],
            timestamp=start + 1,
        ),
        SlotSet(SLOT, SLOT_VALUE, timestamp=start + 1.1),
        ActionExecuted(ACTION, timestamp=start + 1.2),
        BotUttered("Ich habe 3 Stellen gefunden", {"utter_action": RESPONSE}, timestamp=start + 1.3),
        ActionExecuted("action_listen", timestamp=start + 1.4),
    ]
    return events


def tracker_with(pseudonym: str, events: list[Event]) -> DialogueStateTracker:
    tracker = DialogueStateTracker(pseudonym, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    return tracker


def as_dicts(tracker: DialogueStateTracker) -> list[dict]:
    return [event.as_dict() for event in tracker.events]


def user_texts(tracker: DialogueStateTracker) -> list[str]:
    return [event.text for event in tracker.events if isinstance(event, UserUttered)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


@pytest.fixture
def alice(keyring: Keyring) -> UserKeys:
    return keys_for_user(keyring, ALICE)


@pytest.fixture
def bob(keyring: Keyring) -> UserKeys:
    return keys_for_user(keyring, BOB)


@pytest.fixture(params=STORE_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request, request.param, tmp_path)


@pytest.fixture
async def store(url: str, unique_name: str, tmp_path: Path) -> AsyncIterator[EncryptedTrackerStore]:
    opened = EncryptedTrackerStore(
        DOMAIN, host=url, table=unique_name, key_prefix=f"test:{unique_name}:", environ={},
        erasure_journal=str(tmp_path / "erasures.journal"),
    )
    yield opened
    await drop_encrypted_store(opened, url, unique_name)


async def raw_storage(url: str, store: EncryptedTrackerStore, unique_name: str) -> bytes:
    """Everything the database holds for this store, as bytes, read around the store."""
    if url.startswith("sqlite"):
        path = Path(url[len("sqlite:///"):])
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        chunks: list[bytes] = []
        with engine.connect() as connection:
            for table in (unique_name, f"{unique_name}_archive"):
                columns = connection.execute(
                    sa.text("SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table}
                ).scalars()
                assert set(columns) == {"pseudonym", "key_version", "ciphertext", "updated_at"}
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                    for value in row:
                        chunks.append(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
        engine.dispose()
        return b"".join(chunks)
    client = Redis.from_url(url)
    chunks = []
    try:
        async for key in client.scan_iter(match=f"test:{unique_name}:*"):
            chunks.append(key)
            for field, value in (await client.hgetall(key)).items():
                chunks += [field, value]
    finally:
        await client.close(close_connection_pool=True)
    return b"".join(chunks)


# --------------------------------------------------------------- round trip


async def test_save_and_retrieve_round_trip(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    tracker = tracker_with(alice.pseudonym, session(time.time()))
    with user_context(alice):
        await store.save(tracker)
        loaded = await store.retrieve(alice.pseudonym)
        assert await store.exists(alice.pseudonym)
    assert loaded is not None
    assert loaded.sender_id == alice.pseudonym
    assert as_dicts(loaded) == as_dicts(tracker)
    assert loaded.get_slot(SLOT) == SLOT_VALUE
    assert loaded.latest_message.intent["name"] == INTENT
    assert list(await store.keys()) == [alice.pseudonym]


async def test_get_or_create_tracker_for_a_new_user(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    with user_context(alice):
        assert await store.retrieve(alice.pseudonym) is None
        created = await store.get_or_create_tracker(alice.pseudonym)
        again = await store.retrieve(alice.pseudonym)
    assert [e.as_dict() for e in created.events] == as_dicts(again)  # type: ignore[arg-type]
    assert isinstance(created.events[0], ActionExecuted)


async def test_the_saved_tracker_is_kept_for_the_rest_of_the_request_only(
    store: EncryptedTrackerStore, alice: UserKeys, bob: UserKeys
) -> None:
    """The channel reads the turn's slots from it instead of a second retrieve (never across users/requests)."""
    tracker = tracker_with(alice.pseudonym, session(time.time()))
    with user_context(alice):
        assert tracker_saved_in_this_request(alice.pseudonym) is None  # retrieving keeps nothing
        await store.retrieve(alice.pseudonym)
        assert tracker_saved_in_this_request(alice.pseudonym) is None
        await store.save(tracker)
        assert tracker_saved_in_this_request(alice.pseudonym) is tracker
        with user_context(bob):
            assert tracker_saved_in_this_request(alice.pseudonym) is None
            assert tracker_saved_in_this_request(bob.pseudonym) is None
    assert tracker_saved_in_this_request(alice.pseudonym) is None
    with user_context(alice):
        assert tracker_saved_in_this_request(alice.pseudonym) is None
        loaded = await store.retrieve(alice.pseudonym)  # the record itself is what was saved
    assert loaded is not None and as_dicts(loaded) == as_dicts(tracker)


async def test_erase_forgets_the_saved_tracker(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
        await store.erase(alice)
        assert tracker_saved_in_this_request(alice.pseudonym) is None


# --------------------------------------------------------------- fail closed


async def test_no_key_in_context_fails_closed(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    with pytest.raises(NoKeyInContextError):
        await store.retrieve(alice.pseudonym)
    with pytest.raises(NoKeyInContextError):
        await store.retrieve_full_tracker(alice.pseudonym)
    with pytest.raises(NoKeyInContextError):
        await store.exists(alice.pseudonym)
    with pytest.raises(NoKeyInContextError):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    with user_context(alice):  # the failed save changed nothing
        assert await store.retrieve(alice.pseudonym) is not None


async def test_another_users_keys_fail_closed(store: EncryptedTrackerStore, alice: UserKeys, bob: UserKeys) -> None:
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    with user_context(bob):
        with pytest.raises(NoKeyInContextError):
            await store.retrieve(alice.pseudonym)
        with pytest.raises(NoKeyInContextError):
            await store.save(tracker_with(alice.pseudonym, []))


async def test_rasa_failsafe_wrapper_turns_missing_keys_into_no_tracker(
    store: EncryptedTrackerStore, alice: UserKeys, caplog: pytest.LogCaptureFixture
) -> None:
    """Rasa's Agent wraps every store; its HTTP API then sees "no conversation", not data."""
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    wrapped = FailSafeTrackerStore(store)
    assert unwrap_tracker_store(wrapped, EncryptedTrackerStore) is store
    with caplog.at_level(logging.ERROR):
        assert await wrapped.retrieve(alice.pseudonym) is None
        assert await wrapped.retrieve_full_tracker(alice.pseudonym) is None
        assert await wrapped.exists(alice.pseudonym) is False
    assert ALICE not in caplog.text and SECRET_TEXT not in caplog.text
    with pytest.raises(TypeError):
        unwrap_tracker_store(FailSafeTrackerStore(TrackerStore(DOMAIN)), EncryptedTrackerStore)


async def test_retired_pseudonym_is_not_a_valid_sender_id(store: EncryptedTrackerStore, keyring: Keyring) -> None:
    rotated = keys_for_user(Keyring(current=Secret.generate(), retired=(keyring.current,)), ALICE)
    with user_context(rotated):
        with pytest.raises(NoKeyInContextError):
            await store.retrieve(rotated.retired[0].pseudonym)


# --------------------------------------------------------------- damaged records


async def test_tampered_record_is_a_lost_conversation(
    store: EncryptedTrackerStore, alice: UserKeys, bob: UserKeys, caplog: pytest.LogCaptureFixture
) -> None:
    for user in (alice, bob):
        with user_context(user):
            await store.save(tracker_with(user.pseudonym, session(time.time())))
    stored = await store.backends.live.get(alice.pseudonym)
    assert stored is not None
    flipped = bytearray(stored.ciphertext)
    flipped[len(flipped) // 2] ^= 0x01
    await store.backends.live.put(dataclasses.replace(stored, ciphertext=bytes(flipped)))

    with caplog.at_level(logging.WARNING, logger="privacy.store"):
        with user_context(alice):
            assert await store.retrieve(alice.pseudonym) is None
            fresh = await store.get_or_create_tracker(alice.pseudonym)  # Rasa starts over
            assert await store.retrieve(alice.pseudonym) is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and alice.pseudonym in warnings[0].getMessage()
    assert ALICE not in caplog.text and SECRET_TEXT not in caplog.text
    assert as_dicts(fresh) == [ActionExecuted("action_listen", timestamp=fresh.events[0].timestamp).as_dict()]
    overwritten = await store.backends.live.get(alice.pseudonym)
    assert overwritten is not None and overwritten.ciphertext != bytes(flipped)
    with user_context(bob):  # other conversations are unaffected
        assert user_texts(await store.retrieve(bob.pseudonym)) == [SECRET_TEXT]  # type: ignore[arg-type]


async def test_blob_moved_to_another_pseudonym_does_not_open(
    store: EncryptedTrackerStore, alice: UserKeys, bob: UserKeys
) -> None:
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    with user_context(bob):
        await store.save(tracker_with(bob.pseudonym, session(time.time(), "Bob sucht etwas anderes")))
    alices = await store.backends.live.get(alice.pseudonym)
    bobs = await store.backends.live.get(bob.pseudonym)
    assert alices is not None and bobs is not None
    await store.backends.live.put(dataclasses.replace(bobs, ciphertext=alices.ciphertext))
    with user_context(bob):
        assert await store.retrieve(bob.pseudonym) is None


# --------------------------------------------------------------- key rotation


async def test_key_rotation_reads_old_records_and_migrates_them_on_save(
    store: EncryptedTrackerStore, url: str
) -> None:
    old = Secret.generate()
    new = Secret.generate()
    before = keys_for_user(Keyring(current=old), ALICE)
    after = keys_for_user(Keyring(current=new, retired=(old,)), ALICE)
    start = time.time() - 7200
    with user_context(before):  # two sessions: one gets archived under the old key
        await store.save(tracker_with(before.pseudonym, session(start, "erste Sitzung") + session(start + 3600, carry_over=True)))
    assert await key_status(store.backends) == {old.version: (1, 1)}

    with user_context(after):
        loaded = await store.retrieve(after.pseudonym)
        assert loaded is not None and loaded.sender_id == after.pseudonym
        assert user_texts(loaded) == [SECRET_TEXT]
        loaded.update(UserUttered("nach der Rotation", intent={"name": "greet", "confidence": 1.0}))
        await store.save(loaded)
        full = await store.retrieve_full_tracker(after.pseudonym)

    assert await key_status(store.backends) == {new.version: (1, 1)}
    assert await store.backends.live.get(before.pseudonym) is None
    assert await store.backends.archive.get(before.pseudonym) is None
    assert user_texts(full) == ["erste Sitzung", SECRET_TEXT, "nach der Rotation"]  # type: ignore[arg-type]
    with user_context(before):  # the old secret alone no longer finds anything
        assert await store.retrieve(before.pseudonym) is None


# --------------------------------------------------------------- sessions


async def test_only_the_current_session_is_hot(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    start = time.time() - 10 * 3600
    with user_context(alice):
        tracker = await store.get_or_create_tracker(alice.pseudonym)
        live_sizes = []
        for number in range(6):
            # What Rasa's processor does on each new session: retrieve, append, save.
            tracker = await store.retrieve(alice.pseudonym)
            assert tracker is not None
            for event in session(start + number * 3600, f"Sitzung {number}", carry_over=number > 0):
                tracker.update(event)
            await store.save(tracker)
            current = await store.retrieve(alice.pseudonym)
            assert current is not None
            assert user_texts(current) == [f"Sitzung {number}"]
            assert current.events[0] == ActionExecuted("action_session_start", timestamp=start + number * 3600)
            assert current.get_slot(SLOT) == SLOT_VALUE
            live_sizes.append(len((await store.backends.live.get(alice.pseudonym)).ciphertext))  # type: ignore[union-attr]
        full = await store.retrieve_full_tracker(alice.pseudonym)
        assert user_texts(full) == [f"Sitzung {n}" for n in range(6)]  # type: ignore[arg-type]

        # Rasa's HTTP API may save a full tracker back: the archive must not double.
        await store.save(full)  # type: ignore[arg-type]
        again = await store.retrieve_full_tracker(alice.pseudonym)
        assert user_texts(again) == [f"Sitzung {n}" for n in range(6)]  # type: ignore[arg-type]
        summary = await store.export(alice)

    assert len(set(live_sizes[1:])) == 1, live_sizes  # the hot record does not grow with history
    assert summary["sessions"] == 6


async def test_archived_sessions_older_than_retention_are_dropped(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    old = time.time() - 45 * 86400
    recent = time.time() - 3600
    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(old, "vor 45 Tagen") + session(recent, "gestern")))
        await store.save(tracker_with(alice.pseudonym, session(recent, "gestern") + session(time.time(), "heute")))
        full = await store.retrieve_full_tracker(alice.pseudonym)
    assert user_texts(full) == ["gestern", "heute"]  # type: ignore[arg-type]


# --------------------------------------------------------------- privacy operations


async def test_erase_removes_every_record_of_the_user(
    store: EncryptedTrackerStore, keyring: Keyring, bob: UserKeys
) -> None:
    older = Secret.generate()
    before = keys_for_user(Keyring(current=older), ALICE)
    now = keys_for_user(Keyring(current=keyring.current, retired=(older,)), ALICE)
    start = time.time() - 7200
    with user_context(before):  # a record under the retired secret (live + archive)
        await store.save(tracker_with(before.pseudonym, session(start - 3600, "alt") + session(start, "alt 2")))
    # ... and one under the current secret written by another instance before migration
    with user_context(keys_for_user(keyring, ALICE)):
        await store.save(tracker_with(now.pseudonym, session(start, "a") + session(start + 3600, "b")))
    with user_context(bob):
        await store.save(tracker_with(bob.pseudonym, session(time.time())))

    assert await store.erase(now) == 4
    for pseudonym in now.pseudonyms():
        assert await store.backends.live.get(pseudonym) is None
        assert await store.backends.archive.get(pseudonym) is None
    assert await store.erase(now) == 0
    assert list(await store.keys()) == [bob.pseudonym]
    with user_context(bob):
        assert await store.retrieve(bob.pseudonym) is not None


async def test_export_summarises_what_is_stored(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    empty = await store.export(alice)
    assert empty["sessions"] == 0 and empty["events"] == 0 and empty["slots"] == {}
    assert empty["first_activity"] is None and empty["key_version"] is None

    start = time.time() - 2 * 86400
    tracker = tracker_with(alice.pseudonym, session(start, "gestern") + session(time.time() - 60, carry_over=True))
    tracker.update(SlotSet("location", "Rostock"))
    with user_context(alice):
        await store.save(tracker)
    summary = await store.export(alice)
    from datetime import datetime, timezone

    assert summary["pseudonym"] == alice.pseudonym
    assert summary["key_version"] == alice.version
    assert summary["sessions"] == 2
    assert summary["events"] == len(tracker.events)
    assert summary["user_messages"] == 2
    assert summary["slots"] == {SLOT: SLOT_VALUE, "location": "Rostock"}
    assert summary["first_activity"] == datetime.fromtimestamp(start, tz=timezone.utc).date().isoformat()
    assert summary["last_activity"] == datetime.now(timezone.utc).date().isoformat()
    assert summary["retained_until"] == (datetime.now(timezone.utc) + timedelta(days=30)).date().isoformat()
    assert summary["unreadable_records"] == 0


# --------------------------------------------------------------- what reaches the database


async def test_raw_storage_holds_no_plaintext(
    store: EncryptedTrackerStore, url: str, unique_name: str, alice: UserKeys, bob: UserKeys
) -> None:
    start = time.time() - 7200
    for user in (alice, bob):
        with user_context(user):
            await store.save(tracker_with(user.pseudonym, session(start) + session(start + 3600, carry_over=True)))
    raw = await raw_storage(url, store, unique_name)
    assert alice.pseudonym.encode() in raw  # the scan does see the stored records
    assert len(raw) > 2 * 1024
    forbidden = [
        ALICE,
        "4915550000001",
        SECRET_TEXT,
        "Pflegefachkraft",
        "Rostock",
        INTENT,
        ACTION,
        RESPONSE,
        SLOT,
        "action_listen",
        "action_session_start",
        "session_started",
        "user",
        "slot",
    ]
    for needle in forbidden:
        assert needle.encode() not in raw, needle
        assert needle.encode("utf-16-le") not in raw, needle


async def test_ciphertext_length_is_bucketed(store: EncryptedTrackerStore, alice: UserKeys) -> None:
    sizes = set()
    with user_context(alice):
        for length in (1, 50, 200):
            await store.save(tracker_with(alice.pseudonym, session(time.time(), "x" * length)))
            sizes.add(len((await store.backends.live.get(alice.pseudonym)).ciphertext))  # type: ignore[union-attr]
    assert len(sizes) == 1


# --------------------------------------------------------------- outages


@pytest.mark.parametrize("template", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"])
async def test_unreachable_database_raises_typed_error(template: str, alice: UserKeys) -> None:
    down = EncryptedTrackerStore(DOMAIN, host=template.format(port=closed_port()), environ={})
    try:
        with user_context(alice):
            with pytest.raises(TrackerStorageUnavailable):
                await down.retrieve(alice.pseudonym)
            with pytest.raises(TrackerStorageUnavailable):
                await down.save(tracker_with(alice.pseudonym, session(time.time())))
            assert tracker_saved_in_this_request(alice.pseudonym) is None  # only what was written
        with pytest.raises(TrackerStorageUnavailable):
            await down.erase(alice)
        # Rasa's wrapper keeps the bot alive: no crash, no tracker.
        with user_context(alice):
            assert await FailSafeTrackerStore(down).retrieve(alice.pseudonym) is None
    finally:
        await down.close()


# --------------------------------------------------------------- configuration


def write_endpoints(tmp_path: Path, body: str) -> str:
    path = tmp_path / "endpoints.yml"
    path.write_text(body)
    return str(path)


async def test_endpoints_yml_creates_the_store_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alice: UserKeys
) -> None:
    from rasa.core.utils import AvailableEndpoints

    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("PRIVACY_RETENTION_DAYS", raising=False)
    monkeypatch.chdir(tmp_path)
    endpoints = AvailableEndpoints.read_endpoints(
        write_endpoints(
            tmp_path,
            "tracker_store:\n"
            "  type: privacy.store.encrypted.EncryptedTrackerStore\n"
            '  url: "sqlite:///var/from-yml.db"\n'
            "  retention_days: 14\n"
            "  table: conversations\n",
        )
    )
    created = TrackerStore.create(endpoints.tracker_store, domain=DOMAIN)
    assert isinstance(created, EncryptedTrackerStore)  # async API: Rasa does not wrap it
    assert created.retention == timedelta(days=14)
    with user_context(alice):
        await created.save(tracker_with(alice.pseudonym, session(time.time())))
    await created.close()
    assert (tmp_path / "var" / "from-yml.db").is_file()

    monkeypatch.setenv("TRACKER_STORE_URL", "sqlite:///var/from-env.db")
    monkeypatch.setenv("PRIVACY_RETENTION_DAYS", "7")
    overridden = TrackerStore.create(endpoints.tracker_store, domain=DOMAIN)
    assert overridden.retention == timedelta(days=7)  # type: ignore[attr-defined]
    with user_context(alice):
        await overridden.save(tracker_with(alice.pseudonym, session(time.time())))
    await overridden.close()  # type: ignore[attr-defined]
    assert (tmp_path / "var" / "from-env.db").is_file()


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PrivacyConfigError, match="TRACKER_STORE_URL"):
        EncryptedTrackerStore(DOMAIN, environ={})
    with pytest.raises(PrivacyConfigError):
        EncryptedTrackerStore(DOMAIN, host="sqlite:///a.db", url="sqlite:///b.db", environ={})
    for bad in ("0", "-3", "thirty", "1.5"):
        with pytest.raises(PrivacyConfigError, match="PRIVACY_RETENTION_DAYS"):
            EncryptedTrackerStore(DOMAIN, host="sqlite:///never.db", environ={"PRIVACY_RETENTION_DAYS": bad})
    with pytest.raises(PrivacyConfigError, match="retention_days"):
        EncryptedTrackerStore(DOMAIN, host="sqlite:///never.db", retention_days=0, environ={})


def test_an_event_broker_is_refused() -> None:
    from rasa.core.brokers.broker import EventBroker

    with pytest.raises(PrivacyConfigError, match="event broker"):
        EncryptedTrackerStore(DOMAIN, host="sqlite:///never.db", event_broker=EventBroker(), environ={})


async def test_rasas_failsafe_wrapper_passes_errors_on_once_made_fail_closed(tmp_path) -> None:
    """Without the change Rasa's wrapper hides a missing key as "no conversation"."""
    from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore

    from privacy.errors import NoKeyInContextError
    from privacy.store.encrypted import EncryptedTrackerStore
    from rasa_compat import make_fail_closed

    store = EncryptedTrackerStore(url=f"sqlite:///{tmp_path / 'fs.db'}", environ={})
    wrapped = FailSafeTrackerStore(AwaitableTrackerStore(store))
    assert await wrapped.retrieve("u_nobody") is None  # Rasa's default: the error is swallowed
    assert make_fail_closed(wrapped, EncryptedTrackerStore) is True
    assert make_fail_closed(wrapped, EncryptedTrackerStore) is True  # idempotent
    with pytest.raises(NoKeyInContextError):
        await wrapped.retrieve("u_nobody")
    await store.close()


def test_make_fail_closed_ignores_other_stores() -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore

    from rasa_compat import make_fail_closed

    assert make_fail_closed(FailSafeTrackerStore(InMemoryTrackerStore(None)), EncryptedTrackerStore) is False


async def test_an_attacker_with_the_database_cannot_open_a_record(
    store: EncryptedTrackerStore, keyring: Keyring, alice: UserKeys
) -> None:
    """Database + wrong secret, or database + right secret without the phone number: nothing opens."""
    import hashlib
    import hmac

    from privacy.errors import DecryptionError
    from privacy.identity import data_key
    from privacy.sealing import unseal

    with user_context(alice):
        await store.save(tracker_with(alice.pseudonym, session(time.time())))
    record = await store.backends.live.get(alice.pseudonym)
    wrapped = await store.backends.keys.get(alice.pseudonym)  # the conversation key, wrapped
    assert record is not None and wrapped is not None
    secret = keyring.current.value

    def opens(key: bytes) -> bool:
        try:
            unseal(key, wrapped.ciphertext, pseudonym=wrapped.pseudonym, key_version=wrapped.key_version, purpose="conversation-key")
        except DecryptionError:
            return False
        return True

    assert opens(alice.key)  # the key record is readable with the right key ...
    from privacy.records import unpad
    from privacy.store.conversation_keys import _record_key

    conversation_key = unpad(unseal(alice.key, wrapped.ciphertext, pseudonym=wrapped.pseudonym, key_version=wrapped.key_version, purpose="conversation-key"))
    live_key = _record_key(conversation_key, "live")  # ... and the record with the key it holds
    unseal(live_key, record.ciphertext, pseudonym=record.pseudonym, key_version=record.key_version)
    with pytest.raises(DecryptionError):  # not with the data key itself
        unseal(alice.key, record.ciphertext, pseudonym=record.pseudonym, key_version=record.key_version)
    wrong_secret = Secret.generate()
    guesses = [
        data_key(wrong_secret, ALICE),  # right number, wrong secret
        data_key(secret, record.pseudonym),  # right secret, the stored pseudonym instead of a number
        data_key(secret, "4915550000002"),  # right secret, another number
        secret,  # the secret itself
        hashlib.sha256(secret).digest(),
        hmac.new(secret, record.pseudonym.encode(), hashlib.sha256).digest(),
    ]
    assert not any(opens(guess) for guess in guesses)
    with user_context(keys_for_user(Keyring(current=wrong_secret), ALICE)) as attacker:
        assert attacker.pseudonym != alice.pseudonym
        assert await store.retrieve(attacker.pseudonym) is None
