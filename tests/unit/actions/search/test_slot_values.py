"""actions/search/slot_values.py: the words typed for a criterion come from labels.yml."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import wording
from actions.search.slot_values import parse_radius_km, parse_remote, parse_working_time, understood

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture()
def french_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((ROOT / "labels.yml").read_text(encoding="utf-8"))
    words = data["actions"]["understood"]
    words["working_time"]["teilzeit"].append("temps partiel")
    words["working_time"]["interim"] = ["intérim"]  # not a slot value the providers know: ignored
    words["remote_yes"].append("Télétravail")
    words["before_distance"].append("dans un rayon de")
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(path))


def test_words_added_in_yaml_are_understood(french_words) -> None:
    assert parse_working_time("Temps-Partiel") == "teilzeit"
    assert parse_working_time("intérim") is None
    assert parse_remote("teletravail") is True
    assert parse_radius_km("dans un rayon de 30 km") == 30.0
    assert parse_radius_km("50 km") == 50.0 and parse_working_time("Vollzeit") == "vollzeit"


def test_without_them_they_are_not() -> None:
    assert parse_working_time("temps partiel") is None and parse_remote("télétravail") is None
    assert parse_radius_km("dans un rayon de 30 km") is None


def test_listed_words_are_folded_like_the_input() -> None:
    # "true" folds to "tru" (ae/oe/ue -> a/o/u); the list is folded the same way, so it matches.
    assert parse_remote("true") is True and parse_remote("TRUE") is True
    assert "tru" in understood().remote_yes


@pytest.mark.parametrize("text", ["ca. 20 km", "ca.20km", "ca 20", "Umkreis von 20", "umkreis 20 km", "about 20",
                                  "within 20km"])
def test_words_before_a_distance(text: str) -> None:
    assert parse_radius_km(text) == 20.0
