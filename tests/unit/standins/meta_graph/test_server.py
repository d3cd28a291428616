"""The Meta Graph stand-in: Meta's shapes, limit checks via limits.py, recording, fault injection."""
from __future__ import annotations

import asyncio
import os
import random
import socket
import sys

import httpx
import pytest

from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from standins.meta_graph import RANDOM_FAULT_KINDS, Fault, MetaGraphStandIn
from tests.support.paths import REPO_ROOT

USER = "4915550000001"
ROOT = REPO_ROOT


def _url(standin: MetaGraphStandIn) -> str:
    return f"/v21.0/{standin.phone_number_id}/messages"


def _envelope(message: dict) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": USER, **message}


def _assert_meta_error(response: httpx.Response, status: int, code: int) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert error["fbtrace_id"].startswith("A")
    return error


async def test_accepts_a_text_and_answers_like_meta(standin, http):
    response = await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "Hallo"}}))

    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": USER, "wa_id": USER}]
    [message] = body["messages"]
    assert message["id"].startswith("wamid.FAKE")
    [accepted] = standin.messages
    assert (accepted.to, accepted.wamid, accepted.message["text"]) == (USER, message["id"], {"body": "Hallo"})


async def test_wrong_or_missing_token_is_401_oauth_190(standin):
    async with httpx.AsyncClient(base_url=standin.base_url) as client:
        wrong = await client.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "x"}}), headers={"Authorization": "Bearer nope"})
        missing = await client.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "x"}}))
    assert _assert_meta_error(wrong, 401, 190)["type"] == "OAuthException"
    _assert_meta_error(missing, 401, 190)
    assert standin.messages == ()


async def test_unknown_phone_number_id_is_rejected(standin, http):
    response = await http.post("/v21.0/999999/messages", json=_envelope({"type": "text", "text": {"body": "x"}}))
    error = _assert_meta_error(response, 400, 100)
    assert error["error_subcode"] == 33


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": USER, "type": "text", "text": {"body": "x"}}, 100),  # no messaging_product
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 100),  # no to
        ({"messaging_product": "whatsapp", "to": USER, "text": {"body": "x"}}, 131008),  # no type
        ({"messaging_product": "whatsapp", "to": USER, "type": "text"}, 131008),  # no text object
        ({"messaging_product": "whatsapp", "to": USER, "type": "fax", "fax": {}}, 100),
    ],
    ids=["messaging_product", "to", "type", "type-object", "unknown-type"],
)
async def test_required_fields(standin, http, body, code):
    _assert_meta_error(await http.post(_url(standin), json=body), 400, code)
    assert standin.messages == ()


def _buttons(*titles: str) -> dict:
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Wie weiter?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": f"b{i}", "title": t}} for i, t in enumerate(titles)]},
        },
    }


def _list(rows: int, title: str = "Koch/Köchin") -> dict:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Treffer"},
            "action": {"button": "Stellen", "sections": [{"rows": [{"id": f"job_{i}", "title": title} for i in range(rows)]}]},
        },
    }


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ({"type": "text", "text": {"body": "x" * 4097}}, "text.body"),
        (_buttons("Eins", "Zwei", "Drei", "Vier"), "buttons"),
        (_buttons("Das ist ein sehr langer Titel"), "title"),
        (_list(11), "rows"),
        (_list(1, title="Ein Stellentitel mit mehr als 24 Zeichen"), "title"),
    ],
    ids=["text-4097", "four-buttons", "button-title-21+", "eleven-rows", "row-title-25+"],
)
async def test_over_limit_messages_are_rejected_with_131009(standin, http, message, fragment):
    error = _assert_meta_error(await http.post(_url(standin), json=_envelope(message)), 400, 131009)
    assert error["message"] == "Parameter value is not valid"
    assert fragment in error["error_data"]["details"]
    assert standin.messages == ()


async def test_messages_at_the_limits_are_accepted(standin, http):
    for message in (
        {"type": "text", "text": {"body": "x" * 4096}},
        _buttons("Eins", "Zwei", "x" * 20),
        _list(10, title="y" * 24),
    ):
        response = await http.post(_url(standin), json=_envelope(message))
        assert response.status_code == 200, response.text
    assert len(standin.messages) == 3


async def test_mark_as_read_and_typing_are_recorded_separately(standin, http):
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    assert (await http.post(_url(standin), json=read)).json() == {"success": True}
    typing = {**read, "message_id": "wamid.IN2", "typing_indicator": {"type": "text"}}
    assert (await http.post(_url(standin), json=typing)).json() == {"success": True}
    bad = {**read, "typing_indicator": {"type": "voice"}}
    _assert_meta_error(await http.post(_url(standin), json=bad), 400, 131009)

    assert [(r.message_id, r.typing) for r in standin.reads] == [("wamid.IN1", False), ("wamid.IN2", True)]
    assert standin.messages == ()


