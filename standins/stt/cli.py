"""``python -m standins.stt``: the speech-to-text stand-in as a process of its own.

``python -m standins.stt --port 8098 [--api-key K] [--model NAME ...] [--latency S]
[--realtime-factor F]`` (binds 127.0.0.1), then ``STT_BASE_URL=http://127.0.0.1:8098/v1``.
Runs until Ctrl-C or SIGTERM (standins/foreground.py).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from standins.foreground import run_in_foreground
from standins.stt.server import STTStandIn

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stand-in in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m standins.stt",
        description="A loopback stand-in for an OpenAI-compatible speech-to-text endpoint (/v1/audio/transcriptions).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--model", action="extend", nargs="+", default=None,
                        help="accepted model names (default: any)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every answer")
    parser.add_argument("--realtime-factor", type=float, default=0.02, help="seconds per second of audio")
    args = parser.parse_args(argv)
    run_in_foreground(
        lambda: STTStandIn(
            api_key=args.api_key, models=args.model or None, latency=args.latency, realtime_factor=args.realtime_factor
        ),
        args.host,
        args.port,
        lambda standin: f"speech-to-text stand-in on {standin.base_url}/audio/transcriptions "
                        f"(STT_BASE_URL={standin.base_url})",
    )
