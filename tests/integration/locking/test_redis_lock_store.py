"""The atomic lock store gives every concurrent caller its own ticket (Rasa's does not)."""
from __future__ import annotations

import threading
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from locking.redis_lock_store import AtomicRedisLockStore

ROUNDS = 60
CLIENTS = 4


def _tickets_in_parallel(make_store, conversation_prefix: str) -> int:
    """How many rounds handed the same ticket number to two clients."""
    stores = [make_store() for _ in range(CLIENTS)]
    collisions = 0
    for round_number in range(ROUNDS):
        conversation = f"{conversation_prefix}{round_number}"
        barrier = threading.Barrier(CLIENTS)
        tickets: list[int] = []

        def take(store) -> None:
            barrier.wait()
            tickets.append(store.issue_ticket(conversation))

        threads = [threading.Thread(target=take, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        collisions += len(tickets) != len(set(tickets))
        stores[0].delete_lock(conversation)
    return collisions


def _options(redis_url: str, unique_name: str) -> dict:
    parsed = urlparse(redis_url)
    return {"host": parsed.hostname, "port": parsed.port or 6379, "db": 1, "key_prefix": unique_name}


def test_atomic_store_never_hands_out_a_ticket_twice(redis_url: str, unique_name: str) -> None:
    options = _options(redis_url, unique_name)
    assert _tickets_in_parallel(lambda: AtomicRedisLockStore(**options), "c") == 0


def test_rasas_store_does_hand_out_tickets_twice(redis_url: str, unique_name: str) -> None:
    """The reason this module exists; if Rasa fixes it, this test tells us."""
    options = _options(redis_url, unique_name)
    assert _tickets_in_parallel(lambda: RedisLockStore(**options), "r") > 0


async def test_lock_context_serves_tickets_in_order_and_cleans_up(redis_url: str, unique_name: str) -> None:
    store = AtomicRedisLockStore(**_options(redis_url, unique_name))
    first = store.issue_ticket("u_1")
    second = store.issue_ticket("u_1")
    assert (first, second) == (0, 1)
    assert store.get_lock("u_1").is_locked(second)
    store.cleanup("u_1", first)
    assert not store.get_lock("u_1").is_locked(second)
    store.cleanup("u_1", second)
    assert store.get_lock("u_1") is None
    async with store.lock("u_1", wait_time_in_seconds=0.01) as lock:
        assert lock.conversation_id == "u_1"
    assert store.get_lock("u_1") is None


def test_created_from_an_endpoint_config_like_rasa_does(redis_url: str, unique_name: str) -> None:
    parsed = urlparse(redis_url)
    config = EndpointConfig(url=parsed.hostname, type="locking.redis_lock_store.AtomicRedisLockStore",
                            port=parsed.port or 6379, db=1, key_prefix=unique_name)
    store = AtomicRedisLockStore(endpoint_config=config)
    assert store.key_prefix.startswith(unique_name + ":")
    assert store.issue_ticket("u_2") == 0
    store.delete_lock("u_2")
