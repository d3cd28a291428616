"""Rasa's own NLU cross-validation, with seeded folds: the same data gives the same figures.

Why: ``rasa test nlu --cross-validation`` shuffles its folds without a seed, so the weighted
intent F1 of unchanged data moved by several points between runs (0.69-0.76) and a change
of one point could not be trusted (issue 13, item 5). This script installs
:func:`rasa_compat.install_seeded_folds` (a seeded fold split in place of Rasa 3.6's) and
then runs exactly the command ``make nlu-report`` ran before, in the same process, through
Rasa's own command line entry point (``rasa.__main__.main``: same argument defaults, logging
and TensorFlow set-up, same reports in the output folder). Training inside each fold
is seeded by config.yml (DIET ``random_seed``).

Besides Rasa's reports it writes ``cross_validation.json`` into the output folder (seed, split,
folds, Rasa version), which scripts/summarize_nlu_report.py puts into the report.

The report's figures come from the default split, Rasa's stratified one with the seed.
``--split stable`` (rasa_compat/seeded_folds.py) keeps each example in its fold when examples
are added or removed: run it on the data before and after a data round to compare the two on
the same folds.

Usage: python scripts/nlu_cross_validation.py [--folds 3] [--seed 2026] [--split stable|stratified]
       [--out results/nlu-cv] [--config config.yml] [--nlu data]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rasa_compat.reproducible_training import pin_cpu_isa  # noqa: E402

#: The file (in the output folder) that records how the folds were made.
SETTINGS_FILE = "cross_validation.json"
DEFAULT_SEED = 2026
DEFAULT_FOLDS = 3
DEFAULT_SPLIT = "stratified"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help="number of folds (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the fold split (default 2026)")
    parser.add_argument("--split", choices=("stable", "stratified"), default=DEFAULT_SPLIT,
                        help="stratified: Rasa's split, seeded (default, the report's figures); stable: each "
                             "example in a fold fixed by a hash of it, to compare two data rounds on the same folds")
    parser.add_argument("--out", default="results/nlu-cv", help="output folder for Rasa's reports")
    parser.add_argument("--config", default="config.yml", help="the pipeline to cross-validate")
    parser.add_argument("--nlu", default="data", help="the NLU training data")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    return args


def rasa_command(args: argparse.Namespace) -> List[str]:
    """The ``rasa`` command line this run is (``sys.argv`` for Rasa's entry point)."""
    return ["rasa", "test", "nlu", "--cross-validation", "--folds", str(args.folds),
            "--config", args.config, "--nlu", args.nlu, "--out", args.out]


def write_settings(args: argparse.Namespace) -> Path:
    """Record seed, folds and Rasa version beside Rasa's reports (read by the summary)."""
    import rasa

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SETTINGS_FILE
    settings = {"seed": args.seed, "split": args.split, "folds": args.folds, "config": args.config, "nlu": args.nlu,
                "rasa": rasa.__version__, "command": " ".join(rasa_command(args))}
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    pin_cpu_isa()
    from rasa_compat import install_seeded_folds

    install_seeded_folds(args.seed, args.split)
    stale = Path(args.out) / SETTINGS_FILE
    if stale.exists():
        stale.unlink()  # a failed run must not leave the previous run's settings beside new reports
    import rasa.__main__ as rasa_main

    saved = sys.argv
    sys.argv = rasa_command(args)
    try:
        rasa_main.main()
    finally:
        sys.argv = saved
    write_settings(args)
    print(f"nlu-cross-validation: {args.folds} folds ({args.split}), seed {args.seed}, reports in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
