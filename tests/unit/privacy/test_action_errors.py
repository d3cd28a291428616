"""A failing custom action leaks no dialogue content on either side (issue 16, finding 1).

The action server here is rasa-sdk's real Sanic app (``rasa_sdk.endpoint.create_app``)
served on loopback with a test action that raises; the Rasa side is Rasa's real
``RemoteAction`` calling it, logged the way ``MessageProcessor`` logs a failed action
(``logger.exception``). Every line both sides write is scanned for the conversation's
words, slot values, coordinates and identifiers.
"""
from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sanic import Sanic
from tests.support.sanic_server import serve_sanic, stop_sanic

from privacy.action_errors import (
    GENERIC_ERROR,
    install_action_server_hardening,
    sanitized_error_body,
    strip_rasa_client_error_bodies,
)
from privacy.log_redaction.install import uninstall_redaction
from privacy.log_redaction.sensitive import sensitive_values

pytestmark = pytest.mark.filterwarnings("ignore")

PHONE = "4915550000001"
BSUID = "DE.1000000000000000001"
PARENT_BSUID = "US.ENT.11815799212886844830"
USERNAME = "@erika_test"
JOB = "Bäckermeisterin"
PLACE = "Quedlinburg"
TEXT = f"Ich heiße Erika Mustermann und suche Arbeit als {JOB} in {PLACE}"
LATITUDE, LONGITUDE = 51.789123, 11.147456
PAYLOAD = f'/share_location{{"latitude": {LATITUDE}, "longitude": {LONGITUDE}}}'
FORBIDDEN = (
    PHONE, BSUID, PARENT_BSUID, USERNAME, JOB, PLACE, "Mustermann", "Erika", str(LATITUDE), str(LONGITUDE),
    "51.789", "11.147", "suche Arbeit",
)
ACTION = "action_test_explode"


class ActionTestExplode(Action):
    """A custom action that fails the way real code does: with the user's data in the message."""

    def name(self) -> str:
        return ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any) -> list[dict[str, Any]]:
        raise RuntimeError(f"no jobs for {tracker.get_slot('job_title')} near {tracker.get_slot('location')}")


