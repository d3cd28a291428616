"""``python -m privacy.maintenance``: purge, key-status and erase against the real databases."""
from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import tempfile
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

import pytest
from tests.support.stores import STORE_BACKENDS, drop_encrypted_store, store_url_for
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from privacy.context import UserKeys, keys_for_user, user_context
from privacy.keyring import Keyring, Secret
from privacy.maintenance import EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, run_command
from privacy.store.encrypted import EncryptedTrackerStore
from tests.support.paths import REPO_ROOT

ALICE = "4915550000001"
BOB = "4915550000002"
REPO = REPO_ROOT


def conversation(pseudonym: str, start: float) -> DialogueStateTracker:
    """Two sessions, so each user has a live and an archive record."""
    tracker = DialogueStateTracker(pseudonym, [])
    events: list[Event] = []
    for offset, text in ((0.0, "hallo"), (3600.0, "ich suche Arbeit")):
        events += [
            ActionExecuted("action_session_start", timestamp=start + offset),
            SessionStarted(timestamp=start + offset + 0.1),
            ActionExecuted("action_listen", timestamp=start + offset + 0.2),
            UserUttered(text, intent={"name": "greet", "confidence": 1.0}, timestamp=start + offset + 1),
        ]
    for event in events:
        tracker.update(event)
    return tracker


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=STORE_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request, request.param, tmp_path)


@pytest.fixture
async def store(url: str, unique_name: str) -> AsyncIterator[EncryptedTrackerStore]:
    opened = EncryptedTrackerStore(
        None, host=url, table=unique_name, key_prefix=f"test:{unique_name}:", environ={}, erasure_journal=str(JOURNAL)
    )
    yield opened
    await drop_encrypted_store(opened, url, unique_name)


@pytest.fixture
def options(url: str, unique_name: str) -> list[str]:
    return ["--url", url, "--table", unique_name, "--key-prefix", f"test:{unique_name}:"]


async def save(store: EncryptedTrackerStore, keys: UserKeys, start: float | None = None) -> None:
    with user_context(keys):
        await store.save(conversation(keys.pseudonym, start or time.time() - 7200))


async def backdate(store: EncryptedTrackerStore, pseudonym: str, days: int) -> None:
    for backend in (store.backends.live, store.backends.archive):
        stored = await backend.get(pseudonym)
        assert stored is not None
        when = datetime.now(timezone.utc) - timedelta(days=days)
        await backend.put(dataclasses.replace(stored, updated_at=when))


