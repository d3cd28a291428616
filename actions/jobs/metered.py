"""Job provider metrics at the one interface: a :class:`JobProvider` that counts and times another.

Why a wrapper and not code in each provider: every provider (``local``, ``arbeitsagentur``, a
test fake) is measured the same way, and a new provider cannot forget it. It is applied where
the provider is built (actions/search/provider_access.py). Metrics (defined in
observability/metrics.py, listed in docs/operations.md):

``blaupause_job_provider_requests{provider, outcome}``
    one per :meth:`~JobProvider.search` or :meth:`~JobProvider.details` call. ``provider`` is a
    fixed name per provider class (:data:`actions.jobs.PROVIDER_NAMES`, else ``other``);
    ``outcome`` is one of :data:`observability.metrics.PROVIDER_OUTCOMES`, mapped from the
    error types of actions/jobs/errors.py by :func:`provider_outcome`.
``blaupause_job_provider_request_seconds{provider}``
    the duration of that call, retries included (what the user waited for).

No label ever carries the query: the job title, the place or the coordinates never leave this
module (docs/privacy.md; labels only through observability/labels.py).
"""
from __future__ import annotations

import time
from typing import Any

import requests

from observability.labels import one_of
from observability.metrics import PROVIDER_OUTCOMES, initialise_action_series, job_provider_duration, job_provider_requests

from .errors import MalformedResponse, ProviderUnavailable, UnknownLocation
from .models import JobPosting, JobProvider, JobQuery, SearchResult

__all__ = ["MeteredProvider", "metered", "provider_label", "provider_outcome"]

# Fixed label per provider class, by dotted class name (so the Arbeitsagentur client, which
# imports requests, is not imported just to be recognised).
_CLASS_LABELS = {
    "actions.jobs.local.LocalJobProvider": "local",
    "actions.jobs.arbeitsagentur.ArbeitsagenturProvider": "arbeitsagentur",
}
_PROVIDER_LABELS = frozenset(_CLASS_LABELS.values())
_TIMEOUTS = (requests.Timeout, TimeoutError)


def provider_label(provider: object) -> str:
    """``local``, ``arbeitsagentur``, or ``other`` for any other class (a test fake)."""
    kind = type(provider)
    return one_of(_CLASS_LABELS.get(f"{kind.__module__}.{kind.__qualname__}"), _PROVIDER_LABELS)


def provider_outcome(error: BaseException) -> str:
    """The ``outcome`` label of a failed call.

    ``bad_response`` for :class:`MalformedResponse`; ``rate_limited`` for
    :class:`ProviderUnavailable` with status 429 (the retries did not help); ``timeout`` when
    the last attempt timed out; ``empty`` for :class:`UnknownLocation` (the provider worked, the
    place matches nothing: the user's answer, not an incident); ``error`` for everything else
    (5xx, refused connection, :class:`~actions.jobs.errors.ProviderRejected`, configuration).
    """
    if isinstance(error, MalformedResponse):
        outcome = "bad_response"
    elif isinstance(error, UnknownLocation):
        outcome = "empty"
    elif isinstance(error, _TIMEOUTS) or isinstance(error.__cause__, _TIMEOUTS):
        outcome = "timeout"
    elif isinstance(error, ProviderUnavailable) and error.status == 429:
        outcome = "rate_limited"
    else:
        outcome = "error"
    return one_of(outcome, PROVIDER_OUTCOMES)


class MeteredProvider:
    """Counts and times each call of ``inner``; everything else is ``inner``'s (``close``, ``len``)."""

    def __init__(self, inner: JobProvider, name: str | None = None) -> None:
        self.inner = inner
        self.label = one_of(name, _PROVIDER_LABELS) if name is not None else provider_label(inner)
        initialise_action_series(self.label)  # every outcome's series at 0, so the first error alerts

    def search(self, query: JobQuery) -> SearchResult:
        started = time.perf_counter()
        try:
            result = self.inner.search(query)
        except Exception as error:
            self._record(started, provider_outcome(error))
            raise
        self._record(started, "ok" if result.postings else "empty")
        return result

    def details(self, job_id: str) -> JobPosting | None:
        started = time.perf_counter()
        try:
            posting = self.inner.details(job_id)
        except Exception as error:
            self._record(started, provider_outcome(error))
            raise
        self._record(started, "ok" if posting is not None else "empty")
        return posting

    def _record(self, started: float, outcome: str) -> None:
        job_provider_duration.labels(provider=self.label).observe(time.perf_counter() - started)
        job_provider_requests.labels(provider=self.label, outcome=one_of(outcome, PROVIDER_OUTCOMES)).inc()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]


def metered(provider: JobProvider) -> JobProvider:
    """``provider`` behind a :class:`MeteredProvider` (once: an already metered one is returned as is)."""
    if isinstance(provider, MeteredProvider):
        return provider
    return MeteredProvider(provider)
