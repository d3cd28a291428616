"""µs per validation of a custom action result: Rasa 3.6's own check vs the compiled one (rasa_compat).

Why: Rasa 3.6 validates every custom action result with ``jsonschema.validate``, which
re-checks the schema and builds a validator on each call (issue 12);
:func:`rasa_compat.compile_action_result_validation` builds the validator once. This prints
both side by side for a typical result (a few events, one response) and an invalid one.

Run: ``python -m bench.action_validation [--number 100] [--repeat 7]`` (median of the batches).
"""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import per_op_microseconds, print_table

__all__ = ["RESULTS", "run", "main"]

RESULTS: dict[str, dict[str, Any]] = {
    "typical result": {
        "events": [
            {"event": "slot", "name": "language", "value": "de"},
            {"event": "slot", "name": "topic", "value": None},
            {"event": "followup", "name": "utter_next"},
        ],
        "responses": [{"response": "utter_greet", "buttons": []}],
    },
    "invalid result": {"events": [{"event": "slot", "name": 3, "value": "de"}]},
}


def _call(validate: Callable[[Any, Any], Any], action: Any, result: Any) -> Callable[[], None]:
    def once() -> None:
        try:
            validate(action, result)
        except Exception:  # noqa: BLE001 - the invalid result is timed with its exception
            pass

    return once


def run(number: int = 100, repeat: int = 7) -> list[list[str]]:
    """Rows (result, original µs, compiled µs, speed-up); leaves Rasa's method as it found it."""
    import rasa_compat
    from rasa.core.actions.action import RemoteAction

    current = RemoteAction._validate_action_result
    original = getattr(current, "__wrapped__", current)
    action = RemoteAction("action_bench", None)
    rows = []
    try:
        RemoteAction._validate_action_result = original  # type: ignore[method-assign]
        rasa_compat.compile_action_result_validation()
        compiled = RemoteAction._validate_action_result
        for name, result in RESULTS.items():
            before = statistics.median(per_op_microseconds(_call(original, action, result), number=number, repeat=repeat))
            after = statistics.median(per_op_microseconds(_call(compiled, action, result), number=number, repeat=repeat))
            rows.append([name, f"{before:.1f}", f"{after:.1f}", f"{before / after:.0f}x"])
    finally:
        RemoteAction._validate_action_result = current  # type: ignore[method-assign]
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100, help="validations per timed batch")
    parser.add_argument("--repeat", type=int, default=7, help="batches per variant (median reported)")
    args = parser.parse_args(argv)
    print_table(
        "Action result validation (µs per call, median)",
        ["result", "Rasa 3.6 (jsonschema.validate)", "compiled once (rasa_compat)", "speed-up"],
        run(args.number, args.repeat),
    )


if __name__ == "__main__":
    main()
