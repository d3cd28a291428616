"""Job providers: one small interface, a local full-text provider and the Arbeitsagentur API.

The actions only see :class:`JobQuery`, :class:`JobPosting`, :class:`SearchResult`, the
:class:`JobProvider` protocol and the error types; which provider answers is configuration
(``JOBS_PROVIDER``), see :func:`get_provider` and docs/architecture.md (the boundary table).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from .errors import (
    InvalidQuery,
    JobDataError,
    JobProviderError,
    MalformedResponse,
    ProviderConfigError,
    ProviderRejected,
    ProviderUnavailable,
    UnknownLocation,
)
from .models import (
    DEFAULT_RADIUS_KM,
    MAX_PAGE_SIZE,
    MAX_RADIUS_KM,
    WORKING_TIMES,
    JobPosting,
    JobProvider,
    JobQuery,
    SearchResult,
)

__all__ = [
    "PROVIDER_NAMES",
    "DEFAULT_RADIUS_KM",
    "MAX_PAGE_SIZE",
    "MAX_RADIUS_KM",
    "WORKING_TIMES",
    "JobQuery",
    "JobPosting",
    "SearchResult",
    "JobProvider",
    "get_provider",
    "JobProviderError",
    "ProviderUnavailable",
    "MalformedResponse",
    "ProviderRejected",
    "UnknownLocation",
    "InvalidQuery",
    "ProviderConfigError",
    "JobDataError",
]

PROVIDER_NAMES: Final[tuple[str, ...]] = ("local", "arbeitsagentur")


def get_provider(environ: Mapping[str, str] = os.environ) -> JobProvider:
    """Create the provider named by ``JOBS_PROVIDER`` (``local`` by default).

    ``local`` reads ``JOBS_DATA_FILE``/``JOBS_CITIES_FILE``; ``arbeitsagentur`` reads
    ``JOBS_API_BASE_URL``, ``JOBS_API_KEY`` and ``JOBS_API_TIMEOUT``. An unknown name raises
    :class:`ProviderConfigError` at start-up rather than failing on the first user message.
    """
    name = (environ.get("JOBS_PROVIDER") or "local").strip().lower()
    if name == "local":
        from .local import LocalJobProvider

        return LocalJobProvider.from_env(environ)
    if name == "arbeitsagentur":
        from .arbeitsagentur import ArbeitsagenturProvider

        return ArbeitsagenturProvider.from_env(environ)
    raise ProviderConfigError(
        f"JOBS_PROVIDER={name!r} is not a job provider; use one of: {', '.join(PROVIDER_NAMES)}"
    )
