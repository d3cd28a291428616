"""Payload id maps: tokens are stable and short, both maps honour one contract, Redis for real."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from connectors.whatsapp.payload_ids import memory_map
from connectors.whatsapp.payload_ids.maps import PayloadIdMap, OwnedPayloadIds, owned_by
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.redis_map import RedisPayloadIdMap
from connectors.whatsapp.payload_ids.sealing import PayloadSealer
from connectors.whatsapp.payload_ids.tokens import (
    MORE_TOKEN_PREFIX,
    PAYLOAD_TOKEN_PREFIX,
    TokenCollisionError,
    UnknownTokenPrefixError,
    is_token,
    make_token,
    payload_token_key,
    strip_disambiguator,
)

from privacy.errors import DecryptionError
from privacy.keyring import Keyring, Secret

LONG_PAYLOAD = '/select_job{"job_id":"' + "x" * 400 + '"}'
KEYRING = Keyring(current=Secret.generate())


TOKEN_KEY = payload_token_key(KEYRING.current)
ALICE, BOB = "a" * 32, "b" * 32  # owner tags (privacy.owner_tags.owner_tag: 32 hex digits)


def test_token_is_tilde_plus_base32_of_a_truncated_keyed_digest() -> None:
    token = make_token(LONG_PAYLOAD, key=TOKEN_KEY)
    assert re.fullmatch(r"~[A-Z2-7]{16}", token)
    unkeyed = "~" + base64.b32encode(hashlib.sha256(LONG_PAYLOAD.encode()).digest()[:10]).decode().rstrip("=")
    assert token != unkeyed  # issue 16 finding 7: no unkeyed hash of the payload
    with pytest.raises(TypeError):
        make_token(LONG_PAYLOAD)  # type: ignore[call-arg]  # a key is required


def test_tokens_are_stable_and_distinct() -> None:
    assert make_token("a", key=TOKEN_KEY) == make_token("a", key=TOKEN_KEY)
    assert make_token("a", key=TOKEN_KEY) != make_token("b", key=TOKEN_KEY)
    more = make_token("a", key=TOKEN_KEY, prefix=MORE_TOKEN_PREFIX)
    assert more.startswith("~more:") and more[len("~more:") :] == make_token("a", key=TOKEN_KEY)[1:]


def test_tokens_differ_per_owner() -> None:
    alice = make_token("a", key=TOKEN_KEY, owner=ALICE)
    assert alice == make_token("a", key=TOKEN_KEY, owner=ALICE)
    assert alice != make_token("a", key=TOKEN_KEY, owner=BOB) != make_token("a", key=TOKEN_KEY)
    assert re.fullmatch(r"~[A-Z2-7]{16}", alice)


def test_unknown_prefix_is_a_typed_error() -> None:
    with pytest.raises(UnknownTokenPrefixError):
        make_token("a", key=TOKEN_KEY, prefix="#")


def test_is_token_and_disambiguator() -> None:
    token = make_token("x", key=TOKEN_KEY)
    assert is_token(token) and is_token(MORE_TOKEN_PREFIX + "ABC")
    assert not is_token("/greet")
    assert strip_disambiguator(token + ".2") == token
    assert strip_disambiguator(token) == token
    more = make_token("x", key=TOKEN_KEY, prefix=MORE_TOKEN_PREFIX)
    assert strip_disambiguator(more) == more


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.close()


@pytest.fixture(params=["memory", "redis"])
async def id_map(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[PayloadIdMap]:
    if request.param == "memory":
        yield InMemoryPayloadIdMap(keyring=KEYRING)
        return
    redis_url = request.getfixturevalue("redis_url")
    mapping = RedisPayloadIdMap.from_url(redis_url, keyring=KEYRING, namespace=unique_name, ttl_seconds=60)
    yield mapping
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{unique_name}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()
    await mapping.close()


async def test_contract_remember_then_resolve(id_map: PayloadIdMap) -> None:
    assert isinstance(id_map, PayloadIdMap)
    token = await id_map.remember(LONG_PAYLOAD)
    assert token == make_token(LONG_PAYLOAD, key=TOKEN_KEY)  # keyed with the server secret
    assert re.fullmatch(r"~[A-Z2-7]{16}", token)
    assert await id_map.resolve(token) == LONG_PAYLOAD
    assert await id_map.remember(LONG_PAYLOAD) == token  # idempotent


async def test_contract_unicode_and_more_prefix(id_map: PayloadIdMap) -> None:
    value = '{"choices": [["Bäckerei – Köln 🥐", "/x"]]}'
    token = await id_map.remember(value, prefix=MORE_TOKEN_PREFIX)
    assert token.startswith(MORE_TOKEN_PREFIX)
    assert await id_map.resolve(token) == value


async def test_contract_unknown_token_is_none(id_map: PayloadIdMap) -> None:
    assert await id_map.resolve(make_token("never remembered", key=TOKEN_KEY)) is None
    assert await id_map.resolve("~") is None


async def test_in_memory_map_evicts_least_recently_used() -> None:
    mapping = InMemoryPayloadIdMap(max_entries=2)
    first = await mapping.remember("one")
    second = await mapping.remember("two")
    assert await mapping.resolve(first) == "one"  # "one" is now the most recently used
    await mapping.remember("three")
    assert len(mapping) == 2
    assert await mapping.resolve(second) is None
    assert await mapping.resolve(first) == "one"


def test_in_memory_map_rejects_zero_size() -> None:
    with pytest.raises(ValueError):
        InMemoryPayloadIdMap(max_entries=0)


async def test_in_memory_collision_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_map, "make_token", lambda value, **_: "~SAME")
    mapping = InMemoryPayloadIdMap()
    await mapping.remember("one")
    with pytest.raises(TokenCollisionError):
        await mapping.remember("two")
    assert await mapping.resolve("~SAME") == "one"


@pytest.mark.redis
async def test_redis_sets_and_refreshes_ttl(redis_url: str, redis_client: Redis, unique_name: str) -> None:
    mapping = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name, ttl_seconds=120)
    token = await mapping.remember(LONG_PAYLOAD)
    key = f"{unique_name}:{token}"
    assert 0 < await redis_client.ttl(key) <= 120
    await redis_client.expire(key, 5)
    await mapping.remember(LONG_PAYLOAD)
    assert await redis_client.ttl(key) > 5
    await redis_client.delete(key)


@pytest.mark.redis
async def test_redis_entry_expires(redis_client: Redis, unique_name: str) -> None:
    mapping = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name, ttl_seconds=60)
    token = await mapping.remember("short lived")
    await redis_client.pexpire(f"{unique_name}:{token}", 1)
    await asyncio.sleep(0.05)
    assert await mapping.resolve(token) is None


@pytest.mark.redis
async def test_redis_collision_is_detected(redis_client: Redis, unique_name: str) -> None:
    mapping = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name, ttl_seconds=60)
    token = make_token("mine", key=payload_token_key(KEYRING.current))
    await redis_client.set(f"{unique_name}:{token}", PayloadSealer(KEYRING).seal(token, "someone else's value"), ex=60)
    with pytest.raises(TokenCollisionError):
        await mapping.remember("mine")
    await redis_client.delete(f"{unique_name}:{token}")


@pytest.mark.redis
async def test_redis_namespaces_are_isolated(redis_client: Redis, unique_name: str) -> None:
    one = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name + "a")
    other = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name + "b")
    token = await one.remember("value")
    assert await other.resolve(token) is None
    assert await one.resolve(token) == "value"
    await redis_client.delete(f"{unique_name}a:{token}")


@pytest.mark.redis
async def test_redis_shared_between_instances(redis_url: str, unique_name: str) -> None:
    """Two channel processes share the map: what one remembers, the other resolves."""
    writer = RedisPayloadIdMap.from_url(redis_url, keyring=KEYRING, namespace=unique_name)
    reader = RedisPayloadIdMap.from_url(redis_url, keyring=KEYRING, namespace=unique_name)
    token = await writer.remember(LONG_PAYLOAD)
    assert await reader.resolve(token) == LONG_PAYLOAD
    client = Redis.from_url(redis_url)
    await client.delete(f"{unique_name}:{token}")
    await client.close()
    await writer.close()
    await reader.close()


def test_redis_rejects_zero_ttl() -> None:
    with pytest.raises(ValueError):
        RedisPayloadIdMap(Redis(), keyring=KEYRING, ttl_seconds=0)


# --------------------------------------------------------------------------- sealed in Redis (issue 9 item 8)

SECRET_WORDS = "Bäckerei Sonnenschein, Köln"


@pytest.mark.redis
async def test_redis_holds_no_payload_or_paging_state_in_clear(redis_client: Redis, unique_name: str) -> None:
    mapping = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name, ttl_seconds=60)
    payload = '/select_job{"job_id":"' + SECRET_WORDS + "y" * 300 + '"}'
    state = '{"choices": [["' + SECRET_WORDS + '", "/x"]], "offset": 9}'
    tokens = [await mapping.remember(payload), await mapping.remember(state, prefix=MORE_TOKEN_PREFIX)]
    raw = [await redis_client.get(f"{unique_name}:{token}") for token in tokens]
    for value in raw:
        assert value is not None
        for needle in (SECRET_WORDS, "Sonnenschein", "yyyy", "select_job", "offset"):
            assert needle.encode() not in value
            assert needle.encode().hex().encode() not in value
        assert len(value) >= 1024  # padded like tracker records: the length says little
    assert [await mapping.resolve(token) for token in tokens] == [payload, state]
    await redis_client.delete(*(f"{unique_name}:{token}" for token in tokens))


@pytest.mark.redis
async def test_a_sealed_value_is_bound_to_its_token_and_to_the_secret(redis_client: Redis, unique_name: str) -> None:
    mapping = RedisPayloadIdMap(redis_client, keyring=KEYRING, namespace=unique_name, ttl_seconds=60)
    token = await mapping.remember("value one")
    other = make_token("value two", key=TOKEN_KEY)
    await redis_client.set(f"{unique_name}:{other}", await redis_client.get(f"{unique_name}:{token}"), ex=60)
    assert await mapping.resolve(other) is None  # moved under another token: does not open
    stranger = RedisPayloadIdMap(redis_client, keyring=Keyring(current=Secret.generate()), namespace=unique_name)
    assert await stranger.resolve(token) is None  # another deployment's secret: does not open
    rotated = RedisPayloadIdMap(
        redis_client, keyring=Keyring(current=Secret.generate(), retired=(KEYRING.current,)), namespace=unique_name
    )
    assert await rotated.resolve(token) == "value one"  # a token already sent still resolves
    new_token = await rotated.remember("value one")  # new tokens are keyed with the new secret
    assert new_token != token and await rotated.resolve(new_token) == "value one"
    await redis_client.delete(f"{unique_name}:{new_token}")
    await redis_client.delete(f"{unique_name}:{token}", f"{unique_name}:{other}")


def test_sealer_never_shows_a_key_and_rejects_garbage() -> None:
    sealer = PayloadSealer(KEYRING)
    assert "key" not in repr(sealer).lower().replace("version", "")
    with pytest.raises(DecryptionError):
        sealer.open("~A", b"no separator")
    with pytest.raises(DecryptionError):
        sealer.open("~A", b"v9\x00" + bytes(64))


def test_keyed_tokens_depend_on_the_secret_and_keep_their_shape() -> None:
    one, two = payload_token_key(Secret.generate()), payload_token_key(Secret.generate())
    assert make_token("x", key=one) == make_token("x", key=one) != make_token("x", key=two)
    assert re.fullmatch(r"~more:[A-Z2-7]{16}", make_token("x", prefix=MORE_TOKEN_PREFIX, key=one))


def test_in_memory_tokens_are_keyed() -> None:
    """Not sha256 of the value (issue 16 finding 7): a random process key, or the keyring's token key."""
    unkeyed = "~" + base64.b32encode(hashlib.sha256(b"value").digest()[:10]).decode().rstrip("=")
    first, second = InMemoryPayloadIdMap(), InMemoryPayloadIdMap()
    assert first.token("value") != unkeyed
    assert first.token("value") != second.token("value")  # a random key per map
    assert InMemoryPayloadIdMap(keyring=KEYRING).token("value") == make_token("value", key=TOKEN_KEY)


