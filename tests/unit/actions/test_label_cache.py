"""actions/label_cache.py: values derived from a labels file are computed once per parsed file."""
from __future__ import annotations

from pathlib import Path

import wording
from actions.label_cache import derived

ROOT = Path(__file__).resolve().parents[3]


def test_computed_once_per_labels_object_and_again_for_another() -> None:
    calls: list[wording.Labels] = []

    def build(labels: wording.Labels) -> tuple[str, ...]:
        calls.append(labels)
        return labels.languages

    first, second = wording.load(ROOT / "labels.yml"), wording.load(ROOT / "labels.yml")
    assert derived(first, build) == derived(first, build) == first.languages
    assert derived(second, build) == second.languages
    assert calls == [first, second]
