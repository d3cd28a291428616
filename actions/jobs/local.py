"""The ``local`` job provider: full-text search over a bundled, replaceable JSON Lines file.

Why local: the assistant must work without any outside service (development, tests,
demos, and deployments that do not want to send search terms to a third party). The file
is read once per process into an in-memory SQLite database with an FTS5 index
(https://www.sqlite.org/fts5.html): bm25 ranking, the ``unicode61 remove_diacritics 2``
tokenizer and prefix queries. On top of that, indexed text and query terms both go through
:func:`actions.jobs.text.fold`, so "Baecker", "Bäcker" and "Backer" meet, and every query
term is a prefix ("Pflege" finds "Pflegefachkraft", "koch" finds "Köchin").

Places: ``where`` is looked up in the city list and becomes the centre of a radius search
(haversine, default 25 km); shared coordinates take precedence. A ``where`` that is not a
known city is compared with the postings' own city names (and postal codes) instead.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from .cities import CityIndex, default_city_index, haversine_km
from .errors import JobDataError, UnknownLocation
from .models import DEFAULT_RADIUS_KM, WORKING_TIMES, JobPosting, JobQuery, SearchResult
from .text import fold, fold_key, tokens

__all__ = ["DEFAULT_DATA_FILE", "STOPWORDS", "FILTER_COLUMNS", "LocalJobProvider", "load_postings", "IndexedPosting"]

logger = logging.getLogger(__name__)

DEFAULT_DATA_FILE: Final[Path] = Path(__file__).parent / "data" / "jobs.jsonl"

# Folded words that carry no meaning for a job search ("Job als Koch (m/w/d)").
STOPWORDS: Final[frozenset[str]] = frozenset({
    "als", "in", "im", "an", "am", "bei", "der", "die", "das", "den", "dem", "des", "ein", "eine",
    "einen", "einer", "und", "oder", "fur", "mit", "job", "jobs", "stelle", "stellen", "stellenangebot",
    "as", "a", "the", "and", "or", "for", "of", "with", "at", "mwd",
})

# Full-text columns a JobQuery filter may name (a search slot added in YAML, e.g. "employer").
FILTER_COLUMNS: Final[frozenset[str]] = frozenset({"title", "keywords", "employer", "description"})
# Column weights for bm25(): a hit in the title counts most, then the keywords.
_BM25_WEIGHTS: Final[str] = "10.0, 4.0, 1.0, 1.0"
_SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE jobs (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        city_key TEXT NOT NULL,
        postal_code TEXT,
        latitude REAL,
        longitude REAL,
        working_time TEXT,
        remote INTEGER NOT NULL
    )""",
    """CREATE VIRTUAL TABLE jobs_fts USING fts5(
        title, keywords, employer, description,
        content='', tokenize='unicode61 remove_diacritics 2'
    )""",
)


@dataclass(frozen=True, slots=True)
class IndexedPosting:
    """A posting plus the search-only keywords column of the data file."""

    posting: JobPosting
    keywords: str


def _text(record: Mapping[str, Any], field: str, *, required: bool) -> str:
    value = record.get(field)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    value = value.strip()
    if required and not value:
        raise ValueError(f"{field} is required")
    return value


def _coordinate(record: Mapping[str, Any], field: str, low: float, high: float) -> float | None:
    value = record.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} must be a number")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{field} out of range")
    return number


def _parse_posting(record: Any, cities: CityIndex) -> IndexedPosting:
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    working_time = record.get("working_time") or None
    if working_time is not None and working_time not in WORKING_TIMES:
        raise ValueError(f"working_time must be one of {WORKING_TIMES} or null")
    remote = record.get("remote", False)
    if remote is None:
        remote = False
    if not isinstance(remote, bool):
        raise ValueError("remote must be true or false")
    raw_start = record.get("start_date")
    start_date = date.fromisoformat(raw_start) if raw_start else None
    postal = record.get("postal_code")
    postal_code = str(postal).strip() if postal not in (None, "") else None
    city = _text(record, "city", required=True)
    latitude = _coordinate(record, "latitude", -90.0, 90.0)
    longitude = _coordinate(record, "longitude", -180.0, 180.0)
    if (latitude is None) != (longitude is None):
        raise ValueError("latitude and longitude must be given together")
    if latitude is None:
        known = cities.resolve(city)
        if known is not None:
            latitude, longitude = known.latitude, known.longitude
    posting = JobPosting(
        id=_text(record, "id", required=True),
        title=_text(record, "title", required=True),
        employer=_text(record, "employer", required=False),
        city=city,
        postal_code=postal_code,
        latitude=latitude,
        longitude=longitude,
        working_time=working_time,
        remote=remote,
        start_date=start_date,
        url=_text(record, "url", required=False),
        description=_text(record, "description", required=False),
    )
    return IndexedPosting(posting, _text(record, "keywords", required=False))