# --------------------------------------------------------------------------- per person (issue 16 item 6)


async def test_contract_two_owners_get_different_tokens(id_map: PayloadIdMap) -> None:
    alice = await id_map.remember(LONG_PAYLOAD, owner=ALICE)
    bob = await id_map.remember(LONG_PAYLOAD, owner=BOB)
    assert alice != bob
    assert alice == make_token(LONG_PAYLOAD, key=TOKEN_KEY, owner=ALICE)
    assert await id_map.resolve(alice) == LONG_PAYLOAD == await id_map.resolve(bob)
    assert await id_map.remember(LONG_PAYLOAD, owner=ALICE) == alice  # idempotent


async def test_contract_forget_owners_removes_only_that_persons_entries(id_map: PayloadIdMap) -> None:
    alice = [
        await id_map.remember(LONG_PAYLOAD, owner=ALICE),
        await id_map.remember('{"page": 2}', prefix=MORE_TOKEN_PREFIX, owner=ALICE),
    ]
    bob = await id_map.remember(LONG_PAYLOAD, owner=BOB)
    shared = await id_map.remember("no owner")
    assert await id_map.forget_owners([ALICE, "", ALICE]) == 2  # type: ignore[attr-defined]
    assert [await id_map.resolve(token) for token in alice] == [None, None]
    assert await id_map.resolve(bob) == LONG_PAYLOAD
    assert await id_map.resolve(shared) == "no owner"
    assert await id_map.forget_owners([ALICE]) == 0  # type: ignore[attr-defined]
    assert await id_map.forget_owners([]) == 0  # type: ignore[attr-defined]


