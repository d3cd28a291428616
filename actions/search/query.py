"""The provider's question (:class:`actions.jobs.JobQuery`) built from the search slots.

The built-in slots (actions/search/slots.py) fill the query's own fields; every other search
slot labels.yml lists is carried as a filter, so a slot a designer adds reaches the provider
without a Python change. A shared location is used only while it still fits the typed place.
"""
from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Tracker

from actions.jobs import JobQuery
from actions.jobs.cities import CityIndex
from actions.search.slot_values import as_float, as_text, parse_radius_km, parse_remote, parse_working_time
from actions.search.slots import filter_slots

__all__ = ["PAGE_SIZE", "NEAREST_CITY_MAX_KM", "build_query", "filter_value", "shared_coordinates"]

PAGE_SIZE: Final[int] = 5
# A shared location farther than this from every listed city does not name a city.
NEAREST_CITY_MAX_KM: Final[float] = 100.0


def shared_coordinates(tracker: Tracker) -> tuple[float | None, float | None]:
    """The ``latitude``/``longitude`` slots as numbers (None, None when either is missing)."""
    latitude, longitude = as_float(tracker.get_slot("latitude")), as_float(tracker.get_slot("longitude"))
    if latitude is None or longitude is None:
        return None, None
    return latitude, longitude


def _coordinates(tracker: Tracker, location: str | None, cities: CityIndex) -> tuple[float | None, float | None]:
    """Use a shared location only if it still fits the place in the ``location`` slot.

    A user who shared their position and later typed another city means the typed city.
    """
    latitude, longitude = shared_coordinates(tracker)
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None, None
    if location is None:
        return latitude, longitude
    typed = cities.resolve(location)
    nearest = cities.nearest(latitude, longitude, max_km=NEAREST_CITY_MAX_KM)
    if typed is not None and nearest is not None and typed.name == nearest.name:
        return latitude, longitude
    return None, None


def filter_value(value: Any) -> str | None:
    """A filter slot's value as the text sent to the provider (numbers and yes/no as text)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        number = as_float(value)
        return f"{number:g}" if number is not None else None
    return as_text(value)


def _filters(tracker: Tracker) -> tuple[tuple[str, str], ...]:
    pairs = ((slot, filter_value(tracker.get_slot(slot))) for slot in filter_slots())
    return tuple((slot, value) for slot, value in pairs if value is not None)


def build_query(tracker: Tracker, page: int, cities: CityIndex) -> JobQuery:
    """The query for result page ``page`` of the search in the tracker's slots."""
    location = as_text(tracker.get_slot("location"))
    latitude, longitude = _coordinates(tracker, location, cities)
    radius = parse_radius_km(tracker.get_slot("radius_km"))
    return JobQuery(
        what=as_text(tracker.get_slot("job_title")) or "",
        where=location,
        radius_km=max(1, round(radius)) if radius is not None else None,
        working_time=parse_working_time(tracker.get_slot("working_time")),
        remote=parse_remote(tracker.get_slot("remote")),
        latitude=latitude,
        longitude=longitude,
        filters=_filters(tracker),
        page=page,
        size=PAGE_SIZE,
    )
