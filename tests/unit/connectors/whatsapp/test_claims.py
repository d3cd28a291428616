"""connectors/whatsapp/claims.py: claim, duplicate wait, lease renewal, progress writes, finish, release."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.whatsapp.claims import Claims
from connectors.whatsapp.dedup.claims import ClaimStatus, DedupUnavailableError, LeaseLostError
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.outbox import seal_outbox
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.references import References
from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret

WAMID = "wamid.claims000001"


class Flaky(InMemoryDedupStore):
    """The in-process store whose ``operation`` fails ``down`` times first; counts renewals."""

    def __init__(self, operation: str = "", down: int = 0) -> None:
        super().__init__()
        self.operation, self.down, self.renewals = operation, down, 0

    def _outage(self, operation: str) -> None:
        if operation == self.operation and self.down > 0:
            self.down -= 1
            raise DedupUnavailableError("down for a moment")

    async def renew(self, message_id: str, token: str, lease_seconds: float) -> None:
        self.renewals += 1
        await super().renew(message_id, token, lease_seconds)

    async def save_outbox(self, message_id: str, token: str, outbox: Any) -> None:
        self._outage("save_outbox")
        await super().save_outbox(message_id, token, outbox)

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        self._outage("mark_sent")
        await super().mark_sent(message_id, token, sent)

    async def release(self, message_id: str, token: str) -> None:
        self._outage("release")
        await super().release(message_id, token)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def claims_for(store: Any, keyring: Keyring, *, lease: float = 30.0, wait: float = 0.0) -> Claims:
    return Claims(store, References.from_keyring(keyring), lease_seconds=lease, duplicate_wait_seconds=wait,
                  duplicate_poll_seconds=0.01)


async def test_claim_finish_and_the_duplicate(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    claims = claims_for(store, keyring)
    claim = await claims.claim(WAMID)
    assert claim.status is ClaimStatus.ACQUIRED
    held = claims.held(WAMID, claim)
    assert WAMID not in held.key and WAMID not in held.ref and held.outbox is None
    assert await held.finish() is Outcome.HANDLED
    assert (await claims.claim(WAMID)).status is ClaimStatus.DONE
    assert all(WAMID not in key for key in store._entries)


async def test_a_concurrent_duplicate_waits_then_is_busy(keyring: Keyring) -> None:
    claims = claims_for(InMemoryDedupStore(), keyring, wait=0.05)
    await claims.claim(WAMID)
    started = asyncio.get_running_loop().time()
    assert (await claims.claim(WAMID)).status is ClaimStatus.BUSY
    assert asyncio.get_running_loop().time() - started >= 0.04  # it waited (uvloop reports time in whole milliseconds)


async def test_a_duplicate_sees_done_when_the_first_finishes_while_it_waits(keyring: Keyring) -> None:
    claims = claims_for(InMemoryDedupStore(), keyring, wait=2.0)
    held = claims.held(WAMID, await claims.claim(WAMID))

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        await held.finish()

    finisher = asyncio.create_task(finish_soon())
    assert (await claims.claim(WAMID)).status is ClaimStatus.DONE
    await finisher


async def test_release_keeps_the_outbox_for_the_next_claim(keyring: Keyring) -> None:
    claims = claims_for(InMemoryDedupStore(), keyring)
    held = claims.held(WAMID, await claims.claim(WAMID))
    outbox = seal_outbox(keys_for_user(keyring, "4915550000801"), [{"type": "text", "text": {"body": "a"}}])
    await held.save_outbox(outbox)
    await held.mark_sent(1)
    assert await held.release() is Outcome.RETRY
    again = claims.held(WAMID, await claims.claim(WAMID))
    assert again.taken_over and again.outbox is not None and again.outbox.sent == 1


async def test_the_lease_is_renewed_while_kept(keyring: Keyring) -> None:
    store = Flaky()
    claims = claims_for(store, keyring, lease=0.06)
    held = claims.held(WAMID, await claims.claim(WAMID))
    async with held.kept():
        await asyncio.sleep(0.1)
    assert store.renewals >= 2
    count = store.renewals
    await asyncio.sleep(0.05)
    assert store.renewals == count  # stopped with the block


async def test_progress_writes_wait_out_a_short_outage(keyring: Keyring) -> None:
    store = Flaky("save_outbox", down=2)
    claims = claims_for(store, keyring, lease=5.0)
    held = claims.held(WAMID, await claims.claim(WAMID))
    await held.save_outbox(seal_outbox(keys_for_user(keyring, "4915550000802"), [{"type": "text", "text": {"body": "b"}}]))
    assert store.down == 0
    assert next(iter(store._entries.values())).outbox is not None


async def test_progress_writes_give_up_after_the_lease(keyring: Keyring) -> None:
    store = Flaky("mark_sent", down=1000)
    claims = claims_for(store, keyring, lease=0.2)
    held = claims.held(WAMID, await claims.claim(WAMID))
    with pytest.raises(DedupUnavailableError):
        await held.mark_sent(1)


async def test_a_lost_lease_is_not_retried(keyring: Keyring) -> None:
    claims = claims_for(InMemoryDedupStore(), keyring)
    held = claims.held(WAMID, await claims.claim(WAMID))
    await held.release()
    with pytest.raises(LeaseLostError):
        await held.mark_sent(1)


async def test_release_survives_an_unreachable_store(keyring: Keyring) -> None:
    store = Flaky("release", down=1)
    claims = claims_for(store, keyring)
    held = claims.held(WAMID, await claims.claim(WAMID))
    assert await held.release(Outcome.FAILED) is Outcome.FAILED
