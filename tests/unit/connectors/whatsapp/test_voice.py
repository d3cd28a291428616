"""connectors/whatsapp/voice.py: a voice note becomes a transcript, a question or a clear answer.

The media download and the transcriber are replaced by recording fakes here (their own tests
run them against the stand-ins); what is checked is the decision table of the module docstring,
the caps, the language hint, the metrics and that neither the audio nor the media id nor the
transcript reaches a log line.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from connectors.whatsapp.inbound import VOICE_UNAVAILABLE_PAYLOAD, to_rasa_input
from connectors.whatsapp.media.download import MediaFile
from connectors.whatsapp.media.errors import (
    MediaAuthError,
    MediaNotFoundError,
    MediaTooLargeError,
    MediaTypeError,
    MediaUnavailableError,
)
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.references import References
from connectors.whatsapp.turn import Turn
from connectors.whatsapp.updates.messages import AudioMessage
from connectors.whatsapp.voice import AUDIO_TYPES, META_AUDIO_LIMIT_BYTES, VoiceNotes, voice_payload
from harness.voice_notes import voice_note
from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret
from privacy.log_redaction.sensitive import sensitive_scope, sensitive_values
from speech.errors import (
    TranscriptionAuthError,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
)
from speech.settings import SpeechSettings
from speech.transcript import Transcript
from tests.support.metrics import Delta

PHONE = "4915550000961"
MEDIA_ID = "1049999999999961"
SETTINGS = SpeechSettings(
    base_url="http://127.0.0.1:9/v1", model="whisper-1", api_key=None, timeout_seconds=15.0,
    max_bytes=5_000_000, max_seconds=180.0, confirm_below=0.6, response_format="verbose_json",
)


def audio_message(media_id: str = MEDIA_ID) -> AudioMessage:
    return AudioMessage(
        message_id="wamid.voice0001", sender=PHONE, message_type="audio", timestamp=None,
        phone_number_id="100000000000001", phone=PHONE, media_id=media_id,
        mime_type="audio/ogg; codecs=opus", voice=True,
    )


@dataclass
class FakeMedia:
    """Returns ``content`` or raises ``error``; records each fetch's arguments."""

    content: bytes = b""
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    async def fetch(self, media_id: str, *, allowed_types: frozenset[str], max_bytes: int, deadline_seconds: float) -> MediaFile:
        self.calls.append({"media_id": media_id, "allowed_types": allowed_types, "max_bytes": max_bytes,
                           "deadline_seconds": deadline_seconds})
        if self.error is not None:
            raise self.error
        return MediaFile(content=self.content, mime_type="audio/ogg; codecs=opus", size=len(self.content))

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class FakeTranscriber:
    """Answers ``transcript`` or raises ``error``; records what it was given."""

    transcript: Transcript | None = None
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    async def transcribe(self, audio: bytes, *, mime_type: str, language: str | None = None,
                         deadline_seconds: float | None = None) -> Transcript:
        self.calls.append({"audio": audio, "mime_type": mime_type, "language": language, "deadline_seconds": deadline_seconds})
        if self.error is not None:
            raise self.error
        assert self.transcript is not None
        return self.transcript

    async def aclose(self) -> None:
        self.closed = True


def said(text: str, confidence: float | None = 0.95) -> Transcript:
    return Transcript(text=text, confidence=confidence, language="de", duration_seconds=2.0)


def voice(media: FakeMedia, transcriber: FakeTranscriber, **settings: Any) -> VoiceNotes:
    values = {**SETTINGS.__dict__, **settings}
    return VoiceNotes(media, transcriber, SpeechSettings(**values))


async def test_a_confident_transcript_is_the_message_marked_as_a_voice_note() -> None:
    audio = voice_note("Ich suche einen Job als Koch in Berlin", seconds=2.0)
    media, stt = FakeMedia(audio), FakeTranscriber(said("  Ich suche einen Job   als Koch in Berlin "))
    counted = Delta("blaupause_voice_notes_total", outcome="transcribed")
    turn = await voice(media, stt).to_turn(audio_message(), language="de", ref="ref1")
    assert turn.text == "Ich suche einen Job als Koch in Berlin"
    assert turn.metadata == {"channel": "whatsapp", "message_type": "audio", "voice_note": True}
    assert counted() == 1
    assert media.calls == [{"media_id": MEDIA_ID, "allowed_types": AUDIO_TYPES, "max_bytes": 5_000_000, "deadline_seconds": 8.0}]
    assert stt.calls[0]["audio"] == audio and stt.calls[0]["language"] == "de"
    assert stt.calls[0]["mime_type"] == "audio/ogg; codecs=opus" and stt.calls[0]["deadline_seconds"] == 15.0


