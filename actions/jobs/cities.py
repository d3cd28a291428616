"""The bundled list of German cities: canonical spelling, aliases and coordinates.

Why a local list instead of a geocoding service: resolving "koeln" or "Munich" must work
offline and must not send what the user typed to a third party. The list is a CSV file
(``data/cities.csv``, columns documented in ``data/README.md``) that a deployment can replace
via ``JOBS_CITIES_FILE``. Distances use the haversine formula on a sphere of radius
6371 km (https://en.wikipedia.org/wiki/Haversine_formula), which is accurate to well under
1 % at the distances a job search cares about.
"""
from __future__ import annotations

import csv
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import JobDataError
from .text import fold_key

__all__ = [
    "EARTH_RADIUS_KM",
    "DEFAULT_CITIES_FILE",
    "City",
    "CityIndex",
    "haversine_km",
    "load_cities",
    "default_city_index",
]

EARTH_RADIUS_KM: Final[float] = 6371.0
DEFAULT_CITIES_FILE: Final[Path] = Path(__file__).parent / "data" / "cities.csv"

# Words people put in front of a place name ("in Köln", "near Munich", "Raum Stuttgart").
_PLACE_PREFIX = re.compile(r"^(?:in|im|bei|nahe|naehe|nahe bei|um|raum|im raum|near|around|at)\s+")
# "50667 Köln" -> "Köln"
_LEADING_POSTCODE = re.compile(r"^\d{5}\s+")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True, kw_only=True)
class City:
    """A city with its canonical German name and a representative postal code."""

    name: str
    aliases: tuple[str, ...]
    state: str
    postal_code: str
    latitude: float
    longitude: float

    def distance_km(self, latitude: float, longitude: float) -> float:
        """Distance from this city's centre to the given point."""
        return haversine_km(self.latitude, self.longitude, latitude, longitude)


class CityIndex:
    """Immutable lookup of cities by any spelling, and of the nearest city to a point."""

    def __init__(self, cities: Iterable[City]) -> None:
        self._cities: tuple[City, ...] = tuple(cities)
        keys: dict[str, City] = {}
        for city in self._cities:
            for spelling in (city.name, *city.aliases):
                key = fold_key(spelling)
                if not key:
                    raise JobDataError(f"city {city.name!r} has an empty spelling")
                other = keys.get(key)
                if other is not None and other.name != city.name:
                    raise JobDataError(
                        f"spelling {spelling!r} is ambiguous: {other.name!r} and {city.name!r}"
                    )
                keys[key] = city
        self._by_key = keys

    def __len__(self) -> int:
        return len(self._cities)

    def __iter__(self) -> Iterator[City]:
        return iter(self._cities)

    def resolve(self, text: str | None) -> City | None:
        """The city meant by ``text`` ("koeln", "in Munich", "50667 Köln"), or ``None``."""
        if not text:
            return None
        key = fold_key(text)
        city = self._by_key.get(key)
        if city is not None:
            return city
        stripped = _LEADING_POSTCODE.sub("", _PLACE_PREFIX.sub("", key))
        return self._by_key.get(stripped)

    def canonical_name(self, text: str) -> str:
        """The canonical spelling when ``text`` is a known city, else ``text`` stripped."""
        city = self.resolve(text)
        return city.name if city is not None else text.strip()

    def nearest(self, latitude: float, longitude: float, *, max_km: float | None = None) -> City | None:
        """The city closest to the point, or ``None`` when none lies within ``max_km``."""
        best: City | None = None
        best_km = math.inf
        for city in self._cities:
            km = city.distance_km(latitude, longitude)
            if km < best_km:
                best, best_km = city, km
        if best is None or (max_km is not None and best_km > max_km):
            return None
        return best


def _parse_row(row: Mapping[str, str | None], line: int, path: Path) -> City:
    try:
        name = (row["name"] or "").strip()
        latitude = float(row["latitude"] or "")
        longitude = float(row["longitude"] or "")
    except (KeyError, TypeError, ValueError) as exc:
        raise JobDataError(f"{path}:{line}: needs name, latitude and longitude") from exc
    if not name:
        raise JobDataError(f"{path}:{line}: empty city name")
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise JobDataError(f"{path}:{line}: coordinates out of range")
    aliases = tuple(alias.strip() for alias in (row.get("aliases") or "").split("|") if alias.strip())
    return City(
        name=name,
        aliases=aliases,
        state=(row.get("state") or "").strip(),
        postal_code=(row.get("postal_code") or "").strip(),
        latitude=latitude,
        longitude=longitude,
    )


def load_cities(path: Path | str = DEFAULT_CITIES_FILE) -> CityIndex:
    """Read a cities CSV file (see ``data/README.md``) into a :class:`CityIndex`."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            cities = [_parse_row(row, number, path) for number, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise JobDataError(f"cannot read city list {path}") from exc
    except csv.Error as exc:
        raise JobDataError(f"malformed city list {path}") from exc
    if not cities:
        raise JobDataError(f"city list {path} is empty")
    return CityIndex(cities)


_cache: dict[Path, CityIndex] = {}
_cache_lock = threading.Lock()


def default_city_index(environ: Mapping[str, str] = os.environ) -> CityIndex:
    """The process-wide city list, from ``JOBS_CITIES_FILE`` or the bundled file; read once."""
    path = Path(environ.get("JOBS_CITIES_FILE") or DEFAULT_CITIES_FILE).resolve()
    with _cache_lock:
        index = _cache.get(path)
        if index is None:
            index = load_cities(path)
            _cache[path] = index
        return index
