"""The transcription client against the stand-in on loopback: formats, hints, errors, retries."""
from __future__ import annotations

import asyncio
import logging
import math

import pytest

from harness.voice_notes import voice_note
from speech import (
    OpenAICompatibleTranscriber,
    SpeechSettings,
    Transcriber,
    TranscriptionAuthError,
    TranscriptionRateLimitedError,
    TranscriptionRefusedError,
    TranscriptionResponseError,
    TranscriptionUnavailableError,
)
from speech.client import filename_for
from standins.stt import STTStandIn

KEY = "sk-test-0000000000"
SAID = "Ich suche Arbeit als Koch in Berlin."


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def stt():
    async with STTStandIn(api_key=KEY, models=["whisper-1"], latency=0.0, realtime_factor=0.0) as server:
        yield server


def _client(stt: STTStandIn, **overrides) -> tuple[OpenAICompatibleTranscriber, RecordingSleep]:
    settings = SpeechSettings(**{"base_url": stt.base_url, "api_key": KEY, "timeout_seconds": 5.0, **overrides})
    sleep = RecordingSleep()
    return OpenAICompatibleTranscriber(settings, sleep=sleep), sleep


@pytest.fixture
async def client(stt):
    transcriber, _ = _client(stt)
    yield transcriber
    await transcriber.aclose()


async def test_verbose_json_gives_text_confidence_language_and_duration(client, stt):
    transcript = await client.transcribe(voice_note(SAID, seconds=3.0, confidence=0.42, language="de"),
                                         mime_type="audio/ogg; codecs=opus")

    assert isinstance(client, Transcriber)
    assert transcript.text == SAID
    assert transcript.confidence == pytest.approx(0.42, abs=1e-6)
    assert transcript.language == "de"  # the stand-in answers Whisper's name, "german"
    assert transcript.duration_seconds == pytest.approx(3.0, abs=0.02)
    [received] = stt.requests
    assert (received.model, received.response_format, received.temperature) == ("whisper-1", "verbose_json", "0")
    assert (received.filename, received.content_type, received.audio_format) == ("voice.ogg", "audio/ogg", "ogg")
    assert received.language is None and received.status == 200


async def test_several_sentences_keep_the_confidence(client):
    text = "Ich bin Koch. Ich suche Arbeit in Berlin! Geht das?"
    transcript = await client.transcribe(voice_note(text, seconds=4.0, confidence=0.8), mime_type="audio/ogg")
    assert transcript.text == text
    assert transcript.confidence == pytest.approx(0.8, abs=1e-3)


async def test_json_format_has_text_but_no_confidence(stt):
    client, _ = _client(stt, response_format="json")
    try:
        transcript = await client.transcribe(voice_note(SAID, confidence=0.3), mime_type="audio/ogg")
    finally:
        await client.aclose()
    assert (transcript.text, transcript.confidence, transcript.language, transcript.duration_seconds) == (
        SAID, None, None, None)
    assert stt.requests[-1].response_format == "json"


async def test_language_hint_is_forwarded_and_anything_else_dropped(client, stt):
    transcript = await client.transcribe(voice_note(SAID, language="en"), mime_type="audio/ogg", language="TR")
    await client.transcribe(voice_note(SAID), mime_type="audio/ogg", language="deutsch")
    await client.transcribe(voice_note(SAID), mime_type="audio/ogg", language="de-DE")

    assert transcript.language == "tr"  # the hint wins over what the file says
    assert [r.language for r in stt.requests] == ["tr", None, None]


async def test_a_note_without_speech_is_empty_text(client):
    transcript = await client.transcribe(voice_note(None, seconds=1.5), mime_type="audio/ogg")
    assert transcript.text == ""
    assert transcript.confidence is None  # only silence: no figure for what was said
    assert transcript.duration_seconds == pytest.approx(1.5, abs=0.02)


async def test_empty_and_oversized_audio_are_refused_before_sending(stt):
    client, _ = _client(stt, max_bytes=1000)
    try:
        with pytest.raises(TranscriptionRefusedError):
            await client.transcribe(b"", mime_type="audio/ogg")
        with pytest.raises(TranscriptionRefusedError, match="STT_MAX_BYTES"):
            await client.transcribe(voice_note(SAID, seconds=30.0), mime_type="audio/ogg")
        with pytest.raises(TranscriptionRefusedError):
            await client.transcribe(voice_note(SAID), mime_type="video/mp4")
    finally:
        await client.aclose()
    assert stt.requests == ()


async def test_wrong_key_and_unknown_model_are_auth_errors(stt):
    wrong, _ = _client(stt, api_key="sk-wrong-1111111111")
    unknown, _ = _client(stt, model="whisper-large-v9")
    try:
        with pytest.raises(TranscriptionAuthError) as bad_key:
            await wrong.transcribe(voice_note(SAID), mime_type="audio/ogg")
        with pytest.raises(TranscriptionAuthError) as bad_model:
            await unknown.transcribe(voice_note(SAID), mime_type="audio/ogg")
    finally:
        await wrong.aclose()
        await unknown.aclose()
    assert (bad_key.value.status, bad_key.value.code, bad_key.value.reason) == (401, "invalid_api_key", "unauthorised")
    assert "sk-" not in str(bad_key.value)
    assert (bad_model.value.status, bad_model.value.code) == (404, "model_not_found")


