"""oneDNN's instruction set is capped for training and evaluation (rasa_compat/reproducible_training.py)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from rasa_compat import reproducible_training
from rasa_compat.reproducible_training import CPU_ISA, ENV_VAR, pin_cpu_isa
from tests.support.paths import REPO_ROOT


def test_the_cap_is_set_when_the_environment_names_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert pin_cpu_isa() == "AVX2"
    assert reproducible_training.os.environ[ENV_VAR] == "AVX2"


def test_an_operators_own_value_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "AVX512_CORE")
    assert pin_cpu_isa() == "AVX512_CORE"


def test_train_sh_caps_at_the_same_instruction_set() -> None:
    script = (REPO_ROOT / "scripts" / "train.sh").read_text(encoding="utf-8")
    exported = re.search(r'^export ONEDNN_MAX_CPU_ISA="\$\{ONEDNN_MAX_CPU_ISA:-([A-Z0-9_]+)\}"$', script, re.M)
    assert exported, "scripts/train.sh no longer exports ONEDNN_MAX_CPU_ISA"
    assert exported.group(1) == CPU_ISA


@pytest.mark.parametrize("script", ["nlu_cross_validation", "nlu_heldout"])
def test_the_in_process_scripts_pin_before_tensorflow_loads(script: str) -> None:
    """Importing a script loads neither TensorFlow nor Rasa, so its pin in main() comes first."""
    code = (f"import sys; sys.path.insert(0, 'scripts'); import {script}; "
            "print('tensorflow' in sys.modules, 'rasa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
