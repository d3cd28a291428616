"""Cleaning what users type into the job search's slots: distances, working time, remote, text.

Why here and not in the form alone: the form normalises the values when they are set, and
the search normalises them again when it builds the provider's query, because slots may
also be set outside the form (entities of a later message such as "only part-time").
"""
from __future__ import annotations

import math
import re
from typing import Any, Final

from actions.jobs import MAX_RADIUS_KM
from actions.jobs.text import fold_key

__all__ = ["parse_radius_km", "parse_working_time", "parse_remote", "as_float", "as_text"]

# Compact folded spellings (fold_key without spaces) -> slot value.
_WORKING_TIME_SYNONYMS: Final[dict[str, str]] = {
    **dict.fromkeys(("vollzeit", "fulltime", "vz", "vollzeitstelle", "vollzeitjob"), "vollzeit"),
    **dict.fromkeys(("teilzeit", "parttime", "tz", "halbtags", "teilzeitstelle", "teilzeitjob"), "teilzeit"),
    **dict.fromkeys(("minijob", "minijobs", "mj", "geringfugig", "geringfugigebeschaftigung", "450eurojob",
                     "520eurojob", "538eurojob", "556eurojob", "450job", "520job", "538job", "556job",
                     "450erjob", "520erjob"), "minijob"),
}
_REMOTE_YES: Final[frozenset[str]] = frozenset(
    {"ja", "yes", "true", "1", "remote", "homeoffice", "mobilesarbeiten", "fernarbeit", "wfh", "workfromhome"}
)
_REMOTE_NO: Final[frozenset[str]] = frozenset({"nein", "no", "false", "0", "vorort", "onsite", "prasenz"})
_RADIUS = re.compile(
    r"^\s*(?:ca\.?\s*|about\s*|within\s*|umkreis\s*(?:von\s*)?)?(\d{1,4}(?:[.,]\d+)?)\s*"
    r"(km|kilometer|kilometern|kilometers|kilometres|mi|miles|meilen)?\.?\s*$",
    re.IGNORECASE,
)
_MILE_KM: Final[float] = 1.609344


def parse_radius_km(value: Any) -> float | None:
    """"50 km" -> 50.0, "10 miles" -> 16.1, 30 -> 30.0; clamped to the providers' maximum.

    Anything that is not a positive distance gives ``None`` (the slot is then left empty
    and the providers use their default radius).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        unit = None
    elif isinstance(value, str):
        match = _RADIUS.match(value)
        if not match:
            return None
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
    else:
        return None
    if unit in ("mi", "miles", "meilen"):
        number *= _MILE_KM
    if not math.isfinite(number) or number <= 0:
        return None
    return round(min(number, float(MAX_RADIUS_KM)), 1)


def parse_working_time(value: Any) -> str | None:
    """Teilzeit/part-time/part time -> teilzeit; Vollzeit/full-time -> vollzeit;
    Minijob/mini-job/450-Euro-Job/520-Euro-Job -> minijob; anything else -> None."""
    if not isinstance(value, str):
        return None
    return _WORKING_TIME_SYNONYMS.get(fold_key(value).replace(" ", ""))


def parse_remote(value: Any) -> bool | None:
    """A bool stays; "ja"/"yes"/"Homeoffice"/"remote" -> True; "nein"/"no"/"vor Ort" -> False."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    key = fold_key(value).replace(" ", "")
    if key in _REMOTE_YES:
        return True
    if key in _REMOTE_NO:
        return False
    return None


def as_float(value: Any) -> float | None:
    """A finite number, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """The text with runs of white space collapsed; None for empty or non-text values."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None
