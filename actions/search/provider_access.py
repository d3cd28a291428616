"""The job provider the actions use: one per process, called off the event loop.

The provider (``JOBS_PROVIDER``, see :func:`actions.jobs.get_provider`) is created once per
process on first use. Its calls block (HTTP, SQLite), so they run in a worker thread and the
action server's event loop stays free. Failures are logged without user data: search words,
places and coordinates are logged at DEBUG only, and then only as field names.

Every provider the actions call, the shared one and an injected one alike, is wrapped here by
:func:`actions.jobs.metered.metered`, so each call is counted and timed
(``blaupause_job_provider_requests``, ``blaupause_job_provider_request_seconds``).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from actions.jobs import JobProvider, ProviderConfigError, get_provider
from actions.jobs.cities import CityIndex, default_city_index
from actions.jobs.metered import metered

__all__ = ["shared_provider", "reset_shared_provider", "UsesProvider", "log_failure", "filled_fields"]

# The actions' logger: operators filter provider failures by the name they always had.
logger = logging.getLogger("actions.job_search")

_T = TypeVar("_T")
_shared: JobProvider | None = None
_shared_lock = threading.Lock()


def shared_provider() -> JobProvider:
    """The process-wide provider, created from the environment on first use (metered)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = metered(get_provider())
        return _shared


def reset_shared_provider(provider: JobProvider | None = None) -> None:
    """Replace (or forget) the shared provider; for tests and for re-configuration (metered)."""
    global _shared
    with _shared_lock:
        _shared = metered(provider) if provider is not None else None


class UsesProvider:
    """Mixin: an injected provider (tests) or the shared one. Not an Action itself, so the
    action server does not try to register it."""

    def __init__(self, provider: JobProvider | None = None, cities: CityIndex | None = None) -> None:
        self._provider = metered(provider) if provider is not None else None
        self._cities = cities

    def provider(self) -> JobProvider:
        return self._provider if self._provider is not None else shared_provider()

    def cities(self) -> CityIndex:
        return self._cities if self._cities is not None else default_city_index()

    async def _call(self, function: Callable[[JobProvider], _T]) -> _T:
        """Run a blocking provider call (including lazy creation) in a worker thread."""
        return await asyncio.to_thread(lambda: function(self.provider()))


def log_failure(action: str, exc: BaseException) -> None:
    """Log a provider failure: the error type, never what the user asked for."""
    if isinstance(exc, ProviderConfigError):
        # An operator must fix this; the message names settings and files, never user data.
        logger.error("%s: job provider is misconfigured: %s", action, exc)
    else:
        logger.warning("%s: job provider failed (%s)", action, type(exc).__name__)
    logger.debug("%s: provider failure details", action, exc_info=exc)


def filled_fields(query: object) -> str:
    """The names of the query's non-empty fields, e.g. ``"title,location,radius_km"``."""
    fields = getattr(query, "__dataclass_fields__", None) or vars(query)
    names = [name for name in fields if getattr(query, name, None) not in (None, "", (), [], {})]
    return ",".join(names) or "no fields"
