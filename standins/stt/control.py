"""The stand-in's own HTTP control endpoints (not OpenAI's; loopback tooling only).

Why over HTTP as well as in Python: e2e tests run the stand-in as a process of its own
(``python -m standins.stt``) and can only reach it over HTTP.

- ``GET /_standin/requests`` -> ``{"requests": [...]}`` (standins/stt/records.py: model,
  language, response format, byte count, status; never the audio); ``DELETE`` clears them.
- ``GET /_standin/faults`` -> ``{"queued": N, "served": [fault, ...]}``.
- ``POST /_standin/faults`` ``{"status"?: 503, "count"?: 1, "timeout"?: s, "retry_after"?: s,
  "malformed"?: false}`` queues faults (standins/stt/faults.py); ``DELETE`` clears the queue.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from aiohttp import web

from standins.stt.faults import fault_from_spec

if TYPE_CHECKING:
    from standins.stt.server import STTStandIn

__all__ = ["ControlEndpoints"]


class ControlEndpoints:
    """The ``/_standin/...`` routes of one stand-in."""

    def __init__(self, standin: STTStandIn) -> None:
        self.standin = standin

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_standin/requests", self.list_requests)
        app.router.add_delete("/_standin/requests", self.clear_requests)
        app.router.add_get("/_standin/faults", self.list_faults)
        app.router.add_post("/_standin/faults", self.add_faults)
        app.router.add_delete("/_standin/faults", self.clear_faults)

    async def list_requests(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": [r.as_json() for r in self.standin.requests]})

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.standin.clear_requests()
        return web.json_response({"ok": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        plan = self.standin.faults
        return web.json_response({"queued": plan.queued, "served": [dataclasses.asdict(f) for f in plan.served]})

    async def add_faults(self, request: web.Request) -> web.Response:
        try:
            fault, count = fault_from_spec(await request.json())
            self.standin.faults.inject(fault, count)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"queued": self.standin.faults.queued})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.standin.faults.clear()
        return web.json_response({"queued": 0})
