"""When the serving load runs and when Rasa's own load does (rasa_compat/serving_load.py).

That both give the same model is shown with the trained model in tests/e2e/test_serving_load.py.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import pytest
from rasa.utils.tensorflow.models import RasaModel

from rasa_compat import serving_load


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[str, Any]]:
    """Install the serving load with both loads replaced by recorders."""
    assert serving_load.load_models_without_training_step()
    seen: List[Tuple[str, Any]] = []

    def serving(cls: Any, *args: Any, **kwargs: Any) -> str:
        seen.append(("serving", (cls, args, kwargs)))
        return "served"

    def rasa(cls: Any, *args: Any, **kwargs: Any) -> str:
        seen.append(("rasa", (cls, args, kwargs)))
        return "rasa's"

    monkeypatch.setattr(serving_load, "load_for_serving", serving)
    monkeypatch.setattr(serving_load, "_rasa_load", rasa)
    return seen


class _Model(RasaModel):
    pass


def test_a_model_loaded_to_predict_takes_the_serving_load(calls: List[Tuple[str, Any]]) -> None:
    assert _Model.load("weights", "example", "predict example", config={"a": 1}) == "served"
    assert calls == [("serving", (_Model, ("weights", "example", "predict example"), {"config": {"a": 1}}))]


def test_a_model_loaded_to_fine_tune_takes_rasas_load(calls: List[Tuple[str, Any]]) -> None:
    assert _Model.load("weights", "example", None, finetune_mode=True, config={}) == "rasa's"
    assert [name for name, _ in calls] == ["rasa"]
    assert calls[0][1] == (_Model, ("weights", "example", None, True), {"config": {}})


def test_a_failing_serving_load_falls_back_to_rasas_load_and_says_so(
        calls: List[Tuple[str, Any]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Unresolved object in checkpoint")

    monkeypatch.setattr(serving_load, "load_for_serving", broken)
    assert _Model.load("weights", "example") == "rasa's"
    assert [name for name, _ in calls] == ["rasa"]
    assert "serving load of _Model failed (AssertionError: Unresolved object in checkpoint)" in caplog.text


def test_installing_twice_wraps_once() -> None:
    assert serving_load.load_models_without_training_step()
    installed = RasaModel.__dict__["load"]
    assert serving_load.load_models_without_training_step()
    assert RasaModel.__dict__["load"] is installed
    assert serving_load._rasa_load is not installed.__func__
    assert getattr(serving_load._rasa_load, "__qualname__", "") == "RasaModel.load"
