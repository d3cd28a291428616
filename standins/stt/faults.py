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

import dataclasses
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from standins.fault_queue import FaultQueue
from standins.openai_errors import status_error
from standins.stt.errors import error_response

__all__ = ["Fault", "FaultPlan", "fault_from_spec", "error_answer", "MALFORMED_BODY"]

MALFORMED_BODY = b'{"task": "transcribe", "language": "german", "duration": 2.0, "text": "Ko'


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


class FaultPlan(FaultQueue[Fault]):
    """Queued faults, first in first out, and the ones served so far (standins/fault_queue.py)."""


def error_answer(fault: Fault) -> web.Response | None:
    """OpenAI's answer for the fault's status (standins/openai_errors.py) or the malformed body;
    None when the request goes on."""
    if fault.status is not None:
        return error_response(status_error(fault.status, retry_after=fault.retry_after))
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
