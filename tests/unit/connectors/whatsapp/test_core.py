"""connectors/whatsapp/core.py (and resources.py, adapter.py): composition, the edge, built-once collaborators."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from connectors.whatsapp.adapter import WhatsAppInput
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.settings import DEFAULT_CLAIM_LEASE_SECONDS, WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from privacy.keyring import Keyring, Secret

SETTINGS = WhatsAppSettings(verify_token="v", app_secret="core-secret", access_token="t", phone_number_id="1")


class Graph:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, recipient: Any, message: Any) -> str:
        self.sent.append(message)
        return "wamid.out"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


async def dialogue(message: Any) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": "ok"})


def make_core(**kwargs: Any) -> WebhookCore:
    return WebhookCore(settings=SETTINGS, store=InMemoryDedupStore(), graph=Graph(), keyring=Keyring(current=Secret.generate()),
                       id_map=InMemoryPayloadIdMap(), output_factory=WhatsAppOutput,
                       options=DeliveryOptions(duplicate_wait_seconds=0.0), **kwargs)


def signed_text(phone: str = "4915550000971") -> tuple[bytes, dict[str, str]]:
    message = {"id": f"wamid.core{time.time_ns()}", "from": phone, "type": "text", "text": {"body": "Hallo"},
               "timestamp": str(int(time.time()))}
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "messages": [message],
             "contacts": [{"wa_id": phone, "profile": {"name": "Erika"}}]}
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}).encode()
    return body, {"X-Hub-Signature-256": compute_signature(SETTINGS.app_secret, body)}


def test_default_options_follow_the_settings_default_lease() -> None:
    assert DeliveryOptions().lease_seconds == DEFAULT_CLAIM_LEASE_SECONDS
    with pytest.raises(ValueError):
        DeliveryOptions(max_concurrent_lanes=0)


async def test_receive_keeps_the_turn_while_the_same_collaborators_come_again() -> None:
    core = make_core()
    assert (await core.receive(*signed_text(), dialogue)).status == 200
    turn = core._last_turn[1]  # type: ignore[index]
    assert (await core.receive(*signed_text(), dialogue)).status == 200
    assert core._last_turn[1] is turn  # type: ignore[index]

    async def other(message: Any) -> None:
        return None

    assert (await core.receive(*signed_text(), other)).status == 200
    assert core._last_turn[1] is not turn  # type: ignore[index]


async def test_handle_answers_500_for_an_internal_error_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    core = make_core()

    def broken(body: bytes, headers: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(core.intake, "read", broken)
    answer = await core.handle(*signed_text(), core.turn(dialogue))
    assert (answer.status, answer.body) == (500, "internal error")


async def test_handle_passes_intakes_refusal_through() -> None:
    core = make_core()
    answer = await core.handle(b"{}", {"X-Hub-Signature-256": "sha256=" + "0" * 64}, core.turn(dialogue))
    assert answer.status == 403


async def test_the_worst_outcome_sets_the_status() -> None:
    core = make_core()

    async def crash(message: Any) -> None:
        raise RuntimeError("dialogue crashed")

    assert (await core.receive(*signed_text(), crash)).status == 500
    await core.drain()


def test_the_channel_builds_options_pacer_and_graph_client_from_the_settings() -> None:
    settings = dataclasses.replace(
        SETTINGS, claim_lease_seconds=4.5, max_mps=20.0, recipient_min_gap_seconds=0.25, api_timeout_seconds=3.0,
        send_max_attempts=2, send_backoff_base_seconds=0.0, send_backoff_max_seconds=1.0,
    )
    channel = WhatsAppInput(settings, Keyring(current=Secret.generate()))
    try:
        assert channel.core.options.lease_seconds == 4.5
        assert channel.resources.pacer.throughput.rate == 20.0 and channel.resources.pacer.recipients.min_gap == 0.25
        graph = channel.resources.graph
        assert isinstance(graph, GraphClient) and graph.settings.timeout == 3.0
        assert (graph.retry.max_attempts, graph.retry.base_delay, graph.retry.max_delay) == (2, 0.0, 1.0)
    finally:
        asyncio.run(channel.aclose())


def test_injected_collaborators_are_used_and_not_closed() -> None:
    graph, store = Graph(), InMemoryDedupStore()
    channel = WhatsAppInput(SETTINGS, Keyring(current=Secret.generate()), graph=graph, store=store)
    assert channel.core.graph is graph and channel.core.store is store
    asyncio.run(channel.aclose())
