"""µs per parse of a button payload: Rasa 3.6's whole NLU graph vs the payload read directly (rasa_compat).

Why: Rasa 3.6 runs every message, "/more_results" included, through tokenizer, featurizers,
DIET and the rest of the pipeline, then replaces the result by the payload's intent and
entities (``RegexMessageHandler``). On WhatsApp every button or list tap is such a payload;
:func:`rasa_compat.parse_payloads_without_nlu` reads it directly (issue 12). This prints both
side by side on the trained model, with a typed sentence as the yardstick (it runs the graph
either way).

Run: ``python -m bench.payload_parse [--model models/current.tar.gz] [--number 20] [--repeat 5]``
(median of the batches; needs ``make train``).
"""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import per_op_microseconds, print_table

__all__ = ["MESSAGES", "run", "parse_model_options", "main"]

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ["/more_results", '/select_job{"job_id": "42"}', "Ich suche einen Job als Koch in Berlin"]


def _parse(method: Callable[..., Any], processor: Any, text: str) -> Callable[[], None]:
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events("bench", [])

    def once() -> None:
        method(processor, UserMessage(text=text, sender_id="bench"), tracker)

    return once


def run(model: Path, number: int = 20, repeat: int = 5) -> list[list[str]]:
    """Rows (message, graph µs, direct µs, speed-up); leaves Rasa's method as it found it."""
    import rasa_compat
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    processor = Agent.load(str(model)).processor
    current = MessageProcessor._parse_message_with_graph
    original = getattr(current, "__wrapped__", current)
    rows = []
    try:
        MessageProcessor._parse_message_with_graph = original  # type: ignore[method-assign]
        rasa_compat.parse_payloads_without_nlu()
        direct = MessageProcessor._parse_message_with_graph
        for text in MESSAGES:
            for method in (original, direct):  # warm both paths (TensorFlow's first call compiles)
                _parse(method, processor, text)()
            before = statistics.median(per_op_microseconds(_parse(original, processor, text), number=number, repeat=repeat))
            after = statistics.median(per_op_microseconds(_parse(direct, processor, text), number=number, repeat=repeat))
            rows.append([f"`{text}`", f"{before:,.0f}", f"{after:,.0f}", f"{before / after:.1f}x"])
    finally:
        MessageProcessor._parse_message_with_graph = current  # type: ignore[method-assign]
    return rows


def parse_model_options(prog: str, description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """``--model``, ``--number``, ``--repeat`` of the in-process parse benchmarks; the model must exist."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz", help="trained model")
    parser.add_argument("--number", type=int, default=20, help="parses per timed batch")
    parser.add_argument("--repeat", type=int, default=5, help="batches per variant (median reported)")
    args = parser.parse_args(argv)
    if not args.model.exists():
        parser.error(f"no trained model at {args.model}: run `make train` first")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_model_options("python -m bench.payload_parse", __doc__.splitlines()[0], argv)
    print_table(
        "Parsing a message (µs per parse, median)",
        ["message", "Rasa 3.6 (whole NLU graph)", "payload read directly (rasa_compat)", "speed-up"],
        run(args.model, args.number, args.repeat),
    )


if __name__ == "__main__":
    main()