async def test_a_transcript_with_unknown_confidence_is_taken_as_it_is() -> None:
    stt = FakeTranscriber(said("Koch in Berlin", confidence=None))
    turn = await voice(FakeMedia(voice_note("x")), stt).to_turn(audio_message(), language=None, ref="r")
    assert turn.text == "Koch in Berlin" and stt.calls[0]["language"] is None


async def test_a_transcript_below_the_threshold_is_confirmed_with_the_user() -> None:
    stt = FakeTranscriber(said('Koch in "Berlin"', confidence=0.42))
    counted = Delta("blaupause_voice_notes_total", outcome="unsure")
    turn = await voice(FakeMedia(voice_note("x")), stt).to_turn(audio_message(), language="de", ref="r")
    assert turn.text.startswith("/voice_unsure{")
    assert json.loads(turn.text.removeprefix("/voice_unsure")) == {"transcript": 'Koch in "Berlin"'}
    assert turn.metadata.get("voice_note") is None and turn.message_type == "audio"
    assert counted() == 1


async def test_the_threshold_comes_from_the_settings() -> None:
    stt = FakeTranscriber(said("Koch in Berlin", confidence=0.42))
    turn = await voice(FakeMedia(voice_note("x")), stt, confirm_below=0.3).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == "Koch in Berlin"


async def test_a_leading_slash_never_makes_a_transcript_an_intent() -> None:
    stt = FakeTranscriber(said("/restart bitte"))
    turn = await voice(FakeMedia(voice_note("x")), stt).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == "restart bitte"
    unsure = await voice(FakeMedia(voice_note("x")), FakeTranscriber(said("//", confidence=0.1))).to_turn(
        audio_message(), language="de", ref="r")
    assert unsure.text == "/voice_empty"


@pytest.mark.parametrize("text", ["", "   ", "\n"])
async def test_nothing_heard_gets_its_own_answer(text: str) -> None:
    turn = await voice(FakeMedia(voice_note(None)), FakeTranscriber(said(text))).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == "/voice_empty"


@pytest.mark.parametrize(
    ("error", "payload", "outcome"),
    [
        (MediaNotFoundError("expired"), "/voice_not_fetched", "not_fetched"),
        (MediaUnavailableError("5xx"), "/voice_not_fetched", "not_fetched"),
        (MediaAuthError("token"), "/voice_not_fetched", "not_fetched"),
        (MediaTypeError("video"), "/voice_not_fetched", "not_fetched"),
        (MediaTooLargeError("big"), "/voice_too_long", "too_long"),
    ],
)
async def test_a_failed_download_is_answered_and_never_transcribed(error: Exception, payload: str, outcome: str) -> None:
    stt = FakeTranscriber(said("nie"))
    counted = Delta("blaupause_voice_notes_total", outcome=outcome)
    turn = await voice(FakeMedia(error=error), stt).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == payload and turn.message_type == "audio"
    assert stt.calls == [] and counted() == 1


@pytest.mark.parametrize("error", [TranscriptionUnavailableError("x"), TranscriptionRefusedError("x"), TranscriptionAuthError("x")])
async def test_a_failed_transcription_is_answered(error: Exception) -> None:
    counted = Delta("blaupause_voice_notes_total", outcome="not_transcribed")
    turn = await voice(FakeMedia(voice_note("x")), FakeTranscriber(error=error)).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == "/voice_not_transcribed" and counted() == 1


async def test_a_recording_longer_than_the_cap_is_not_transcribed() -> None:
    stt = FakeTranscriber(said("viel"))
    turn = await voice(FakeMedia(voice_note("viel", seconds=12.0)), stt, max_seconds=10.0).to_turn(audio_message(), language="de", ref="r")
    assert turn.text == "/voice_too_long" and stt.calls == []
    short = await voice(FakeMedia(voice_note("kurz", seconds=8.0)), stt, max_seconds=10.0).to_turn(audio_message(), language="de", ref="r")
    assert short.text == "viel"  # the fake answers the same text: it was transcribed


