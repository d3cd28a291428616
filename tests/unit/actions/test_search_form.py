"""actions/search_form.py: validators for YAML-added search slots, nothing else invented."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import wording
from actions.search_form import MAX_TEXT_CHARS, ValidateJobSearchForm

ROOT = Path(__file__).resolve().parents[3]


def test_only_search_slots_added_in_yaml_get_a_text_validator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    form = ValidateJobSearchForm()
    assert getattr(form, "validate_employer", None) is None
    data = yaml.safe_load((ROOT / "labels.yml").read_text(encoding="utf-8"))
    data["actions"]["search"]["slots"]["employer"] = {"de": "Arbeitgeber"}
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(path))
    validate = form.validate_employer
    assert validate(" Gasthaus \n Sonne ", None, None, {}) == {"employer": "Gasthaus Sonne"}
    assert validate("x" * 300, None, None, {}) == {"employer": "x" * MAX_TEXT_CHARS}
    assert validate(42, None, None, {}) == {"employer": None}
    for missing in ("validate_language", "validate_latitude", "something_else"):
        with pytest.raises(AttributeError):
            getattr(form, missing)
