"""Issue 16 finding 3 (SQLite part): after an erasure no decryptable residue stays on disk.

Covers the wrapped conversation key too (crypto-shredding, see
``tests/integration/privacy/test_final_erasure.py``): an old copy of it is the one thing that
would still open with the secret and the identifier, so neither the database file
nor its ``-wal`` may keep it.

A record's ciphertext opens with the secret and the user's identifier for as long as
both exist, so a copy left in the SQLite file, its ``-wal`` file or its free pages is
an erased conversation that is not erased. The store runs SQLite with
``secure_delete=ON`` (deleted content is overwritten with zeros) and checkpoints and
truncates the WAL after an erasure; this test scans the raw bytes for every
ciphertext the user's conversation was ever written as.
"""
from __future__ import annotations

import time
from pathlib import Path

from rasa.shared.core.events import UserUttered
from tests.integration.privacy.test_migration import Recording
from tests.integration.privacy.test_tracker_store import DOMAIN, session, tracker_with

from privacy.backends import ConversationBackends
from privacy.context import keys_for_user, user_context
from privacy.keyring import Keyring, Secret
from privacy.store.encrypted import EncryptedTrackerStore

PHONE = "4915550000001"
OTHER = "4915550000002"


def disk_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def test_erasure_leaves_no_ciphertext_in_the_sqlite_file_or_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "trackers.db"
    opened = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{path}", environ={})
    live, archive = Recording(opened.backends.live), Recording(opened.backends.archive)
    keys, erased = Recording(opened.backends.keys), Recording(opened.backends.erased)
    puts: list[bytes] = []
    for backend in (live, archive, keys):
        real_put = backend.put

        async def put(record, real_put=real_put):  # type: ignore[no-untyped-def]
            puts.append(record.ciphertext)
            await real_put(record)

        backend.put = put  # type: ignore[method-assign]
    real_add = keys.add

    async def add(record):  # type: ignore[no-untyped-def]
        puts.append(record.ciphertext)  # the wrapped conversation key (written once)
        return await real_add(record)

    keys.add = add  # type: ignore[method-assign]
    backends = ConversationBackends(live=live, archive=archive, keys=keys, erased=erased)
    store = EncryptedTrackerStore(
        DOMAIN, backends=backends, environ={}, erasure_journal=str(tmp_path / "erasures.journal")
    )
    keyring = Keyring(current=Secret.generate())
    user, other = keys_for_user(keyring, PHONE), keys_for_user(keyring, OTHER)
    start = time.time() - 7200
    try:
        with user_context(other):  # someone who stays: the file keeps live pages around the erased ones
            await store.save(tracker_with(other.pseudonym, session(start)))
        other_puts = len(puts)
        with user_context(user):
            tracker = tracker_with(user.pseudonym, session(start, "erste") + session(start + 3600, "zweite"))
            await store.save(tracker)
            for number in range(20):  # many versions of the record, as a real conversation has
                tracker.update(UserUttered(f"Nachricht {number} " + "x" * 200))
                await store.save(tracker)
        mine = puts[other_puts:]
        wrapped = (await keys.get(user.pseudonym)).ciphertext  # type: ignore[union-attr]
        assert wrapped in mine and wrapped[16:48] in disk_bytes(path), "the wrapped key must be on disk first"
        assert any(ciphertext[16:48] in disk_bytes(path) for ciphertext in mine), "the test must see records first"

        assert await store.erase(user) == 2

        residue = disk_bytes(path)
        for ciphertext in mine:
            for offset in range(0, len(ciphertext) - 32, 256):  # any 32-byte piece of any version
                assert ciphertext[offset:offset + 32] not in residue, "erased ciphertext is still on disk"
        with user_context(other):
            assert await store.retrieve(other.pseudonym) is not None
    finally:
        await opened.close()
