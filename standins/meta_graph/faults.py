"""Failures the Graph API stand-in answers on demand: queued, or seeded random ones.

Why: throttling (4 / 130429), pair rate limits (131056), server errors and hangs are rare in
production but decide whether a reply is lost; the channel's retries must be tested against each
of them, reproducibly (a seed gives the same sequence on every run). Faults apply to message
sends only, not to mark-as-read calls. A "timeout" fault holds the request for ``timeout``
seconds without recording the message, then answers 504 (the client normally gave up before).
"""
from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from standins.fault_queue import FaultQueue, hold
from standins.meta_graph.errors import meta_error

__all__ = ["Fault", "RANDOM_FAULT_KINDS", "FaultPlan", "answer_fault", "fault_from_spec"]


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injected failure: an error answer, or a hang of ``timeout`` seconds when set."""

    status: int = 500
    code: int | None = 131000
    subcode: int | None = None
    message: str | None = None
    timeout: float | None = None


#: Faults of the random mode, by name (the brief's 429 / 130429 / 131056 / 500 / timeout).
RANDOM_FAULT_KINDS: Mapping[str, Fault] = {
    "429": Fault(status=429, code=4),
    "130429": Fault(status=400, code=130429),
    "131056": Fault(status=400, code=131056),
    "500": Fault(status=500, code=131000),
    "timeout": Fault(status=504, code=2, timeout=5.0),
}


class FaultPlan(FaultQueue[Fault]):
    """Which sends fail: queued faults first (standins/fault_queue.py), then each send with a
    seeded probability."""

    def __init__(self) -> None:
        super().__init__()
        self.random_probability = 0.0
        self._random_kinds: tuple[Fault, ...] = ()
        self._random = random.Random()

    def set_random(
        self,
        probability: float,
        *,
        seed: int | None = None,
        kinds: Iterable[str] = tuple(RANDOM_FAULT_KINDS),
        timeout: float | None = None,
    ) -> None:
        """Fail each send with ``probability`` with a random kind from RANDOM_FAULT_KINDS;
        ``timeout`` overrides how long the "timeout" kind holds a request."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        chosen = []
        for name in kinds:
            if name not in RANDOM_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {name!r}; known: {sorted(RANDOM_FAULT_KINDS)}")
            fault = RANDOM_FAULT_KINDS[name]
            if fault.timeout is not None and timeout is not None:
                fault = dataclasses.replace(fault, timeout=timeout)
            chosen.append(fault)
        if probability > 0 and not chosen:
            raise ValueError("kinds must not be empty")
        self.random_probability = probability
        self._random_kinds = tuple(chosen)
        self._random = random.Random(seed)

    def random_off(self) -> None:
        self.random_probability = 0.0
        self._random_kinds = ()

    def clear(self) -> None:
        """Drop queued faults and turn random faults off."""
        self.clear_queue()
        self.random_off()

    def _next(self) -> Fault | None:
        fault = super()._next()
        if fault is None and self.random_probability > 0 and self._random.random() < self.random_probability:
            fault = self._random.choice(self._random_kinds)
        return fault


async def answer_fault(fault: Fault, stopping: asyncio.Event) -> web.Response:
    """Hold the request for a timeout fault (released early when the server stops), then answer."""
    await hold(fault.timeout, stopping)
    if fault.code is None:
        return web.json_response({"error": {"message": fault.message or "Injected fault"}}, status=fault.status)
    return meta_error(fault.status, fault.code, fault.message, subcode=fault.subcode)


def fault_from_spec(spec: Mapping[str, Any]) -> Fault:
    """A fault from the control endpoint's JSON (a ``timeout`` alone means 504 / code 2)."""
    timeout = spec.get("timeout")
    return Fault(
        status=int(spec.get("status", 504 if timeout is not None else 500)),
        code=int(spec["code"]) if spec.get("code") is not None else (2 if timeout is not None else None),
        subcode=int(spec["subcode"]) if spec.get("subcode") is not None else None,
        message=spec.get("message"),
        timeout=float(timeout) if timeout is not None else None,
    )