async def test_fault_and_message_control_endpoints(standin, http):
    text = _envelope({"type": "text", "text": {"body": "x"}})
    queued = await http.post("/_standin/faults", json={"count": 2, "status": 429, "code": 130429})
    assert queued.json() == {"queued": 2}

    first, second, third = [await http.post(_url(standin), json=text) for _ in range(3)]
    _assert_meta_error(first, 429, 130429)
    _assert_meta_error(second, 429, 130429)
    assert third.status_code == 200

    assert [f.code for f in standin.served_faults] == [130429, 130429]
    faults = (await http.get("/_standin/faults")).json()
    assert faults["queued"] == 0 and [(f["status"], f["code"]) for f in faults["served"]] == [(429, 130429)] * 2
    listing = (await http.get("/_standin/messages")).json()
    assert [m["wamid"] for m in listing["messages"]] == [third.json()["messages"][0]["id"]]
    assert listing["messages"][0]["to"] == USER
    assert listing["reads"] == []

    await http.post("/_standin/faults", json={"count": 1, "status": 500, "code": 131000})
    assert (await http.delete("/_standin/faults")).json() == {"queued": 0}
    assert (await http.post(_url(standin), json=text)).status_code == 200

    assert (await http.delete("/_standin/messages")).status_code == 200
    assert (await http.get("/_standin/messages")).json() == {"messages": [], "reads": []}

    assert (await http.post("/_standin/faults", json={"count": "many"})).status_code == 400


async def test_timeout_fault_holds_the_request_and_records_nothing(standin, http):
    await http.post("/_standin/faults", json={"timeout": 2.0})
    with pytest.raises(httpx.ReadTimeout):
        await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "x"}}), timeout=0.2)
    assert standin.messages == ()
    # The held request does not block the next one.
    assert (await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "y"}}))).status_code == 200


async def _fault_sequence(seed: int) -> list[int]:
    async with MetaGraphStandIn() as server:
        server.set_random_faults(0.2, seed=seed, kinds=["429", "130429", "131056", "500"])
        headers = {"Authorization": f"Bearer {server.access_token}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            body = _envelope({"type": "text", "text": {"body": "x"}})
            return [(await client.post(_url(server), json=body)).status_code for _ in range(200)]


async def test_random_faults_are_seeded_and_near_the_probability():
    first = await _fault_sequence(7)
    assert first == await _fault_sequence(7)
    failures = [s for s in first if s != 200]
    assert 20 <= len(failures) <= 65  # 20 % of 200 = 40
    assert set(failures) <= {400, 429, 500} and len(set(failures)) >= 2


async def test_random_fault_http_control(standin, http):
    assert (await http.post("/_standin/faults/random", json={"probability": 1.0, "seed": 1, "kinds": ["500"]})).status_code == 200
    _assert_meta_error(await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "x"}})), 500, 131000)
    assert (await http.delete("/_standin/faults/random")).json() == {"probability": 0.0}
    assert (await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": "x"}}))).status_code == 200
    assert (await http.post("/_standin/faults/random", json={"probability": 2})).status_code == 400
    assert (await http.post("/_standin/faults/random", json={"probability": 0.5, "kinds": ["meteor"]})).status_code == 400


async def test_client_survives_twenty_percent_random_faults(standin):
    """Reliability: every kind of random fault, timeouts included, is absorbed by the retries."""
    standin.set_random_faults(0.2, seed=11, timeout=0.5)
    assert set(RANDOM_FAULT_KINDS) == {"429", "130429", "131056", "500", "timeout"}
    settings = GraphSettings(access_token=standin.access_token, phone_number_id=standin.phone_number_id, api_base_url=standin.base_url, timeout=0.2)
    async with GraphClient(settings, retry=RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.005), rng=random.Random(2)) as client:
        wamids = [await client.send(USER, {"type": "text", "text": {"body": f"Nachricht {i}"}}) for i in range(60)]

    assert [m.wamid for m in standin.messages] == wamids
    assert [m.message["text"]["body"] for m in standin.messages] == [f"Nachricht {i}" for i in range(60)]
    served = standin.served_faults
    assert len(served) >= 6
    assert any(f.timeout is not None for f in served) and any(f.code == 131056 for f in served)


async def test_wait_for_messages(standin, http):
    waiter = asyncio.create_task(standin.wait_for_messages(2, timeout=3))
    for body in ("a", "b"):
        await http.post(_url(standin), json=_envelope({"type": "text", "text": {"body": body}}))
    assert [m.message["text"]["body"] for m in await waiter] == ["a", "b"]
    with pytest.raises(asyncio.TimeoutError):
        await standin.wait_for_messages(3, timeout=0.1)


async def test_python_fault_api_validates():
    server = MetaGraphStandIn()
    with pytest.raises(ValueError):
        server.inject_faults(Fault(), count=-1)
    with pytest.raises(ValueError):
        server.set_random_faults(1.5)
    with pytest.raises(RuntimeError):
        server.base_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_runs_as_a_module():
    port = _free_port()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "WHATSAPP_ACCESS_TOKEN": "cli-token"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "standins.meta_graph", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer cli-token"}) as client:
            response = await client.post("/v21.0/100000000000001/messages", json=_envelope({"type": "text", "text": {"body": "x"}}))
        assert response.status_code == 200
    finally:
        process.terminate()
        await process.wait()
