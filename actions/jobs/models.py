"""Values exchanged with job providers: the question, a posting, a page of results.

Frozen dataclasses so a query or a result can be shared between threads and cached
without anyone changing it underneath. ``working_time`` uses the slot vocabulary of the
dialogue (docs/architecture.md, "Names the dialogue and the code share"): ``vollzeit``,
``teilzeit``, ``minijob``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol, runtime_checkable

from .errors import InvalidQuery

__all__ = [
    "WORKING_TIMES",
    "DEFAULT_RADIUS_KM",
    "MAX_PAGE_SIZE",
    "MAX_RADIUS_KM",
    "JobQuery",
    "JobPosting",
    "SearchResult",
    "JobProvider",
]

WORKING_TIMES: Final[tuple[str, ...]] = ("vollzeit", "teilzeit", "minijob")
DEFAULT_RADIUS_KM: Final[int] = 25
MAX_PAGE_SIZE: Final[int] = 50
MAX_RADIUS_KM: Final[int] = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    """What the user is looking for.

    ``remote=True`` asks for postings that allow working from home; ``False`` and ``None``
    both mean "no remote filter" (the Arbeitsagentur API cannot exclude home office, so
    both providers treat ``False`` the same way). ``latitude``/``longitude`` come from a
    shared WhatsApp location and, when given, are the centre of the radius search.
    ``page`` is 1-based.
    """

    what: str = ""
    where: str | None = None
    radius_km: int | None = None
    working_time: str | None = None
    remote: bool | None = None
    latitude: float | None = None
    longitude: float | None = None
    page: int = 1
    size: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "what", (self.what or "").strip())
        where = self.where.strip() if isinstance(self.where, str) else None
        object.__setattr__(self, "where", where or None)
        if self.working_time is not None and self.working_time not in WORKING_TIMES:
            raise InvalidQuery(f"working_time must be one of {WORKING_TIMES}, got {self.working_time!r}")
        if self.radius_km is not None and not 0 < self.radius_km <= MAX_RADIUS_KM:
            raise InvalidQuery(f"radius_km must be in 1..{MAX_RADIUS_KM}")
        if not isinstance(self.page, int) or self.page < 1:
            raise InvalidQuery("page must be an integer >= 1")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"size must be in 1..{MAX_PAGE_SIZE}")
        if (self.latitude is None) != (self.longitude is None):
            raise InvalidQuery("latitude and longitude must be given together")
        if self.latitude is not None and self.longitude is not None:
            if not (math.isfinite(self.latitude) and -90.0 <= self.latitude <= 90.0):
                raise InvalidQuery("latitude out of range")
            if not (math.isfinite(self.longitude) and -180.0 <= self.longitude <= 180.0):
                raise InvalidQuery("longitude out of range")

    @property
    def has_coordinates(self) -> bool:
        """True when a shared location is the search centre."""
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPosting:
    """One job advertisement, in the same shape whichever provider found it.

    ``remote`` is ``None`` when the provider does not say (Arbeitsagentur search results);
    ``start_date`` ``None`` means "from now on" (ab sofort).
    """

    id: str
    title: str
    employer: str
    city: str
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    working_time: str | None = None
    remote: bool | None = None
    start_date: date | None = None
    url: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """One page of postings plus the true number of matches over all pages."""

    postings: tuple[JobPosting, ...]
    total: int
    page: int
    size: int

    @property
    def has_more(self) -> bool:
        """Whether a later page holds further postings."""
        return self.page * self.size < self.total


@runtime_checkable
class JobProvider(Protocol):
    """What the actions need from a job source. Implementations are thread-safe and blocking."""

    def search(self, query: JobQuery) -> SearchResult:
        """Return the requested page; raises a :class:`~actions.jobs.errors.JobProviderError`."""
        ...

    def details(self, job_id: str) -> JobPosting | None:
        """Return the posting with ``job_id`` or ``None`` when it does not exist (any more)."""
        ...