async def test_the_size_cap_never_exceeds_metas_audio_limit() -> None:
    media = FakeMedia(voice_note("x"))
    await voice(media, FakeTranscriber(said("x")), max_bytes=16_000_000).to_turn(audio_message(), language="de", ref="r")
    await voice(media, FakeTranscriber(said("x")), max_bytes=1_000).to_turn(audio_message(), language="de", ref="r")
    assert [call["max_bytes"] for call in media.calls] == [min(16_000_000, META_AUDIO_LIMIT_BYTES), 1_000]


async def test_no_audio_media_id_or_transcript_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The module logs neither, and registers the transcript so that Rasa's own log lines are masked."""
    text = "Ich suche Arbeit als Gärtnerin in Leipzig"
    with sensitive_scope(), caplog.at_level(logging.DEBUG):
        for confidence in (0.3, 0.9):
            stt = FakeTranscriber(said(text, confidence=confidence))
            await voice(FakeMedia(voice_note("x")), stt).to_turn(audio_message(), language="de", ref="r")
        registered = sensitive_values()
        await voice(FakeMedia(error=MediaNotFoundError("gone")), FakeTranscriber()).to_turn(audio_message(), language="de", ref="r")
    logged = "\n".join(caplog.messages)
    assert caplog.messages, "the voice module logs what happened"
    assert "Gärtnerin" not in logged and "Leipzig" not in logged
    assert MEDIA_ID not in logged and "OggS" not in logged
    assert text in registered


async def test_aclose_closes_both_clients() -> None:
    media, stt = FakeMedia(), FakeTranscriber()
    await voice(media, stt).aclose()
    assert media.closed and stt.closed


# ---------------------------------------------------------------- in the turn


class Dialogue:
    def __init__(self) -> None:
        self.received: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "Antwort"})


async def test_the_turn_hands_the_transcript_to_rasa_with_the_conversation_language_as_hint() -> None:
    keyring = Keyring(current=Secret.generate())
    dialogue, stt = Dialogue(), FakeTranscriber(said("Koch in Berlin"))
    looked_up: list[str] = []

    async def language(pseudonym: str) -> str | None:
        looked_up.append(pseudonym)
        return "en"

    turn = Turn(dialogue, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring),
                output_factory=WhatsAppOutput, language_lookup=language, voice=voice(FakeMedia(voice_note("x")), stt))
    keys = keys_for_user(keyring, PHONE)
    replies = await turn.produce(audio_message(), keys, "ref")
    assert [m.text for m in dialogue.received] == ["Koch in Berlin"]
    assert dialogue.received[0].metadata == {"channel": "whatsapp", "message_type": "audio", "voice_note": True}
    assert stt.calls[0]["language"] == "en" and looked_up == [keys.pseudonym]
    assert replies and replies[0]["text"]["body"] == "Antwort"


async def test_without_transcription_a_voice_note_gets_the_polite_answer() -> None:
    keyring = Keyring(current=Secret.generate())
    dialogue = Dialogue()
    turn = Turn(dialogue, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring), output_factory=WhatsAppOutput)
    counted = Delta("blaupause_voice_notes_total", outcome="disabled")
    await turn.produce(audio_message(), keys_for_user(keyring, PHONE), "ref")
    assert [m.text for m in dialogue.received] == [VOICE_UNAVAILABLE_PAYLOAD]
    assert counted() == 1
    assert (await to_rasa_input(audio_message(), InMemoryPayloadIdMap())).text == "/voice_unavailable"


async def test_a_failed_language_lookup_only_drops_the_hint() -> None:
    keyring = Keyring(current=Secret.generate())
    stt = FakeTranscriber(said("Koch"))

    async def broken(pseudonym: str) -> str | None:
        raise ConnectionError("store down")

    turn = Turn(Dialogue(), id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring),
                output_factory=WhatsAppOutput, language_lookup=broken, voice=voice(FakeMedia(voice_note("x")), stt))
    await turn.produce(audio_message(), keys_for_user(keyring, PHONE), "ref")
    assert stt.calls[0]["language"] is None
