"""The speech-to-text stand-in answers like OpenAI's /v1/audio/transcriptions, and its controls."""
from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import struct
import subprocess
import sys

import aiohttp
import pytest

from harness.voice_notes import voice_note
from standins.stt import SUPPORTED_FORMATS, STTStandIn, sniff
from tests.support.paths import REPO_ROOT

KEY = "sk-standin-key-123456"


@pytest.fixture
async def stt():
    async with STTStandIn(api_key=KEY, models=["whisper-1", "large-v3"], latency=0.0, realtime_factor=0.0,
                          max_file_bytes=100_000) as server:
        yield server


@pytest.fixture
async def http(stt):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


def form(audio: bytes | None = b"", filename: str = "voice.ogg", **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if audio is not None:
        data.add_field("file", audio, filename=filename, content_type="application/octet-stream")
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def post(http, stt, data) -> tuple[int, dict | str, dict]:
    async with http.post(f"{stt.base_url}/audio/transcriptions", data=data) as response:
        text = await response.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        return response.status, body, dict(response.headers)


def assert_openai_error(body, *, param=None, code=None) -> str:
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["param"], error["code"]) == (param, code)
    return error["message"]


async def test_verbose_json_answer(http, stt):
    status, body, _ = await post(http, stt, form(voice_note("Koch in Berlin. Vollzeit!", seconds=2.0, confidence=0.5,
                                                            language="de"), model="whisper-1",
                                                 response_format="verbose_json"))
    assert status == 200
    assert (body["task"], body["language"], body["duration"], body["text"]) == (
        "transcribe", "german", 2.0, "Koch in Berlin. Vollzeit!")
    assert [s["text"] for s in body["segments"]] == [" Koch in Berlin.", " Vollzeit!"]
    assert body["segments"][-1]["end"] == pytest.approx(2.0, abs=0.01)
    assert all(s["avg_logprob"] == pytest.approx(math.log(0.5)) for s in body["segments"])


async def test_json_text_and_silence(http, stt):
    _, as_json, _ = await post(http, stt, form(voice_note("Hallo"), model="whisper-1"))  # json is the default
    _, as_text, headers = await post(http, stt, form(voice_note("Hallo"), model="whisper-1", response_format="text"))
    _, silent, _ = await post(http, stt, form(voice_note(None, seconds=1.0), model="whisper-1",
                                              response_format="verbose_json", language="pl"))
    assert as_json == {"text": "Hallo"}
    assert as_text == "Hallo\n" and headers["Content-Type"].startswith("text/plain")
    assert (silent["text"], silent["language"]) == ("", "polish")
    [segment] = silent["segments"]
    assert (segment["no_speech_prob"], segment["avg_logprob"]) == (0.95, -1.5)


async def test_bearer_key_is_checked(stt):
    async with aiohttp.ClientSession() as anonymous:
        missing = await post(anonymous, stt, form(voice_note("x"), model="whisper-1"))
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-wrong-999999"}) as wrong_key:
        wrong = await post(wrong_key, stt, form(voice_note("x"), model="whisper-1"))
    assert missing[0] == wrong[0] == 401
    assert "didn't provide an API key" in assert_openai_error(missing[1])
    message = assert_openai_error(wrong[1], code="invalid_api_key")
    assert message.startswith("Incorrect API key provided: sk-***99.")
    assert [(r.authorised, r.bearer) for r in stt.requests] == [(False, False), (False, True)]


@pytest.mark.parametrize(("fields", "param", "needle"), [
    ({"model": "whisper-1"}, "file", "'file'"),
    ({"file": True}, "model", "'model'"),
    ({"file": True, "model": "whisper-1", "response_format": "xml"}, "response_format", "'xml'"),
    ({"file": True, "model": "whisper-1", "response_format": "srt"}, "response_format", "stand-in"),
    ({"file": True, "model": "whisper-1", "language": "german"}, "language", "ISO-639-1"),
    ({"file": True, "model": "whisper-1", "temperature": "2"}, "temperature", "temperature"),
])
async def test_request_fields_are_checked(http, stt, fields, param, needle):
    audio = voice_note("x") if fields.pop("file", False) else None
    status, body, _ = await post(http, stt, form(audio, **fields))
    assert status == 400
    assert needle in assert_openai_error(body, param=param)


async def test_unknown_model_is_404(http, stt):
    status, body, _ = await post(http, stt, form(voice_note("x"), model="whisper-2"))
    assert status == 404
    assert "whisper-2" in assert_openai_error(body, param="model", code="model_not_found")


async def test_a_json_body_is_refused(http, stt):
    async with http.post(f"{stt.base_url}/audio/transcriptions", json={"model": "whisper-1"}) as response:
        assert response.status == 400
        assert "multipart/form-data" in assert_openai_error(await response.json())


async def test_uploads_over_the_limit_are_413(http, stt):
    status, body, _ = await post(http, stt, form(bytes(150_000), model="whisper-1"))
    assert status == 413
    assert "Maximum content size limit (100000) exceeded" in body["error"]["message"]
    assert stt.requests[-1].byte_count > 100_000


WAV_HEADER = b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data"


