"""``python -m standins.llm``: the LLM stand-in in the foreground until Ctrl-C or SIGTERM.

Local use: ``python -m standins.llm --port 8099 [--api-key KEY] [--model NAME]``, then point
``LLM_BASE_URL`` at the printed address.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from standins.llm.server import CHAT_COMPLETIONS_PATH, LLMStandin

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m standins.llm", description="Loopback stand-in for an OpenAI-compatible chat completions server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--model", action="append", default=None, help="accepted model name (repeatable; default: any)")
    parser.add_argument("--context-tokens", type=int, default=4096)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    standin = LLMStandin(
        api_key=args.api_key,
        models=frozenset(args.model) if args.model else None,
        context_tokens=args.context_tokens,
        host=args.host,
        port=args.port,
    ).start()
    print(f"LLM stand-in on {standin.base_url}{CHAT_COMPLETIONS_PATH} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())  # `docker stop`, `kill`
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
