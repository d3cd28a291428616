"""connectors/whatsapp/sent_copies/: sealed copies of sent replies, keyed references, a bounded store."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from connectors.whatsapp.claims import Claims
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.sent_copies.copies import SentCopy, SentCopyBook, open_copy, seal_copy
from connectors.whatsapp.sent_copies.factory import sent_copies_from_url
from connectors.whatsapp.sent_copies.memory_store import InMemorySentCopies
from connectors.whatsapp.sent_copies.redis_store import RedisSentCopies
from connectors.whatsapp.updates.messages import TextMessage
from privacy.context import keys_for_user
from privacy.errors import DecryptionError
from privacy.keyring import Keyring, Secret

PHONE = "4915550000001"
WAMID = "wamid.copy000001"
REPLY = {"type": "text", "text": {"body": "Drei Stellen in Köln"}}


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def test_a_copy_opens_only_with_the_recipients_keys(keyring: Keyring) -> None:
    copy = seal_copy(keys_for_user(keyring, PHONE), REPLY, attempts=1)
    assert open_copy(keys_for_user(keyring, PHONE), copy) == REPLY and copy.attempts == 1
    assert b"Stellen" not in copy.blob and PHONE not in repr(copy)
    with pytest.raises(DecryptionError):
        open_copy(keys_for_user(keyring, "4915550000002"), copy)
    with pytest.raises(ValueError):
        seal_copy(keys_for_user(keyring, PHONE), {**REPLY, "to": PHONE})


def test_references_are_keyed_by_the_server_secret(keyring: Keyring) -> None:
    book = SentCopyBook(InMemorySentCopies(), keyring)
    other = SentCopyBook(InMemorySentCopies(), Keyring(current=Secret.generate()))
    assert book.reference(WAMID) == book.reference(WAMID) != other.reference(WAMID)
    assert WAMID not in book.reference(WAMID) and len(book.reference(WAMID)) == 64


async def test_the_memory_store_expires_and_stays_bounded() -> None:
    now = [0.0]
    store = InMemorySentCopies(max_entries=2, ttl_seconds=10, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        await store.put(name, SentCopy(b"x", "v1"))
    assert len(store) == 2 and await store.get("a") is None and await store.get("c") is not None
    now[0] = 10.0
    assert await store.get("c") is None
    await store.put("d", SentCopy(b"x", "v1"))
    await store.forget("d")
    assert await store.get("d") is None


class BrokenStore:
    async def put(self, reference: str, copy: SentCopy) -> None:
        raise ConnectionError("redis down")

    async def get(self, reference: str) -> SentCopy | None:
        raise ConnectionError("redis down")

    async def forget(self, reference: str) -> None:
        raise ConnectionError("redis down")

    async def close(self) -> None:
        return None


async def test_a_store_that_is_down_never_fails_the_caller(keyring: Keyring) -> None:
    book = SentCopyBook(BrokenStore(), keyring)
    assert await book.keep(WAMID, keys_for_user(keyring, PHONE), REPLY) is False
    assert await book.find(WAMID) is None
    await book.forget(WAMID)


class Graph:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> str:
        self.calls += 1
        return f"wamid.out{self.calls}"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


async def test_delivery_keeps_a_copy_of_each_accepted_reply(keyring: Keyring) -> None:
    book = SentCopyBook(InMemorySentCopies(), keyring)
    keys = keys_for_user(keyring, PHONE)
    claims = Claims(InMemoryDedupStore(), References.from_keyring(keyring), lease_seconds=30.0,
                    duplicate_wait_seconds=0.0, duplicate_poll_seconds=0.01)
    held = claims.held("wamid.in", await claims.claim("wamid.in"))
    inbound = TextMessage("wamid.in", PHONE, "text", 1, "1", phone=PHONE, body="Hallo")
    second = {"type": "text", "text": {"body": "Noch etwas"}}
    delivery = Delivery(Graph(), RecipientPacer(), book)
    await delivery.send_new(inbound, held, [REPLY, second], keys)
    await delivery.drain()  # the copies are written in the background
    copies = [await book.find(f"wamid.out{n}") for n in (1, 2)]
    assert [open_copy(keys, copy) for copy in copies if copy is not None] == [REPLY, second]
    assert all(copy is not None and copy.attempts == 0 for copy in copies)


def test_the_factory_follows_the_dedup_url() -> None:
    assert isinstance(sent_copies_from_url(""), InMemorySentCopies)
    assert isinstance(sent_copies_from_url("redis://127.0.0.1:6379/0"), RedisSentCopies)


async def test_the_channel_resources_build_and_close_the_store(keyring: Keyring) -> None:
    from connectors.whatsapp.resources import ChannelResources
    from connectors.whatsapp.settings import WhatsAppSettings

    settings = WhatsAppSettings(verify_token="v", app_secret="a", access_token="t", phone_number_id="1")
    resources = ChannelResources(settings, keyring, graph=Graph())
    assert isinstance(resources.sent_copies, InMemorySentCopies)
    await resources.sent_copies.put("r", SentCopy(b"x", "v1"))
    await resources.aclose()
    assert len(resources.sent_copies) == 0  # type: ignore[arg-type]
    injected = InMemorySentCopies()
    await injected.put("r", SentCopy(b"x", "v1"))
    await ChannelResources(settings, keyring, graph=Graph(), sent_copies=injected).aclose()
    assert len(injected) == 1  # an injected store is not closed
