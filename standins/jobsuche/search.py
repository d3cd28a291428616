"""The job search itself: parameters checked like the live service, matching, paging.

``was`` (words, all must occur in title, occupation or employer), ``wo`` (a town of the postings;
``umkreis`` km around it), ``arbeitszeit`` (``vz;tz;snw;ho;mj``, several values OR-ed), ``page``
(1-based) and ``size`` (max 100). A malformed parameter raises :class:`BadRequest` (the service
answers 400). ``stellenangebote`` is left out when nothing matches, as the live service does;
``maxErgebnisse``, ``page`` and ``size`` are strings (spec).
"""
from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from standins.jobsuche.postings import StandInPosting

__all__ = ["MAX_SIZE", "DEFAULT_UMKREIS_KM", "BadRequest", "search", "decode_refnr"]

MAX_SIZE: Final[int] = 100
DEFAULT_UMKREIS_KM: Final[int] = 25
_ARBEITSZEIT: Final[Mapping[str, str]] = {
    "vz": "VOLLZEIT", "tz": "TEILZEIT", "snw": "SCHICHT_NACHTARBEIT_WOCHENENDE",
    "ho": "HEIM_TELEARBEIT", "mj": "MINIJOB",
}



class BadRequest(Exception):
    """A parameter the live service would refuse with 400."""


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def search(postings: Iterable[StandInPosting], query: Mapping[str, str]) -> dict[str, Any]:
    postings = tuple(postings)
    page = _int_param(query, "page", 1, 1, 10_000)
    size = _int_param(query, "size", 25, 1, MAX_SIZE)
    umkreis = _int_param(query, "umkreis", DEFAULT_UMKREIS_KM, 0, 1_000)
    codes = [code for code in (query.get("arbeitszeit") or "").split(";") if code]
    unknown = [code for code in codes if code not in _ARBEITSZEIT]
    if unknown:
        raise BadRequest("arbeitszeit must be a ;-separated list of vz, tz, snw, ho, mj")
    wanted_models = {_ARBEITSZEIT[code] for code in codes}
    words = (query.get("was") or "").casefold().split()
    where = (query.get("wo") or "").strip().casefold()
    matches = []
    centre: tuple[float, float] | None = None
    if where:
        centre = next(((p.lat, p.lon) for p in postings if p.ort.casefold() == where), None)
    for posting in postings:
        haystack = f"{posting.titel} {posting.beruf} {posting.arbeitgeber}".casefold()
        if any(word not in haystack for word in words):
            continue
        if wanted_models and not wanted_models.intersection(posting.arbeitszeitmodelle):
            continue
        if where:
            if centre is None or _distance_km(centre[0], centre[1], posting.lat, posting.lon) > umkreis:
                continue
        matches.append(posting)
    page_items = matches[(page - 1) * size: page * size]
    body: dict[str, Any] = {"maxErgebnisse": str(len(matches)), "page": str(page), "size": str(size), "facetten": []}
    if page_items:
        body["stellenangebote"] = [posting.search_item() for posting in page_items]
    return body


def decode_refnr(code: str) -> str | None:
    raw = unquote(code)
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
