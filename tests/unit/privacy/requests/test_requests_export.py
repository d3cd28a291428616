"""privacy.requests.export: the export's words come from labels.yml, so a new language needs no Python."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import wording
from privacy.requests.export import export_variables, format_slots, format_time
from privacy.requests.markers import PRIVACY_REQUEST_KEY, privacy_request_of

BERLIN = ZoneInfo("Europe/Berlin")
WINTER = 1736928300.0  # 2025-01-15 08:05 UTC


@pytest.fixture
def with_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A designer's copy of labels.yml with a third language, only a few words translated."""
    labels = yaml.safe_load(wording.DEFAULT_LABELS_FILE.read_text(encoding="utf-8"))
    labels["languages"].append("fr")
    export = labels["privacy"]["export"]
    export["time_format"]["fr"] = "%d/%m/%Y %Hh%M"
    export["yes_word"]["fr"] = "oui"
    export["no_slots"]["fr"] = "– aucune"
    copy = tmp_path / "labels.yml"
    copy.write_text(yaml.safe_dump(labels, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(copy))


def test_a_third_language_changes_the_export_words_without_python(with_french: None) -> None:
    assert format_time(WINTER, "fr", BERLIN) == "15/01/2025 09h05"
    assert format_slots({"remote": True}, "fr") == "• remote: oui"
    assert format_slots({}, "fr") == "– aucune"
    # untranslated words fall back to the default language (German decimal comma)
    assert format_slots({"radius_km": 12.5}, "fr") == "• radius_km: 12,5"
    marker = {"custom": {PRIVACY_REQUEST_KEY: "export", "language": "fr"}}
    request = privacy_request_of(marker)
    assert request is not None and request.language == "fr"


def test_an_unsupported_language_is_not_taken_from_a_marker() -> None:
    request = privacy_request_of({"custom": {PRIVACY_REQUEST_KEY: "erase", "language": "fr"}})
    assert request is not None and request.language is None


def test_unknown_language_words_fall_back_to_the_default() -> None:
    assert format_time(WINTER, "xx", BERLIN) == format_time(WINTER, wording.current().default_language, BERLIN)
    variables = export_variables({}, first=None, last=None, retained_until=None, language="en", tz=BERLIN)
    assert variables == {
        "sessions": 0, "messages": 0, "voice_notes": "", "first_activity": "–", "last_activity": "–", "retained_until": "–",
        "slots": "– none",
    }
    assert format_slots({"skills": ["Kochen", "Backen"], "radius_km": 1e309}, "en") == (
        "• skills: Kochen, Backen\n• radius_km: –"
    )


@pytest.mark.parametrize(("language", "expected"), [
    ("de", " (davon 2 Sprachnachrichten, nur als Text gespeichert)"),
    ("en", " (2 of them voice messages, kept only as text)"),
])
def test_voice_notes_are_named_in_the_export_only_when_there_are_some(language: str, expected: str) -> None:
    summary = {"user_messages": 5, "voice_notes": 2}
    variables = export_variables(summary, first=None, last=None, retained_until=None, language=language, tz=BERLIN)
    assert variables["messages"] == 5 and variables["voice_notes"] == expected
    none = export_variables({"user_messages": 5}, first=None, last=None, retained_until=None, language=language, tz=BERLIN)
    assert none["voice_notes"] == ""
