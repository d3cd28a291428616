"""What a voice note adds to a turn: the same sentence typed and spoken, side by side in one run.

Why: issue 14 asks for "the added latency per voice turn against the stand-in and how a real
server would change it". A voice turn does everything a typed one does plus the media download
(two Graph API calls: the media URL, then the bytes), reading the Ogg length, the multipart
POST to the transcriber and its answer. This benchmark runs the real processes
(harness.local_stack.LocalStack with ``stt=True``: Meta stand-in, transcription stand-in, action
server, ``rasa run`` with the encrypted SQLite store) and alternates a typed and a spoken
"Ich suche einen Job als Koch in Berlin" (a whole search: NLU, the job search action, a list
reply), each from a new user, so both see the same dialogue. The webhook answers after the
replies were accepted by the Graph stand-in, so the POST's duration is the turn's latency.

Two transcriber settings, interleaved too: ``--stt-latency 0`` (the stand-in answers at once:
what our own code adds) and the stand-in's default (0.05 s + 0.02 s per second of audio). A real
server adds its transcription time on top of the first figure (docs/voice-notes.md).

Run: ``python -m bench.voice [--rounds 20] [--seconds-of-audio 3]``; prints a table and, with
``--save``, writes the section to bench/results/results.json.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import save_section, summarize
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.voice_notes import voice_note
from harness.webhook_sender import WebhookSender

__all__ = ["SENTENCE", "main", "measure"]

SENTENCE = "Ich suche einen Job als Koch in Berlin"


async def _post(stack: LocalStack, message: dict[str, Any]) -> float:
    """One webhook POST; its duration in seconds (the webhook answers after the replies were sent)."""
    async with WebhookSender(stack.webhook_url(), stack.app_secret, retry_delays=()) as sender:
        started = time.perf_counter()
        delivery = await sender.send(mp.payload(message))
        elapsed = time.perf_counter() - started
    if delivery.status != 200:
        raise RuntimeError(f"webhook answered {delivery.status}")
    return elapsed


async def _rounds(stack: LocalStack, rounds: int, audio_seconds: float, tag: int) -> dict[str, list[float]]:
    """``rounds`` typed and spoken turns, alternating which goes first; warm-up turns not counted."""
    audio = voice_note(SENTENCE, seconds=audio_seconds, language="de")
    times: dict[str, list[float]] = {"text": [], "voice": []}
    for index in range(-2, rounds):  # two warm-up rounds
        order = ("text", "voice") if index % 2 == 0 else ("voice", "text")
        for kind in order:
            user = f"49155{tag:02d}{(index + 2) * 2 + (kind == 'voice'):06d}"
            if kind == "text":
                elapsed = await _post(stack, mp.text(user, SENTENCE))
            else:
                media_id = stack.upload_media(audio)  # Meta holds the recording before the webhook
                elapsed = await _post(stack, mp.audio(user, media_id=media_id))
            if index >= 0:
                times[kind].append(elapsed)
    return times


def measure(rounds: int = 20, audio_seconds: float = 3.0, model: Path | None = None) -> dict[str, Any]:
    """Both transcriber settings, each on its own stack; returns the summaries in milliseconds."""
    results: dict[str, Any] = {"rounds": rounds, "audio_seconds": audio_seconds, "sentence": SENTENCE}
    for tag, (name, latency, factor) in enumerate((("instant", 0.0, 0.0), ("standin_default", 0.05, 0.02))):
        with tempfile.TemporaryDirectory(prefix="bench-voice-") as workdir:
            stack = LocalStack(
                Path(workdir), **({"model": model} if model else {}), stt=True,
                stt_args=("--latency", str(latency), "--realtime-factor", str(factor)),
            )
            with stack:
                times = asyncio.run(_rounds(stack, rounds, audio_seconds, tag + 10))
                stt = stack.stt_requests()
        text, voice = summarize(times["text"], 1000), summarize(times["voice"], 1000)
        results[name] = {
            "stt_latency_s": latency + factor * audio_seconds,
            "text_ms": text,
            "voice_ms": voice,
            "added_p50_ms": voice["p50"] - text["p50"],
            "added_mean_ms": voice["mean"] - text["mean"],
            "transcriptions": sum(1 for request in stt if request.get("status") == 200),
        }
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"\nVoice turn against typed turn ({results['rounds']} rounds each, interleaved, "
          f"{results['audio_seconds']:.0f} s voice note, \"{results['sentence']}\")")
    print(f"{'transcriber':<34}{'typed p50':>11}{'voice p50':>11}{'typed p95':>11}{'voice p95':>11}{'added p50':>11}")
    for name, label in (("instant", "stand-in answering at once"), ("standin_default", "stand-in default latency")):
        row = results[name]
        label = f"{label} ({row['stt_latency_s'] * 1000:.0f} ms)"
        print(f"{label:<34}{row['text_ms']['p50']:>9.0f}ms{row['voice_ms']['p50']:>9.0f}ms"
              f"{row['text_ms']['p95']:>9.0f}ms{row['voice_ms']['p95']:>9.0f}ms{row['added_p50_ms']:>9.0f}ms")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.voice", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="typed and spoken turns per setting (default 20)")
    parser.add_argument("--seconds-of-audio", type=float, default=3.0, help="length of the voice note (default 3)")
    parser.add_argument("--save", action="store_true", help="write the section to bench/results/results.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.getLogger("rasa").setLevel(logging.WARNING)
    results = measure(args.rounds, args.seconds_of_audio)
    _print(results)
    if args.save:
        save_section("voice", results)
    return results


if __name__ == "__main__":
    main()
