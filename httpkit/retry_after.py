"""How long a server asks us to wait before the next attempt, from its answer's headers.

Why one place: the job provider (actions/jobs/arbeitsagentur.py), the LLM client
(actions/llm/client.py) and the transcription client (speech/client.py) each honour the hint of
a 429 or 503, and three parsers of one header drift apart (one took ``1.5``, one did not; one
read an HTTP date without a zone as local time). Each caller still decides what a hint means to
it (wait, or give up at once when the hint is longer than it may wait); this module only reads.

``Retry-After`` (RFC 9110, section 10.2.3) is either delay-seconds (digits) or an HTTP-date:

- ``"120"`` -> 120.0; a decimal such as ``"0.5"`` is accepted too (our stand-ins send them and
  servers in the wild do), anything else numeric (``"-1"``, ``"1e3"``, ``"inf"``, ``"nan"``) is
  not delay-seconds and gives None;
- ``"Wed, 21 Oct 2015 07:28:00 GMT"`` -> the seconds from now until then, 0.0 once it has
  passed; an HTTP-date is always GMT, so a date parsed without a zone counts as UTC;
- missing, empty or unreadable -> None (the caller falls back to its own backoff);
- a value beyond :data:`MAX_RETRY_AFTER_SECONDS` (one day) is capped to it, so a caller never
  sees an infinity or an overflow and still finds the hint longer than it is willing to wait.

``retry-after-ms`` (sent by OpenAI and compatible servers, milliseconds, may have a fraction) is
preferred by :func:`retry_after_from_headers` when it is a valid number; the job API does not
send it, so its client reads ``Retry-After`` alone with :func:`retry_after_seconds`.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

__all__ = ["MAX_RETRY_AFTER_SECONDS", "retry_after_seconds", "retry_after_from_headers"]

#: The longest wait a hint can express here: far beyond any caller's own limit (seconds).
MAX_RETRY_AFTER_SECONDS = 86_400.0

_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MILLISECONDS_HEADER = "retry-after-ms"
_SECONDS_HEADER = "retry-after"


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from one ``Retry-After`` value; None when there is none or it is unreadable.

    ``now`` (epoch seconds) is a parameter so tests can fix the clock for HTTP-dates.
    """
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return _capped(float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return _capped(max(0.0, when.timestamp() - now()))


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds from ``retry-after-ms`` when it is valid, else from ``Retry-After``; None without either.

    ``headers`` may be any mapping (httpx's and aiohttp's are case-insensitive; a plain dict
    is searched without regard to case as well).
    """
    raw_ms = _header(headers, _MILLISECONDS_HEADER)
    if raw_ms and _SECONDS.fullmatch(raw_ms.strip()):
        return _capped(float(raw_ms.strip()) / 1000.0)
    return retry_after_seconds(_header(headers, _SECONDS_HEADER), now=now)


def _capped(seconds: float) -> float:
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``name`` (lower case) from ``headers``, whatever the case of the key."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None
