"""``python -m standins.meta_graph``: the Graph API stand-in as a process of its own.

Used by harness/local_stack.py (the stand-in next to separate Rasa processes) and by hand
(``python -m standins.meta_graph --port 8765``; binds 127.0.0.1 by default). The token and
phone number id default to ``WHATSAPP_ACCESS_TOKEN`` / ``WHATSAPP_PHONE_NUMBER_ID`` so the
assistant and the stand-in started from one environment agree. Runs until Ctrl-C or SIGTERM
(standins/foreground.py).
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from standins.foreground import run_in_foreground
from standins.meta_graph.server import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, MetaGraphStandIn

__all__ = ["main"]


def _build(args: argparse.Namespace) -> MetaGraphStandIn:
    standin = MetaGraphStandIn(args.token, args.phone_number_id)
    if args.fault_probability:
        standin.set_random_faults(args.fault_probability, seed=args.seed)
    if args.bsuid_unsupported:
        standin.reject_bsuid_recipients()
    return standin


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m standins.meta_graph [--host 127.0.0.1] [--port 8765] ...``"""
    parser = argparse.ArgumentParser(
        prog="python -m standins.meta_graph",
        description="A loopback stand-in for the WhatsApp Cloud API messages endpoint of Meta's Graph API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=os.environ.get("WHATSAPP_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN)
    parser.add_argument(
        "--phone-number-id", default=os.environ.get("WHATSAPP_PHONE_NUMBER_ID") or DEFAULT_PHONE_NUMBER_ID
    )
    parser.add_argument("--fault-probability", type=float, default=0.0, help="random fault rate for sends (0..1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for random faults")
    parser.add_argument(
        "--bsuid-unsupported", action="store_true", help="answer 131062 to every send addressed by 'recipient' (a BSUID)"
    )
    args = parser.parse_args(argv)
    run_in_foreground(
        lambda: _build(args),
        args.host,
        args.port,
        lambda standin: f"Meta Graph stand-in on {standin.base_url} (phone number id {standin.phone_number_id})",
    )
