"""Cost of the privacy primitives per operation: pseudonym, data key, seal and unseal.

Why: every WhatsApp turn derives the user's keys and opens and re-seals the conversation
(tracker store) and the outbox; if these were slow, privacy would cost latency. The target is
that one turn's crypto (derive the data key + unseal + seal of a 50 KB conversation) stays under
0.1 ms.

How: timeit-style batches (``number`` calls per timing, calibrated so a batch takes about
``--batch-ms``), ``--rounds`` rounds in which every operation gets one batch in turn
(interleaved, so a noisy neighbour hits all operations alike); the median of the rounds is
reported, the minimum next to it as the best case.

Run: ``python -m bench.crypto [--rounds 15] [--batch-ms 20] [--full]``.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import per_op_microseconds, print_table, save_section, verdict
from privacy.identity import data_key, pseudonym
from privacy.keyring import Secret
from privacy.sealing import seal, unseal

__all__ = ["SIZES", "TARGET_TURN_US", "run", "main"]

SIZES: tuple[int, ...] = (1024, 10 * 1024, 50 * 1024, 100 * 1024, 1024 * 1024)
TARGET_TURN_US = 100.0  # 0.1 ms per turn at 50 KB
TURN_SIZE = 50 * 1024
WA_ID = "4915550000401"  # fake number


def _label(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def _operations() -> list[tuple[str, int | None, Callable[[], Any]]]:
    """(operation, payload size, zero-argument callable) for everything measured."""
    secret = Secret.generate()
    key = data_key(secret, WA_ID)
    name = pseudonym(secret, WA_ID)
    version = secret.version
    ops: list[tuple[str, int | None, Callable[[], Any]]] = [
        ("pseudonym", None, lambda: pseudonym(secret, WA_ID)),
        ("data_key", None, lambda: data_key(secret, WA_ID)),
    ]
    for size in SIZES:
        plaintext = secrets.token_bytes(size)
        blob = seal(key, plaintext, pseudonym=name, key_version=version)
        ops.append(("seal", size, lambda p=plaintext: seal(key, p, pseudonym=name, key_version=version)))
        ops.append(("unseal", size, lambda b=blob: unseal(key, b, pseudonym=name, key_version=version)))
    return ops


def _calibrate(fn: Callable[[], Any], batch_seconds: float) -> int:
    """Calls per batch so that one batch takes about ``batch_seconds`` (at least 1)."""
    fn()  # warm caches and lazy imports
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= batch_seconds / 4 or number >= 1_000_000:
            return max(1, int(number * batch_seconds / max(elapsed, 1e-9)))
        number *= 4


def run(rounds: int = 15, batch_ms: float = 20.0) -> dict[str, Any]:
    """Measure every operation; print the tables; return the results section."""
    ops = _operations()
    numbers = [_calibrate(fn, batch_ms / 1000) for _, _, fn in ops]
    samples: list[list[float]] = [[] for _ in ops]
    for _ in range(rounds):
        for index, (_, _, fn) in enumerate(ops):
            samples[index].extend(per_op_microseconds(fn, number=numbers[index], repeat=1))

    rows: list[dict[str, Any]] = []
    for (op, size, _), number, values in zip(ops, numbers, samples):
        rows.append({
            "operation": op,
            "size_bytes": size,
            "median_us": statistics.median(values),
            "min_us": min(values),
            "max_us": max(values),
            "calls_per_batch": number,
            "rounds": rounds,
        })
    by_key = {(r["operation"], r["size_bytes"]): r for r in rows}
    turn_median = sum(by_key[k]["median_us"] for k in (("data_key", None), ("unseal", TURN_SIZE), ("seal", TURN_SIZE)))
    turn_min = sum(by_key[k]["min_us"] for k in (("data_key", None), ("unseal", TURN_SIZE), ("seal", TURN_SIZE)))
    full_turn = turn_median + by_key[("pseudonym", None)]["median_us"]

    print_table(
        "Crypto: microseconds per operation (median of rounds; min = best round)",
        ["operation", "size", "median µs", "min µs", "MB/s (median)"],
        [
            [
                r["operation"],
                _label(r["size_bytes"]) if r["size_bytes"] else "-",
                r["median_us"],
                r["min_us"],
                (r["size_bytes"] / r["median_us"]) if r["size_bytes"] else float("nan"),
            ]
            for r in rows
        ],
    )
    ok = turn_median < TARGET_TURN_US
    print_table(
        "Crypto per turn at 50 KB: data_key + unseal + seal",
        ["figure", "µs", "target", "verdict"],
        [
            ["turn (median sum)", turn_median, f"< {TARGET_TURN_US:.0f} µs", verdict(ok)],
            ["turn (best-round sum)", turn_min, "", ""],
            ["turn + pseudonym (channel derives both)", full_turn, "", ""],
        ],
    )
    return {
        "rows": rows,
        "turn_50kb_us": turn_median,
        "turn_50kb_best_us": turn_min,
        "turn_50kb_with_pseudonym_us": full_turn,
        "target_turn_us": TARGET_TURN_US,
        "target_met": ok,
        "settings": {"rounds": rounds, "batch_ms": batch_ms},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.crypto", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median over them)")
    parser.add_argument("--batch-ms", type=float, default=20.0, help="approximate duration of one batch")
    parser.add_argument("--full", action="store_true", help="25 rounds of 50 ms batches")
    args = parser.parse_args(argv)
    rounds, batch_ms = (25, 50.0) if args.full else (args.rounds, args.batch_ms)
    section = run(rounds=rounds, batch_ms=batch_ms)
    save_section("crypto", section)
    return section


if __name__ == "__main__":
    main()
