"""Webhook payload builders, the signing/redelivering sender, and the terminal chat end to end."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import sys

import pytest
from aiohttp import web

from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from harness import meta_payloads as mp
from harness.chat_display import describe
from harness.webhook_sender import SIGNATURE_HEADER, WebhookSender, encode_payload, sign
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, AcceptedMessage
from tests.support.paths import REPO_ROOT

USER = "4915550000001"
SECRET = "test-app-secret"
ROOT = REPO_ROOT


class Receiver:
    """A loopback webhook endpoint that records raw bodies and answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[bytes, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), request.headers.get(SIGNATURE_HEADER, "")))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/webhook"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.runner.cleanup()


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _verify(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# -- payload builders ----------------------------------------------------------------------

BUILDERS = {
    "text": lambda: mp.text(USER, "Hallo"),
    "interactive": lambda: mp.button_reply(USER, "more", "Mehr", reply_to="wamid.OUT1"),
    "list_reply": lambda: mp.list_reply(USER, "job_1", "Koch", "Berlin", reply_to="wamid.OUT2"),
    "button": lambda: mp.template_button(USER, "STOP", "Abmelden"),
    "location": lambda: mp.location(USER, 52.52, 13.40, name="Alexanderplatz"),
    "image": lambda: mp.image(USER, caption="Zeugnis"),
    "audio": lambda: mp.audio(USER),
    "video": lambda: mp.video(USER),
    "document": lambda: mp.document(USER),
    "sticker": lambda: mp.sticker(USER),
    "contacts": lambda: mp.contacts(USER),
    "reaction": lambda: mp.reaction(USER, "wamid.OUT1"),
    "order": lambda: mp.order(USER),
    "system": lambda: mp.system(USER),
    "unsupported": lambda: mp.unsupported(USER),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_message_type_has_metas_common_fields(name):
    message = BUILDERS[name]()
    assert message["from"] == USER
    assert message["id"].startswith("wamid.FAKE")
    assert message["timestamp"].isdigit()
    assert message["type"] in mp.MESSAGE_TYPES
    if message["type"] == "unsupported":
        assert message["errors"][0]["code"] == 131051
    else:
        assert message[message["type"]]


def test_type_specific_shapes():
    tap = mp.button_reply(USER, "more", "Mehr", reply_to="wamid.OUT1")
    assert tap["interactive"] == {"type": "button_reply", "button_reply": {"id": "more", "title": "Mehr"}}
    assert tap["context"] == {"from": mp.DEFAULT_DISPLAY_PHONE_NUMBER, "id": "wamid.OUT1"}
    row = mp.list_reply(USER, "job_1", "Koch", "Berlin")
    assert row["interactive"]["list_reply"] == {"id": "job_1", "title": "Koch", "description": "Berlin"}
    assert "context" not in row
    assert mp.template_button(USER, "STOP", "Abmelden")["button"] == {"payload": "STOP", "text": "Abmelden"}
    assert mp.location(USER, 52.52, 13.4)["location"] == {"latitude": 52.52, "longitude": 13.4}
    voice = mp.audio(USER)["audio"]
    assert voice["voice"] is True and voice["mime_type"].startswith("audio/ogg")
    assert mp.document(USER)["document"]["filename"].endswith(".pdf")
    assert mp.contacts(USER)["contacts"][0]["phones"][0]["wa_id"] == "4915550000002"
    assert mp.reaction(USER, "wamid.OUT1", "")["reaction"] == {"message_id": "wamid.OUT1", "emoji": ""}
    assert mp.order(USER)["order"]["product_items"][0]["currency"] == "EUR"
    assert mp.system(USER)["system"]["type"] == "user_changed_number"
    assert mp.text(USER, "x", wamid="wamid.FIXED", ts=1700000000)["timestamp"] == "1700000000"


def test_statuses():
    sent = mp.status("wamid.OUT1", USER, "sent")
    assert sent["conversation"]["origin"] == {"type": "service"} and sent["pricing"]["category"] == "service"
    read = mp.status("wamid.OUT1", USER, "read")
    assert set(read) == {"id", "status", "timestamp", "recipient_id"}
    failed = mp.status("wamid.OUT1", USER, "failed")
    assert failed["errors"][0]["code"] == 131047
    custom = mp.status("wamid.OUT1", USER, "failed", errors=[{"code": 131026, "title": "Message undeliverable"}])
    assert custom["errors"] == [{"code": 131026, "title": "Message undeliverable"}]
    with pytest.raises(ValueError):
        mp.status("wamid.OUT1", USER, "seen")


def test_batched_envelope_with_several_entries_changes_messages_and_statuses():
    other = "4915550000003"
    first = mp.change_value(messages=[mp.text(USER, "a"), mp.text(other, "b"), mp.text(USER, "c")])
    second = mp.change_value(statuses=[mp.status("wamid.OUT1", USER, "delivered"), mp.status("wamid.OUT1", USER, "read")])
    body = mp.envelope([mp.entry([mp.change(first), mp.change(second)]), mp.entry([mp.change(mp.change_value(messages=[mp.image(other)]))])])

    assert body["object"] == "whatsapp_business_account"
    assert [len(e["changes"]) for e in body["entry"]] == [2, 1]
    value = body["entry"][0]["changes"][0]["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": mp.DEFAULT_DISPLAY_PHONE_NUMBER, "phone_number_id": mp.DEFAULT_PHONE_NUMBER_ID}
    assert value["contacts"] == [{"profile": {"name": "Testperson"}, "wa_id": USER}, {"profile": {"name": "Testperson"}, "wa_id": other}]
    assert [m["text"]["body"] for m in value["messages"]] == ["a", "b", "c"]
    statuses_value = body["entry"][0]["changes"][1]["value"]
    assert "messages" not in statuses_value and "contacts" not in statuses_value
    assert [s["status"] for s in statuses_value["statuses"]] == ["delivered", "read"]
    assert body["entry"][0]["changes"][0]["field"] == "messages"
    single = mp.payload(mp.text(USER, "x"), statuses=[mp.status("wamid.OUT1", USER, "sent")])
    assert set(single["entry"][0]["changes"][0]["value"]) == {"messaging_product", "metadata", "contacts", "messages", "statuses"}


# -- sender --------------------------------------------------------------------------------

async def test_signature_verifies_over_the_raw_escaped_body():
    payload = mp.payload(mp.text(USER, "Grüße aus Köln"))
    async with Receiver() as receiver, WebhookSender(receiver.url, SECRET) as sender:
        delivery = await sender.send(payload)

    assert (delivery.attempts, delivery.status, delivery.delivered) == (1, 200, True)
    [(body, header)] = receiver.requests
    assert _verify(body, header)
    assert header == sign(SECRET, body) == sign(SECRET.encode(), body)
    assert b"Gr\\u00fc\\u00dfe" in body and b" " not in body.split(b'"body":')[0]
    assert json.loads(body) == payload
    assert body == encode_payload(payload)
    assert not _verify(body + b" ", header)


async def test_redelivers_on_500_then_succeeds():
    sleeps = SleepRecorder()
    async with Receiver([500, 503]) as receiver, WebhookSender(receiver.url, SECRET, retry_delays=(0.01, 0.02, 0.04), sleep=sleeps) as sender:
        delivery = await sender.send(mp.payload(mp.text(USER, "Hallo")))

    assert (delivery.attempts, delivery.status, delivery.delivered) == (3, 200, True)
    assert delivery.failures == ("HTTP 500", "HTTP 503")
    assert sleeps.delays == [0.01, 0.02]
    bodies = {body for body, _ in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1  # the same notification, redelivered
    assert all(_verify(body, header) for body, header in receiver.requests)


async def test_gives_up_after_the_configured_attempts():
    sleeps = SleepRecorder()
    async with Receiver([500] * 10) as receiver, WebhookSender(receiver.url, SECRET, retry_delays=(0.0, 0.0), sleep=sleeps) as sender:
        delivery = await sender.send(mp.payload(mp.text(USER, "Hallo")))
    assert (delivery.attempts, delivery.status, delivery.delivered) == (3, 500, False)
    assert len(receiver.requests) == 3 and len(sleeps.delays) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_errors_are_redelivered_and_reported():
    sleeps = SleepRecorder()
    url = f"http://127.0.0.1:{_closed_port()}/webhook"
    async with WebhookSender(url, SECRET, retry_delays=(0.0,), sleep=sleeps) as sender:
        delivery = await sender.send(b"{}")
    assert (delivery.attempts, delivery.status, delivery.delivered) == (2, None, False)
    assert delivery.failures == ("ConnectError", "ConnectError")


async def test_forged_signature_is_sent_as_given():
    async with Receiver([403]) as receiver, WebhookSender(receiver.url, SECRET, retry_delays=()) as sender:
        delivery = await sender.send(mp.payload(mp.text(USER, "x")), signature="sha256=" + "0" * 64)
    [(body, header)] = receiver.requests
    assert header == "sha256=" + "0" * 64 and not _verify(body, header)
    assert (delivery.attempts, delivery.status) == (1, 403)


def test_sender_requires_a_secret():
    with pytest.raises(ValueError):
        WebhookSender("http://127.0.0.1:1/webhook", "")


# -- terminal chat -------------------------------------------------------------------------

def test_describe_numbers_buttons_and_rows():
    buttons = AcceptedMessage(
        to=USER,
        wamid="wamid.OUT1",
        received_at=0.0,
        message={"type": "interactive", "interactive": {"type": "button", "body": {"text": "Weiter?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "more", "title": "Mehr"}},
            {"type": "reply", "reply": {"id": "new", "title": "Neue Suche"}},
        ]}}},
    )
    lines, choices = describe(buttons, first_number=3)
    assert lines == ["Weiter?", "  [3] Mehr", "  [4] Neue Suche"]
    assert [(c.kind, c.id, c.title, c.message_wamid) for c in choices] == [
        ("button_reply", "more", "Mehr", "wamid.OUT1"), ("button_reply", "new", "Neue Suche", "wamid.OUT1")
    ]
    listing = AcceptedMessage(
        to=USER,
        wamid="wamid.OUT2",
        received_at=0.0,
        message={"type": "interactive", "interactive": {"type": "list", "body": {"text": "Treffer"}, "action": {"button": "Stellen", "sections": [
            {"title": "Berlin", "rows": [{"id": "job_1", "title": "Koch", "description": "Vollzeit"}]},
        ]}}},
    )
    lines, choices = describe(listing)
    assert lines == ["Treffer", "  (Stellen)", "  Berlin:", "  [1] Koch - Vollzeit"]
    assert choices[0].kind == "list_reply" and choices[0].description == "Vollzeit"


def _free_port() -> int:
    return _closed_port()


class FakeAssistant:
    """Stands in for the Rasa webhook: verifies the signature, answers 200 at once, and replies
    through the Graph API stand-in with GraphClient, like the real channel."""

    def __init__(self, graph_base_url: str) -> None:
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.client = GraphClient(
            GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID, api_base_url=graph_base_url)
        )
        self.tasks: set[asyncio.Task] = set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not _verify(body, request.headers.get(SIGNATURE_HEADER, "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        for entry in json.loads(body)["entry"]:
            for change in entry["changes"]:
                for message in change["value"].get("messages", []):
                    self.received.append(message)
                    task = asyncio.create_task(self.reply(message))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
        return web.Response(status=200)

    async def reply(self, message: dict) -> None:
        to = message["from"]
        kind = message["type"]
        await self.client.mark_read(message["id"])
        if kind == "text" and message["text"]["body"] == "hallo":
            await self.client.send(to, {"type": "text", "text": {"body": "Hallo Testperson!"}})
            await self.client.send(to, {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Was nun?"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "more", "title": "Mehr"}},
                {"type": "reply", "reply": {"id": "new", "title": "Neue Suche"}},
            ]}}})
        elif kind == "text" and message["text"]["body"] == "jobs":
            await self.client.send(to, {"type": "interactive", "interactive": {"type": "list", "body": {"text": "2 Treffer"}, "action": {"button": "Stellen", "sections": [
                {"rows": [{"id": "job_1", "title": "Koch"}, {"id": "job_2", "title": "Bäcker", "description": "Teilzeit"}]},
            ]}}})
        elif kind == "interactive":
            reply = message["interactive"][message["interactive"]["type"]]
            await self.client.send(to, {"type": "text", "text": {"body": f"tap:{reply['id']}:{reply['title']}"}})
        elif kind == "location":
            await self.client.send(to, {"type": "text", "text": {"body": f"loc:{message['location']['latitude']},{message['location']['longitude']}"}})
        elif kind == "image":
            await self.client.send(to, {"type": "text", "text": {"body": "image received"}})
        else:
            await self.client.send(to, {"type": "text", "text": {"body": f"echo:{message[kind]}"}})


