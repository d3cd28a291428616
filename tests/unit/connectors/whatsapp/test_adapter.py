"""The channel through real HTTP on loopback: Rasa's own ``register`` mounts WhatsAppInput on a running
Sanic app, Meta-shaped webhooks come from the stand-in's signed sender (with Meta-like redelivery),
replies go to the Meta Graph stand-in. The dialogue is a fake agent answering via the output channel.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.sanic_server import serve_sanic, stop_sanic
from rasa.core.channels.channel import UserMessage, register
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import class_from_module_path
from sanic import Sanic

from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp.settings import SettingsError
from connectors.whatsapp.voice import VoiceNotes
from privacy.context import keys_for_user, user_context
from privacy.identity import pseudonym
from privacy.keyring import Keyring
from privacy.log_redaction.install import uninstall_redaction
from privacy.store.encrypted import EncryptedTrackerStore
from harness import meta_payloads
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, Fault, MetaGraphStandIn
from harness.webhook_sender import WebhookSender, sign

WA_ID = "4915550000001"
PROFILE_NAME = "Erika Mustermann"
APP_SECRET = "http-test-app-secret"
VERIFY_TOKEN = "http-verify-token"
PRIVACY_KEY = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a"  # fixed, random-looking
MAX_BODY = 8 * 1024
LANGUAGE_DOMAIN = Domain.from_dict(
    {"version": "3.1", "slots": {"language": {"type": "text", "mappings": [{"type": "custom"}]}}}
)


class FakeAgent:
    """Stands in for rasa's Agent: ``register`` calls ``app.ctx.agent.handle_message``.

    With a ``tracker_store`` it ends each turn like Rasa (unless ``saves`` is off): the
    tracker, with the ``language`` slot set to ``language``, is saved after the replies.
    """

    tracker_store: Any = None

    def __init__(self, delay: float = 0.0, replies: int = 1, buttons: int = 1, language: str = "de") -> None:
        self.received: list[UserMessage] = []
        self.delay = delay
        self.replies = replies
        more = [{"title": f"Neue Suche {n}", "payload": f"/new_search_{n}"} for n in range(2, buttons + 1)]
        self.buttons = [{"title": "Neue Suche", "payload": "/new_search"}, *more]
        self.language = language
        self.saves = True

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await asyncio.sleep(self.delay)
        for n in range(1, self.replies + 1):
            await message.output_channel.send_response(
                message.sender_id, {"text": f"Antwort {n}: {message.text}", "buttons": self.buttons}
            )
        if self.tracker_store is not None and self.saves:
            tracker = DialogueStateTracker(message.sender_id, LANGUAGE_DOMAIN.slots)
            tracker.update(SlotSet("language", self.language))
            await self.tracker_store.save(tracker)


class CountingStore:
    """Rasa's wrapper around the configured store (``_tracker_store``), counting reads."""

    def __init__(self, inner: EncryptedTrackerStore) -> None:
        self._tracker_store = inner
        self.retrieves = 0

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self.retrieves += 1
        return await self._tracker_store.retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._tracker_store.save(tracker)


@dataclass
class Running:
    url: str
    agent: FakeAgent
    standin: MetaGraphStandIn
    channel: WhatsAppInput

    @property
    def webhook(self) -> str:
        return self.url + "/webhooks/whatsapp/webhook"

    def sender(self, **kwargs: Any) -> WebhookSender:
        return WebhookSender(self.webhook, APP_SECRET, **kwargs)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": DEFAULT_PHONE_NUMBER_ID,
        "WHATSAPP_MAX_BODY_BYTES": str(MAX_BODY),
        "WHATSAPP_SEND_MAX_ATTEMPTS": "2",
        "WHATSAPP_SEND_BACKOFF_BASE_S": "0",
        "WHATSAPP_SEND_BACKOFF_MAX_S": "0",
        "PRIVACY_KEY": PRIVACY_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("WHATSAPP_DEDUP_URL", "WHATSAPP_API_VERSION", "PRIVACY_OLD_KEYS", "BLAUPAUSE_ENV"):
        monkeypatch.delenv(name, raising=False)


