"""LLM fallback metrics: the outcome of each call, as a closed label, and its duration.

Why its own module: the client (actions/llm/client.py) counts every call it makes, and the
fallback action (actions/llm_fallback.py) counts the answers it gave without a call because
no LLM is configured; both use the same two metrics of observability/metrics.py
(docs/operations.md lists them):

``blaupause_llm_requests{outcome}``
    ``outcome`` one of :data:`observability.metrics.LLM_OUTCOMES`: ``ok``, ``timeout``,
    ``rate_limited``, ``refused``, ``bad_response``, ``error`` (from the error types of
    actions/llm/errors.py, see :func:`llm_outcome`) or ``disabled``.
``blaupause_llm_request_seconds``
    the duration of one call, retries included (what the user waited for).

No label carries the question, the answer or the model's error message.
"""
from __future__ import annotations

import httpx

from observability.labels import one_of
from observability.metrics import LLM_OUTCOMES, llm_duration, llm_requests

from .errors import LLMBadResponse, LLMRateLimited, LLMRejected

__all__ = ["llm_outcome", "record_call", "count_disabled"]

_TIMEOUTS = (TimeoutError, httpx.TimeoutException)


def llm_outcome(error: BaseException) -> str:
    """The ``outcome`` label of a failed call: ``rate_limited`` (429), ``refused`` (other 4xx),
    ``bad_response`` (2xx without a usable answer), ``timeout`` (the time budget ran out) or
    ``error`` (unreachable, 5xx after the retries, anything unexpected)."""
    if isinstance(error, LLMRateLimited):
        outcome = "rate_limited"
    elif isinstance(error, LLMRejected):
        outcome = "refused"
    elif isinstance(error, LLMBadResponse):
        outcome = "bad_response"
    elif isinstance(error, _TIMEOUTS) or isinstance(error.__cause__, _TIMEOUTS):
        outcome = "timeout"
    else:
        outcome = "error"
    return one_of(outcome, LLM_OUTCOMES)


def record_call(outcome: str, seconds: float) -> None:
    """Count one LLM call with ``outcome`` and observe its duration."""
    llm_duration.observe(seconds)
    llm_requests.labels(outcome=one_of(outcome, LLM_OUTCOMES)).inc()


def count_disabled() -> None:
    """Count a fallback answered without a call because no LLM is configured (LLMNotConfigured)."""
    llm_requests.labels(outcome="disabled").inc()
