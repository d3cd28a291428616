"""The readable variables of ``utter_data_export``: counts, times and one line per slot.

Why here: the export's wording lives in domain.yml (the response) and labels.yml's
``privacy.export`` section (the words *inside* the variables: time format, yes/no, the
"no slots" line, the decimal separator), so a designer changes or adds a language without
Python (issue 10 item 3). This module only picks the labels for the reply's language;
a language labels.yml lacks falls back to the default language
(:meth:`wording.Labels.value`).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import wording

__all__ = ["INTERNAL_SLOTS", "display_timezone", "export_variables", "format_slots", "format_time"]

#: Slots that are bookkeeping of the dialogue, not something the user told us.
INTERNAL_SLOTS = frozenset({"requested_slot", "search_page", "session_started_metadata"})
_COORDINATE_SLOTS = frozenset({"latitude", "longitude"})
_WHITESPACE = re.compile(r"\s+")
_SECTION = "privacy.export"


def display_timezone() -> tzinfo:
    """Times are shown in German time: the assistant serves the German job market."""
    try:
        return ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:  # a system without tz data: UTC is still correct, just less local
        return timezone.utc


def _label(name: str, language: str) -> str:
    return wording.current().text(f"{_SECTION}.{name}", language)


def format_time(timestamp: float | None, language: str, tz: tzinfo) -> str:
    """The time in ``tz`` in the language's ``time_format`` (labels.yml); ``unknown`` if None."""
    if timestamp is None:
        return _label("unknown", language)
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc).astimezone(tz)
    return moment.strftime(_label("time_format", language))


def _decimal(value: float, language: str, *, trim: bool) -> str:
    """Two decimals (trailing zeros dropped when ``trim``), with the language's decimal separator."""
    text = f"{value:.2f}"
    if trim:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", _label("decimal_separator", language))


def _value(name: str, value: Any, language: str) -> str:
    if isinstance(value, bool):
        return _label("yes_word" if value else "no_word", language)
    if isinstance(value, (int, float)) and not math.isfinite(value):
        return _label("unknown", language)
    if name in _COORDINATE_SLOTS and isinstance(value, (int, float)):
        return _decimal(float(value), language, trim=False)
    if isinstance(value, float):
        return _decimal(value, language, trim=True)
    if isinstance(value, (list, tuple)):
        return _label("list_separator", language).join(_value(name, item, language) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return _WHITESPACE.sub(" ", str(value)).strip()


def format_slots(slots: Mapping[str, Any], language: str) -> str:
    """One ``slot_line`` per slot the user filled; the ``no_slots`` line when none."""
    labels = wording.current()
    lines = [
        labels.text(f"{_SECTION}.slot_line", language, name=name, value=_value(name, value, language))
        for name, value in slots.items()
        if name not in INTERNAL_SLOTS and value is not None
    ]
    return "\n".join(lines) if lines else _label("no_slots", language)


def export_variables(
    summary: Mapping[str, Any],
    *,
    first: float | None,
    last: float | None,
    retained_until: float | None,
    language: str,
    tz: tzinfo,
) -> dict[str, Any]:
    """The variables of ``utter_data_export``: counts, readable times and slot lines."""
    return {
        "sessions": int(summary.get("sessions") or 0),
        "messages": int(summary.get("user_messages") or 0),
        "first_activity": format_time(first, language, tz),
        "last_activity": format_time(last, language, tz),
        "retained_until": format_time(retained_until, language, tz),
        "slots": format_slots(summary.get("slots") or {}, language),
    }
