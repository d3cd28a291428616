"""Failures the LLM stand-in simulates for the next requests: limits, outages, broken answers.

Why: the fallback action must degrade gracefully when the provider throttles (429, with or
without ``Retry-After``), has no quota left, fails (500/503), is slow, or answers with something
that is not a usable completion. Error kinds raise OpenAI's answer here; the kinds that change
the transport (slow, malformed JSON) or the completion (empty choices or content) are played by
the server and standins/llm/completion.py.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from standins.openai_errors import RequestError, error_body, status_error

__all__ = ["FaultKind", "Fault", "raise_error_fault"]


class FaultKind(enum.Enum):
    """Failures the stand-in can simulate for the next requests."""

    RATE_LIMIT = "rate_limit"  # 429 rate_limit_exceeded, with Retry-After when given
    INSUFFICIENT_QUOTA = "insufficient_quota"  # 429 insufficient_quota (billing), no retry helps
    SERVER_ERROR = "server_error"  # 500
    OVERLOADED = "overloaded"  # 503, with Retry-After when given
    SLOW = "slow"  # answer normally, but only after ``delay`` seconds
    MALFORMED_JSON = "malformed_json"  # 200 with a truncated JSON body
    EMPTY_CHOICES = "empty_choices"  # 200 with "choices": []
    EMPTY_CONTENT = "empty_content"  # 200 with a choice whose content is ""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    retry_after: float | None = None
    delay: float = 5.0


def raise_error_fault(fault: Fault) -> None:
    """Raise OpenAI's error answer for the error kinds; return for every other kind."""
    if fault.kind is FaultKind.RATE_LIMIT:
        raise status_error(429, retry_after=fault.retry_after)
    if fault.kind is FaultKind.INSUFFICIENT_QUOTA:
        raise RequestError(
            429,
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                code="insufficient_quota",
            ),
        )
    if fault.kind is FaultKind.SERVER_ERROR:
        raise status_error(500)
    if fault.kind is FaultKind.OVERLOADED:
        raise status_error(503, retry_after=fault.retry_after)
