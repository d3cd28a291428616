"""The words of the job search's answers that are not domain responses, from labels.yml.

The responses themselves (utter_job_results, utter_job_details, ...) are in domain.yml;
the actions fill their variables: the numbered result lines, the start date ("ab sofort"),
the working-time word and the search summary ``{criteria}``. Those words are the
``actions`` section of labels.yml, in the language of the ``language`` slot, so a designer
changes them or adds a language without Python (wording/__init__.py).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker

import wording
from actions.jobs import JobPosting
from actions.search.query import filter_value
from actions.search.slot_values import as_text, parse_radius_km, parse_remote, parse_working_time
from actions.search.slots import summary_slots

__all__ = [
    "language_of",
    "format_start_date",
    "working_time_word",
    "result_line",
    "search_criteria",
    "shown_value",
]


def language_of(tracker: Tracker) -> str:
    """The ``language`` slot when it is a supported language, else the default language."""
    labels = wording.current()
    language = tracker.get_slot("language")
    return language if labels.is_supported(language) else labels.default_language


def format_start_date(start: date | None, language: str, today: date | None = None) -> str:
    """The start date in the language's format for a future start, else "ab sofort" / "immediately"."""
    labels = wording.current()
    today = today or date.today()
    if start is None or start <= today:
        return labels.text("actions.immediately", language)
    return labels.text("actions.start_date", language, date=start)


def working_time_word(working_time: str | None, language: str) -> str:
    """The word for a working-time value ("teilzeit" -> "Teilzeit"), or "keine Angabe"."""
    labels = wording.current()
    known = labels.section("actions.working_time")
    if working_time is not None and working_time in known:
        return labels.text(f"actions.working_time.{working_time}", language)
    return labels.text("actions.not_specified", language)


def result_line(number: int, posting: JobPosting, language: str) -> str:
    """"3. Koch (m/w/d) – Gasthaus, Berlin": one numbered line of utter_job_results."""
    labels = wording.current()
    separator = labels.text("actions.place_separator", language)
    where = separator.join(part for part in (posting.employer, posting.city) if part)
    if where:
        return labels.text("actions.result_line", language, number=number, title=posting.title, where=where)
    return labels.text("actions.result_line_without_place", language, number=number, title=posting.title)


def shown_value(slot: str, value: Any, language: str) -> str | None:
    labels = wording.current()
    if slot == "radius_km":
        km = parse_radius_km(value)
        return labels.text("actions.search.radius", language, km=f"{km:g}") if km is not None else None
    if slot == "working_time":
        working_time = parse_working_time(value)
        return working_time_word(working_time, language) if working_time is not None else None
    if slot == "remote" or isinstance(value, bool):
        remote = parse_remote(value)
        if remote is None:
            return None
        return labels.text("actions.search.remote_yes" if remote else "actions.search.remote_no", language)
    if slot in ("job_title", "location"):
        return as_text(value)
    return filter_value(value)


def search_criteria(tracker: Tracker, language: str) -> str:
    """The filled search slots as one line, "Beruf: Koch, Ort: Berlin, Umkreis: 50 km" ({criteria})."""
    labels = wording.current()
    parts = []
    for slot in summary_slots(labels):
        shown = shown_value(slot, tracker.get_slot(slot), language)
        if shown:
            name = labels.text(f"actions.search.slots.{slot}", language)
            parts.append(labels.text("actions.search.criterion", language, name=name, value=shown))
    return labels.text("actions.search.separator", language).join(parts)
