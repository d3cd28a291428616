"""The terminal chat plays username-era users: BSUID only, a number that disappears mid-
conversation (/drop-number), a changed BSUID (/change-id), and it shows replies that come via
``recipient``. In process: the Graph stand-in, the chat session and a tiny assistant that
answers like the real channel (``to`` when the webhook carried a number, else ``recipient``)."""
from __future__ import annotations

import asyncio
import io
import json

import pytest
from aiohttp import web

from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.recipient import Recipient
from harness import meta_payloads as mp
from harness.chat import fake_user_id, main, user_from_args
from harness.chat_session import ChatSession
from harness.webhook_sender import WebhookSender
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID

SECRET = "chat-identity-test-secret"
PHONE = "4915550000001"
BSUID = "DE.1000000000000000001"
NEW_BSUID = "DE.1000000000000000002"
USERNAME = "@erika_test"


class Assistant:
    """Answers every user message with one text, addressed like the real channel; system
    messages get no reply."""

    def __init__(self, graph_base_url: str) -> None:
        self.values: list[dict] = []
        self.client = GraphClient(
            GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID, api_base_url=graph_base_url),
            retry=RetryPolicy(max_attempts=1),
        )

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        for entry in body["entry"]:
            for change in entry["changes"]:
                value = change["value"]
                self.values.append(value)
                for message in value.get("messages", []):
                    if message["type"] in ("system",):
                        continue
                    recipient = Recipient.for_message(message.get("from"), message.get("from_user_id"))
                    text = message.get("text", {}).get("body", message["type"])
                    await self.client.send(recipient, {"type": "text", "text": {"body": f"echo:{text}"}})
        return web.Response(status=200)


@pytest.fixture
async def chat(standin):
    assistant = Assistant(standin.base_url)
    app = web.Application()
    app.router.add_post("/webhook", assistant.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    sessions: list[ChatSession] = []

    async def start(user: mp.WhatsAppUser, **kwargs) -> tuple[ChatSession, io.StringIO]:
        out = io.StringIO()
        sender = WebhookSender(url, SECRET, retry_delays=())
        session = ChatSession(standin, sender, user=user, out=out, wait=0.2, reply_timeout=5.0, **kwargs)
        await session.__aenter__()
        sessions.append(session)
        return session, out

    yield start, assistant
    for session in sessions:
        await session.__aexit__(None, None, None)
        await session.sender.aclose()
    await assistant.client.aclose()
    await runner.cleanup()


async def test_bsuid_only_user_is_answered_via_recipient_and_sees_the_reply(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(user_id=BSUID, username=USERNAME))

    await session.handle_line("Hallo")

    [value] = assistant.values
    [message] = value["messages"]
    assert "from" not in message and message["from_user_id"] == BSUID
    assert value["contacts"][0]["profile"]["username"] == USERNAME and "wa_id" not in value["contacts"][0]
    [reply] = standin.messages
    assert (reply.address_field, reply.recipient) == ("recipient", BSUID)
    assert "bot> echo:Hallo" in out.getvalue()


async def test_drop_number_then_replies_come_via_recipient(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(phone=PHONE, user_id=BSUID))

    await session.handle_line("eins")
    await session.handle_line("/drop-number")
    await session.handle_line("zwei")

    first, second = (v["messages"][0] for v in assistant.values)
    assert (first["from"], first["from_user_id"]) == (PHONE, BSUID)
    assert "from" not in second and second["from_user_id"] == BSUID
    assert [(m.address_field, m.address) for m in standin.messages] == [("to", PHONE), ("recipient", BSUID)]
    text = out.getvalue()
    assert text.index("bot> echo:eins") < text.index("no longer shares your number") < text.index("bot> echo:zwei")
    assert "(!)" not in text
    assert session.wa_id is None


async def test_a_reply_to_the_dropped_number_is_flagged(chat, standin):
    """An assistant that still answers ``to`` the number after the webhooks stopped carrying it
    must have kept the number somewhere: the chat says so."""
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(phone=PHONE, user_id=BSUID))
    await session.handle_line("/drop-number")

    async def reply_to_the_old_number(request: web.Request) -> web.Response:
        await assistant.client.send(PHONE, {"type": "text", "text": {"body": "kept your number"}})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhook", reply_to_the_old_number)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        session.sender.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
        await session.handle_line("noch da?")
    finally:
        await runner.cleanup()

    assert "bot> kept your number" in out.getvalue()
    assert "(!) addressed to your phone number" in out.getvalue()


