"""Reading the Jobsuche API's answers into :class:`~actions.jobs.models.JobPosting` values.

Why apart from the client (actions/jobs/arbeitsagentur.py): the client speaks HTTP (retries,
sessions), this module knows the answer's fields, following the public, unofficial OpenAPI
description (https://github.com/bundesAPI/jobsuche-api; search: ``stellenangebote`` entries,
details: the ``jobdetails`` object). Missing or malformed fields become empty values, never
errors: one odd posting must not hide the others.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, Final
from urllib.parse import quote

from .models import JobPosting, JobQuery

__all__ = ["PUBLIC_DETAIL_URL", "posting_from_search", "posting_from_details"]

# The public page of a posting on arbeitsagentur.de, used when the API gives no external URL.
PUBLIC_DETAIL_URL: Final[str] = "https://www.arbeitsagentur.de/jobsuche/jobdetail/{refnr}"
# arbeitszeitmodelle values of the details answer -> our vocabulary (first match wins).
_MODEL_TO_WORKING_TIME: Final[tuple[tuple[str, str], ...]] = (
    ("VOLLZEIT", "vollzeit"), ("TEILZEIT", "teilzeit"), ("MINIJOB", "minijob"),
)
_REMOTE_MODEL: Final[str] = "HEIM_TELEARBEIT"


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _postal_code(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value:05d}"
    text = str(value).strip()
    return text or None


def _coordinate(place: Mapping[str, Any], field: str) -> float | None:
    coordinates = place.get("koordinaten")
    if not isinstance(coordinates, Mapping):
        return None
    value = coordinates.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _text(item: Mapping[str, Any], *fields: str) -> str:
    for field in fields:
        value = item.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _url(item: Mapping[str, Any], refnr: str) -> str:
    external = item.get("externeUrl")
    if isinstance(external, str) and external.startswith(("https://", "http://")):
        return external
    return PUBLIC_DETAIL_URL.format(refnr=quote(refnr, safe=""))


def posting_from_search(item: Any, query: JobQuery) -> JobPosting | None:
    """One entry of ``stellenangebote`` as a posting; None when it has no refnr."""
    if not isinstance(item, Mapping):
        return None
    refnr = _text(item, "refnr")
    if not refnr:
        return None
    place = item.get("arbeitsort") if isinstance(item.get("arbeitsort"), Mapping) else {}
    return JobPosting(
        id=refnr,
        title=_text(item, "titel", "beruf") or refnr,
        employer=_text(item, "arbeitgeber"),
        city=_text(place, "ort"),
        postal_code=_postal_code(place.get("plz")),
        latitude=_coordinate(place, "lat"),
        longitude=_coordinate(place, "lon"),
        # The search answer has no working-time field; a search filtered on exactly one
        # arbeitszeit code implies it (several codes are OR-ed, so then nothing is known).
        working_time=query.working_time if not query.remote else None,
        remote=True if query.remote and not query.working_time else None,
        start_date=_parse_date(item.get("eintrittsdatum")),
        url=_url(item, refnr),
        description="",
    )


def posting_from_details(body: Mapping[str, Any], refnr: str) -> JobPosting:
    """The details answer for ``refnr`` as a posting (working time and home office from its models)."""
    places = body.get("arbeitsorte")
    place = places[0] if isinstance(places, list) and places and isinstance(places[0], Mapping) else {}
    models = body.get("arbeitszeitmodelle")
    models = [str(model).upper() for model in models] if isinstance(models, list) else []
    working_time = next((ours for theirs, ours in _MODEL_TO_WORKING_TIME if theirs in models), None)
    found = _text(body, "refnr", "referenznummer") or refnr
    return JobPosting(
        id=found,
        title=_text(body, "stellenangebotsTitel", "titel", "beruf") or found,
        employer=_text(body, "arbeitgeber"),
        city=_text(place, "ort"),
        postal_code=_postal_code(place.get("plz")),
        latitude=_coordinate(place, "lat"),
        longitude=_coordinate(place, "lon"),
        working_time=working_time,
        remote=_REMOTE_MODEL in models,
        start_date=_parse_date(body.get("eintrittsdatum")),
        url=_url(body, found),
        description=_text(body, "stellenangebotsBeschreibung", "stellenbeschreibung"),
    )
