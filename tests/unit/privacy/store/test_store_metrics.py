"""Metrics of the encrypted tracker store: latency and errors per operation, crypto failures by kind.

Counters are process-global (observability.metrics.REGISTRY): every test compares deltas.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from privacy.backends import TrackerStorageUnavailable
from privacy.context import keys_for_user, user_context
from privacy.errors import DecryptionError, NoKeyInContextError, UnknownKeyVersionError
from privacy.keyring import Keyring, Secret
from privacy.sealing import REASON_AUTH, REASON_TRUNCATED
from privacy.store.encrypted import EncryptedTrackerStore
from privacy.store.metrics import StoreMetrics, backend_label, crypto_kind
from tests.support.metrics import sample as count

DOMAIN = Domain.from_dict({"version": "3.1"})
WA_ID = "4915550000001"
KEYRING = Keyring(Secret.from_hex("3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a"))


def durations(backend: str, operation: str) -> float:
    return count("blaupause_tracker_store_operation_seconds_count", backend=backend, operation=operation)


def errors(backend: str, operation: str) -> float:
    return count("blaupause_tracker_store_errors_total", backend=backend, operation=operation)


def crypto(kind: str) -> float:
    return count("blaupause_crypto_errors_total", kind=kind)


@pytest.fixture
def store(tmp_path: Path) -> EncryptedTrackerStore:
    return EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={})


def _tracker(sender_id: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender_id, DOMAIN.slots)
    tracker.update(UserUttered("hallo"))
    return tracker


async def test_each_operation_is_timed_under_its_backend(store: EncryptedTrackerStore) -> None:
    keys = keys_for_user(KEYRING, WA_ID)
    before = {op: durations("sqlite", op) for op in ("retrieve", "save", "keys", "delete")}
    with user_context(keys):
        await store.save(_tracker(keys.pseudonym))
        assert await store.retrieve(keys.pseudonym) is not None
    assert list(await store.keys()) == [keys.pseudonym]
    await store.erase(keys)
    for op, value in before.items():
        assert durations("sqlite", op) == value + 1, op
    await store.close()


async def test_a_failing_operation_counts_as_an_error(store: EncryptedTrackerStore) -> None:
    async def down(pseudonym: str) -> Any:
        raise TrackerStorageUnavailable("sqlite", "get", "disk I/O error")

    store.backends.live.get = down  # type: ignore[method-assign]
    keys = keys_for_user(KEYRING, WA_ID)
    before = errors("sqlite", "retrieve"), durations("sqlite", "retrieve")
    with user_context(keys), pytest.raises(TrackerStorageUnavailable):
        await store.retrieve(keys.pseudonym)
    assert (errors("sqlite", "retrieve"), durations("sqlite", "retrieve")) == (before[0] + 1, before[1] + 1)
    await store.close()


async def test_a_missing_key_is_a_key_derivation_error(store: EncryptedTrackerStore) -> None:
    before = crypto("key_derivation"), errors("sqlite", "retrieve")
    with pytest.raises(NoKeyInContextError):
        await store.retrieve("u_nobodyboundthisone")
    assert (crypto("key_derivation"), errors("sqlite", "retrieve")) == (before[0] + 1, before[1] + 1)
    await store.close()


async def test_a_tampered_record_counts_as_tampered(store: EncryptedTrackerStore) -> None:
    keys = keys_for_user(KEYRING, WA_ID)
    with user_context(keys):
        await store.save(_tracker(keys.pseudonym))
    record = await store.backends.live.get(keys.pseudonym)
    flipped = bytearray(record.ciphertext)
    flipped[-1] ^= 0x01
    await store.backends.live.put(replace(record, ciphertext=bytes(flipped)))
    before = crypto("tampered"), errors("sqlite", "retrieve")
    with user_context(keys):
        assert await store.retrieve(keys.pseudonym) is None  # unreadable: the conversation starts afresh
    assert crypto("tampered") == before[0] + 1
    assert errors("sqlite", "retrieve") == before[1]  # handled, not a failed operation
    await store.close()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (DecryptionError(REASON_AUTH), "tampered"),
        (DecryptionError(REASON_TRUNCATED), "decrypt"),
        (UnknownKeyVersionError("k9"), "key_derivation"),
        (NoKeyInContextError("u_x"), "key_derivation"),
        (ValueError("bad padding"), "decrypt"),
    ],
)
def test_crypto_kinds(error: Exception, kind: str) -> None:
    assert crypto_kind(error) == kind


def test_backend_label_is_resolved_once_and_unknown_backends_are_memory() -> None:
    assert backend_label(SimpleNamespace(live=SimpleNamespace(kind="postgresql"))) == "postgresql"
    assert backend_label(SimpleNamespace(live=SimpleNamespace(kind="u_4915550000001"))) == "memory"
    assert backend_label(object()) == "memory"
    metrics = StoreMetrics(SimpleNamespace(live=SimpleNamespace(kind="redis")))
    assert metrics.backend == "redis"
    before = durations("redis", "keys"), errors("redis", "keys")
    with pytest.raises(RuntimeError), metrics.measure("keys"):
        raise RuntimeError("down")
    assert (durations("redis", "keys"), errors("redis", "keys")) == (before[0] + 1, before[1] + 1)


async def test_ping_reads_through_the_backend(store: EncryptedTrackerStore) -> None:
    await store.ping()
    await store.close()
