"""The ``arbeitsagentur`` job provider: the Bundesagentur für Arbeit job search API.

Follows the public, unofficial OpenAPI description kept at
``/work/shared/specs/jobsuche-openapi.yaml`` (upstream: https://github.com/bundesAPI/jobsuche-api):

* search: ``GET {base}/pc/v4/jobs`` with ``was``, ``wo``, ``umkreis``, ``arbeitgeber``, ``arbeitszeit``
  (``vz``/``tz``/``mj``, ``ho`` for home office; several values joined by ``;`` — the API
  combines them with OR, so "Vollzeit + remote" may also return part-time home-office jobs),
  ``page`` (1-based) and ``size``;
* details: ``GET {base}/pc/v4/jobdetails/{base64(refnr)}``;
* authentication: header ``X-API-Key`` with the public client id ``jobboerse-jobsuche``.

Why retries here: the service is shared and rate-limited. 429 (honouring ``Retry-After``),
5xx, time-outs and broken connections are retried with exponential backoff; when that does
not help the caller gets :class:`ProviderUnavailable`, and the assistant says "try later".
Other 4xx mean our request is wrong (or the key is) and raise :class:`ProviderRejected`.
Search words and places are user input: they are logged at DEBUG only.
"""
from __future__ import annotations

import base64
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import requests

from httpkit.retry_after import retry_after_seconds

from .cities import CityIndex, default_city_index
from .errors import MalformedResponse, ProviderConfigError, ProviderRejected, ProviderUnavailable
from .jobsuche_answers import posting_from_details, posting_from_search
from .models import DEFAULT_RADIUS_KM, JobPosting, JobQuery, SearchResult

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_API_KEY",
    "DEFAULT_TIMEOUT_S",
    "SEARCH_PATH",
    "DETAILS_PATH",
    "WORKING_TIME_CODES",
    "REMOTE_CODE",
    "FILTER_PARAMS",
    "RetryPolicy",
    "ArbeitsagenturProvider",
    "encode_refnr",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final[str] = "https://rest.arbeitsagentur.de/jobboerse/jobsuche-service"