@pytest.mark.parametrize(("audio", "expected"), [
    (b"ID3\x04" + bytes(400), "mp3"), (b"\xff\xfb\x90" + bytes(400), "mp3"),
    (WAV_HEADER + struct.pack("<I", 32000) + bytes(32000), "wav"), (b"fLaC" + bytes(400), "flac"),
    (b"\0\0\0\x20ftypM4A " + bytes(400), "m4a"), (b"\x1a\x45\xdf\xa3" + bytes(400), "webm"),
    (b"#!AMR\n" + bytes(400), "amr"), (b"\xff\xf1\x50" + bytes(400), "aac"), (b"\xff\xf9\x50" + bytes(400), "aac"),
])
async def test_formats_are_sniffed_from_the_bytes(http, stt, audio, expected):
    assert sniff(audio) == expected
    status, body, _ = await post(http, stt, form(audio, filename="voice.bin", model="whisper-1"))
    assert (status, body) == (200, {"text": ""})
    assert stt.requests[-1].audio_format == expected


async def test_unknown_bytes_and_too_short_audio_are_400(http, stt):
    status, body, _ = await post(http, stt, form(b"%PDF-1.7 not audio", model="whisper-1"))
    assert status == 400
    assert assert_openai_error(body, param="file", code="invalid_value") == (
        f"Invalid file format. Supported formats: {list(SUPPORTED_FORMATS)}")
    short_wav = WAV_HEADER + struct.pack("<I", 1600) + bytes(1600)  # 0.05 s
    for audio in (voice_note("x", seconds=0.05), short_wav):
        status, body, _ = await post(http, stt, form(audio, model="whisper-1"))
        assert status == 400
        assert "too short" in assert_openai_error(body, param="file", code="audio_too_short")


async def test_models_endpoint(http, stt):
    async with http.get(f"{stt.base_url}/models") as response:
        assert [m["id"] for m in (await response.json())["data"]] == ["large-v3", "whisper-1"]


async def test_python_faults(http, stt):
    stt.inject_faults(429, count=2, retry_after=3)
    stt.inject_faults(malformed=True)
    answers = [await post(http, stt, form(voice_note("x"), model="whisper-1")) for _ in range(4)]
    assert [a[0] for a in answers] == [429, 429, 200, 200]
    assert answers[0][2]["Retry-After"] == "3"
    assert assert_openai_error(answers[0][1], code="rate_limit_exceeded")
    assert isinstance(answers[2][1], str)  # truncated JSON
    assert answers[3][1] == {"text": "x"}


async def test_http_controls_and_records_without_audio(http, stt):
    async with http.post(f"{stt.root_url}/_standin/faults", json={"status": 503, "count": 1}) as response:
        assert await response.json() == {"queued": 1}
    async with http.post(f"{stt.root_url}/_standin/faults", json={"status": 200}) as response:
        assert response.status == 400
    first = await post(http, stt, form(voice_note("geheim"), model="large-v3", language="uk",
                                       response_format="verbose_json"))
    second = await post(http, stt, form(voice_note("geheim"), model="large-v3", language="uk",
                                        response_format="verbose_json"))
    async with http.get(f"{stt.root_url}/_standin/requests") as response:
        records = (await response.json())["requests"]
    async with http.get(f"{stt.root_url}/_standin/faults") as response:
        faults = await response.json()

    assert (first[0], second[0], second[1]["language"]) == (503, 200, "ukrainian")
    assert [(r["model"], r["language"], r["response_format"], r["status"]) for r in records] == [
        ("large-v3", "uk", "verbose_json", 503), ("large-v3", "uk", "verbose_json", 200)]
    assert records[1]["byte_count"] == len(voice_note("geheim"))
    assert "geheim" not in json.dumps(records)
    assert faults["queued"] == 0 and faults["served"][0]["status"] == 503

    stt.inject_faults(500, count=3)
    async with http.delete(f"{stt.root_url}/_standin/faults") as response:
        assert await response.json() == {"queued": 0}
    async with http.delete(f"{stt.root_url}/_standin/requests"):
        pass
    assert stt.requests == ()


async def test_latency_grows_with_the_audio():
    async with STTStandIn(latency=0.1, realtime_factor=0.1) as slow, aiohttp.ClientSession() as http:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _, _ = await post(http, slow, form(voice_note("x", seconds=2.0), model="any-model"))
        assert status == 200
        assert loop.time() - started >= 0.29  # 0.1 + 0.1 * 2 s, a lower bound only


async def test_stop_releases_a_held_request():
    slow = STTStandIn(latency=0.0)
    await slow.start()
    slow.inject_faults(timeout=60)
    async with aiohttp.ClientSession() as http:
        pending = asyncio.create_task(post(http, slow, form(voice_note("x"), model="m")))
        while not slow.faults.served:
            await asyncio.sleep(0.01)
        await slow.stop()
        try:
            status, _, _ = await asyncio.wait_for(pending, 10)  # not the 60 s of the fault
        except aiohttp.ClientError:
            status = None
    assert status == 503


def test_the_cli_serves_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "standins.stt", "--port", "0", "--api-key", KEY, "--model", "a", "b", "--latency", "0"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = process.stdout.readline()
        base_url = line.split("STT_BASE_URL=", 1)[1].rstrip(")\n")

        async def models() -> list[str]:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
                async with http.get(f"{base_url}/models") as response:
                    return [m["id"] for m in (await response.json())["data"]]

        assert asyncio.run(models()) == ["a", "b"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