async def run(argv: list[str], environ: dict[str, str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_command(argv, environ=environ, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


JOURNAL = Path(tempfile.mkdtemp(prefix="erasures-")) / "erasures.journal"  # not the repository's var/


def env_for(current: Secret, *retired: Secret) -> dict[str, str]:
    environ = {"PRIVACY_KEY": current.value.hex(), "PRIVACY_ERASURE_JOURNAL": str(JOURNAL)}
    if retired:
        environ["PRIVACY_OLD_KEYS"] = ",".join(secret.value.hex() for secret in retired)
    return environ


# --------------------------------------------------------------- purge


async def test_purge_deletes_conversations_older_than_retention(
    store: EncryptedTrackerStore, url: str, options: list[str]
) -> None:
    keyring = Keyring(current=Secret.generate())
    stale, fresh = keys_for_user(keyring, ALICE), keys_for_user(keyring, BOB)
    await save(store, stale)
    await save(store, fresh)
    await backdate(store, stale.pseudonym, days=40)

    code, out, _ = await run(["purge", *options], environ={"PRIVACY_RETENTION_DAYS": "60"})
    assert code == EXIT_OK
    assert out.startswith("purged 0 record(s) untouched for more than 60 days")

    code, out, _ = await run(["purge", *options], environ={})
    assert code == EXIT_OK
    if url.startswith("redis"):
        assert out.startswith("purged 0 record(s) untouched for more than 30 days")
        assert "redis deletes records itself: every write sets a TTL of 30 days" in out
        assert await store.backends.live.list_pseudonyms() == sorted([stale.pseudonym, fresh.pseudonym])
    else:
        assert out.startswith("purged 2 record(s) untouched for more than 30 days")
        assert await store.backends.live.list_pseudonyms() == [fresh.pseudonym]
        assert await store.backends.archive.list_pseudonyms() == [fresh.pseudonym]
    assert ALICE not in out and "postgres@" not in out


@pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)  # Redis purges by TTL
async def test_purge_flag_beats_environment_and_url_comes_from_environment(
    store: EncryptedTrackerStore, url: str, unique_name: str
) -> None:
    keys = keys_for_user(Keyring(current=Secret.generate()), ALICE)
    await save(store, keys)
    await backdate(store, keys.pseudonym, days=12)
    environ = {"TRACKER_STORE_URL": url, "PRIVACY_RETENTION_DAYS": "30"}
    code, out, _ = await run(["purge", "--table", unique_name, "--retention-days", "10"], environ=environ)
    assert code == EXIT_OK
    assert out.startswith("purged 2 record(s) untouched for more than 10 days")


# --------------------------------------------------------------- key-status


async def test_key_status_follows_a_rotation(store: EncryptedTrackerStore, options: list[str]) -> None:
    old, new = Secret.generate(), Secret.generate()
    await save(store, keys_for_user(Keyring(current=old), ALICE))
    await save(store, keys_for_user(Keyring(current=old), BOB))

    code, out, _ = await run(["key-status", *options], environ=env_for(old))
    assert code == EXIT_OK
    assert f"{old.version:<12} {'current':<8} {2:>8} {2:>9}" in out

    code, out, _ = await run(["key-status", *options], environ=env_for(new, old))
    assert f"{new.version:<12} {'current':<8} {0:>8} {0:>9}" in out
    assert f"{old.version:<12} {'retired':<8} {2:>8} {2:>9}" in out
    assert "can be emptied" not in out

    rotated = Keyring(current=new, retired=(old,))
    for number in (ALICE, BOB):  # each user writes again after the rotation
        keys = keys_for_user(rotated, number)
        with user_context(keys):
            tracker = await store.retrieve(keys.pseudonym)
            assert tracker is not None
            await store.save(tracker)

    code, out, _ = await run(["key-status", *options], environ=env_for(new, old))
    assert f"{new.version:<12} {'current':<8} {2:>8} {2:>9}" in out
    assert f"{old.version:<12} {'retired':<8} {0:>8} {0:>9}" in out
    assert "no record needs a retired secret any more: PRIVACY_OLD_KEYS can be emptied" in out

    code, out, _ = await run(["key-status", *options], environ=env_for(Secret.generate()))
    assert f"{new.version:<12} {'unknown':<8} {2:>8} {2:>9}" in out


async def test_key_status_needs_the_current_key(options: list[str]) -> None:
    code, _, err = await run(["key-status", *options], environ={})
    assert code == EXIT_CONFIG
    assert "PRIVACY_KEY" in err


# --------------------------------------------------------------- erase


async def test_erase_reads_the_number_from_stdin_and_never_prints_it(
    store: EncryptedTrackerStore, options: list[str]
) -> None:
    old, new = Secret.generate(), Secret.generate()
    await save(store, keys_for_user(Keyring(current=old), ALICE))  # under a retired secret
    bob = keys_for_user(Keyring(current=new), BOB)
    await save(store, bob)

    code, out, err = await run(["erase", *options], environ=env_for(new, old), stdin="+49 155 5000 0001\n")
    assert code == EXIT_OK, err
    alice = keys_for_user(Keyring(current=new, retired=(old,)), ALICE)
    assert out.strip() == f"erased 2 record(s) of {alice.pseudonym}"
    assert ALICE not in out + err
    assert await store.backends.live.list_pseudonyms() == [bob.pseudonym]
    assert await store.backends.archive.list_pseudonyms() == [bob.pseudonym]


@pytest.mark.parametrize("stdin", ["", "\n", "not a number\n", "0151 5550000\n"])
async def test_erase_rejects_missing_or_invalid_numbers(tmp_path: Path, stdin: str) -> None:
    environ = env_for(Secret.generate())
    code, out, err = await run(["erase", "--url", f"sqlite:///{tmp_path}/t.db"], environ=environ, stdin=stdin)
    assert code == EXIT_CONFIG
    assert out == ""
    assert stdin.strip() == "" or stdin.strip() not in err


# --------------------------------------------------------------- errors and entry point


async def test_missing_url_is_a_configuration_error() -> None:
    code, _, err = await run(["purge"], environ={})
    assert code == EXIT_CONFIG
    assert "TRACKER_STORE_URL" in err


@pytest.mark.parametrize("template", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"])
async def test_unreachable_database_exits_with_3(template: str) -> None:
    url = template.format(port=closed_port())
    code, out, err = await run(["key-status", "--url", url], environ=env_for(Secret.generate()))
    assert code == EXIT_UNAVAILABLE
    assert "tracker storage unavailable" in err and out.count("\n") <= 2


def test_module_entry_point(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("TRACKER_STORE_URL", "PRIVACY_RETENTION_DAYS")}
    environ["RASA_TELEMETRY_ENABLED"] = "false"
    result = subprocess.run(
        [sys.executable, "-m", "privacy.maintenance", "purge", "--url", "sqlite:///var/t.db"],
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.startswith("purged 0 record(s) untouched for more than 30 days on sqlite:///var/t.db")
    assert (tmp_path / "var" / "t.db").is_file()


async def test_erase_takes_every_identifier_of_the_user_from_stdin(
    store: EncryptedTrackerStore, options: list[str]
) -> None:
    """Issue 9: a person stored under the number (before BSUIDs) and under the BSUID is erased entirely."""
    secret = Secret.generate()
    bsuid = "DE.1000000000000000001"
    await save(store, keys_for_user(Keyring(current=secret), ALICE))
    await save(store, keys_for_user(Keyring(current=secret), bsuid))
    bob = keys_for_user(Keyring(current=secret), BOB)
    await save(store, bob)

    code, out, err = await run(["erase", *options], environ=env_for(secret), stdin=f"{bsuid}\n+49 155 5000 0001\n")
    assert code == EXIT_OK, err
    anchor = keys_for_user(Keyring(current=secret), bsuid)
    assert out.strip() == f"erased 4 record(s) of {anchor.pseudonym}"
    journalled = [line.split(" ")[1] for line in JOURNAL.read_text("ascii").splitlines()]
    assert anchor.pseudonym in journalled and keys_for_user(Keyring(current=secret), ALICE).pseudonym in journalled
    assert ALICE not in out + err and bsuid.casefold() not in (out + err).casefold()
    assert await store.backends.live.list_pseudonyms() == [bob.pseudonym]
    assert await store.backends.archive.list_pseudonyms() == [bob.pseudonym]