def load_postings(path: Path | str, cities: CityIndex | None = None) -> list[IndexedPosting]:
    """Read and validate a JSON Lines data file (columns in ``data/README.md``).

    Postings without coordinates get those of their city when it is in the city list.
    Raises :class:`JobDataError` naming the file and line of the first problem.
    """
    path = Path(path)
    cities = cities if cities is not None else default_city_index()
    postings: list[IndexedPosting] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    indexed = _parse_posting(json.loads(line), cities)
                except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
                    raise JobDataError(f"{path}:{number}: {exc}") from exc
                if indexed.posting.id in seen:
                    raise JobDataError(f"{path}:{number}: duplicate id {indexed.posting.id!r}")
                seen.add(indexed.posting.id)
                postings.append(indexed)
    except OSError as exc:
        raise JobDataError(f"cannot read job data file {path}") from exc
    except UnicodeDecodeError as exc:
        raise JobDataError(f"job data file {path} is not UTF-8") from exc
    if not postings:
        raise JobDataError(f"job data file {path} holds no postings")
    return postings


def _sql_haversine(lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None) -> float | None:
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return haversine_km(lat1, lon1, lat2, lon2)


class _JobIndex:
    """The in-memory SQLite database for one data file; all access under one lock."""

    def __init__(self, postings: list[IndexedPosting]) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, JobPosting] = {}
        self._by_rowid: dict[int, JobPosting] = {}
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.create_function("haversine_km", 4, _sql_haversine, deterministic=True)
        for statement in _SCHEMA:
            self._db.execute(statement)
        for rowid, indexed in enumerate(postings, start=1):
            posting = indexed.posting
            self._by_id[posting.id] = posting
            self._by_rowid[rowid] = posting
            self._db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rowid, posting.id, fold_key(posting.city), posting.postal_code, posting.latitude,
                 posting.longitude, posting.working_time, int(bool(posting.remote))),
            )
            self._db.execute(
                "INSERT INTO jobs_fts (rowid, title, keywords, employer, description) VALUES (?, ?, ?, ?, ?)",
                (rowid, fold(posting.title), fold(indexed.keywords), fold(posting.employer),
                 fold(posting.description)),
            )
        self._db.commit()

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, job_id: str) -> JobPosting | None:
        return self._by_id.get(job_id)

    def exists(self, where_sql: str, params: list[Any]) -> bool:
        with self._lock:
            row = self._db.execute(f"SELECT 1 FROM jobs j WHERE {where_sql} LIMIT 1", params).fetchone()
        return row is not None

    def search(
        self, match: str | None, conditions: list[str], params: list[Any], order: str, order_params: list[Any],
        limit: int, offset: int,
    ) -> tuple[int, list[JobPosting]]:
        where = list(conditions)
        where_params = list(params)
        if match is not None:
            source = "jobs_fts JOIN jobs j ON j.rowid = jobs_fts.rowid"
            where.insert(0, "jobs_fts MATCH ?")
            where_params.insert(0, match)
        else:
            source = "jobs j"
        where_sql = " AND ".join(where) or "1"
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM {source} WHERE {where_sql}", where_params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT j.rowid FROM {source} WHERE {where_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                [*where_params, *order_params, limit, offset],
            ).fetchall()
        return int(total), [self._by_rowid[row[0]] for row in rows]


# Keyed by the CityIndex object itself (identity hash), which also keeps it alive.
_indexes: dict[tuple[Path, CityIndex], _JobIndex] = {}
_indexes_lock = threading.Lock()


def _index_for(path: Path, cities: CityIndex) -> _JobIndex:
    """Build the index for ``path`` once per process (per city list) and share it."""
    key = (path, cities)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is None:
            index = _JobIndex(load_postings(path, cities))
            _indexes[key] = index
            logger.info("local job index built: %d postings from %s", len(index), path.name)
        return index


def _match_expression(terms: list[str], operator: str) -> str:
    return f" {operator} ".join(f'"{term}"*' for term in terms)


