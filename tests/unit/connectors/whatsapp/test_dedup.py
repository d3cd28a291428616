"""Claim/lease/outbox protocol of both dedup stores (in-process and real Redis)."""
from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from connectors.whatsapp.dedup.claims import (
    DONE_TTL_SECONDS,
    ClaimStatus,
    DedupStore,
    DedupUnavailableError,
    LeaseLostError,
    message_key,
)
from connectors.whatsapp.dedup.factory import store_from_url
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.outbox import Outbox

WAMID = "wamid.HBgNNDkxNTU1MDAwMDAwMRUCABIYFDNBMDAwMDAwMDAwMDAwMDAwMDAxAA=="
OUTBOX = Outbox(blob=b"\x01sealed-bytes\x00\xff", key_version="abcd1234", total=3)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DedupStore]:
    if request.param == "memory":
        yield InMemoryDedupStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    namespace = "test:" + request.getfixturevalue("unique_name")
    client = Redis.from_url(redis_url)
    yield RedisDedupStore(client, namespace=namespace)
    keys = [key async for key in client.scan_iter(match=namespace + ":*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def test_first_claim_acquires_then_duplicates_are_busy_then_done(store: DedupStore) -> None:
    first = await store.claim(WAMID, 30)
    assert first.status is ClaimStatus.ACQUIRED and first.token and first.outbox is None and not first.taken_over
    assert (await store.claim(WAMID, 30)).status is ClaimStatus.BUSY
    await store.finish(WAMID, first.token)
    assert (await store.claim(WAMID, 30)).status is ClaimStatus.DONE


async def test_concurrent_claims_acquire_exactly_once(store: DedupStore) -> None:
    claims = await asyncio.gather(*(store.claim(WAMID, 30) for _ in range(20)))
    assert sorted(claim.status.value for claim in claims) == ["acquired"] + ["busy"] * 19


async def test_released_claim_is_taken_over_with_outbox_and_sent_count(store: DedupStore) -> None:
    first = await store.claim(WAMID, 30)
    await store.save_outbox(WAMID, first.token, OUTBOX)
    await store.mark_sent(WAMID, first.token, 1)
    await store.release(WAMID, first.token)
    second = await store.claim(WAMID, 30)
    assert second.status is ClaimStatus.ACQUIRED and second.taken_over
    assert second.outbox == Outbox(OUTBOX.blob, "abcd1234", 3, 1)
    assert second.token != first.token
    with pytest.raises(LeaseLostError):
        await store.mark_sent(WAMID, first.token, 2)
    with pytest.raises(LeaseLostError):
        await store.finish(WAMID, first.token)
    await store.mark_sent(WAMID, second.token, 3)
    await store.finish(WAMID, second.token)
    assert (await store.claim(WAMID, 30)).status is ClaimStatus.DONE


async def test_claim_released_before_the_outbox_is_taken_over_without_one(store: DedupStore) -> None:
    first = await store.claim(WAMID, 30)
    await store.release(WAMID, first.token)
    second = await store.claim(WAMID, 30)
    assert second.status is ClaimStatus.ACQUIRED and second.taken_over and second.outbox is None


async def test_release_with_a_stale_token_changes_nothing(store: DedupStore) -> None:
    first = await store.claim(WAMID, 30)
    await store.release(WAMID, "not-the-token")
    assert (await store.claim(WAMID, 30)).status is ClaimStatus.BUSY
    await store.renew(WAMID, first.token, 30)


async def test_memory_lease_expiry_allows_takeover_and_renewal_prevents_it() -> None:
    clock = FakeClock()
    store = InMemoryDedupStore(clock=clock)
    first = await store.claim(WAMID, 10)
    clock.now += 8
    await store.renew(WAMID, first.token, 10)
    clock.now += 8
    assert (await store.claim(WAMID, 10)).status is ClaimStatus.BUSY
    clock.now += 3
    second = await store.claim(WAMID, 10)
    assert second.status is ClaimStatus.ACQUIRED and second.taken_over
    with pytest.raises(LeaseLostError):
        await store.renew(WAMID, first.token, 10)


async def test_redis_lease_expiry_allows_takeover(redis_url: str, unique_name: str) -> None:
    client = Redis.from_url(redis_url)
    store = RedisDedupStore(client, namespace="test:" + unique_name)
    try:
        first = await store.claim(WAMID, 0.15)
        await store.save_outbox(WAMID, first.token, OUTBOX)
        assert (await store.claim(WAMID, 0.15)).status is ClaimStatus.BUSY
        await asyncio.sleep(0.3)
        second = await store.claim(WAMID, 30)
        assert second.status is ClaimStatus.ACQUIRED and second.outbox == OUTBOX
        with pytest.raises(LeaseLostError):
            await store.save_outbox(WAMID, first.token, OUTBOX)
    finally:
        keys = [key async for key in client.scan_iter(match=f"test:{unique_name}:*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_memory_done_markers_expire_and_memory_is_bounded() -> None:
    clock = FakeClock()
    store = InMemoryDedupStore(clock=clock, max_entries=3)
    claim = await store.claim(WAMID, 10)
    await store.finish(WAMID, claim.token)
    clock.now += DONE_TTL_SECONDS - 1
    assert (await store.claim(WAMID, 10)).status is ClaimStatus.DONE
    clock.now += 2
    assert (await store.claim(WAMID, 10)).status is ClaimStatus.ACQUIRED
    for n in range(5):
        await store.claim(f"wamid.other{n}", 10)
    assert len(store) == 3
    assert all(len(key) == 64 for key in store.keys())


async def test_redis_keys_and_values_hold_no_identifiers(redis_url: str, unique_name: str) -> None:
    client = Redis.from_url(redis_url)
    namespace = "test:" + unique_name
    store = RedisDedupStore(client, namespace=namespace)
    try:
        claim = await store.claim(WAMID, 30)
        await store.save_outbox(WAMID, claim.token, OUTBOX)
        keys = sorted([key async for key in client.scan_iter(match=namespace + ":*")])
        assert keys == sorted([f"{namespace}:{message_key(WAMID)}".encode(), f"{namespace}:{message_key(WAMID)}:lease".encode()])
        record = await client.hgetall(keys[0])
        dump = b"".join(keys) + b"".join(k + v for k, v in record.items()) + (await client.get(keys[1]) or b"")
        for forbidden in (WAMID.encode(), b"4915550000001", b"HBgN"):
            assert forbidden not in dump
        await store.finish(WAMID, claim.token)
        assert await client.hgetall(keys[0]) == {b"state": b"done"}
        assert not await client.exists(keys[1])
        ttl_ms = await client.pttl(keys[0])
        assert DONE_TTL_SECONDS * 1000 - 60_000 < ttl_ms <= DONE_TTL_SECONDS * 1000
    finally:
        keys = [key async for key in client.scan_iter(match=namespace + ":*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_redis_down_raises_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = store_from_url(f"redis://127.0.0.1:{port}/0")
    assert isinstance(store, RedisDedupStore)
    try:
        with pytest.raises(DedupUnavailableError):
            await store.claim(WAMID, 30)
    finally:
        await store.close()


def test_store_from_url_defaults_to_memory() -> None:
    assert isinstance(store_from_url(""), InMemoryDedupStore)


def test_message_key_is_a_labelled_hash() -> None:
    key = message_key(WAMID)
    assert len(key) == 64 and key != message_key(WAMID + "x")
    import hashlib

    assert key != hashlib.sha256(WAMID.encode()).hexdigest()


# --------------------------------------------------------------------------- erasure drops unsent outboxes


async def test_drop_outboxes_marks_only_that_owners_unsent_outboxes_done(store: DedupStore) -> None:
    """Issue 9 item 8: an erasure removes the person's unsent replies instead of keeping them 8 days."""
    mine = dataclasses.replace(OUTBOX, owner="a" * 32)
    theirs = dataclasses.replace(OUTBOX, owner="b" * 32)
    ids = {name: f"{WAMID}.{name}" for name in ("pending", "sending", "other", "finished", "claimed")}
    claims = {name: await store.claim(message_id, 30) for name, message_id in ids.items()}
    await store.save_outbox(ids["pending"], claims["pending"].token, mine)
    await store.release(ids["pending"], claims["pending"].token)  # failed send, waiting for Meta's redelivery
    await store.save_outbox(ids["sending"], claims["sending"].token, mine)  # another instance still sending
    await store.save_outbox(ids["other"], claims["other"].token, theirs)
    await store.save_outbox(ids["finished"], claims["finished"].token, mine)
    await store.finish(ids["finished"], claims["finished"].token)

    assert await store.drop_outboxes(["a" * 32, ""]) == 2
    assert await store.drop_outboxes(["a" * 32]) == 0  # idempotent

    # The redelivery of a dropped message is acknowledged: no reply of the erased conversation.
    assert (await store.claim(ids["pending"], 30)).status is ClaimStatus.DONE
    # The instance still sending loses its lease at its next progress write.
    with pytest.raises(LeaseLostError):
        await store.mark_sent(ids["sending"], claims["sending"].token, 1)
    assert (await store.claim(ids["sending"], 30)).status is ClaimStatus.DONE
    # Nobody else's outbox and no message still in the dialogue is touched.
    await store.release(ids["other"], claims["other"].token)
    other = await store.claim(ids["other"], 30)
    assert other.status is ClaimStatus.ACQUIRED and other.outbox == theirs
    await store.save_outbox(ids["claimed"], claims["claimed"].token, mine)  # its lease was kept
    assert (await store.claim(ids["finished"], 30)).status is ClaimStatus.DONE


async def test_redis_keeps_no_outbox_of_a_dropped_owner(redis_url: str, unique_name: str) -> None:
    client = Redis.from_url(redis_url)
    namespace = "test:" + unique_name
    store = RedisDedupStore(client, namespace=namespace)
    try:
        claim = await store.claim(WAMID, 30)
        await store.save_outbox(WAMID, claim.token, dataclasses.replace(OUTBOX, owner="c" * 32))
        assert await client.exists(f"{namespace}:owner:{'c' * 32}")
        assert await store.drop_outboxes(["c" * 32]) == 1
        keys = [key async for key in client.scan_iter(match=namespace + ":*")]
        values = b"".join([b"".join(v for kv in (await client.hgetall(k)).items() for v in kv) for k in keys
                           if (await client.type(k)) == b"hash"])
        assert OUTBOX.blob not in values and b"c" * 32 not in values
        assert keys == [f"{namespace}:{message_key(WAMID)}".encode()]  # only the DONE marker is left
    finally:
        keys = [key async for key in client.scan_iter(match=namespace + ":*")]
        if keys:
            await client.delete(*keys)
        await client.close()
