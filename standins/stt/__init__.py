"""A loopback stand-in for an OpenAI-compatible speech-to-text server (``/v1/audio/transcriptions``).

Why: tests and local runs must never send a voice note to a real transcription service, yet the
client (speech/client.py) has to be tested against the real protocol: multipart uploads, bearer
auth, OpenAI-shaped errors, format sniffing, rate limits, outages and latency. The stand-in
"hears" the test tags written by harness/voice_notes.py, so a test knows the transcript,
confidence and language a voice note will get.

Use from tests::

    async with STTStandIn(api_key="test-key") as stt:
        stt.inject_faults(status=503, count=1, retry_after=0)
        ... STT_BASE_URL=stt.base_url ...
        assert stt.requests[-1].language == "de"

Local use: ``python -m standins.stt --port 8098``.

Modules, by what they do: ``server`` (state; the lifecycle is standins/lifecycle.py), ``endpoint``
(OpenAI's checks and answers), ``formats`` (sniffing, durations), ``hearing`` (the test tags and
the answer shape), ``faults``, ``errors`` (standins/openai_errors.py's answers as aiohttp
responses), ``control`` (``/_standin/...``), ``records`` (what was received), ``cli`` (run by
standins/foreground.py). This package is their one import point.
"""
from __future__ import annotations

from standins.stt.cli import main
from standins.stt.faults import Fault
from standins.stt.formats import SUPPORTED_FORMATS, sniff
from standins.stt.hearing import CONFIDENCE_TAG, DEFAULT_CONFIDENCE, LANGUAGE_TAG, TRANSCRIPT_TAG
from standins.stt.records import ReceivedRequest
from standins.stt.server import MAX_FILE_BYTES, TRANSCRIPTIONS_PATH, STTStandIn

__all__ = [
    "CONFIDENCE_TAG",
    "DEFAULT_CONFIDENCE",
    "LANGUAGE_TAG",
    "MAX_FILE_BYTES",
    "SUPPORTED_FORMATS",
    "TRANSCRIPT_TAG",
    "TRANSCRIPTIONS_PATH",
    "Fault",
    "ReceivedRequest",
    "STTStandIn",
    "main",
    "sniff",
]
