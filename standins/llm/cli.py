"""``python -m standins.llm``: the LLM stand-in in the foreground until Ctrl-C or SIGTERM.

Local use: ``python -m standins.llm --port 8099 [--api-key KEY] [--model NAME]``, then point
``LLM_BASE_URL`` at the printed address.
"""
from __future__ import annotations

import argparse
import logging

from standins.foreground import run_threaded
from standins.llm.server import CHAT_COMPLETIONS_PATH, LLMStandin

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in in the foreground until Ctrl-C or SIGTERM; exit status 0."""
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
    return run_threaded(
        LLMStandin(
            api_key=args.api_key,
            models=frozenset(args.model) if args.model else None,
            context_tokens=args.context_tokens,
            host=args.host,
            port=args.port,
        ),
        lambda s: f"LLM stand-in on {s.base_url}{CHAT_COMPLETIONS_PATH} (Ctrl-C to stop)",
    )