async def test_owned_view_remembers_under_its_owner(id_map: PayloadIdMap) -> None:
    view = owned_by(id_map, ALICE)
    assert isinstance(view, OwnedPayloadIds) and isinstance(view, PayloadIdMap)
    assert ALICE not in repr(view)
    assert owned_by(view, BOB).owner == BOB and owned_by(id_map, None) is id_map
    token = await view.remember(LONG_PAYLOAD)
    assert token == make_token(LONG_PAYLOAD, key=TOKEN_KEY, owner=ALICE)
    assert await view.resolve(token) == LONG_PAYLOAD
    assert await id_map.forget_owners([ALICE]) == 1  # type: ignore[attr-defined]
    assert await view.resolve(token) is None


async def test_in_memory_eviction_keeps_the_owner_index_small() -> None:
    mapping = InMemoryPayloadIdMap(max_entries=1)
    await mapping.remember("one", owner=ALICE)
    await mapping.remember("two", owner=BOB)
    assert await mapping.forget_owners([ALICE]) == 0
    assert await mapping.forget_owners([BOB]) == 1
    assert len(mapping) == 0 and not mapping._owners and not mapping._owner_of


@pytest.mark.redis
async def test_redis_index_follows_the_entry_ttl_and_erasure_leaves_nothing(
    redis_url: str, redis_client: Redis, unique_name: str
) -> None:
    """Two processes, one keyring: tokens resolve across them; an erasure removes entries and index."""
    writer = RedisPayloadIdMap.from_url(redis_url, keyring=KEYRING, namespace=unique_name, ttl_seconds=120)
    reader = RedisPayloadIdMap.from_url(redis_url, keyring=KEYRING, namespace=unique_name, ttl_seconds=120)
    try:
        alice = [
            await writer.remember(LONG_PAYLOAD, owner=ALICE),
            await writer.remember('{"page": 2}', prefix=MORE_TOKEN_PREFIX, owner=ALICE),
        ]
        bob = await writer.remember(LONG_PAYLOAD, owner=BOB)
        assert [await reader.resolve(token) for token in alice] == [LONG_PAYLOAD, '{"page": 2}']
        index = f"{unique_name}:owner:{ALICE}"
        assert {member.decode() for member in await redis_client.smembers(index)} == set(alice)
        assert 0 < await redis_client.ttl(index) <= 120
        await redis_client.expire(index, 5)
        await reader.remember(LONG_PAYLOAD, owner=ALICE)  # a refresh refreshes the index too
        assert await redis_client.ttl(index) > 5

        assert await reader.forget_owners([ALICE]) == 2
        left = {key.decode() async for key in redis_client.scan_iter(match=f"{unique_name}:*")}
        assert left == {f"{unique_name}:{bob}", f"{unique_name}:owner:{BOB}"}
        assert await writer.resolve(bob) == LONG_PAYLOAD
    finally:
        keys = [key async for key in redis_client.scan_iter(match=f"{unique_name}:*")]
        if keys:
            await redis_client.delete(*keys)
        await writer.close()
        await reader.close()
