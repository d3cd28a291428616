"""The export of a person's data: ``utter_data_export``'s readable variables (counts, times, slots).

Why here: the export's wording lives in domain.yml (the response) and labels.yml's
``privacy.export`` section (the words *inside* the variables: time format, yes/no, the
"no slots" line, the decimal separator), so a designer changes or adds a language without
Python (issue 10 item 3). This module only picks the labels for the reply's language;
a language labels.yml lacks falls back to the default language
(:meth:`wording.Labels.value`).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import wording
from privacy.context import UserKeys, user_context
from privacy.requests.markers import RESPONSE_EXPORT, RESPONSE_EXPORT_EMPTY

__all__ = ["INTERNAL_SLOTS", "display_timezone", "export_reply", "export_variables", "format_slots", "format_time"]

logger = logging.getLogger(__name__)

#: Slots that are bookkeeping of the dialogue, not something the user told us.
INTERNAL_SLOTS = frozenset({
    "requested_slot", "search_page", "session_started_metadata",
    "search_total", "pending_offer",  # what the last search found and offered (actions/offers.py)
})
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


def _voice_notes(count: int, language: str) -> str:
    """After the message count: how many were voice notes (stored as their transcript only); "" for none."""
    if count <= 0:
        return ""
    return wording.current().text(f"{_SECTION}.voice_notes", language, count=count)


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
        "voice_notes": _voice_notes(int(summary.get("voice_notes") or 0), language),
        "first_activity": format_time(first, language, tz),
        "last_activity": format_time(last, language, tz),
        "retained_until": format_time(retained_until, language, tz),
        "slots": format_slots(summary.get("slots") or {}, language),
    }


async def export_reply(
    store: Any, user_keys: UserKeys, hinted_language: str | None, tz: tzinfo, ref: str
) -> tuple[str, str, dict[str, Any]]:
    """(response name, language, variables) of the export of everything stored about the user.

    ``store`` is the encrypted tracker store (its ``export`` plus the exact first and last
    activity times: the summary has dates only). The language is the marker's, else the
    stored ``language`` slot, else the default language.
    """
    summary = await store.export(user_keys)
    slots = summary.get("slots") or {}
    labels = wording.current()
    stored = slots.get("language")
    language = hinted_language or (stored if labels.is_supported(stored) else labels.default_language)
    if not summary.get("events"):
        logger.info("message %s: export for %s: nothing stored", ref, user_keys.pseudonym)
        return RESPONSE_EXPORT_EMPTY, language, {}
    first, last = await _activity(store, user_keys)
    retained_until = last + store.retention.total_seconds() if last is not None else None
    variables = export_variables(summary, first=first, last=last, retained_until=retained_until, language=language, tz=tz)
    logger.info(
        "message %s: export for %s: %d session(s), %d message(s), %d slot(s)",
        ref, user_keys.pseudonym, summary.get("sessions", 0), summary.get("user_messages", 0), len(slots),
    )
    return RESPONSE_EXPORT, language, variables


async def _activity(store: Any, user_keys: UserKeys) -> tuple[float | None, float | None]:
    """Exact first and last event times (the export summary has dates only)."""
    with user_context(user_keys):
        tracker = await store.retrieve_full_tracker(user_keys.pseudonym)
    times = [event.timestamp for event in (tracker.events if tracker is not None else []) if event.timestamp]
    return (min(times), max(times)) if times else (None, None)