async def test_change_id_sends_the_system_message_and_continues_with_the_new_id(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(user_id=BSUID))

    await session.handle_line("vorher")
    await session.handle_line(f"/change-id {NEW_BSUID}")
    await session.handle_line("nachher")

    before, system, after = assistant.values
    assert "contacts" not in system
    [change] = system["messages"]
    assert change["type"] == "system" and change["from_user_id"] == NEW_BSUID
    assert (change["system"]["type"], change["system"]["previous_user_id"], change["system"]["user_id"]) == (
        "user_changed_user_id", BSUID, NEW_BSUID,
    )
    assert after["messages"][0]["from_user_id"] == NEW_BSUID
    assert [m.recipient for m in standin.messages] == [BSUID, NEW_BSUID]
    assert "bot> echo:nachher" in out.getvalue()
    assert session.user.user_id == NEW_BSUID


async def test_bad_identity_commands_send_nothing(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(phone=PHONE))

    await session.handle_line("/drop-number")
    await session.handle_line("/change-id DE.1000000000000000009")
    session_with_id, out_with_id = await start(mp.WhatsAppUser(user_id=BSUID))
    await session_with_id.handle_line("/change-id 4915550000009")
    await session_with_id.handle_line("/change-id")

    assert assistant.values == [] and standin.messages == ()
    assert out.getvalue().count("no BSUID") == 2
    assert out_with_id.getvalue().count("usage: /change-id") == 2


async def test_whoami_and_replies_to_someone_else_are_not_shown(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(phone=PHONE, user_id=BSUID, username=USERNAME))
    await session.handle_line("/whoami")
    await assistant.client.send(NEW_BSUID, {"type": "text", "text": {"body": "not for you"}})
    await asyncio.sleep(0.2)

    text = out.getvalue()
    assert f"number {PHONE}" in text and f"BSUID {BSUID}" in text and USERNAME in text
    assert "not for you" not in text


@pytest.mark.parametrize(
    ("argv", "phone", "user_id", "username"),
    [
        ([], "4915550000001", fake_user_id("4915550000001"), None),
        (["--phone-only"], "4915550000001", None, None),
        (["--user-id", BSUID, "--username", USERNAME], None, BSUID, USERNAME),
        (["--wa-id", "4915550000002", "--user-id", BSUID], "4915550000002", BSUID, None),
        (["--no-number"], None, fake_user_id("4915550000001"), None),
    ],
)
def test_command_line_identities(monkeypatch, argv, phone, user_id, username):
    import harness.chat as chat_module

    seen: dict = {}

    def fake_run(args, *rest):
        seen["user"] = user_from_args(args)

    monkeypatch.setattr(chat_module, "run", fake_run)
    monkeypatch.setattr(chat_module.asyncio, "run", lambda _: None)
    main(["--app-secret", SECRET, *argv])
    user = seen["user"]
    assert (user.phone, user.user_id, user.username) == (phone, user_id, username)


def test_fake_user_ids_are_stable_fake_and_do_not_embed_the_number():
    value = fake_user_id(PHONE)
    assert value == fake_user_id(PHONE) != fake_user_id("4915550000002")
    assert value.startswith("DE.1") and value[3:].isdigit() and len(value) == 22
    assert PHONE[2:] not in value


async def test_statuses_for_a_bsuid_only_user_carry_recipient_user_id(chat, standin):
    start, assistant = chat
    session, out = await start(mp.WhatsAppUser(user_id=BSUID), send_statuses=True)

    await session.handle_line("Hallo")
    await session.__aexit__(None, None, None)  # waits for the status webhooks in flight
    session._background.clear()

    statuses = [status for value in assistant.values for status in value.get("statuses", [])]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(s["recipient_user_id"] == BSUID and "recipient_id" not in s for s in statuses)
    assert {s["id"] for s in statuses} == {standin.messages[0].wamid}
