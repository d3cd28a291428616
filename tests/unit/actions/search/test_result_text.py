"""actions/search/result_text.py: the words of the search's answers, from labels.yml."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.jobs import JobPosting
from actions.search.result_text import (
    format_start_date,
    language_of,
    result_line,
    search_criteria,
    working_time_word,
)


def _tracker(**slots: Any) -> Tracker:
    return Tracker.from_dict({"sender_id": "t", "slots": slots, "events": [], "latest_message": {}})


def test_result_lines() -> None:
    posting = JobPosting(id="1", title="Koch (m/w/d)", employer="Gasthaus", city="Berlin")
    assert result_line(3, posting, "de") == "3. Koch (m/w/d) – Gasthaus, Berlin"
    assert result_line(3, JobPosting(id="1", title="Koch", employer="", city=""), "en") == "3. Koch"


@pytest.mark.parametrize(("value", "language", "word"), [
    ("teilzeit", "de", "Teilzeit"), ("minijob", "en", "mini-job"), (None, "de", "keine Angabe"),
    ("schicht", "en", "not specified"), ("vollzeit", "xx", "Vollzeit"),
])
def test_working_time_words(value, language, word) -> None:
    assert working_time_word(value, language) == word


def test_start_date_and_immediately() -> None:
    today = date(2025, 6, 1)
    assert format_start_date(date(2025, 7, 1), "en", today) == "01.07.2025"
    assert format_start_date(None, "en", today) == "immediately"


@pytest.mark.parametrize(("slot", "language"), [("en", "en"), ("de", "de"), ("fr", "de"), (None, "de"), (3, "de")])
def test_language_of_the_tracker(slot, language) -> None:
    assert language_of(_tracker(language=slot)) == language


def test_search_criteria_name_the_filled_slots() -> None:
    tracker = _tracker(job_title=" Koch ", location="Berlin", radius_km="50 km", working_time="part-time",
                       remote=True, latitude=52.5, longitude=13.4, search_page=2.0)
    assert search_criteria(tracker, "de") == "Beruf: Koch, Ort: Berlin, Umkreis: 50 km, Arbeitszeit: Teilzeit, Homeoffice: ja"
    assert search_criteria(tracker, "en") == "job: Koch, place: Berlin, radius: 50 km, working time: part-time, remote: yes"
    assert search_criteria(_tracker(job_title="Koch", remote="nein", radius_km="weit"), "de") == "Beruf: Koch, Homeoffice: nein"
    assert search_criteria(_tracker(), "de") == ""
