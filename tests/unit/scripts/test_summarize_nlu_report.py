"""scripts/summarize_nlu_report.py: seed and folds stated, targets judged, payload-only intents apart."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from tests.support.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("summarize_nlu_report", REPO_ROOT / "scripts" / "summarize_nlu_report.py")
summary = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = summary  # dataclasses look their module up
_spec.loader.exec_module(summary)


def _row(f1: float, support: int) -> Dict[str, float]:
    return {"precision": f1, "recall": f1, "f1-score": f1, "support": support}


INTENT = {
    "greet": _row(0.95, 30), "search_job": _row(0.92, 60), "help": _row(0.70, 10),
    "voice_empty": _row(0.40, 3), "weighted avg": _row(0.85, 103), "macro avg": _row(0.76, 103),
}
ENTITY = {"job_title": _row(0.93, 60), "location": _row(0.88, 70), "radius": _row(1.0, 10),
          "working_time": _row(0.90, 20), "language": _row(0.99, 20), "weighted avg": _row(0.9, 180)}


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - moin\n    - /greet\n'
        "- intent: voice_empty\n  examples: |\n    - /voice_empty\n    - /voice_empty{}\n"
        '- intent: select_job\n  examples: |\n    - /select_job{"job_id": "job-0001"}\n'
        "- synonym: Köln\n  examples: |\n    - koeln\n", encoding="utf-8")
    (nlu / "lookups.yml").write_text('version: "3.1"\nnlu:\n- lookup: location\n  examples: |\n    - /x\n', encoding="utf-8")
    return nlu


@pytest.fixture()
def cv_results(tmp_path: Path) -> Path:
    results = tmp_path / "cv"
    results.mkdir()
    (results / "intent_report.json").write_text(json.dumps(INTENT), encoding="utf-8")
    (results / "DIETClassifier_report.json").write_text(json.dumps(ENTITY), encoding="utf-8")
    (results / "cross_validation.json").write_text(
        json.dumps({"seed": 2026, "folds": 3, "config": "config.yml", "nlu": "data", "rasa": "3.6.21"}), encoding="utf-8")
    return results


def test_payload_only_intents_of_the_shipped_data() -> None:
    payload = summary.payload_only_intents(REPO_ROOT / "data" / "nlu")
    assert {"voice_empty", "unsupported_message", "share_location", "select_job"} <= payload
    assert not payload & {"greet", "search_job", "inform", "out_of_scope"}


def test_payload_only_means_every_example_starts_with_a_slash(data_dir: Path) -> None:
    assert summary.payload_only_intents(data_dir) == {"voice_empty", "select_job"}


def test_averages_leave_out_the_excluded_labels() -> None:
    weighted, macro, support = summary.averages(INTENT, {"voice_empty"})
    assert support == 100
    assert macro == pytest.approx((0.95 + 0.92 + 0.70) / 3)
    assert weighted == pytest.approx((0.95 * 30 + 0.92 * 60 + 0.70 * 10) / 100)


def test_cross_validation_targets_and_verdicts() -> None:
    targets = {t.name: t for t in summary.cross_validation_targets(INTENT, ENTITY, {"voice_empty"})}
    assert targets["Intent F1, weighted average"].met is True  # 0.907 on the language intents
    assert targets["Intent F1, macro average"].met is False
    lowest = targets["Lowest intent F1"]
    assert (lowest.figure, lowest.met) == (0.70, False) and "`help`" in lowest.detail  # voice_empty left out
    assert targets["Entity `job_title` F1"].met and targets["Entity `working_time` F1"].met
    assert not targets["Entity `location` F1"].met
    assert targets["Entity `remote` F1"].figure is None and "not measured | ≥ 0.90 | **MISSED**" in targets["Entity `remote` F1"].row()


@pytest.mark.parametrize("order", [["privacy_info", "new_search"], ["new_search", "privacy_info"]])
def test_the_lowest_intent_of_a_tie_is_named_the_same_whatever_the_report_order(order) -> None:
    intent = {label: _row(6 / 7, 7) for label in order}
    intent["greet"] = _row(0.95, 30)
    lowest = {t.name: t for t in summary.cross_validation_targets(intent, ENTITY, set())}["Lowest intent F1"]
    assert "`new_search`" in lowest.detail


def test_heldout_targets() -> None:
    figures = {"intent_accuracy": 0.93, "utterances": 210, "found": {
        "job_title": {"found": 90, "total": 100, "rate": 0.9}, "location": {"found": 80, "total": 100, "rate": 0.8}}}
    verdicts = {t.name: t.met for t in summary.heldout_targets(figures)}
    assert verdicts == {"Intent accuracy": True, "`job_title` found": True, "`location` found": False}


def test_reports_state_seed_folds_and_missed_targets_without_failing(cv_results: Path, data_dir: Path,
                                                                     tmp_path: Path, capsys: Any) -> None:
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    (heldout / "heldout.json").write_text(json.dumps({
        "heldout": "tests/nlu/heldout.yml", "model": "/x/models/blaupause-abc.tar.gz", "utterances": 2,
        "intent_accuracy": 0.5, "intent_f1_weighted": 0.4, "intent_f1_macro": 0.3,
        "found": {"job_title": {"found": 1, "total": 1, "rate": 1.0, "misses": []},
                  "location": {"found": 0, "total": 1, "rate": 0.0,
                               "misses": [{"text": "in köln | bitte", "annotated": ["Köln"], "predicted": []}]}},
        "intent_errors": [{"text": "moin", "intent": "greet", "predicted": "thank"}]}), encoding="utf-8")
    (heldout / "intent_report.json").write_text(json.dumps(INTENT), encoding="utf-8")
    cv_out, heldout_out = tmp_path / "reports" / "cv.md", tmp_path / "reports" / "heldout.md"
    assert summary.main([str(cv_results), str(cv_out), "--heldout", str(heldout), str(heldout_out),
                         "--data", str(data_dir)]) == 0
    cv = cv_out.read_text(encoding="utf-8")
    assert "3-fold cross-validation" in cv and "seed 2026" in cv
    assert "Rasa's stratified one" in cv  # settings without a split came from the stratified split
    assert "## Payload-only intents" in cv and "| voice_empty |" in cv.split("## Payload-only intents")[1]
    assert "| voice_empty |" not in cv.split("## Payload-only intents")[0].split("## Intents (language)")[1]
    assert "`select_job`" in cv  # in the data, dropped by Rasa for having fewer examples than folds
    assert "| Lowest intent F1 (`help`; payload-only intents left out) | 0.700 | ≥ 0.80 | **MISSED** |" in cv
    text = heldout_out.read_text(encoding="utf-8")
    assert "| Intent accuracy (1 of 2 utterances right) | 0.500 | ≥ 0.92 | **MISSED** |" in text
    assert "| `location` found (0 of 1 utterances that contain one) | 0.000 | ≥ 0.90 | **MISSED** |" in text
    assert "in köln \\| bitte" in text and "blaupause-abc.tar.gz" in text
    assert "seed 2026" in capsys.readouterr().out


def test_a_stable_split_says_that_data_rounds_share_their_folds(cv_results: Path, data_dir: Path, tmp_path: Path) -> None:
    settings = json.loads((cv_results / "cross_validation.json").read_text(encoding="utf-8"))
    (cv_results / "cross_validation.json").write_text(json.dumps({**settings, "split": "stable"}), encoding="utf-8")
    cv_out = tmp_path / "cv.md"
    assert summary.main([str(cv_results), str(cv_out), "--heldout", str(tmp_path / "none"), str(tmp_path / "h.md"),
                         "--data", str(data_dir)]) == 0
    assert "the split is **stable**" in cv_out.read_text(encoding="utf-8")


def test_unseeded_results_and_no_heldout_set_say_so(cv_results: Path, data_dir: Path, tmp_path: Path) -> None:
    (cv_results / "cross_validation.json").unlink()
    cv_out, heldout_out = tmp_path / "cv.md", tmp_path / "heldout.md"
    assert summary.main([str(cv_results), str(cv_out), "--heldout", str(tmp_path / "none"), str(heldout_out),
                         "--data", str(data_dir)]) == 0
    assert "**unseeded**" in cv_out.read_text(encoding="utf-8")
    text = heldout_out.read_text(encoding="utf-8")
    assert "nothing was evaluated" in text and "| Intent accuracy (0 utterances) | not measured |" in text


def test_a_missed_figure_never_reads_as_the_goal() -> None:
    # 241 of 262 is 0.9198: at three decimals it would read "0.920" beside "≥ 0.92 **MISSED**"
    row = summary.Target("Intent accuracy", 241 / 262, 0.92, "241 of 262 utterances right").row()
    assert row == "| Intent accuracy (241 of 262 utterances right) | 0.9198 | ≥ 0.92 | **MISSED** |"
    assert summary.Target("x", 242 / 262, 0.92).row() == "| x | 0.924 | ≥ 0.92 | met |"
    assert summary.Target("x", 0.5, 0.92).row() == "| x | 0.500 | ≥ 0.92 | **MISSED** |"