def action_call() -> dict[str, Any]:
    """The body Rasa posts to the action server (rasa.core.actions.action.RemoteAction)."""
    latest = {
        "text": TEXT,
        "intent": {"name": "inform", "confidence": 0.97},
        "entities": [
            {"entity": "job_title", "value": JOB, "start": 44, "end": 59},
            {"entity": "location", "value": PLACE, "start": 63, "end": 74},
        ],
        "metadata": {"profile_username": USERNAME, "user_id": BSUID},
    }
    return {
        "next_action": ACTION,
        "sender_id": "u_" + "a" * 32,
        "version": "3.6.0",
        "domain": {},
        "tracker": {
            "sender_id": "u_" + "a" * 32,
            "slots": {"job_title": JOB, "location": PLACE, "latitude": LATITUDE, "longitude": LONGITUDE},
            "latest_message": latest,
            "events": [
                {"event": "user", "text": f"meine Nummer ist +{PHONE}", "parse_data": {"entities": []}},
                {"event": "user", "text": PAYLOAD, "parse_data": {"entities": [
                    {"entity": "latitude", "value": LATITUDE}, {"entity": "longitude", "value": LONGITUDE}]}},
                {"event": "slot", "name": "latitude", "value": LATITUDE},
                {"event": "user", "text": TEXT, "parse_data": latest,
                 "metadata": {"parent_user_id": PARENT_BSUID}},
                {"event": "slot", "name": "job_title", "value": JOB},
                {"event": "slot", "name": "location", "value": PLACE},
            ],
            "latest_event_time": 1732225023.5,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything any logger writes, at DEBUG, through a real handler on the root logger."""
    monkeypatch.setenv("BLAUPAUSE_ENV", "local")  # DEBUG is allowed locally only
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        uninstall_redaction()


async def _serve(app: Sanic) -> tuple[Any, str]:
    return await serve_sanic(app)


@pytest.fixture
async def action_server(
    log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, io.StringIO]]:
    """rasa-sdk's app, hardened the way ``actions/__init__.py`` hardens it in the action server."""
    import rasa_sdk.endpoint as endpoint

    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv("BLAUPAUSE_ACTION_SERVER", "1")
    install_action_server_hardening()
    app = endpoint.create_app(__name__)
    app.name = "sdk_" + uuid.uuid4().hex[:8]  # several apps per test session
    server, url = await _serve(app)
    try:
        yield url, log_output
    finally:
        await stop_sanic(server)


def _assert_clean(text: str) -> None:
    for forbidden in FORBIDDEN:
        for form in (forbidden, json.dumps(forbidden)[1:-1]):  # also the JSON-escaped form (B\u00e4cker...)
            assert form not in text, f"{forbidden!r} leaked into: {text[:2000]}"


async def test_action_server_answers_a_failure_without_the_tracker(action_server: tuple[str, io.StringIO]) -> None:
    url, output = action_server
    async with httpx.AsyncClient() as client:
        answer = await client.post(url + "/webhook", json=action_call(), timeout=10)
    assert answer.status_code == 500
    assert answer.json() == {"error": GENERIC_ERROR, "action_name": ACTION}
    _assert_clean(answer.text)
    logged = output.getvalue()
    assert "Exception occurred during execution of request" in logged and "RuntimeError" in logged
    _assert_clean(logged)
    assert sensitive_values() == ()  # the call's registrations ended with its answer


async def test_action_server_success_path_is_unchanged(action_server: tuple[str, io.StringIO]) -> None:
    url, _ = action_server
    async with httpx.AsyncClient() as client:
        health = await client.get(url + "/health", timeout=10)
        listed = await client.get(url + "/actions", timeout=10)
    assert health.json() == {"status": "ok"}
    assert {"name": ACTION} in listed.json()


async def test_rasa_remote_action_failure_logs_no_tracker(action_server: tuple[str, io.StringIO]) -> None:
    """Rasa's RemoteAction against the failing action server; logged like MessageProcessor does."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from privacy.log_redaction.install import install_redaction

    url, output = action_server
    install_redaction()  # what the WhatsApp channel does in the Rasa process
    domain = Domain.load("domain.yml")
    tracker = DialogueStateTracker.from_events(
        "u_" + "b" * 32,
        [
            UserUttered(TEXT, {"name": "inform", "confidence": 0.9},
                        [{"entity": "job_title", "value": JOB}, {"entity": "location", "value": PLACE}]),
            SlotSet("job_title", JOB),
            SlotSet("location", PLACE),
            UserUttered(PAYLOAD, {"name": "share_location", "confidence": 1.0}),
            SlotSet("latitude", LATITUDE),
            SlotSet("longitude", LONGITUDE),
        ],
        slots=domain.slots,
    )
    action = RemoteAction(ACTION, EndpointConfig(url + "/webhook"))
    with pytest.raises(Exception) as info:
        await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain)
    logging.getLogger("rasa.core.processor").exception(
        f"Encountered an exception while running action '{ACTION}'.", exc_info=info.value
    )
    logged = output.getvalue()
    assert "Encountered an exception while running action" in logged
    assert "ClientResponseError" in logged and "500" in logged
    _assert_clean(logged)
    _assert_clean("".join(str(e) for e in (info.value, info.value.__cause__)))


def test_rasa_client_error_drops_the_request_body_even_from_an_unpatched_action_server() -> None:
    from rasa.utils.endpoints import ClientResponseError

    assert strip_rasa_client_error_bodies() is True
    body = json.dumps({"error": f"no jobs for {JOB}", "request_body": action_call()}).encode()
    error = ClientResponseError(500, "Internal Server Error", body)
    _assert_clean(str(error))
    assert "request_body" not in str(error) and "slots" not in str(error)
    assert json.loads(error.text) == {"error": "[redacted]"}
    assert json.loads(ClientResponseError(502, "Bad Gateway", json.dumps({"error": GENERIC_ERROR})).text) == {
        "error": GENERIC_ERROR
    }
    rejection = json.dumps({"error": "slot missing", "action_name": ACTION})
    assert ClientResponseError(400, "Bad Request", rejection).text == rejection  # Rasa parses 400 bodies


@pytest.mark.parametrize("body", [b"not json", b"", "<html>500</html>", json.dumps([1, 2]).encode()])
def test_sanitized_error_body_handles_anything(body: Any) -> None:
    assert json.loads(sanitized_error_body(body)) == {"error": "[body removed]"}


async def test_optional_shared_secret_guards_the_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa_sdk.endpoint as endpoint

    from privacy.action_errors import TOKEN_HEADER, require_shared_secret

    monkeypatch.setattr(Sanic, "test_mode", True)
    token = "t" * 16 + "0123456789abcdef"
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        require_shared_secret(Sanic("short_" + uuid.uuid4().hex[:8]), "short")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", token)
    install_action_server_hardening()  # wraps create_app (idempotent)
    app = endpoint.create_app(__name__)
    app.name = "sdk_" + uuid.uuid4().hex[:8]
    server, url = await _serve(app)
    try:
        async with httpx.AsyncClient() as client:
            without = await client.post(url + "/webhook", json=action_call(), timeout=10)
            wrong = await client.post(url + "/webhook", json=action_call(), headers={TOKEN_HEADER: "x" * 32}, timeout=10)
            right = await client.post(url + "/webhook", json=action_call(), headers={TOKEN_HEADER: token}, timeout=10)
            health = await client.get(url + "/health", timeout=10)
    finally:
        await stop_sanic(server)
        uninstall_redaction()
    assert without.status_code == wrong.status_code == 401
    assert right.status_code == 500 and right.json()["error"] == GENERIC_ERROR  # reached the (failing) action
    assert health.status_code == 200
