"""wording: labels.yml is the one place for words outside domain responses (issue 10 item 3)."""
from __future__ import annotations

from pathlib import Path

import pytest

import wording
from wording import LabelsError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_declares_german_first() -> None:
    labels = wording.load(wording.DEFAULT_LABELS_FILE)
    assert labels.default_language == labels.languages[0] == "de"
    assert "en" in labels.languages


def test_lookup_falls_back_to_the_default_language(tmp_path: Path) -> None:
    labels = wording.load(_write(tmp_path, "languages: [de, en, fr]\nchannel:\n  more:\n    de: Mehr {n}\n    fr: Plus {n}\n"))
    assert labels.text("channel.more", "fr", n=2) == "Plus 2"
    assert labels.text("channel.more", "en", n=2) == "Mehr 2"  # not translated yet: German
    assert labels.per_language("channel.more") == {"de": "Mehr {n}", "en": "Mehr {n}", "fr": "Plus {n}"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("fr_BE", "fr"), ("es", "de"), ("", "de"), (None, "de"), (3, "de")],
)
def test_normalize(tmp_path: Path, given: object, expected: str) -> None:
    labels = wording.load(_write(tmp_path, "languages: [de, en, fr]\n"))
    assert labels.normalize(given) == expected


@pytest.mark.parametrize(
    "text",
    ["languages: []\n", "languages: de\n", "languages: [de, de]\n", "- de\n", "languages: [de\n", "languages: [' de']\n"],
)
def test_malformed_files_are_refused_with_a_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(LabelsError, match="labels file"):
        wording.load(_write(tmp_path, text))


def test_missing_labels_and_sections_name_the_path(tmp_path: Path) -> None:
    labels = wording.load(_write(tmp_path, "languages: [de]\nchannel:\n  list: {de: [a, b]}\n"))
    with pytest.raises(LabelsError, match="channel.nothing"):
        labels.text("channel.nothing", "de")
    with pytest.raises(LabelsError, match="not a text"):
        labels.text("channel.list", "de")
    with pytest.raises(LabelsError, match="no section 'actions'"):
        labels.section("actions")
    assert labels.value("channel.list", "de") == ["a", "b"]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match="cannot read labels file"):
        wording.load(tmp_path / "absent.yml")


def test_current_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "languages: [fr, de]\n")
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(path))
    assert wording.current().default_language == "fr"
    monkeypatch.delenv(wording.LABELS_FILE_ENV)
    assert wording.current().default_language == "de"