async def test_chat_pipes_lines_through_webhook_and_prints_replies():
    graph_port = _free_port()
    assistant = FakeAssistant(f"http://127.0.0.1:{graph_port}")
    app = web.Application()
    app.router.add_post("/webhooks/whatsapp/webhook", assistant.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    webhook_port = runner.addresses[0][1]
    lines = ["hallo", "2", "jobs", "2", "/location 52.52 13.40", "/image", "/quit", "never sent"]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "WHATSAPP_APP_SECRET": SECRET}
    env.pop("WHATSAPP_ACCESS_TOKEN", None)
    env.pop("WHATSAPP_PHONE_NUMBER_ID", None)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harness.chat",
            "--webhook-url", f"http://127.0.0.1:{webhook_port}/webhooks/whatsapp/webhook",
            "--graph-port", str(graph_port), "--wait", "0.4", "--reply-timeout", "10",
            cwd=ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(("\n".join(lines) + "\n").encode()), timeout=90)
    finally:
        await assistant.client.aclose()
        await runner.cleanup()

    output = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert assistant.bad_signatures == 0
    expected_in_order = [
        "you> hallo", "bot> Hallo Testperson!", "bot> Was nun?", "  [1] Mehr", "  [2] Neue Suche",
        "you> 2", "bot> tap:new:Neue Suche",
        "you> jobs", "bot> 2 Treffer", "  [1] Koch", "  [2] Bäcker - Teilzeit",
        "you> 2", "bot> tap:job_2:Bäcker",
        "you> /location 52.52 13.40", "bot> loc:52.52,13.4",
        "you> /image", "bot> image received",
    ]
    position = 0
    for fragment in expected_in_order:
        found = output.find(fragment, position)
        assert found >= 0, f"{fragment!r} missing after position {position} in:\n{output}"
        position = found + len(fragment)
    assert "never sent" not in output
    types = [m["type"] for m in assistant.received]
    assert types == ["text", "interactive", "text", "interactive", "location", "image"]
    button_tap, list_tap = assistant.received[1], assistant.received[3]
    assert button_tap["interactive"]["type"] == "button_reply" and button_tap["context"]["id"].startswith("wamid.FAKE")
    assert list_tap["interactive"]["list_reply"] == {"id": "job_2", "title": "Bäcker", "description": "Teilzeit"}
    assert all(m["from"] == USER for m in assistant.received)
