"""connectors/whatsapp/delivery.py: sealed outbox, ordered sends, progress, and how a send failure ends the claim."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.whatsapp.claims import Claims, HeldClaim
from connectors.whatsapp.dedup.claims import ClaimStatus
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.graph.errors import (
    AuthenticationError,
    BSUIDRecipientNotSupportedError,
    GraphAPIError,
    InvalidParameterError,
    ServerError,
    UnexpectedResponseError,
)
from connectors.whatsapp.outbox import open_outbox, seal_outbox
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.updates.messages import TextMessage
from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret

PHONE = "4915550000901"
BSUID = "DE.1000000000000000901"
WAMID = "wamid.delivery000001"
REPLIES = [{"type": "text", "text": {"body": f"Antwort {n}"}} for n in (1, 2, 3)]


class Graph:
    """Records sends; raises the queued error (if any) on the given call number."""

    def __init__(self, failures: Mapping[int, GraphAPIError] | None = None, read_error: GraphAPIError | None = None) -> None:
        self.failures = dict(failures or {})
        self.read_error = read_error
        self.calls = 0
        self.sent: list[tuple[Recipient, dict[str, Any]]] = []
        self.reads: list[str] = []

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> str:
        self.calls += 1
        if self.calls in self.failures:
            raise self.failures.pop(self.calls)
        self.sent.append((recipient, dict(message)))
        return "wamid.out"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        if self.read_error is not None:
            raise self.read_error
        self.reads.append(message_id)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def message(*, phone: str | None = PHONE, user_id: str | None = None) -> TextMessage:
    return TextMessage(WAMID, phone or user_id or "", "text", 1, "1", phone=phone, user_id=user_id, body="Hallo")


async def held_claim(store: InMemoryDedupStore, keyring: Keyring) -> tuple[Claims, HeldClaim]:
    claims = Claims(store, References.from_keyring(keyring), lease_seconds=30.0, duplicate_wait_seconds=0.0,
                    duplicate_poll_seconds=0.01)
    return claims, claims.held(WAMID, await claims.claim(WAMID))


async def test_new_replies_are_sealed_then_sent_in_order_and_the_message_finished(keyring: Keyring) -> None:
    store, graph = InMemoryDedupStore(), Graph()
    claims, held = await held_claim(store, keyring)
    keys = keys_for_user(keyring, PHONE)
    assert await Delivery(graph, RecipientPacer()).send_new(message(), held, REPLIES, keys) is Outcome.HANDLED
    assert [m for _, m in graph.sent] == REPLIES
    assert {r.graph_fields()["to"] for r, _ in graph.sent} == {PHONE}
    assert (await claims.claim(WAMID)).status is ClaimStatus.DONE


async def test_a_bsuid_only_message_is_answered_via_recipient(keyring: Keyring) -> None:
    graph = Graph()
    _, held = await held_claim(InMemoryDedupStore(), keyring)
    await Delivery(graph, RecipientPacer()).send_new(message(phone=None, user_id=BSUID), held, REPLIES[:1],
                                                     keys_for_user(keyring, BSUID))
    [(recipient, _)] = graph.sent
    assert recipient.graph_fields() == {"recipient": BSUID}


async def test_a_retryable_failure_releases_and_the_redelivery_resumes_after_the_last_sent(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    graph = Graph({2: ServerError("down", code=131000, status=500)})
    delivery = Delivery(graph, RecipientPacer())
    keys = keys_for_user(keyring, PHONE)
    claims, held = await held_claim(store, keyring)
    assert await delivery.send_new(message(), held, REPLIES, keys) is Outcome.RETRY
    assert len(graph.sent) == 1
    again = claims.held(WAMID, await claims.claim(WAMID))
    assert again.outbox is not None and again.outbox.sent == 1
    assert open_outbox(keys, again.outbox) == REPLIES
    assert await delivery.resume(message(), again, keys) is Outcome.HANDLED
    assert [m for _, m in graph.sent] == REPLIES


async def test_authentication_errors_are_left_to_meta_s_redelivery(keyring: Keyring) -> None:
    graph = Graph({1: AuthenticationError("token expired", code=190, status=401)})
    _, held = await held_claim(InMemoryDedupStore(), keyring)
    assert await Delivery(graph, RecipientPacer()).send_new(message(), held, REPLIES, keys_for_user(keyring, PHONE)) is Outcome.RETRY


async def test_an_undeliverable_recipient_finishes_the_message(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    graph = Graph({1: BSUIDRecipientNotSupportedError("no BSUID", code=131062, status=400)})
    claims, held = await held_claim(store, keyring)
    outcome = await Delivery(graph, RecipientPacer()).send_new(message(phone=None, user_id=BSUID), held, REPLIES,
                                                               keys_for_user(keyring, BSUID))
    assert outcome is Outcome.HANDLED and not graph.sent
    assert (await claims.claim(WAMID)).status is ClaimStatus.DONE


async def test_an_invalid_reply_is_skipped_and_an_unexpected_answer_counted_as_sent(keyring: Keyring) -> None:
    graph = Graph({1: InvalidParameterError("bad", code=100, status=400), 2: UnexpectedResponseError("no id", status=200)})
    _, held = await held_claim(InMemoryDedupStore(), keyring)
    assert await Delivery(graph, RecipientPacer()).send_new(message(), held, REPLIES, keys_for_user(keyring, PHONE)) is Outcome.HANDLED
    assert [m for _, m in graph.sent] == REPLIES[2:]


async def test_an_outbox_that_cannot_be_opened_is_given_up(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    claims, held = await held_claim(store, keyring)
    await held.save_outbox(seal_outbox(keys_for_user(keyring, PHONE), REPLIES))
    await held.release()
    again = claims.held(WAMID, await claims.claim(WAMID))
    graph = Graph()
    other_keys = keys_for_user(Keyring(current=Secret.generate()), PHONE)
    assert await Delivery(graph, RecipientPacer()).resume(message(), again, other_keys) is Outcome.HANDLED
    assert not graph.sent


async def test_resume_needs_an_outbox(keyring: Keyring) -> None:
    _, held = await held_claim(InMemoryDedupStore(), keyring)
    with pytest.raises(ValueError):
        await Delivery(Graph(), RecipientPacer()).resume(message(), held, keys_for_user(keyring, PHONE))


async def test_read_receipts_go_in_the_background_and_their_failure_is_only_logged(
    keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.whatsapp")
    ok, failing = Graph(), Graph(read_error=ServerError("down", code=1, status=500))
    for graph in (ok, failing):
        delivery = Delivery(graph, RecipientPacer())
        delivery.mark_read_soon(WAMID, "ref1")
        await delivery.drain()
    assert ok.reads == [WAMID]
    assert "mark as read failed (ServerError code=1)" in caplog.text and WAMID not in caplog.text
