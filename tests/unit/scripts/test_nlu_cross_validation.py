"""scripts/nlu_cross_validation.py: seeded folds installed, then Rasa's own CLI entry point in-process."""
from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any, List

import pytest
import rasa
import rasa.__main__ as rasa_main
import rasa.nlu.test as rasa_nlu_test
from tests.support.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("nlu_cross_validation", REPO_ROOT / "scripts" / "nlu_cross_validation.py")
nlu_cross_validation = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = nlu_cross_validation  # dataclasses look their module up
_spec.loader.exec_module(nlu_cross_validation)


@pytest.fixture()
def rasa_s_folds(monkeypatch: pytest.MonkeyPatch) -> Any:
    function = rasa_nlu_test.generate_folds
    function = getattr(function, "__wrapped__", function)
    monkeypatch.setattr(rasa_nlu_test, "generate_folds", function)
    return function


def test_the_defaults_are_the_committed_command() -> None:
    args = nlu_cross_validation.parse_args([])
    assert (args.folds, args.seed, args.split, args.out) == (3, 2026, "stratified", "results/nlu-cv")
    assert nlu_cross_validation.rasa_command(args) == [
        "rasa", "test", "nlu", "--cross-validation", "--folds", "3", "--config", "config.yml",
        "--nlu", "data", "--out", "results/nlu-cv"]


def test_fewer_than_two_folds_is_refused() -> None:
    with pytest.raises(SystemExit):
        nlu_cross_validation.parse_args(["--folds", "1"])


def test_runs_rasa_s_cli_with_the_seeded_folds(rasa_s_folds: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    seen: List[Any] = []

    def fake_main() -> None:  # stands in for `rasa test nlu --cross-validation`
        seen.append((list(sys.argv), rasa_nlu_test.generate_folds))

    monkeypatch.setattr(rasa_main, "main", fake_main)
    argv_before = list(sys.argv)
    out = tmp_path / "cv"
    assert nlu_cross_validation.main(["--seed", "11", "--folds", "4", "--out", str(out)]) == 0
    [(argv, folds)] = seen
    assert argv[:6] == ["rasa", "test", "nlu", "--cross-validation", "--folds", "4"] and argv[-1] == str(out)
    assert folds is not rasa_s_folds and folds.__wrapped__ is rasa_s_folds
    assert getattr(folds, "_blaupause_fold_seed") == 11
    assert sys.argv == argv_before
    settings = json.loads((out / "cross_validation.json").read_text(encoding="utf-8"))
    assert (settings["seed"], settings["split"], settings["folds"], settings["rasa"]) == (11, "stratified", 4, rasa.__version__)


def _two_intents() -> Any:
    """Twelve examples, six each of two intents: enough for three folds of either split."""
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(training_examples=[Message(data={"text": f"{i} {n}", "intent": i})
                                           for i in ("greet", "help") for n in range(6)])


def test_the_stable_split_can_be_chosen(rasa_s_folds: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import rasa_compat

    seen: List[Any] = []
    monkeypatch.setattr(rasa_main, "main", lambda: seen.append(rasa_nlu_test.generate_folds))
    assert nlu_cross_validation.main(["--split", "stable", "--out", str(tmp_path / "cv")]) == 0
    data = _two_intents()
    assert [t.intent_examples for _, t in seen[0](3, data)] == [
        t.intent_examples for _, t in rasa_compat.stable_generate_folds(2026)(3, data)]
    settings = json.loads((tmp_path / "cv" / "cross_validation.json").read_text(encoding="utf-8"))
    assert settings["split"] == "stable"
    with pytest.raises(SystemExit):
        nlu_cross_validation.parse_args(["--split", "random"])


def test_a_failed_run_leaves_no_settings(rasa_s_folds: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    out = tmp_path / "cv"
    out.mkdir()
    (out / "cross_validation.json").write_text('{"seed": 1}', encoding="utf-8")

    def failing_main() -> None:
        raise SystemExit(1)

    monkeypatch.setattr(rasa_main, "main", failing_main)
    with pytest.raises(SystemExit):
        nlu_cross_validation.main(["--out", str(out)])
    assert not (out / "cross_validation.json").exists()
