"""What the sentence encoder adds to parsing a message: the same model, encoder on and off.

Why: issue 13 lets turn latency at 1 user grow by at most 10 %; the pipeline's sentence encoder
(nlu/sentence_meaning.py: the BERT layers config.yml asks for, in NumPy) is the one new cost per
typed message. Two models would differ in more than the encoder (training is not bit-identical
across pipelines), so this loads the trained model once and parses each message two ways, in
alternating batches: as served, and with the encoder's vectors taken from a dictionary filled
beforehand (the same features, so the same work in every other component). The difference is the
encoder's cost. Button taps (``/more_results``) do not run the pipeline
(rasa_compat.parse_payloads_without_nlu) and cost nothing here.

It prints µs per parse (median of the batches) and, for the script every virtual user of
bench/turns.py plays ("Hallo", "Ich suche einen Job als Koch in Berlin", a tap), the encoder's
mean cost per turn: compare it with that benchmark's turn latency at 1 user.

Run: ``python -m bench.sentence_meaning_cost [--model models/current.tar.gz] [--number 20] [--repeat 5]``
(needs ``make train``).
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import per_op_microseconds, print_table, save_section
from bench.payload_parse import _parse, parse_model_options
from bench.turn_drivers import SCRIPT

__all__ = ["TURN_SCRIPT", "TYPED", "MESSAGES", "run", "main"]

#: what bench/turns.py's users type, one turn each; a tap (button id) runs no pipeline
TURN_SCRIPT = [text for text, button in SCRIPT]
TYPED = [text for text, button in SCRIPT if button is None]
MESSAGES = TYPED + [
    "hallo, ich bin 34 und suche nach meiner elternzeit wieder was in teilzeit als "
    "bürokauffrau in köln oder umgebung, am liebsten vormittags"]


def run(model: Path, number: int = 20, repeat: int = 5) -> dict[str, Any]:
    """µs per parse with the encoder and with its vectors cached, per message; restores MiniLM."""
    from rasa.core.agent import Agent

    from nlu.minilm import MiniLM

    processor = Agent.load(str(model)).processor
    method = type(processor)._parse_message_with_graph
    served = MiniLM.encode
    cache: dict[str, np.ndarray] = {}

    def cached(self: MiniLM, texts: Any) -> np.ndarray:
        return np.stack([cache[text] for text in texts])

    served_by: list[MiniLM] = []

    def recording(self: MiniLM, texts: Any) -> np.ndarray:
        served_by.append(self)  # the model's own encoder (its layer count), for the cached vectors
        return served(self, texts)

    rows, per_message = [], {}
    try:
        for text in MESSAGES:
            MiniLM.encode = recording  # type: ignore[method-assign]
            _parse(method, processor, text)()  # warm-up (TensorFlow's first call compiles)
            cache[text] = served(served_by[-1], [text])[0]
            timings: dict[str, list[float]] = {"on": [], "off": []}
            for _ in range(repeat):  # alternate, so a noisy neighbour hits both alike
                for variant, encode in (("on", served), ("off", cached)):
                    MiniLM.encode = encode  # type: ignore[method-assign]
                    timings[variant] += per_op_microseconds(_parse(method, processor, text), number=number, repeat=1)
            on, off = statistics.median(timings["on"]), statistics.median(timings["off"])
            per_message[text] = {"with_encoder_us": on, "cached_vectors_us": off, "encoder_us": on - off}
            rows.append([f"`{text[:60]}{'…' if len(text) > 60 else ''}`", f"{on:,.0f}", f"{off:,.0f}",
                         f"{on - off:,.0f}", f"{(on - off) / off:.0%}"])
    finally:
        MiniLM.encode = served  # type: ignore[method-assign]
    per_turn = sum(per_message[text]["encoder_us"] for text in TYPED) / len(TURN_SCRIPT)
    return {"rows": rows, "messages": per_message, "encoder_us_per_turn_of_bench_turns": per_turn}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_model_options("python -m bench.sentence_meaning_cost", __doc__.splitlines()[0], argv)
    section = run(args.model, args.number, args.repeat)
    print_table("Parsing a typed message, the sentence encoder on and off (µs per parse, median)",
                ["message", "as served", "encoder's vectors cached", "encoder", "share"], section["rows"])
    print(f"encoder per turn of bench.turns' script (mean over its 2 typed messages and 1 tap): "
          f"{section['encoder_us_per_turn_of_bench_turns'] / 1000:.1f} ms", flush=True)
    save_section("sentence_meaning_cost", section)
    return section


if __name__ == "__main__":
    main()
