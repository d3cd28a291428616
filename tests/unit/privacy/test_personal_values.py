"""The request's profile name and username reach the LLM masked, and are stored nowhere.

Issue 16, finding 8: a user who writes their own name ("Erika Testfrau hier, ...") gave it to
the LLM verbatim, although the webhook had just told us that name. privacy/personal_values.py
carries the values beside the tracker (never in it) from the Rasa process to the action
server for one call. These tests drive the real pieces: Rasa's ``RemoteAction`` calling
rasa-sdk's real app with our actions package, the LLM fallback calling the OpenAI-compatible
stand-in, which records what it received.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sanic import Sanic

from tests.support.sanic_server import serve_sanic, stop_sanic
from privacy.action_errors import install_action_server_hardening
from privacy.personal_values import (
    HEADER,
    decode_header,
    encode_header,
    personal_values,
    personal_values_scope,
    remember_personal_values,
    send_personal_values_with_action_calls,
)
from standins.llm import LLMStandin

API_KEY = "test-key-not-secret"
PROFILE_NAME = "Erika Testfrau"
USERNAME = "@erika_beispiel"
TEXT = "Erika Testfrau hier, auch erika_beispiel genannt: was gehört in einen Lebenslauf?"


def test_values_round_trip_and_malformed_headers_give_nothing() -> None:
    header = encode_header([PROFILE_NAME, USERNAME, " ", "x", None])  # type: ignore[list-item]
    assert header is not None and PROFILE_NAME not in header
    assert decode_header(header) == (PROFILE_NAME, USERNAME)
    assert encode_header([]) is None
    for bad in (None, "", "%%%", "bm90IGpzb24", encode_header(["ok"])[:-2] + "!!", "A" * 5000):  # type: ignore[index]
        assert decode_header(bad) == ()


async def test_the_scope_keeps_values_to_the_request() -> None:
    assert personal_values() == ()
    with personal_values_scope():
        remember_personal_values(PROFILE_NAME, None, USERNAME, PROFILE_NAME)
        assert personal_values() == (PROFILE_NAME, USERNAME)
    assert personal_values() == ()


@pytest.fixture
def llm() -> Iterator[LLMStandin]:
    with LLMStandin(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def action_server(llm: LLMStandin, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """rasa-sdk's real app with the assistant's actions, hardened as in the action server."""
    import rasa_sdk.endpoint as endpoint

    monkeypatch.setattr(Sanic, "test_mode", True)
    for name, value in {"LLM_BASE_URL": llm.base_url, "LLM_MODEL": "m", "LLM_API_KEY": API_KEY}.items():
        monkeypatch.setenv(name, value)
    install_action_server_hardening()
    app = endpoint.create_app("actions")
    app.name = "sdk_" + uuid.uuid4().hex[:8]
    server, url = await serve_sanic(app)
    try:
        yield url + "/webhook"
    finally:
        await stop_sanic(server)


async def _run_fallback(url: str) -> Any:
    """Rasa's RemoteAction for ``action_llm_fallback`` with a tracker holding ``TEXT``."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    domain = Domain.load("domain.yml")
    tracker = DialogueStateTracker.from_events(
        "u_" + "c" * 32, [UserUttered(TEXT, {"name": "out_of_scope", "confidence": 0.9})], slots=domain.slots
    )
    action = RemoteAction("action_llm_fallback", EndpointConfig(url))
    return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain)


def _sent_to_llm(llm: LLMStandin) -> tuple[str, str]:
    request = llm.requests[-1]
    return request.raw.decode("utf-8"), request.body["messages"][1]["content"]


async def test_the_profile_name_and_username_reach_the_llm_masked(llm: LLMStandin, action_server: str) -> None:
    assert send_personal_values_with_action_calls()
    with personal_values_scope():
        remember_personal_values(PROFILE_NAME, USERNAME)  # what the channel does per message
        await _run_fallback(action_server)
    raw, content = _sent_to_llm(llm)
    for value in ("Erika", "Testfrau", "erika_beispiel"):
        assert value not in raw and json.dumps(value)[1:-1] not in raw, content
    assert "was gehört in einen Lebenslauf?" in content


async def test_without_the_values_the_name_would_reach_the_llm(llm: LLMStandin, action_server: str) -> None:
    """The control: the generic redaction alone does not know this name, so the test above can fail."""
    send_personal_values_with_action_calls()
    await _run_fallback(action_server)  # no scope: nothing is known about the user
    _, content = _sent_to_llm(llm)
    assert "Testfrau" in content


async def test_the_header_goes_only_to_action_calls_and_not_into_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.endpoints import EndpointConfig

    seen: list[dict[str, Any]] = []

    async def fake_request(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    monkeypatch.setattr(EndpointConfig, "request", fake_request)
    send_personal_values_with_action_calls()
    endpoint = EndpointConfig("http://127.0.0.1:9/webhook")
    body = {"next_action": "action_llm_fallback", "tracker": {"events": []}}
    with personal_values_scope():
        remember_personal_values(PROFILE_NAME)
        await endpoint.request(json=body, method="post")
        await endpoint.request(json={"text": "not an action call"}, method="post")
    await endpoint.request(json=body, method="post")  # outside the scope: nothing to send
    assert decode_header(seen[0]["headers"][HEADER]) == (PROFILE_NAME,)
    assert HEADER not in (seen[1].get("headers") or {}) and HEADER not in (seen[2].get("headers") or {})
    assert PROFILE_NAME not in json.dumps(body)


async def test_the_channel_knows_the_profile_name_and_username_only_during_the_turn() -> None:
    """The webhook core remembers the contact's profile name and username for the dialogue
    call of that person's message (what Rasa's action calls then carry), and nothing after."""
    from connectors.whatsapp.output import WhatsAppOutput
    from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
    from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
    from connectors.whatsapp.core import DeliveryOptions, WebhookCore
    from privacy.keyring import Keyring, Secret
    from tests.unit.connectors.whatsapp.test_identities import message, payload, settings, signed

    class Graph:
        async def send(self, recipient: Any, reply: Any) -> str:
            return "wamid.sent"

        async def mark_read(self, message_id: str, typing: bool = True) -> None:
            return None

    seen: list[tuple[str, ...]] = []

    async def dialogue(user_message: Any) -> None:
        seen.append(personal_values())
        await user_message.output_channel.send_response(user_message.sender_id, {"text": "ok"})

    core = WebhookCore(
        settings=settings(), store=InMemoryDedupStore(), graph=Graph(), keyring=Keyring(current=Secret.generate()),
        id_map=InMemoryPayloadIdMap(), output_factory=WhatsAppOutput, options=DeliveryOptions(duplicate_wait_seconds=0.0),
    )
    first = message("Hallo", user_id="DE.1000000000000000901", username="@erika_beispiel")
    other = message("Hi", phone="4915550000902", username=None)
    other[1]["profile"]["name"] = "Jürgen Prüfmann"  # type: ignore[index]
    assert (await core.receive(*signed(payload(first, other)), dialogue)).status == 200
    await core.drain()
    assert sorted(seen) == sorted([("Erika Mustermann", "@erika_beispiel"), ("Jürgen Prüfmann",)])
    assert personal_values() == ()
