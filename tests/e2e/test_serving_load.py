"""The serving load (rasa_compat/serving_load.py) gives the model Rasa's own load gives.

The trained model is loaded twice, each in a fresh process (tests/support/serving_load_probe.py):
once by Rasa 3.6's ``RasaModel.load`` (which traces and runs a training step before loading the
weights), once by the serving load (one eager forward pass instead). Compared bit for bit: every
variable of DIET's and TED's TensorFlow models, the parse of every held-out utterance (intent
ranking and entities with their confidences) and Rasa's next action with its probabilities
through a short conversation.
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict

import pytest

from tests.support.model import require_model
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

HELDOUT = REPO_ROOT / "tests" / "nlu" / "heldout.yml"


def _probe(mode: str) -> Dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.support.serving_load_probe", str(require_model()),
                           str(HELDOUT), mode], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr
    return result


@pytest.fixture(scope="module")
def loads() -> Dict[str, Dict[str, Any]]:
    return {"rasa": _probe("--rasa"), "serving": _probe("--serving")}


def test_the_serving_load_needed_no_fallback_to_rasas_own(loads: Dict[str, Dict[str, Any]]) -> None:
    assert "loading with Rasa's training step" not in loads["serving"]["stderr"]


def test_every_variable_of_diet_and_ted_holds_the_same_trained_value(loads: Dict[str, Dict[str, Any]]) -> None:
    rasa, serving = loads["rasa"]["weights"], loads["serving"]["weights"]
    assert len(rasa) > 50 and any("TED" in name for name in rasa) and any("DIET" in name for name in rasa), sorted(rasa)[:5]
    assert serving == rasa


def test_every_held_out_utterance_parses_the_same(loads: Dict[str, Dict[str, Any]]) -> None:
    rasa, serving = loads["rasa"]["parses"], loads["serving"]["parses"]
    assert len(rasa) >= 200
    differing = [(a, b) for a, b in zip(rasa, serving) if a != b]
    assert not differing and len(serving) == len(rasa), differing[:3]


def test_the_dialogue_predicts_the_same_actions_with_the_same_probabilities(loads: Dict[str, Dict[str, Any]]) -> None:
    assert loads["serving"]["predictions"] == loads["rasa"]["predictions"]
    assert [p["action"] for p in loads["rasa"]["predictions"]][:2] != ["action_listen", "action_listen"]