async def test_audio_the_server_cannot_take_is_refused(client, stt):
    with pytest.raises(TranscriptionRefusedError) as not_audio:
        await client.transcribe(b"this is not audio at all", mime_type="audio/mpeg")
    with pytest.raises(TranscriptionRefusedError) as too_short:
        await client.transcribe(voice_note(SAID, seconds=0.05), mime_type="audio/ogg")
    stt.inject_faults(413)
    with pytest.raises(TranscriptionRefusedError) as too_large:
        await client.transcribe(voice_note(SAID), mime_type="audio/ogg")

    assert (not_audio.value.status, not_audio.value.code) == (400, "invalid_value")
    assert (too_short.value.status, too_short.value.code) == (400, "audio_too_short")
    assert too_large.value.status == 413
    assert [r.status for r in stt.requests] == [400, 400, 413]  # none retried


async def test_a_server_error_is_retried_once(stt):
    client, sleep = _client(stt)
    stt.inject_faults(500)
    try:
        transcript = await client.transcribe(voice_note(SAID), mime_type="audio/ogg")
        stt.inject_faults(503, count=2)
        with pytest.raises(TranscriptionUnavailableError) as outage:
            await client.transcribe(voice_note(SAID), mime_type="audio/ogg")
    finally:
        await client.aclose()
    assert transcript.text == SAID
    assert [r.status for r in stt.requests] == [500, 200, 503, 503]
    assert len(sleep.waits) == 2
    assert (outage.value.status, outage.value.reason) == (503, "unavailable")


async def test_429_waits_for_retry_after_when_it_fits_the_deadline(stt):
    client, sleep = _client(stt)
    try:
        stt.inject_faults(429, retry_after=1.5)
        transcript = await client.transcribe(voice_note(SAID), mime_type="audio/ogg", deadline_seconds=4.0)
        stt.inject_faults(429, retry_after=30)
        with pytest.raises(TranscriptionRateLimitedError) as limited:
            await client.transcribe(voice_note(SAID), mime_type="audio/ogg", deadline_seconds=4.0)
    finally:
        await client.aclose()
    assert transcript.text == SAID
    assert sleep.waits == [1.5]  # the 30 s hint did not fit: no wait, no second request
    assert (limited.value.retry_after, limited.value.code, limited.value.reason) == (30.0, "rate_limit_exceeded",
                                                                                      "rate_limited")
    assert [r.status for r in stt.requests] == [429, 200, 429]


async def test_a_hanging_server_is_bounded_by_the_deadline(stt):
    client, sleep = _client(stt)
    stt.inject_faults(timeout=30.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(TranscriptionUnavailableError) as slow:
            await client.transcribe(voice_note(SAID), mime_type="audio/ogg", deadline_seconds=0.5)
    finally:
        await client.aclose()
    assert loop.time() - started < 10  # far below the 30 s hold: the deadline ended it
    assert sleep.waits == []  # a spent budget is not retried
    assert isinstance(slow.value.__cause__, TimeoutError)


async def test_a_spent_deadline_sends_nothing(client, stt):
    with pytest.raises(TranscriptionUnavailableError):
        await client.transcribe(voice_note(SAID), mime_type="audio/ogg", deadline_seconds=0)
    assert stt.requests == ()


async def test_an_unreadable_answer_is_a_response_error(client, stt):
    stt.inject_faults(malformed=True)
    with pytest.raises(TranscriptionResponseError) as broken:
        await client.transcribe(voice_note(SAID), mime_type="audio/ogg")
    assert broken.value.reason == "bad_response"
    assert len(stt.requests) == 1  # a 200 is not retried


async def test_connection_errors_are_retried_once_then_unavailable():
    settings = SpeechSettings(base_url="http://127.0.0.1:9/v1", timeout_seconds=2.0)
    sleep = RecordingSleep()
    client = OpenAICompatibleTranscriber(settings, sleep=sleep)
    try:
        with pytest.raises(TranscriptionUnavailableError) as unreachable:
            await client.transcribe(voice_note(SAID), mime_type="audio/ogg")
    finally:
        await client.aclose()
    assert len(sleep.waits) == 1
    assert "cannot reach" in str(unreachable.value)


async def test_no_transcript_key_or_audio_in_logs_or_errors(stt, caplog):
    caplog.set_level(logging.DEBUG)
    client, _ = _client(stt)
    secret = "Meine Nummer ist 4915550000001"
    try:
        transcript = await client.transcribe(voice_note(secret, confidence=0.5), mime_type="audio/ogg")
        stt.inject_faults(500, count=2)
        with pytest.raises(TranscriptionUnavailableError) as failed:
            await client.transcribe(voice_note(secret), mime_type="audio/ogg")
    finally:
        await client.aclose()
    assert transcript.text == secret and secret not in repr(transcript)
    assert caplog.records, "the client and the stand-in log something at DEBUG"
    for text in (caplog.text, str(failed.value), repr(client.settings)):
        assert "4915550000001" not in text and KEY not in text


def test_filenames_follow_the_mime_type():
    assert filename_for("audio/ogg; codecs=opus") == ("voice.ogg", "audio/ogg")
    assert [filename_for(m)[0] for m in ("audio/mpeg", "audio/mp4", "audio/aac", "audio/amr", "audio/wav")] == [
        "voice.mp3", "voice.m4a", "voice.aac", "voice.amr", "voice.wav"]
    assert filename_for("image/png") is None
    assert math.isfinite(SpeechSettings(base_url="http://x/v1").timeout_seconds)


async def test_bearer_header_only_with_a_key():
    async with STTStandIn(latency=0.0, realtime_factor=0.0) as open_server:
        client = OpenAICompatibleTranscriber(SpeechSettings(base_url=open_server.base_url))
        try:
            assert (await client.transcribe(voice_note(SAID), mime_type="audio/ogg")).text == SAID
        finally:
            await client.aclose()
        [received] = open_server.requests
    assert received.bearer is False