def _narrow(match: str, narrowed: str | None) -> str:
    return f"({match}) AND {narrowed}" if narrowed else match


class LocalJobProvider:
    """Search the bundled (or ``JOBS_DATA_FILE``) postings; thread-safe, no network."""

    def __init__(
        self,
        data_file: Path | str | None = None,
        *,
        cities: CityIndex | None = None,
        default_radius_km: int = DEFAULT_RADIUS_KM,
    ) -> None:
        self._cities = cities if cities is not None else default_city_index()
        self._path = Path(data_file or DEFAULT_DATA_FILE).resolve()
        self._default_radius_km = default_radius_km
        self._index = _index_for(self._path, self._cities)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "LocalJobProvider":
        """Configured by ``JOBS_DATA_FILE`` (and ``JOBS_CITIES_FILE`` for the city list)."""
        return cls(environ.get("JOBS_DATA_FILE") or None, cities=default_city_index(environ))

    def __len__(self) -> int:
        return len(self._index)

    @staticmethod
    def search_terms(what: str) -> list[str]:
        """The folded words of ``what`` that take part in the full-text match."""
        return [term for term in tokens(what) if term not in STOPWORDS and (len(term) > 1 or term.isdigit())]

    def _filter_expression(self, query: JobQuery) -> str | None:
        """FTS5 column filters for ``query.filters`` naming a full-text column; others are ignored."""
        parts = []
        for name, value in query.filters:
            if name in FILTER_COLUMNS:
                parts.extend(f'{name} : "{term}"*' for term in self.search_terms(value))
            else:
                logger.debug("local search cannot filter by %s; ignored", name)
        return " AND ".join(parts) or None

    def _place_filter(self, query: JobQuery) -> tuple[list[str], list[Any], tuple[float, float] | None]:
        """SQL conditions for the place part of the query, and the centre for distance ordering."""
        centre: tuple[float, float] | None = None
        if query.latitude is not None and query.longitude is not None:
            centre = (query.latitude, query.longitude)
        elif query.where:
            city = self._cities.resolve(query.where)
            if city is not None:
                centre = (city.latitude, city.longitude)
            else:
                key = fold_key(query.where)
                condition = "(j.city_key = ? OR j.city_key LIKE ? OR j.postal_code = ?)"
                params: list[Any] = [key, f"{key} %", query.where.strip()]
                if not key or not self._index.exists(condition, params):
                    raise UnknownLocation(query.where)
                return [condition], params, None
        if centre is None:
            return [], [], None
        radius = query.radius_km or self._default_radius_km
        return ["haversine_km(j.latitude, j.longitude, ?, ?) <= ?"], [centre[0], centre[1], radius], centre

    def search(self, query: JobQuery) -> SearchResult:
        """Rank by bm25 over title, keywords, employer and description; filter; paginate.

        All terms must match; when that finds nothing and there are several terms, any
        term may match (still ranked by bm25), so "Lagerist Gabelstapler" is not empty.
        """
        conditions, params, centre = self._place_filter(query)
        if query.working_time:
            conditions.append("j.working_time = ?")
            params.append(query.working_time)
        if query.remote:
            conditions.append("j.remote = 1")
        terms = self.search_terms(query.what)
        narrowed = self._filter_expression(query)
        offset = (query.page - 1) * query.size
        if not terms:
            if centre is not None:
                order, order_params = "haversine_km(j.latitude, j.longitude, ?, ?), j.rowid", [*centre]
            else:
                order, order_params = "j.rowid", []
            total, postings = self._index.search(narrowed, conditions, params, order, order_params, query.size, offset)
        else:
            order = f"bm25(jobs_fts, {_BM25_WEIGHTS}), j.rowid"
            total, postings = self._index.search(
                _narrow(_match_expression(terms, "AND"), narrowed), conditions, params, order, [], query.size, offset
            )
            if total == 0 and len(terms) > 1:
                total, postings = self._index.search(
                    _narrow(_match_expression(terms, "OR"), narrowed), conditions, params, order, [], query.size,
                    offset,
                )
        logger.debug("local search page %d: %d of %d", query.page, len(postings), total)
        return SearchResult(postings=tuple(postings), total=total, page=query.page, size=query.size)

    def details(self, job_id: str) -> JobPosting | None:
        """The posting with this id, or ``None``."""
        return self._index.get(job_id) if job_id else None
