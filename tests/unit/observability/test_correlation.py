"""The correlation id: derived from the message (not the sender), the same in both processes (issue 11)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from connectors.whatsapp.references import References
from connectors.whatsapp.settings import WhatsAppSettings
from observability.correlation import (
    bind_correlation_id,
    clear_correlation_id,
    correlation_id_for,
    correlation_id_of_action_call,
    correlation_scope,
    current_correlation_id,
)

WAMID = "wamid.HBgNNDkxNTU1MDAwMDAwMRUCABIYFjNFQjBDMEE0RjQ1QjU4QjE0RjhBAA=="
REFS = References(b"k" * 32)
SETTINGS = WhatsAppSettings(verify_token="v", app_secret="corr-secret", access_token="t", phone_number_id="1")


def _action_call(rasa_message_id: str | None, *, in_latest: bool = True) -> dict:
    latest = {"text": "hallo", "intent": {"name": "greet"}}
    if in_latest:
        latest["message_id"] = rasa_message_id
    events = [{"event": "user", "text": "hallo", "message_id": rasa_message_id}, {"event": "action", "name": "x"}]
    return {"next_action": "action_x", "tracker": {"latest_message": latest, "events": events}}


def test_the_id_is_a_short_hash_of_the_rasa_message_id() -> None:
    rasa_id = REFS.rasa_message_id(WAMID)
    expected = hashlib.sha256(b"corr" + rasa_id.encode()).hexdigest()[:16]
    assert correlation_id_for(rasa_id) == expected
    assert len(expected) == 16 and rasa_id[3:] not in expected


def test_channel_and_action_server_derive_the_same_id_from_the_same_wamid() -> None:
    rasa_id = REFS.rasa_message_id(WAMID)  # what the channel hands to Rasa as message_id
    channel_side = correlation_id_for(rasa_id)
    assert correlation_id_of_action_call(_action_call(rasa_id)) == channel_side
    assert correlation_id_of_action_call(_action_call(rasa_id, in_latest=False)) == channel_side  # event fallback


def test_the_id_depends_on_the_message_and_the_server_secret_not_on_anything_meta_holds() -> None:
    other_secret = References(b"o" * 32)
    ids = {
        correlation_id_for(REFS.rasa_message_id(WAMID)),
        correlation_id_for(REFS.rasa_message_id(WAMID + "x")),
        correlation_id_for(other_secret.rasa_message_id(WAMID)),
    }
    assert len(ids) == 3
    assert correlation_id_for(WAMID) not in ids  # a wamid alone does not give it


def test_calls_without_a_message_id_have_none() -> None:
    assert correlation_id_of_action_call(None) is None
    assert correlation_id_of_action_call({"tracker": None}) is None
    assert correlation_id_of_action_call(_action_call(None)) is None


def test_scope_sets_and_restores() -> None:
    assert current_correlation_id() is None
    with correlation_scope("ab12cd34ef56ab78"):
        assert current_correlation_id() == "ab12cd34ef56ab78"
        with correlation_scope(None):
            assert current_correlation_id() is None
        assert current_correlation_id() == "ab12cd34ef56ab78"
    assert current_correlation_id() is None
    bind_correlation_id("0011223344556677")
    assert current_correlation_id() == "0011223344556677"
    clear_correlation_id()
    assert current_correlation_id() is None


async def test_concurrent_messages_keep_their_own_id() -> None:
    seen: dict[str, str | None] = {}

    async def one(name: str) -> None:
        with correlation_scope(correlation_id_for(name)):
            await asyncio.sleep(0.01)
            seen[name] = current_correlation_id()

    await asyncio.gather(one("wa-a"), one("wa-b"))
    assert seen == {"wa-a": correlation_id_for("wa-a"), "wa-b": correlation_id_for("wa-b")}


# ----------------------------------------------------------------- the channel side (WebhookCore, MessageFlow)

def _core() -> Any:
    from connectors.whatsapp.core import DeliveryOptions, WebhookCore
    from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
    from connectors.whatsapp.output import WhatsAppOutput
    from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
    from privacy.keyring import Keyring, Secret

    class Graph:
        async def send(self, recipient: Any, message: Any) -> str:
            return "wamid.out"

        async def mark_read(self, message_id: str, typing: bool = True) -> None:
            return None

    return WebhookCore(settings=SETTINGS, store=InMemoryDedupStore(), graph=Graph(),
                       keyring=Keyring(current=Secret.generate()), id_map=InMemoryPayloadIdMap(),
                       output_factory=WhatsAppOutput, options=DeliveryOptions(duplicate_wait_seconds=0.0))


def _signed(value: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    from connectors.whatsapp.signature import compute_signature

    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, **value}
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}).encode()
    return body, {"X-Hub-Signature-256": compute_signature(SETTINGS.app_secret, body)}


async def test_the_channel_handles_a_message_under_the_id_the_action_server_will_derive() -> None:
    core = _core()
    wamid = f"wamid.corr{time.time_ns()}"
    seen: list[tuple[str, str | None]] = []

    async def dialogue(message: Any) -> None:  # stands in for Rasa: the message id it stores, the id current
        seen.append((message.message_id, current_correlation_id()))
        await message.output_channel.send_response(message.sender_id, {"text": "ok"})

    body, headers = _signed({
        "messages": [{"id": wamid, "from": "4915550000001", "type": "text", "text": {"body": "Hallo"},
                      "timestamp": str(int(time.time()))}],
        "contacts": [{"wa_id": "4915550000001", "profile": {"name": "Erika"}}],
    })
    answer = await core.receive(body, headers, dialogue)
    await core.drain()
    assert answer.status == 200
    [(rasa_message_id, during_turn)] = seen
    assert rasa_message_id == core.references.rasa_message_id(wamid)
    assert during_turn == correlation_id_for(rasa_message_id)
    assert during_turn == correlation_id_of_action_call(_action_call(rasa_message_id))  # the action server's view
    assert current_correlation_id() is None  # the scope ended with the message


def test_a_post_with_only_statuses_gets_the_id_of_its_first_status() -> None:
    from connectors.whatsapp.updates.messages import StatusUpdate, TextMessage, WebhookUpdate

    core = _core()
    statuses = (StatusUpdate("wamid.out1", "failed", None), StatusUpdate("wamid.out2", "read", None))
    expected = correlation_id_for(core.references.rasa_message_id("wamid.out1"))
    assert core._statuses_correlation_id(WebhookUpdate(statuses=statuses)) == expected
    message = TextMessage("wamid.in", "4915550000001", "text", int(time.time()), "1", phone="4915550000001", body="x")
    assert core._statuses_correlation_id(WebhookUpdate(messages=(message,), statuses=statuses)) is None
    assert core._statuses_correlation_id(WebhookUpdate()) is None
