"""The Meta Graph stand-in's addressing: ``to`` for phone numbers, ``recipient`` for BSUIDs.

Meta's Messages API takes a business-scoped user id (BSUID) or parent BSUID only in
``recipient``; ``to`` is for phone numbers and wins if both are present; a message that needs a
phone number answers 131062 when sent to a BSUID; the send response's ``contacts[]`` holds
``input`` + ``wa_id`` for phone sends and ``input`` + ``user_id`` for BSUID sends
(https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids).
"""
from __future__ import annotations

import httpx
import pytest

from standins.meta_graph import MetaGraphStandIn
from tests.support.paths import REPO_ROOT

USER = "4915550000001"
BSUID = "DE.1000000000000000001"
OTHER_BSUID = "DE.1000000000000000002"
PARENT_BSUID = "DE.ENT.2000000000000000001"
TEXT = {"type": "text", "text": {"body": "Hallo"}}


def _url(standin: MetaGraphStandIn) -> str:
    return f"/v21.0/{standin.phone_number_id}/messages"


def _body(**address: str) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", **address, **TEXT}


def _meta_error(response: httpx.Response, status: int, code: int) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (code, "OAuthException")
    assert error["message"] and error["fbtrace_id"].startswith("A")
    return error


@pytest.mark.parametrize("bsuid", [BSUID, PARENT_BSUID])
async def test_recipient_send_is_answered_with_user_id_contact(standin, http, bsuid):
    response = await http.post(_url(standin), json=_body(recipient=bsuid))

    assert response.status_code == 200
    body = response.json()
    assert body["contacts"] == [{"input": bsuid, "user_id": bsuid}]
    [accepted] = standin.messages
    assert (accepted.to, accepted.recipient, accepted.address_field, accepted.address) == (None, bsuid, "recipient", bsuid)
    assert accepted.wamid == body["messages"][0]["id"]


async def test_phone_send_is_answered_with_wa_id_contact(standin, http):
    response = await http.post(_url(standin), json=_body(to="+" + USER))

    assert response.json()["contacts"] == [{"input": "+" + USER, "wa_id": USER}]
    [accepted] = standin.messages
    assert (accepted.to, accepted.recipient, accepted.address_field) == ("+" + USER, None, "to")


@pytest.mark.parametrize("bsuid", [BSUID, PARENT_BSUID])
async def test_bsuid_in_to_is_rejected_like_meta(standin, http, bsuid):
    response = await http.post(_url(standin), json=_body(to=bsuid))

    error = _meta_error(response, 400, 100)
    assert "recipient" in error["error_data"]["details"]
    assert standin.messages == ()


async def test_phone_number_in_recipient_is_rejected(standin, http):
    _meta_error(await http.post(_url(standin), json=_body(recipient=USER)), 400, 100)
    _meta_error(await http.post(_url(standin), json=_body(recipient="")), 400, 100)
    _meta_error(await http.post(_url(standin), json=_body()), 400, 100)
    assert standin.messages == ()


async def test_to_wins_when_both_are_present(standin, http):
    response = await http.post(_url(standin), json=_body(to=USER, recipient=BSUID))

    assert response.json()["contacts"] == [{"input": USER, "wa_id": USER}]
    [accepted] = standin.messages
    assert (accepted.to, accepted.recipient) == (USER, None)


async def test_131062_for_chosen_bsuids_only(standin, http):
    standin.reject_bsuid_recipients([BSUID])

    _meta_error(await http.post(_url(standin), json=_body(recipient=BSUID)), 400, 131062)
    assert (await http.post(_url(standin), json=_body(recipient=OTHER_BSUID))).status_code == 200
    assert (await http.post(_url(standin), json=_body(to=USER))).status_code == 200
    assert [m.address for m in standin.messages] == [OTHER_BSUID, USER]

    standin.accept_bsuid_recipients()
    assert (await http.post(_url(standin), json=_body(recipient=BSUID))).status_code == 200


async def test_131062_for_all_bsuid_sends_via_control_endpoint(standin, http):
    assert (await http.post("/_standin/bsuid-unsupported")).json() == {"bsuid_unsupported": "all"}
    for bsuid in (BSUID, PARENT_BSUID):
        error = _meta_error(await http.post(_url(standin), json=_body(recipient=bsuid)), 400, 131062)
        assert "131062" in error["message"]
    assert (await http.post(_url(standin), json=_body(to=USER))).status_code == 200

    chosen = await http.post("/_standin/bsuid-unsupported", json={"recipients": [OTHER_BSUID]})
    assert chosen.json() == {"bsuid_unsupported": [OTHER_BSUID]}
    assert (await http.post(_url(standin), json=_body(recipient=BSUID))).status_code == 200
    assert (await http.post("/_standin/bsuid-unsupported", json={"recipients": "all"})).status_code == 400

    assert (await http.delete("/_standin/bsuid-unsupported")).status_code == 200
    assert (await http.post(_url(standin), json=_body(recipient=OTHER_BSUID))).status_code == 200


async def test_listing_shows_which_field_addressed_each_message(standin, http):
    await http.post(_url(standin), json=_body(to=USER))
    await http.post(_url(standin), json=_body(recipient=BSUID))

    listing = (await http.get("/_standin/messages")).json()["messages"]
    assert [(m["to"], m["recipient"], m["address_field"]) for m in listing] == [
        (USER, None, "to"),
        (None, BSUID, "recipient"),
    ]


async def test_limits_still_apply_to_recipient_sends(standin, http):
    body = {**_body(recipient=BSUID), "text": {"body": "x" * 5000}}
    _meta_error(await http.post(_url(standin), json=body), 400, 131009)
    assert standin.messages == ()


async def test_module_flag_answers_131062_to_every_bsuid_send():
    import asyncio
    import os
    import socket
    import sys
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WHATSAPP_ACCESS_TOKEN": "cli-token"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "standins.meta_graph", "--port", str(port), "--bsuid-unsupported",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer cli-token"}) as client:
            refused = await client.post("/v21.0/100000000000001/messages", json=_body(recipient=BSUID))
            accepted = await client.post("/v21.0/100000000000001/messages", json=_body(to=USER))
        _meta_error(refused, 400, 131062)
        assert accepted.status_code == 200
    finally:
        process.terminate()
        await process.wait()
