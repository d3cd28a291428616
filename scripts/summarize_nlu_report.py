"""Summarise `rasa test nlu --cross-validation` output as a Markdown report.

Rasa writes per-intent and per-entity JSON reports (scikit-learn's classification_report
shape: precision, recall, f1-score, support per label plus averages). This turns them into
one table a conversation designer can read, sorted worst first, so weak intents stand out.

Usage: python scripts/summarize_nlu_report.py RESULTS_DIR OUT.md
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

_AVERAGES = ("accuracy", "macro avg", "weighted avg", "micro avg")


def _table(report: Dict[str, dict], title: str) -> List[str]:
    rows = sorted(
        ((label, values) for label, values in report.items() if label not in _AVERAGES and isinstance(values, dict)),
        key=lambda item: item[1].get("f1-score", 0.0),
    )
    lines = [f"## {title}", "", "| label | F1 | precision | recall | support |", "|---|---|---|---|---|"]
    for label, values in rows:
        lines.append(
            f"| {label} | {values['f1-score']:.3f} | {values['precision']:.3f} | {values['recall']:.3f} | {values['support']} |"
        )
    for average in ("weighted avg", "macro avg"):
        if isinstance(report.get(average), dict):
            values = report[average]
            lines.append(f"| **{average}** | **{values['f1-score']:.3f}** | {values['precision']:.3f} | {values['recall']:.3f} | {values['support']} |")
    return lines + [""]


def main(results_dir: str, out_path: str) -> int:
    results = Path(results_dir)
    intent = json.loads((results / "intent_report.json").read_text(encoding="utf-8"))
    lines = [
        "# NLU cross-validation report",
        "",
        f"Made by `make nlu-report` (3-fold cross-validation of config.yml on data/) on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. CI regenerates it on every run.",
        "",
        f"**Intent F1 (weighted average): {intent['weighted avg']['f1-score']:.3f}**, "
        f"macro average {intent['macro avg']['f1-score']:.3f}.",
        "",
    ]
    lines += _table(intent, "Intents")
    for entity_report in sorted(results.glob("*Classifier_report.json")) + sorted(results.glob("*Extractor_report.json")):
        lines += _table(json.loads(entity_report.read_text(encoding="utf-8")), f"Entities ({entity_report.stem.replace('_report', '')})")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text("\n".join(lines), encoding="utf-8")
    print(f"nlu-report: intent F1 (weighted) {intent['weighted avg']['f1-score']:.3f}, written to {out_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