DEFAULT_API_KEY: Final[str] = "jobboerse-jobsuche"
DEFAULT_TIMEOUT_S: Final[float] = 5.0
SEARCH_PATH: Final[str] = "/pc/v4/jobs"
DETAILS_PATH: Final[str] = "/pc/v4/jobdetails/{code}"
WORKING_TIME_CODES: Final[Mapping[str, str]] = {"vollzeit": "vz", "teilzeit": "tz", "minijob": "mj"}
REMOTE_CODE: Final[str] = "ho"
# JobQuery.filters names (search slots added in YAML) the API can apply -> its parameters; others are ignored.
FILTER_PARAMS: Final[Mapping[str, str]] = {"employer": "arbeitgeber"}
_RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
_RETRY_EXCEPTIONS: Final[tuple[type[BaseException], ...]] = (
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
)
_USER_AGENT: Final[str] = "Blaupause-Jobsuche/1.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry; tests shrink the delays.

    ``backoff_s * 2**(n-1)`` seconds before retry ``n`` (capped at ``max_backoff_s``), unless
    the server sent ``Retry-After``; a ``Retry-After`` longer than ``max_retry_after_s``
    ends the attempts at once, because a chat user will not wait that long.
    """

    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 4.0
    max_retry_after_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ProviderConfigError("attempts must be at least 1")
        if min(self.backoff_s, self.max_backoff_s, self.max_retry_after_s) < 0:
            raise ProviderConfigError("delays must not be negative")

    def backoff(self, attempt: int) -> float:
        """Delay after the failed ``attempt`` (1-based) when the server gave no hint."""
        return min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))


def encode_refnr(refnr: str) -> str:
    """Path segment for the details endpoint: base64(refnr), URL-quoted (spec: encryptedJobCode)."""
    encoded = base64.b64encode(refnr.encode("utf-8")).decode("ascii")
    return quote(encoded, safe="=")


class ArbeitsagenturProvider:
    """Blocking client of the Jobsuche API, safe to share between threads.

    Each thread gets its own ``requests.Session`` unless one is injected (tests).
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = DEFAULT_API_KEY,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        cities: CityIndex | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ProviderConfigError("the job API base URL must start with http:// or https://")
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ProviderConfigError("the job API timeout must be a positive number of seconds")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        self._session = session
        self._cities = cities
        self._sleep = sleep
        self._local = threading.local()
        self._own_sessions: list[requests.Session] = []
        self._own_lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ArbeitsagenturProvider":
        """Configured by ``JOBS_API_BASE_URL``, ``JOBS_API_KEY`` and ``JOBS_API_TIMEOUT`` (seconds)."""
        raw_timeout = environ.get("JOBS_API_TIMEOUT") or ""
        try:
            timeout_s = float(raw_timeout) if raw_timeout.strip() else DEFAULT_TIMEOUT_S
        except ValueError as exc:
            raise ProviderConfigError("JOBS_API_TIMEOUT must be a number of seconds") from exc
        return cls(
            base_url=environ.get("JOBS_API_BASE_URL") or DEFAULT_BASE_URL,
            api_key=environ.get("JOBS_API_KEY") or DEFAULT_API_KEY,
            timeout_s=timeout_s,
            cities=default_city_index(environ),
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        """Close the sessions this provider created (an injected session stays open)."""
        with self._own_lock:
            sessions, self._own_sessions = self._own_sessions, []
        for session in sessions:
            session.close()

    def _session_for_thread(self) -> requests.Session:
        if self._session is not None:
            return self._session
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._own_lock:
                self._own_sessions.append(session)
        return session

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        return headers

    def _get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """GET with retries; returns the decoded JSON, or ``None`` for a 404 when ``missing_ok``."""
        url = self._base_url + path
        session = self._session_for_thread()
        last_error: BaseException | None = None
        last_status: int | None = None
        policy = self._retry
        for attempt in range(1, policy.attempts + 1):
            delay = policy.backoff(attempt)
            try:
                response = session.get(url, params=params, headers=self._headers(), timeout=self._timeout_s)
            except _RETRY_EXCEPTIONS as exc:
                last_error, last_status = exc, None
                logger.warning("job API %s (attempt %d/%d)", type(exc).__name__, attempt, policy.attempts)
            except requests.RequestException as exc:
                raise ProviderUnavailable("job API request failed", attempts=attempt) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._json(response)
                if status == 404 and missing_ok:
                    return None
                if status in _RETRY_STATUSES:
                    last_error, last_status = None, status
                    logger.warning("job API answered %d (attempt %d/%d)", status, attempt, policy.attempts)
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    if retry_after is not None:
                        if retry_after > policy.max_retry_after_s:
                            raise ProviderUnavailable(
                                f"job API asks to wait {retry_after:.0f} s", status=status, attempts=attempt
                            )
                        delay = retry_after
                elif 400 <= status < 500:
                    raise ProviderRejected(f"job API rejected the request with {status}", status=status)
                else:
                    raise ProviderUnavailable(f"job API answered {status}", status=status, attempts=attempt)
            if attempt < policy.attempts:
                self._sleep(delay)
        message = f"job API unavailable after {policy.attempts} attempts"
        if last_status is not None:
            message += f" (last status {last_status})"
        raise ProviderUnavailable(message, status=last_status, attempts=policy.attempts) from last_error

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:  # requests.JSONDecodeError is a ValueError
            raise MalformedResponse("job API answered with something that is not JSON",
                                    status=response.status_code) from exc

    def search_params(self, query: JobQuery) -> dict[str, str]:
        """The query parameters the API gets for ``query`` (public for tests and debugging)."""
        params: dict[str, str] = {"page": str(query.page), "size": str(query.size)}
        if query.what:
            params["was"] = query.what
        where = query.where
        if where is None and query.has_coordinates and self._cities is not None:
            assert query.latitude is not None and query.longitude is not None
            nearest = self._cities.nearest(query.latitude, query.longitude, max_km=100.0)
            where = nearest.name if nearest is not None else None
        if where:
            params["wo"] = where
            params["umkreis"] = str(int(query.radius_km or DEFAULT_RADIUS_KM))
        codes = []
        if query.working_time:
            codes.append(WORKING_TIME_CODES[query.working_time])
        if query.remote:
            codes.append(REMOTE_CODE)
        if codes:
            params["arbeitszeit"] = ";".join(codes)
        params.update((FILTER_PARAMS[name], value) for name, value in query.filters if name in FILTER_PARAMS)
        return params

    def search(self, query: JobQuery) -> SearchResult:
        """One page of results; ``total`` is the API's ``maxErgebnisse``."""
        params = self.search_params(query)
        logger.debug("job API search with parameters %s", ",".join(sorted(params)))  # names, never values
        body = self._get(SEARCH_PATH, params)
        if not isinstance(body, Mapping):
            raise MalformedResponse("job API search answer is not a JSON object")
        items = body.get("stellenangebote") or []
        if not isinstance(items, list):
            raise MalformedResponse("stellenangebote is not a list")
        postings = tuple(
            posting for posting in (posting_from_search(item, query) for item in items) if posting
        )
        try:
            total = int(body.get("maxErgebnisse", 0) or 0)
        except (TypeError, ValueError) as exc:
            raise MalformedResponse("maxErgebnisse is not a number") from exc
        if postings:  # never report fewer matches than we can see
            total = max(total, (query.page - 1) * query.size + len(postings))
        return SearchResult(postings=postings, total=total, page=query.page, size=query.size)

    def details(self, job_id: str) -> JobPosting | None:
        """The posting with refnr ``job_id``; ``None`` when the API does not know it (404)."""
        refnr = (job_id or "").strip()
        if not refnr:
            return None
        body = self._get(DETAILS_PATH.format(code=encode_refnr(refnr)), missing_ok=True)
        if body is None:
            return None
        if not isinstance(body, Mapping):
            raise MalformedResponse("job API details answer is not a JSON object")
        return posting_from_details(body, refnr)
