"""The stand-in's own HTTP control endpoints (not Meta's; loopback tooling only).

Why over HTTP as well as in Python: the stand-in also runs as a separate process
(``python -m standins.meta_graph``, started by harness/local_stack.py), where a test or a load
run can only reach it over HTTP.

- ``GET /_standin/messages`` -> ``{"messages": [...], "reads": [...]}``; ``DELETE`` clears both.
  Each message shows ``to`` and ``recipient`` as sent (one is null) and ``address_field``.
- ``POST /_standin/bsuid-unsupported`` ``{"recipients"?: [BSUID, ...]}`` answers 131062 to
  ``recipient`` sends (to all when ``recipients`` is missing or null); ``DELETE`` turns it off.
- ``GET /_standin/faults`` -> ``{"queued": N, "random_probability": p, "served": [fault, ...]}``:
  the faults answered so far (status, code, subcode, message, timeout), for a test's report.
- ``POST /_standin/faults`` ``{"count": N, "status": 429, "code": 130429, "subcode"?, "message"?,
  "timeout"?: seconds}`` queues N faults for the next sends; ``DELETE`` clears faults.
- ``POST /_standin/faults/random`` ``{"probability": 0.2, "seed": 7, "kinds"?: [...],
  "timeout"?: seconds}`` turns on seeded random faults; ``DELETE`` turns them off.
- ``GET /_standin/media`` -> ``{"stored": N, "downloads": N, "queued_faults": {"info": N, "download": N}}``.
- ``POST /_standin/media/faults`` ``{"stage": "info"|"download", "status"?: 500, "count"?: 1,
  "timeout"?: seconds}`` queues media faults (standins/meta_graph/media.py); ``DELETE`` clears them.
- ``POST /_standin/media/expire`` makes every media URL issued so far answer 404 (expired).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from standins.meta_graph.faults import RANDOM_FAULT_KINDS, fault_from_spec

if TYPE_CHECKING:
    from standins.meta_graph.server import MetaGraphStandIn

__all__ = ["ControlEndpoints"]


class ControlEndpoints:
    """The ``/_standin/...`` routes of one stand-in."""

    def __init__(self, standin: MetaGraphStandIn) -> None:
        self.standin = standin

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_standin/messages", self.list_messages)
        app.router.add_delete("/_standin/messages", self.clear_messages)
        app.router.add_get("/_standin/faults", self.list_faults)
        app.router.add_post("/_standin/faults", self.add_faults)
        app.router.add_delete("/_standin/faults", self.clear_faults)
        app.router.add_post("/_standin/faults/random", self.random_faults)
        app.router.add_delete("/_standin/faults/random", self.random_off)
        app.router.add_post("/_standin/bsuid-unsupported", self.bsuid_unsupported)
        app.router.add_delete("/_standin/bsuid-unsupported", self.bsuid_supported)
        app.router.add_get("/_standin/media", self.media_state)
        app.router.add_post("/_standin/media/faults", self.add_media_faults)
        app.router.add_delete("/_standin/media/faults", self.clear_media_faults)
        app.router.add_post("/_standin/media/expire", self.expire_media)

    async def list_messages(self, request: web.Request) -> web.Response:
        return web.json_response({
            "messages": [m.as_json() for m in self.standin.messages],
            "reads": [r.as_json() for r in self.standin.reads],
        })

    async def clear_messages(self, request: web.Request) -> web.Response:
        self.standin.clear()
        return web.json_response({"ok": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        plan = self.standin.faults
        return web.json_response({
            "queued": plan.queued,
            "random_probability": plan.random_probability,
            "served": [dataclasses.asdict(fault) for fault in plan.served],
        })

    @staticmethod
    async def _change(
        request: web.Request, change: Callable[[Any], Mapping[str, Any]], *, body_optional: bool = False
    ) -> web.Response:
        """Apply ``change`` to the request's JSON (``{}`` for a missing optional body); 400 when it does not fit."""
        try:
            answer = change({} if body_optional and not request.can_read_body else await request.json())
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(answer)

    def _add_faults(self, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        self.standin.inject_faults(fault_from_spec(spec), int(spec.get("count", 1)))
        return {"queued": self.standin.faults.queued}

    def _random_faults(self, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        self.standin.set_random_faults(
            float(spec["probability"]),
            seed=spec.get("seed"),
            kinds=spec.get("kinds") or tuple(RANDOM_FAULT_KINDS),
            timeout=float(spec["timeout"]) if spec.get("timeout") is not None else None,
        )
        return {"probability": self.standin.faults.random_probability}

    def _bsuid_unsupported(self, spec: Any) -> Mapping[str, Any]:
        recipients = spec.get("recipients") if isinstance(spec, Mapping) else None
        if recipients is not None and (
            not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients)
        ):
            raise ValueError("recipients must be a list of strings or null")
        self.standin.reject_bsuid_recipients(recipients)
        return {"bsuid_unsupported": "all" if recipients is None else sorted(recipients)}

    async def add_faults(self, request: web.Request) -> web.Response:
        return await self._change(request, self._add_faults)

    async def random_faults(self, request: web.Request) -> web.Response:
        return await self._change(request, self._random_faults)

    async def bsuid_unsupported(self, request: web.Request) -> web.Response:
        return await self._change(request, self._bsuid_unsupported, body_optional=True)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.standin.faults.clear_queue()
        return web.json_response({"queued": 0})

    async def random_off(self, request: web.Request) -> web.Response:
        self.standin.faults.random_off()
        return web.json_response({"probability": 0.0})

    async def bsuid_supported(self, request: web.Request) -> web.Response:
        self.standin.accept_bsuid_recipients()
        return web.json_response({"bsuid_unsupported": []})

    def _media_state(self) -> Mapping[str, Any]:
        media = self.standin.media
        return {
            "stored": len(media.items),
            "downloads": media.downloads,
            "queued_faults": {stage: plan.queued for stage, plan in media.faults.items()},
        }

    def _add_media_faults(self, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        stage = spec["stage"]
        if stage not in ("info", "download"):
            raise ValueError("stage must be 'info' or 'download'")
        self.standin.inject_media_faults(
            stage,
            int(spec["status"]) if spec.get("status") is not None else None,
            count=int(spec.get("count", 1)),
            timeout=float(spec["timeout"]) if spec.get("timeout") is not None else None,
        )
        return self._media_state()

    async def media_state(self, request: web.Request) -> web.Response:
        return web.json_response(self._media_state())

    async def add_media_faults(self, request: web.Request) -> web.Response:
        return await self._change(request, self._add_media_faults)

    async def clear_media_faults(self, request: web.Request) -> web.Response:
        self.standin.clear_media_faults()
        return web.json_response(self._media_state())

    async def expire_media(self, request: web.Request) -> web.Response:
        self.standin.expire_media_urls()
        return web.json_response({"expired": True})
