"""bench/turns.py's comparisons: the channel against REST, the model against a baseline model."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.turns import BASELINE, _compare, _model_costs, main


def _row(variant: str, users: int, mean: float, p50: float, throughput: float = 10.0, errors: int = 0) -> dict:
    return {"variant": variant, "concurrency": users, "mean_ms": mean, "p50_ms": p50, "p99_ms": p50 * 2,
            "throughput": throughput, "errors": errors}


def test_the_baseline_model_is_compared_with_the_model_not_with_rest() -> None:
    rows = [_row("rest", 1, 100, 100), _row("whatsapp-sqlite", 1, 105, 104), _row(BASELINE, 1, 100, 100, 10.5)]
    assert [c["variant"] for c in _compare(rows)] == ["whatsapp-sqlite"]
    (cost,) = _model_costs(rows)
    assert cost["concurrency"] == 1 and cost["met"]
    assert cost["mean_ratio"] == pytest.approx(1.05) and cost["p50_ratio"] == pytest.approx(1.04)
    assert cost["throughput_ratio"] == pytest.approx(10 / 10.5)


@pytest.mark.parametrize("mean, p50, errors", [(111, 100, 0), (100, 111, 0), (100, 100, 1)])
def test_more_than_ten_percent_or_an_error_misses_the_target(mean: float, p50: float, errors: int) -> None:
    rows = [_row("whatsapp-sqlite", 1, mean, p50, errors=errors), _row(BASELINE, 1, 100, 100)]
    assert not _model_costs(rows)[0]["met"]


def test_without_a_baseline_row_there_is_no_model_comparison() -> None:
    nan = float("nan")
    assert _model_costs([_row("whatsapp-sqlite", 1, 100, 100)]) == []
    assert _model_costs([_row("whatsapp-sqlite", 1, 100, 100), _row(BASELINE, 1, nan, nan)]) == []


def test_a_missing_baseline_archive_is_refused_before_anything_starts(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--baseline-model", str(tmp_path / "nope.tar.gz")])
    assert "no model archive" in capsys.readouterr().err
