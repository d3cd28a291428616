"""require_model: skip without a trained model, fail under CI=true."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import model


def test_missing_model_skips_or_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MODEL", tmp_path / "none.tar.gz")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make train"):
        model.require_model()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make train"):
        model.require_model()


def test_an_existing_model_is_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained = tmp_path / "current.tar.gz"
    trained.write_bytes(b"")
    monkeypatch.setattr(model, "MODEL", trained)
    assert model.require_model() == trained
