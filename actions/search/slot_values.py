"""Cleaning what users type into the job search's slots: distances, working time, remote, text.

Why here and not in the form alone: the form normalises the values when they are set, and
the search normalises them again when it builds the provider's query, because slots may
also be set outside the form (entities of a later message such as "only part-time").
The words understood ("Teilzeit", "part-time", "Homeoffice", "km", "miles") are the
``actions.understood`` section of labels.yml, so a designer adds a language's words there.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import wording
from actions.jobs import MAX_RADIUS_KM, WORKING_TIMES
from actions.jobs.text import fold_key
from actions.label_cache import derived

__all__ = ["parse_radius_km", "parse_working_time", "parse_remote", "as_float", "as_text", "Understood", "understood"]

_DISTANCE_NUMBER: Final[str] = r"(\d{1,4}(?:[.,]\d+)?)"
_MILE_KM: Final[float] = 1.609344


def _compact(word: object) -> str:
    """The form words are compared in: folded, without spaces ("Home Office" -> "homeoffice")."""
    return fold_key(str(word)).replace(" ", "")


def _alternatives(words: Iterable[object]) -> str:
    """A regex alternation of the words, longest first, spaces matching any white space."""
    spelled = sorted({str(word).strip().lower() for word in words if str(word).strip()}, key=len, reverse=True)
    return "|".join(r"\s*".join(re.escape(part) for part in word.split()) for word in spelled)


@dataclass(frozen=True)
class Understood:
    """The words of labels.yml's ``actions.understood`` section, ready for matching."""

    working_time: Mapping[str, str]
    remote_yes: frozenset[str]
    remote_no: frozenset[str]
    distance: re.Pattern[str]
    miles: frozenset[str]

    @classmethod
    def from_labels(cls, labels: wording.Labels) -> "Understood":
        section = labels.section("actions.understood")
        working_time = {
            _compact(word): value
            for value, words in (section.get("working_time") or {}).items()
            if value in WORKING_TIMES  # any other value would be refused by JobQuery
            for word in words or ()
        }
        before = _alternatives(section.get("before_distance") or ())
        units = _alternatives([*(section.get("kilometres") or ()), *(section.get("miles") or ())])
        distance = re.compile(
            r"^\s*" + (f"(?:(?:{before})\\s*)?" if before else "") + _DISTANCE_NUMBER + r"\s*"
            + (f"({units})?" if units else "()") + r"\.?\s*$",
            re.IGNORECASE,
        )
        return cls(
            working_time=working_time,
            remote_yes=frozenset(_compact(word) for word in section.get("remote_yes") or ()),
            remote_no=frozenset(_compact(word) for word in section.get("remote_no") or ()),
            distance=distance,
            miles=frozenset(str(word).strip().lower() for word in section.get("miles") or ()),
        )


def understood() -> Understood:
    """The words of the current labels file (computed once per file)."""
    return derived(wording.current(), Understood.from_labels)


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
        match = understood().distance.match(value)
        if not match:
            return None
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
    else:
        return None
    if unit in understood().miles:
        number *= _MILE_KM
    if not math.isfinite(number) or number <= 0:
        return None
    return round(min(number, float(MAX_RADIUS_KM)), 1)


def parse_working_time(value: Any) -> str | None:
    """Teilzeit/part-time/part time -> teilzeit; Vollzeit/full-time -> vollzeit;
    Minijob/mini-job/450-Euro-Job/520-Euro-Job -> minijob; anything else -> None."""
    if not isinstance(value, str):
        return None
    return understood().working_time.get(_compact(value))


def parse_remote(value: Any) -> bool | None:
    """A bool stays; "ja"/"yes"/"Homeoffice"/"remote" -> True; "nein"/"no"/"vor Ort" -> False."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    key, words = _compact(value), understood()
    if key in words.remote_yes:
        return True
    if key in words.remote_no:
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
