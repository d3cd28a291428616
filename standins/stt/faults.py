"""Failures the speech-to-text stand-in answers on demand, queued for the next transcriptions.

Why: the channel must still answer when the transcription server throttles (429, with or
without ``Retry-After``), fails (500/503), hangs, or answers with something that is not JSON.
Each fault applies to one ``POST /v1/audio/transcriptions`` after the bearer check:

* ``status``: answer that status with OpenAI's error body for it (429 ``rate_limit_exceeded``,
  500 ``server_error``, 503 overloaded, ...), ``Retry-After`` when ``retry_after`` is set;
* ``timeout``: hold the request that many seconds first (released when the stand-in stops);
  alone, the request is then answered normally: a slow server;
* ``malformed``: answer 200 with a truncated JSON body.

Neither ``status`` nor ``timeout`` nor ``malformed``: a 500.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from standins.stt.errors import error_body

__all__ = ["Fault", "FaultPlan", "fault_from_spec", "error_answer", "hold", "MALFORMED_BODY"]

MALFORMED_BODY = b'{"task": "transcribe", "language": "german", "duration": 2.0, "text": "Ko'

_MESSAGES: Mapping[int, tuple[str, str, str | None]] = {
    400: ("Injected fault: the request was not accepted.", "invalid_request_error", None),
    401: ("Incorrect API key provided: ***. You can find your API key at "
          "https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key"),
    413: ("Maximum content size limit (26214400) exceeded.", "invalid_request_error", None),
    429: ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


@dataclasses.dataclass(frozen=True)
class Fault:
    status: int | None = None
    timeout: float | None = None
    retry_after: float | None = None
    malformed: bool = False

    def __post_init__(self) -> None:
        if self.status is None and self.timeout is None and not self.malformed:
            object.__setattr__(self, "status", 500)
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be a 4xx or 5xx")
        if self.timeout is not None and not self.timeout >= 0:
            raise ValueError("timeout must be >= 0 seconds")


class FaultPlan:
    """Queued faults, first in first out, and the ones served so far."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._served: list[Fault] = []

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def served(self) -> tuple[Fault, ...]:
        return tuple(self._served)

    def inject(self, fault: Fault, count: int = 1) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        self._queue.extend([fault] * count)

    def clear(self) -> None:
        self._queue.clear()

    def forget_served(self) -> None:
        self._served.clear()

    def take(self) -> Fault | None:
        fault = self._queue.popleft() if self._queue else None
        if fault is not None:
            self._served.append(fault)
        return fault


async def hold(seconds: float | None, stopping: asyncio.Event) -> bool:
    """Wait ``seconds`` (a fault's timeout, the latency); True when the stand-in stopped first."""
    if not seconds:
        return stopping.is_set()
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def error_answer(fault: Fault) -> web.Response | None:
    """The answer for the fault's status or malformed body; None when the request goes on."""
    if fault.status is not None:
        message, error_type, code = _MESSAGES.get(
            fault.status, (f"Injected fault {fault.status}.", "server_error" if fault.status >= 500 else
                           "invalid_request_error", None))
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return web.json_response(error_body(message, error_type, None, code), status=fault.status, headers=headers)
    if fault.malformed:
        return web.Response(body=MALFORMED_BODY, status=200, content_type="application/json")
    return None


def fault_from_spec(spec: Mapping[str, Any]) -> tuple[Fault, int]:
    """(fault, count) from the control endpoint's JSON: ``{"status", "count", "timeout", "retry_after", "malformed"}``."""
    if not isinstance(spec, Mapping):
        raise ValueError("the body must be a JSON object")
    def number(key: str) -> float | None:
        return float(spec[key]) if spec.get(key) is not None else None
    status = spec.get("status")
    fault = Fault(
        status=int(status) if status is not None else None,
        timeout=number("timeout"),
        retry_after=number("retry_after"),
        malformed=bool(spec.get("malformed", False)),
    )
    return fault, int(spec.get("count", 1))
