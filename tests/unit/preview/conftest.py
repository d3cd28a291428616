"""The preview's server on loopback against a tiny assistant that runs the channel's real code.

The assistant (``EchoAssistant``) verifies each webhook's signature (connectors/whatsapp/signature.py),
parses it (connectors/whatsapp/updates/parser.py), marks the message read with the typing
indicator and answers through the channel's Graph client (connectors/whatsapp/graph/client.py),
addressed as the channel addresses (connectors/whatsapp/recipient.py); voice notes go through the
channel's voice step (connectors/whatsapp/voice.py) to the transcription stand-in. Its answer
says what it understood (``echo:…``), so a test can tell what arrived.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.media.download import MediaDownloader
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.signature import SignatureError, verify_signature
from connectors.whatsapp.updates import messages as inbound
from connectors.whatsapp.updates.parser import parse_body
from connectors.whatsapp.voice import VoiceNotes
from harness.webhook_sender import WebhookSender
from preview.events import TrafficWatcher
from preview.server import PreviewApi, build_app
from preview.sessions import default_sessions
from speech.client import OpenAICompatibleTranscriber
from speech.settings import SpeechSettings
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID
from standins.stt import STTStandIn

SECRET = "preview-test-secret"


class EchoAssistant:
    """Answers each user message with ``echo:<what it understood>`` after a read + typing call."""

    def __init__(self, graph_base_url: str, stt_base_url: str) -> None:
        graph = GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID, api_base_url=graph_base_url)
        self.client = GraphClient(graph, retry=RetryPolicy(max_attempts=1))
        speech = SpeechSettings(base_url=stt_base_url)
        self.voice = VoiceNotes(MediaDownloader(graph, retry=RetryPolicy(max_attempts=1)), OpenAICompatibleTranscriber(speech), speech)
        self.bodies: list[dict] = []
        self.refused = 0
        self.reply_delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify_signature(SECRET, raw, request.headers.get("X-Hub-Signature-256"))
        except SignatureError:
            self.refused += 1
            return web.Response(status=401)
        self.bodies.append(json.loads(raw))
        for message in parse_body(raw).messages:
            await self.client.mark_read(message.message_id, typing=True)
            await asyncio.sleep(self.reply_delay)
            await self.client.send(Recipient.for_message(message.phone, message.user_id), self.answer_for(message))
        return web.Response(status=200)

    def answer_for(self, message: inbound.InboundMessage) -> dict:
        if isinstance(message, inbound.TextMessage):
            said = message.body
        elif isinstance(message, (inbound.ButtonReply, inbound.ListReply)):
            said = f"{message.message_type}:{message.reply_id}"
        elif isinstance(message, inbound.LocationMessage):
            said = f"location:{message.latitude},{message.longitude}"
        else:
            said = message.message_type
        return {"type": "text", "text": {"body": f"echo:{said}"}}

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.voice.aclose()


class VoiceEchoAssistant(EchoAssistant):
    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        for message in parse_body(raw).messages:
            if isinstance(message, inbound.AudioMessage):
                turn = await self.voice.to_turn(message, language="de", ref="test")
                await self.client.send(
                    Recipient.for_message(message.phone, message.user_id),
                    {"type": "text", "text": {"body": f"echo:voice:{turn.text}"}},
                )
                return web.Response(status=200)
        return await super().handle(request)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class Preview:
    """A running preview server and what it talks to, for one test."""

    def __init__(self, base_url, api, assistant, standin, stt, watcher) -> None:
        self.base_url = base_url
        self.api = api
        self.assistant = assistant
        self.standin = standin
        self.stt = stt
        self.watcher = watcher
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def send(self, sid: str, body: dict) -> httpx.Response:
        return await self.http.post(f"/api/sessions/{sid}/send", json=body)

    async def events_until(self, sid: str, done, timeout: float = 10.0) -> list[tuple[str, dict]]:
        """Read the session's event stream until ``done(events)`` is true (TimeoutError otherwise)."""
        events: list[tuple[str, dict]] = []

        async def read() -> None:
            async with self.http.stream("GET", f"/api/sessions/{sid}/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                name = None
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        name = line[len("event: "):]
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[len("data: "):])))
                        if done(events):
                            return

        await asyncio.wait_for(read(), timeout)
        return events


@pytest.fixture
def static_dir(tmp_path) -> Path:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>chat</title>", encoding="utf-8")
    (folder / "gallery.html").write_text("<!doctype html><title>gallery</title>", encoding="utf-8")
    (folder / "whatsapp.js").write_text("window.WhatsApp = {};", encoding="utf-8")
    (folder / "preview.css").write_text("body { margin: 0 }", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside the static folder", encoding="utf-8")
    return folder


@pytest.fixture
async def preview(standin, static_dir, tmp_path):
    async with STTStandIn(latency=0, realtime_factor=0) as stt:
        assistant = VoiceEchoAssistant(standin.base_url, stt.base_url)
        assistant_app = web.Application()
        assistant_app.router.add_post("/webhook", assistant.handle)
        assistant_runner, assistant_url = await _serve(assistant_app)
        sender = WebhookSender(f"{assistant_url}/webhook", SECRET, retry_delays=())
        sessions = default_sessions(typing_timeout=0.5)
        watcher = TrafficWatcher(standin, sessions.values, poll_interval=0.02)
        await watcher.start()
        api = PreviewApi(standin, sender, sessions, None, project_root=tmp_path, keepalive=0.5)
        runner, base_url = await _serve(build_app(api, static_dir))
        running = Preview(base_url, api, assistant, standin, stt, watcher)
        try:
            yield running
        finally:
            await running.http.aclose()
            await runner.cleanup()
            await watcher.stop()
            await sender.aclose()
            await assistant.aclose()
            await assistant_runner.cleanup()
