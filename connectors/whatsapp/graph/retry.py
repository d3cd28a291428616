"""How often and how patiently the Graph API client retries a retryable failure.

Why a policy object of its own: throttling (130429, 131056), Meta's 5xx answers and transport
failures are temporary, and clients that were throttled together must not come back together.
The policy is capped exponential backoff with *full jitter* (AWS Architecture Blog, "Exponential
Backoff And Jitter": https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/);
which errors are retryable is decided by the error families in :mod:`.errors`. Its values come
from the channel's settings (``WHATSAPP_SEND_MAX_ATTEMPTS``, ``WHATSAPP_SEND_BACKOFF_BASE_S``,
``WHATSAPP_SEND_BACKOFF_MAX_S``); this module reads no environment.
"""
from __future__ import annotations

import dataclasses
import random

__all__ = ["RetryPolicy"]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    Attempt n (1-based) that failed with a retryable error waits a uniformly random time in
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter": clients that were throttled
    together do not come back together). ``max_attempts`` counts the first try.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, cap)
