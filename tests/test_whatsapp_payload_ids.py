"""Payload id maps: tokens are stable and short, both maps honour one contract, Redis for real."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from connectors.whatsapp import payload_ids
from connectors.whatsapp.payload_ids import (
    MORE_TOKEN_PREFIX,
    PAYLOAD_TOKEN_PREFIX,
    InMemoryPayloadIdMap,
    PayloadIdMap,
    PayloadSealer,
    RedisPayloadIdMap,
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


def test_token_is_tilde_plus_base32_of_truncated_sha256() -> None:
    digest = hashlib.sha256(LONG_PAYLOAD.encode()).digest()[:10]
    expected = "~" + base64.b32encode(digest).decode().rstrip("=")
    assert make_token(LONG_PAYLOAD) == expected
    assert re.fullmatch(r"~[A-Z2-7]{16}", expected)


def test_tokens_are_stable_and_distinct() -> None:
    assert make_token("a") == make_token("a")
    assert make_token("a") != make_token("b")
    assert make_token("a", prefix=MORE_TOKEN_PREFIX).startswith("~more:")
    assert make_token("a", prefix=MORE_TOKEN_PREFIX)[len("~more:") :] == make_token("a")[1:]


def test_unknown_prefix_is_a_typed_error() -> None:
    with pytest.raises(UnknownTokenPrefixError):
        make_token("a", prefix="#")


def test_is_token_and_disambiguator() -> None:
    token = make_token("x")
    assert is_token(token) and is_token(MORE_TOKEN_PREFIX + "ABC")
    assert not is_token("/greet")
    assert strip_disambiguator(token + ".2") == token
    assert strip_disambiguator(token) == token
    more = make_token("x", prefix=MORE_TOKEN_PREFIX)
    assert strip_disambiguator(more) == more


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.close()


@pytest.fixture(params=["memory", "redis"])
async def id_map(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[PayloadIdMap]:
    if request.param == "memory":
        yield InMemoryPayloadIdMap()
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
    if isinstance(id_map, RedisPayloadIdMap):  # keyed with the server secret
        assert token == make_token(LONG_PAYLOAD, key=payload_token_key(KEYRING.current)) != make_token(LONG_PAYLOAD)
    else:
        assert token == make_token(LONG_PAYLOAD)
    assert re.fullmatch(r"~[A-Z2-7]{16}", token)
    assert await id_map.resolve(token) == LONG_PAYLOAD
    assert await id_map.remember(LONG_PAYLOAD) == token  # idempotent


async def test_contract_unicode_and_more_prefix(id_map: PayloadIdMap) -> None:
    value = '{"choices": [["Bäckerei – Köln 🥐", "/x"]]}'
    token = await id_map.remember(value, prefix=MORE_TOKEN_PREFIX)
    assert token.startswith(MORE_TOKEN_PREFIX)
    assert await id_map.resolve(token) == value


async def test_contract_unknown_token_is_none(id_map: PayloadIdMap) -> None:
    assert await id_map.resolve(make_token("never remembered")) is None
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
    monkeypatch.setattr(payload_ids, "make_token", lambda value, prefix=PAYLOAD_TOKEN_PREFIX: "~SAME")
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
    other = make_token("value two")
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
    assert make_token("x", key=one) != make_token("x")
    assert re.fullmatch(r"~more:[A-Z2-7]{16}", make_token("x", prefix=MORE_TOKEN_PREFIX, key=one))