async def _serve(channel: WhatsAppInput, agent: FakeAgent) -> tuple[Any, str]:
    app = Sanic("wa_http_" + uuid.uuid4().hex[:10], configure_logging=False)
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    return await serve_sanic(app)


async def _stop(server: Any) -> None:
    await stop_sanic(server)


@pytest.fixture
async def running(environment: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    # Sanic's start-up "touchup" rewrites methods once per process; test mode lets several
    # apps start in one test session (what sanic-testing does).
    monkeypatch.setattr(Sanic, "test_mode", True)
    marker = request.node.get_closest_marker("agent")
    agent = FakeAgent(**(marker.kwargs if marker else {}))
    async with MetaGraphStandIn() as standin:
        monkeypatch.setenv("WHATSAPP_API_BASE_URL", standin.base_url)
        channel_class = class_from_module_path("connectors.whatsapp.WhatsAppInput")
        channel = channel_class.from_credentials({"verify_token": VERIFY_TOKEN})
        server, url = await _serve(channel, agent)
        try:
            yield Running(url, agent, standin, channel)
        finally:
            await _stop(server)
            uninstall_redaction()


pytestmark = pytest.mark.filterwarnings("ignore")


# --------------------------------------------------------------------------- start-up


def test_missing_setting_stops_the_start_with_its_name(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSAPP_APP_SECRET")
    with pytest.raises(SettingsError, match="WHATSAPP_APP_SECRET"):
        WhatsAppInput.from_credentials(None)


def test_missing_privacy_key_stops_the_start_with_its_name(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIVACY_KEY")
    with pytest.raises(SettingsError, match="PRIVACY_KEY"):
        WhatsAppInput.from_credentials(None)


def test_the_dev_key_is_refused_when_credentials_point_at_meta(
    environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """credentials.yml wins over the environment, so the dev-key check must read the settings:
    an environment naming the stand-in must not let the dev key reach Meta's real Graph API."""
    monkeypatch.delenv("PRIVACY_KEY")
    monkeypatch.setenv("BLAUPAUSE_ENV", "local")
    monkeypatch.setenv("PRIVACY_DEV_KEY_FILE", str(tmp_path / "privacy.key"))
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(SettingsError, match="PRIVACY_KEY"):
        WhatsAppInput.from_credentials({"api_base_url": "https://graph.facebook.com"})
    assert not (tmp_path / "privacy.key").exists()


def test_malformed_send_setting_stops_the_start(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_SEND_MAX_ATTEMPTS", "many")
    with pytest.raises(SettingsError, match="WHATSAPP_SEND_MAX_ATTEMPTS"):
        WhatsAppInput.from_credentials(None)


@pytest.mark.parametrize(("variable", "value"), [("STT_TIMEOUT_S", "soon"), ("STT_CONFIRM_BELOW", "2"), ("STT_BASE_URL", "ftp://x")])
def test_a_bad_transcription_setting_stops_the_start_with_its_name(
    environment: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("STT_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        WhatsAppInput.from_credentials(None)


async def test_voice_notes_are_transcribed_only_with_stt_base_url(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STT_BASE_URL", raising=False)
    assert WhatsAppInput.from_credentials(None).core.voice is None
    monkeypatch.setenv("STT_BASE_URL", "http://127.0.0.1:9/v1")
    channel = WhatsAppInput.from_credentials(None)
    assert isinstance(channel.core.voice, VoiceNotes) and channel.core.voice is channel.resources.voice
    assert channel.core.voice.settings.base_url == "http://127.0.0.1:9/v1"
    await channel.aclose()
    uninstall_redaction()


@pytest.mark.parametrize("value", ["0.5", "soon"])
def test_bad_claim_lease_stops_the_start(environment: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WHATSAPP_CLAIM_LEASE_S", value)
    with pytest.raises(SettingsError, match="WHATSAPP_CLAIM_LEASE_S"):
        WhatsAppInput.from_credentials(None)


def test_claim_lease_comes_from_the_environment(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_CLAIM_LEASE_S", "4.5")
    channel = WhatsAppInput.from_credentials(None)
    try:
        assert channel.core.options.lease_seconds == 4.5
    finally:
        asyncio.run(channel.aclose())


def test_channel_name_and_no_proactive_output(environment: None) -> None:
    channel = WhatsAppInput.from_credentials(None)
    try:
        assert WhatsAppInput.name() == "whatsapp" and channel.url_prefix() == "whatsapp"
        assert channel.get_output_channel() is None
    finally:
        uninstall_redaction()


# --------------------------------------------------------------------------- HTTP


async def test_health_and_verification_over_http(running: Running) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(running.url + "/webhooks/whatsapp/")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ok = await client.get(running.webhook, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8215"})
        assert (ok.status_code, ok.text) == (200, "8215")
        wrong = await client.get(running.webhook, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "8215"})
        assert wrong.status_code == 403 and "8215" not in wrong.text


async def test_text_message_over_http(running: Running) -> None:
    payload = meta_payloads.payload(meta_payloads.text(WA_ID, "Ich suche Arbeit in Hamburg"), profile_name=PROFILE_NAME)
    async with running.sender(retry_delays=()) as sender:
        delivery = await sender.send(payload)
    assert delivery.status == 200
    [message] = running.agent.received
    assert message.sender_id == pseudonym(Keyring.from_env({"PRIVACY_KEY": PRIVACY_KEY}).current, WA_ID)
    assert message.text == "Ich suche Arbeit in Hamburg"
    assert message.metadata == {"channel": "whatsapp", "message_type": "text"}
    assert message.input_channel == "whatsapp"
    [reply] = running.standin.messages
    assert reply.to == WA_ID and reply.message["interactive"]["action"]["buttons"][0]["reply"]["id"] == "/new_search"


async def test_every_type_builder_over_http(running: Running) -> None:
    tapped = meta_payloads.fake_wamid()
    messages = [
        meta_payloads.button_reply(WA_ID, '/select_job{"job_id":"7"}', "Koch", reply_to=tapped),
        meta_payloads.list_reply(WA_ID, "/more_results", "Mehr", reply_to=tapped),
        meta_payloads.template_button(WA_ID, "/new_search", "Neue Suche", reply_to=tapped),
        meta_payloads.location(WA_ID, 53.55, 9.99),
        meta_payloads.image(WA_ID), meta_payloads.audio(WA_ID), meta_payloads.video(WA_ID),
        meta_payloads.document(WA_ID), meta_payloads.sticker(WA_ID), meta_payloads.reaction(WA_ID, tapped),
        meta_payloads.unsupported(WA_ID),
    ]
    async with running.sender(retry_delays=()) as sender:
        delivery = await sender.send(meta_payloads.payload(*messages, profile_name=PROFILE_NAME))
    assert delivery.status == 200
    texts = [m.text for m in running.agent.received]
    assert texts[:4] == ['/select_job{"job_id":"7"}', "/more_results", "/new_search", '/share_location{"latitude":53.55,"longitude":9.99}']
    assert texts[5] == "/voice_unavailable"
    assert [t.split('"')[3] for t in texts[4:5] + texts[6:]] == ["image", "video", "document", "sticker", "reaction", "unsupported"]
    assert len(running.standin.messages) == len(messages)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Hub-Signature-256": "sha256=zz"}, 401), ({"X-Hub-Signature-256": "sha256=" + "a" * 64}, 403)],
)
async def test_signature_failures_over_http(running: Running, headers: dict[str, str], status: int) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(running.webhook, content=b'{"object":"whatsapp_business_account"}', headers=headers)
    assert answer.status_code == status and not running.agent.received


async def test_bad_bodies_over_http_are_never_500(running: Running) -> None:
    bodies = [b"{not json", b"[]", b'{"object":"page"}', b'{"object":"whatsapp_business_account","entry":"x"}']
    async with httpx.AsyncClient() as client:
        for body in bodies:
            answer = await client.post(running.webhook, content=body, headers={"X-Hub-Signature-256": sign(APP_SECRET, body)})
            assert answer.status_code == 400, body
        for body in (b'{"object":"whatsapp_business_account"}', b'{"object":"whatsapp_business_account","entry":[{"id":"1"}]}'):
            answer = await client.post(running.webhook, content=body, headers={"X-Hub-Signature-256": sign(APP_SECRET, body)})
            assert answer.status_code == 200
    assert not running.agent.received


async def test_oversized_bodies_over_http(running: Running) -> None:
    big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * MAX_BODY + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1024):
            yield big[start:start + 1024]

    async with httpx.AsyncClient() as client:
        declared = await client.post(running.webhook, content=big, headers={"X-Hub-Signature-256": sign(APP_SECRET, big)})
        assert declared.status_code == 413
        streamed = await client.post(running.webhook, content=chunked(), headers={"X-Hub-Signature-256": sign(APP_SECRET, big)})
        assert streamed.status_code == 413
    assert not running.agent.received


async def test_statuses_over_http(running: Running) -> None:
    statuses = [meta_payloads.status(meta_payloads.fake_wamid(), WA_ID, state) for state in ("sent", "delivered", "read", "failed")]
    async with running.sender(retry_delays=()) as sender:
        assert (await sender.send(meta_payloads.payload(statuses=statuses))).status == 200
    assert not running.agent.received and not running.standin.messages


@pytest.mark.agent(delay=0.3)
async def test_same_message_five_times_concurrently_over_http(running: Running) -> None:
    payload = meta_payloads.payload(meta_payloads.text(WA_ID, "Hallo"), profile_name=PROFILE_NAME)
    async with running.sender(retry_delays=(0.05, 0.1, 0.2)) as sender:
        deliveries = await asyncio.gather(*(sender.send(payload) for _ in range(5)))
    assert all(delivery.delivered for delivery in deliveries)
    assert len(running.agent.received) == 1
    assert len(running.standin.messages) == 1


@pytest.mark.agent(replies=3)
async def test_graph_faults_end_with_exactly_one_delivery_each(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    running.standin.inject_faults(Fault(status=500, code=131000), 2)
    payload = meta_payloads.payload(meta_payloads.text(WA_ID, "Hallo"), profile_name=PROFILE_NAME)
    async with running.sender(retry_delays=(0.05, 0.05, 0.05)) as sender:
        delivery = await sender.send(payload)
        assert delivery.delivered and delivery.failures == ("HTTP 503",)
        running.standin.set_random_faults(0.5, seed=3, kinds=["500", "130429"])
        second = meta_payloads.payload(meta_payloads.text(WA_ID, "Noch eine Frage"), profile_name=PROFILE_NAME)
        sender.retry_delays = (0.05,) * 30
        assert (await sender.send(second)).delivered
    running.standin.clear_faults()
    bodies = [m.message["interactive"]["body"]["text"] for m in running.standin.messages]
    assert bodies == [f"Antwort {n}: Hallo" for n in (1, 2, 3)] + [f"Antwort {n}: Noch eine Frage" for n in (1, 2, 3)]
    assert [m.text for m in running.agent.received] == ["Hallo", "Noch eine Frage"]
    await running.channel.core.drain()
    for forbidden in (WA_ID, PROFILE_NAME):
        assert forbidden not in caplog.text


# --------------------------------------------------------------------------- label language


@pytest.fixture
async def language_store(running: Running, tmp_path: Any) -> AsyncIterator[CountingStore]:
    """An encrypted SQLite store behind the fake agent, counting the channel's reads."""
    store = CountingStore(EncryptedTrackerStore(LANGUAGE_DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={}))
    running.agent.tracker_store = store
    yield store
    await store._tracker_store.close()


async def send_text(running: Running, text: str) -> int:
    payload = meta_payloads.payload(meta_payloads.text(WA_ID, text), profile_name=PROFILE_NAME)
    async with running.sender(retry_delays=()) as sender:
        return (await sender.send(payload)).status


@pytest.mark.agent(buttons=5, language="en")
async def test_list_labels_come_from_the_turns_saved_tracker_without_a_second_read(
    running: Running, language_store: CountingStore
) -> None:
    assert await send_text(running, "Hello") == 200
    [reply] = running.standin.messages
    assert reply.message["interactive"]["action"]["button"] == "Options"
    assert language_store.retrieves == 0


@pytest.mark.agent(buttons=5)
async def test_list_labels_fall_back_to_reading_the_store_when_the_turn_saved_nothing(
    running: Running, language_store: CountingStore
) -> None:
    keys = keys_for_user(running.channel.keyring, WA_ID)
    with user_context(keys):  # an earlier turn left the conversation in English
        tracker = DialogueStateTracker(keys.pseudonym, LANGUAGE_DOMAIN.slots)
        tracker.update(SlotSet("language", "en"))
        await language_store.save(tracker)
    running.agent.saves = False  # this turn saves nothing
    assert await send_text(running, "Hello") == 200
    assert running.standin.messages[-1].message["interactive"]["action"]["button"] == "Options"
    assert language_store.retrieves == 1


def _raw_status(url: str, head: bytes) -> int | None:
    """Send ``head`` (and a small body) over a raw socket; the status of the answer, if any."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"{}")
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("header", [b"Content-Length: abc", b"Content-Length: 1.5", b"Transfer-Encoding: gzip",
                                    b"Transfer-Encoding: Chunked"])
async def test_malformed_framing_is_400_not_500(running: Running, header: bytes) -> None:
    """Sanic 21.12 raised ValueError/KeyError for these before any route (found by the fuzzing)."""
    head = b"POST /webhooks/whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n"
    assert await asyncio.to_thread(_raw_status, running.url, head) == 400
    async with httpx.AsyncClient() as client:  # the server still answers
        assert (await client.get(running.url + "/webhooks/whatsapp/")).status_code == 200


# --------------------------------------------------------------------------- one person, one conversation (issue 9)


class _NoNLG:
    """The agent's NLG (only needed to build the channel's PrivacyRequests; never called here)."""

    async def generate(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no response is generated in this test")


@pytest.mark.agent(buttons=1, language="en")
async def test_username_user_keeps_one_conversation_over_http(running: Running, language_store: CountingStore) -> None:
    """Number shared, then withheld, then a changed BSUID: one conversation, replies via to/recipient."""
    from rasa.core.lock_store import InMemoryLockStore

    running.agent.nlg = _NoNLG()  # type: ignore[attr-defined]
    running.agent.lock_store = InMemoryLockStore()  # type: ignore[attr-defined]
    erika = meta_payloads.WhatsAppUser(phone=WA_ID, user_id="DE.1000000000000000501", username="@erika_test")
    keyring = running.channel.keyring

    async def post(message: Any, user: meta_payloads.WhatsAppUser) -> int:
        body = meta_payloads.payload(message, profile_name=PROFILE_NAME, users=[user])
        async with running.sender(retry_delays=()) as sender:
            return (await sender.send(body)).status

    assert await post(meta_payloads.text(erika, "Koch"), erika) == 200
    assert await post(meta_payloads.text(erika.without_phone(), "in Hamburg"), erika.without_phone()) == 200
    assert {m.sender_id for m in running.agent.received} == {pseudonym(keyring.current, erika.user_id)}
    assert [(m.address_field, m.address) for m in running.standin.messages] == [
        ("to", WA_ID), ("recipient", erika.user_id)]

    moved = erika.with_user_id("DE.1000000000000000502")
    assert await post(meta_payloads.user_changed_user_id(erika, moved.user_id), moved) == 200
    assert len(running.standin.messages) == 2 and len(running.agent.received) == 2  # no reply, not handed to Rasa
    new_keys = keys_for_user(keyring, moved.user_id, [WA_ID])
    with user_context(new_keys):
        tracker = await language_store.retrieve(new_keys.pseudonym)
    assert tracker is not None and tracker.get_slot("language") == "en"
    old_keys = keys_for_user(keyring, erika.user_id)
    with user_context(old_keys):
        assert await language_store._tracker_store.retrieve(old_keys.pseudonym) is None

    assert await post(meta_payloads.text(moved.without_phone(), "weiter"), moved.without_phone()) == 200
    assert running.agent.received[-1].sender_id == pseudonym(keyring.current, moved.user_id)
    assert running.standin.messages[-1].recipient == moved.user_id


def test_the_start_installs_rasas_hot_path_adjustments(environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import RemoteAction

    method = RemoteAction._validate_action_result
    original = getattr(method, "__wrapped__", method)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)  # restored after the test
    channel = WhatsAppInput.from_credentials(None)
    try:
        assert getattr(RemoteAction._validate_action_result, "_blaupause_compiled_validator", False)
    finally:
        asyncio.run(channel.aclose())
        uninstall_redaction()
