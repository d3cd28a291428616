"""The terminal chat sends voice notes through the whole path the channel takes, in process.

Why: ``/voice`` is how a designer tries voice notes with ``make run``; the recording must be
where the channel's downloader looks (the chat's own Graph stand-in, behind the same access
token), be transcribed by the transcription stand-in, and the person must see what they "said".
The assistant here is a tiny webhook target that runs the channel's real voice-note step
(connectors/whatsapp/voice.py: MediaDownloader, OpenAICompatibleTranscriber) and answers with
what Rasa would have received.
"""
from __future__ import annotations

import io

import pytest
from aiohttp import web

from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.media.download import MediaDownloader
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.updates.messages import AudioMessage
from connectors.whatsapp.updates.parser import parse_body
from connectors.whatsapp.voice import VoiceNotes
from harness import meta_payloads as mp
from harness.chat_session import ChatSession
from harness.voice_notes import voice_note
from harness.webhook_sender import WebhookSender
from speech.client import OpenAICompatibleTranscriber
from speech.settings import SpeechSettings
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID
from standins.stt import STTStandIn

SECRET = "chat-voice-test-secret"
USER = mp.WhatsAppUser(phone="4915550000001", user_id="DE.1000000000000000001")


class VoiceAssistant:
    """Turns each voice note into what the channel hands Rasa and answers ``rasa:<that>``."""

    def __init__(self, graph_base_url: str, stt_base_url: str) -> None:
        graph = GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID, api_base_url=graph_base_url)
        self.client = GraphClient(graph, retry=RetryPolicy(max_attempts=1))
        speech = SpeechSettings(base_url=stt_base_url)
        self.voice = VoiceNotes(MediaDownloader(graph, retry=RetryPolicy(max_attempts=1)), OpenAICompatibleTranscriber(speech), speech)
        self.messages: list[AudioMessage] = []

    async def handle(self, request: web.Request) -> web.Response:
        for message in parse_body(await request.read()).messages:
            assert isinstance(message, AudioMessage)
            self.messages.append(message)
            turn = await self.voice.to_turn(message, language="de", ref="test")
            marker = " (voice_note)" if turn.voice_note else ""
            recipient = Recipient.for_message(message.phone, message.user_id)
            await self.client.send(recipient, {"type": "text", "text": {"body": f"rasa:{turn.text}{marker}"}})
        return web.Response(status=200)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.voice.aclose()


@pytest.fixture
async def voice_chat(standin):
    async with STTStandIn(latency=0, realtime_factor=0) as stt:
        assistant = VoiceAssistant(standin.base_url, stt.base_url)
        app = web.Application()
        app.router.add_post("/webhook", assistant.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        out = io.StringIO()
        sender = WebhookSender(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook", SECRET, retry_delays=())
        session = ChatSession(standin, sender, user=USER, out=out, wait=0.2, reply_timeout=10.0)
        async with session:
            yield session, out, assistant, stt
        await sender.aclose()
        await assistant.aclose()
        await runner.cleanup()


async def test_a_voice_note_is_downloaded_transcribed_and_shown(voice_chat, standin):
    session, out, assistant, stt = voice_chat

    await session.handle_line("/voice Ich suche einen Job als Koch in Berlin")

    [message] = assistant.messages
    assert (message.voice, message.mime_type) == (True, "audio/ogg; codecs=opus")
    assert standin.media_downloads == 1  # the channel fetched it from the chat's stand-in
    assert [(r.language, r.model) for r in stt.requests] == [("de", "whisper-1")]
    text = out.getvalue()
    said = "(voice note, 3.2 s: „Ich suche einen Job als Koch in Berlin“)"
    reply = "bot> rasa:Ich suche einen Job als Koch in Berlin (voice_note)"
    assert said in text and reply in text and text.index(said) < text.index(reply)


async def test_an_unsure_voice_note_becomes_the_confirmation_question(voice_chat):
    session, out, assistant, stt = voice_chat

    await session.handle_line("/voice? Koch in Berlin")

    assert "hard to make out: „Koch in Berlin“" in out.getvalue()
    assert 'bot> rasa:/voice_unsure{"transcript":"Koch in Berlin"}' in out.getvalue()


async def test_a_real_recording_from_disk_is_heard_as_silence_by_the_stand_in(voice_chat, tmp_path):
    session, out, assistant, stt = voice_chat
    path = tmp_path / "aufnahme.ogg"
    path.write_bytes(voice_note(None, seconds=1.5))  # a recording without the stand-in's tags

    await session.handle_line(f"/voice-file {path}")

    assert "(voice note aufnahme.ogg, 1.5 s)" in out.getvalue()
    assert "bot> rasa:/voice_empty" in out.getvalue()


async def test_refused_voice_input_sends_nothing(voice_chat, standin, tmp_path):
    session, out, assistant, stt = voice_chat
    (tmp_path / "a.wav").write_bytes(b"RIFF")

    await session.handle_line("/voice")
    await session.handle_line(f"/voice-file {tmp_path / 'a.wav'}")

    assert assistant.messages == [] and standin.media.items == {}
    assert "usage: /voice TEXT" in out.getvalue() and "cannot send .wav" in out.getvalue()
