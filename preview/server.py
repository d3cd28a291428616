"""The preview's web server: the pages (preview/pages.py) and the JSON API they drive.

Contract (shared with the pages in preview/static/, issue 15):

- ``GET /api/config`` -> ``{"sessions": [S, S], "location_presets": [...], "business_name"}``,
  S = ``{"id": "phone"|"bsuid", "label", "phone", "user_id", "username"}`` (preview/sessions.py).
- ``POST /api/sessions/{sid}/send`` with an action (preview/messages.py) -> 200
  ``{"wamid", "message", "status"}``: the user's message id, the inbound message object sent and
  the HTTP status of the signed webhook (null when the assistant could not be reached);
  400 ``{"error"}`` for a bad body, 404 for an unknown session.
- ``GET /api/sessions/{sid}/events``: server-sent events, the session's history, then live:
  ``user`` ``{"wamid", "message", "time"}``, ``bot`` ``{"wamid", "message", "time"}`` (the
  Graph API message as the stand-in accepted it), ``status`` ``{"wamid", "state"}`` (sent,
  delivered, read), ``typing`` ``{"on"}``, and ``reset`` ``{"session": S}`` after a reset.
- ``GET /api/sessions/{sid}/inspect`` -> ``{"turns": [...]}`` (preview/inspector.py).
- ``POST /api/sessions/{sid}/reset`` -> ``{"session": S}``, a new fake identity.
- ``GET /api/gallery`` -> ``{"languages", "responses"}`` from preview/gallery.py.

The user's message becomes a signed Meta webhook (harness/webhook_sender.py) posted to the
assistant; what the assistant answers arrives at the Graph API stand-in and reaches the page
through preview/events.py. Nothing here logs message contents or identifiers.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from harness import meta_payloads as mp
from harness.webhook_sender import WebhookSender
from preview.inspector import Inspector
from preview.messages import BadAction, inbound_message
from preview.pages import SECURITY_HEADERS, STATIC_DIR, add_page_routes
from preview.sessions import PreviewSession
from standins.meta_graph import MetaGraphStandIn

__all__ = ["LOCATION_PRESETS", "BUSINESS_NAME", "KEEPALIVE_SECONDS", "PreviewApi", "build_app", "sse_frame"]

logger = logging.getLogger(__name__)

LOCATION_PRESETS = (
    {"name": "Berlin", "latitude": 52.52, "longitude": 13.405},
    {"name": "Hamburg", "latitude": 53.5511, "longitude": 9.9937},
    {"name": "München", "latitude": 48.1374, "longitude": 11.5755},
    {"name": "Köln", "latitude": 50.9375, "longitude": 6.9603},
    {"name": "Frankfurt am Main", "latitude": 50.1109, "longitude": 8.6821},
)
BUSINESS_NAME = "Blaupause Jobs"
#: A comment line on an idle event stream this often, so a closed page is noticed.
KEEPALIVE_SECONDS = 15.0


def sse_frame(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=SECURITY_HEADERS, dumps=lambda v: json.dumps(v, ensure_ascii=False))


class PreviewApi:
    """The JSON API over the sessions, the stand-in, the webhook sender and the inspector."""

    def __init__(
        self,
        standin: MetaGraphStandIn,
        sender: WebhookSender,
        sessions: dict[str, PreviewSession],
        inspector: Inspector | None,
        *,
        project_root: Path,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.standin = standin
        self.sender = sender
        self.sessions = sessions
        self.inspector = inspector
        self.project_root = project_root
        self.keepalive = keepalive

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/config", self.config)
        app.router.add_get("/api/gallery", self.gallery)
        app.router.add_post("/api/sessions/{sid}/send", self.send)
        app.router.add_get("/api/sessions/{sid}/events", self.events)
        app.router.add_get("/api/sessions/{sid}/inspect", self.inspect)
        app.router.add_post("/api/sessions/{sid}/reset", self.reset)
        app.on_shutdown.append(self._end_streams)

    def _session(self, request: web.Request) -> PreviewSession:
        session = self.sessions.get(request.match_info["sid"])
        if session is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "no such session"}), content_type="application/json")
        return session

    async def config(self, request: web.Request) -> web.Response:
        return _json(
            {
                "sessions": [session.describe() for session in self.sessions.values()],
                "location_presets": list(LOCATION_PRESETS),
                "business_name": BUSINESS_NAME,
            }
        )

    async def send(self, request: web.Request) -> web.Response:
        session = self._session(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json({"error": "the body must be JSON"}, 400)
        try:
            message = inbound_message(body, session.user, self.standin)
        except BadAction as error:
            return _json({"error": str(error)}, 400)
        user = session.user
        session.user_sent(message)
        delivery = await self.sender.send(
            mp.payload(message, profile_name=user.name or "Testperson", users=[user], phone_number_id=self.standin.phone_number_id)
        )
        if delivery.delivered:
            session.delivered(message["id"])
        else:
            logger.info("preview: webhook not delivered after %d attempts (%s)", delivery.attempts, ", ".join(delivery.failures))
        return _json({"wamid": message["id"], "message": message, "status": delivery.status})

    async def events(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        history, queue = session.subscribe()
        try:
            for name, data in history:
                await response.write(sse_frame(name, data))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.keepalive)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is None:
                    break
                await response.write(sse_frame(*item))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            session.unsubscribe(queue)
        return response

    async def inspect(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if self.inspector is None:
            return _json({"error": "no tracker store configured"}, 503)
        try:
            turns = await self.inspector.turns(session)
        except Exception as error:  # the store's errors name no personal data; show the kind
            logger.warning("preview: cannot read the conversation (%s)", type(error).__name__)
            return _json({"error": f"cannot read the conversation ({type(error).__name__})"}, 503)
        return _json({"turns": turns})

    async def reset(self, request: web.Request) -> web.Response:
        session = self._session(request)
        session.reset()
        return _json({"session": session.describe()})

    async def gallery(self, request: web.Request) -> web.Response:
        """Every response of domain.yml in every language, rendered by the channel (preview/gallery.py)."""
        from preview.gallery import gallery_document

        root = self.project_root
        document = await gallery_document(domain_path=root / "domain.yml", data_dir=root / "data", actions_dir=root / "actions")
        return _json(document)

    async def _end_streams(self, app: web.Application) -> None:
        for session in self.sessions.values():
            session.close_subscribers()


def build_app(api: PreviewApi, static_dir: Path = STATIC_DIR) -> web.Application:
    """The aiohttp application: pages and API."""
    app = web.Application(client_max_size=64 * 1024)
    add_page_routes(app, static_dir)
    api.add_routes(app)
    return app
