"""Sealed sent copies in a real Redis, and a failed status retried from them (connectors/whatsapp/sent_copies/redis_store.py)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from redis.asyncio import Redis

from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.delivery_statuses import DeliveryStatuses
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.sent_copies.copies import SentCopyBook, open_copy
from connectors.whatsapp.sent_copies.redis_store import RedisSentCopies
from connectors.whatsapp.turn import Turn
from connectors.whatsapp.updates.parser import parse_update
from privacy.keyring import Keyring, Secret

PHONE = "4915550000001"
BSUID = "DE.1234567890abcdef"
WAMID = "wamid.redisout000001"
REPLY = {"type": "text", "text": {"body": "Drei Stellen in Köln"}}


class Graph:
    def __init__(self) -> None:
        self.sent: list[tuple[Recipient, dict[str, Any]]] = []

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> str:
        self.sent.append((recipient, dict(message)))
        return f"wamid.redisresent{len(self.sent)}"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


async def handler(message: Any) -> None:
    return None


async def test_copies_in_redis_are_sealed_keyed_expiring_and_retried(redis_url: str) -> None:
    namespace = f"blaupause:test:sent:{uuid.uuid4().hex}"
    client = Redis.from_url(redis_url)
    keyring = Keyring(current=Secret.generate())
    identities = Identities(keyring, use_parent_user_id=False)
    keys = identities.keys(PHONE, BSUID, None)
    book = SentCopyBook(RedisSentCopies(client, namespace=namespace, ttl_seconds=3600), keyring)
    try:
        assert await book.keep(WAMID, keys, REPLY)
        stored = [key async for key in client.scan_iter(f"{namespace}:*")]
        assert len(stored) == 1
        ttl = await client.ttl(stored[0])
        assert 3500 < ttl <= 3600
        dump = repr(stored) + repr(await client.hgetall(stored[0]))
        for secret in (WAMID, PHONE, BSUID, "Stellen", keys.pseudonym):
            assert secret not in dump
        copy = await book.find(WAMID)
        assert copy is not None and open_copy(keys, copy) == REPLY

        graph = Graph()
        delivery = Delivery(graph, RecipientPacer(), book)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        statuses = DeliveryStatuses(References.from_keyring(keyring), identities, delivery, sleep=sleep)
        turn = Turn(handler, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring),
                    output_factory=WhatsAppOutput)
        value = {"statuses": [{"id": WAMID, "status": "failed", "timestamp": "1", "recipient_id": PHONE,
                               "recipient_user_id": BSUID, "errors": [{"code": 131056, "title": "pair rate"}]}]}
        update = parse_update({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]})
        await statuses.handle(update, turn)
        await delivery.drain()
        assert graph.sent == [(Recipient(phone=PHONE), REPLY)] and waits == [6.0]
        assert await book.find(WAMID) is None
        retried = await book.find("wamid.redisresent1")
        assert retried is not None and retried.attempts == 1
    finally:
        keys_left = [key async for key in client.scan_iter(f"{namespace}:*")]
        if keys_left:
            await client.delete(*keys_left)
        await client.close()


@pytest.mark.parametrize("ttl", [0])
def test_a_ttl_below_one_second_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError):
        RedisSentCopies(Redis.from_url("redis://127.0.0.1:6379/0"), ttl_seconds=ttl)
