"""Answer malformed HTTP framing with 400, not with Sanic 21.12's 500.

Why: Rasa 3.6 pins Sanic 21.12, whose HTTP/1 parser turns two kinds of broken request framing
into unhandled exceptions before any route runs: a ``Content-Length`` that is not an integer
(``int("abc")``: ValueError) and a ``Transfer-Encoding`` other than exactly ``chunked`` without a
Content-Length (``headers["content-length"]``: KeyError). Sanic then answers 500 and logs an
ERROR traceback, for a request anyone can send without a signature. A 500 means "our fault,
retry" (docs/whatsapp-delivery.md keeps 500 for real internal errors), so the webhook's promise
"bad input never yields a 500" covers this too. RFC 9112 section 6.3 says a server must answer
such framing with 400 and close the connection.

How: an application-level Sanic error handler for ValueError and KeyError that answers 400 only
when no route was matched yet (the request object Sanic makes up for a failure while parsing
the head has no route); any other ValueError/KeyError (inside a route) keeps Sanic's default
handling. Found by tests/reliability/test_fuzz.py. Each refusal is counted in
``blaupause_webhook_requests_total{outcome="bad_framing"}`` (:mod:`.webhook_metrics`), whatever
path it was sent to: the guard covers the whole Rasa server, and the router never saw it.
"""
from __future__ import annotations

import logging
from typing import Any

from sanic import response
from sanic.response import HTTPResponse

from connectors.whatsapp.webhook_metrics import count_bad_framing

__all__ = ["install_framing_guard"]

logger = logging.getLogger(__name__)


def _bad_framing(request: Any, exception: Exception) -> HTTPResponse | None:
    if request is not None and getattr(request, "route", None) is not None:
        return None  # raised inside a route: Sanic's default handling
    logger.warning("request refused: malformed HTTP framing (%s)", type(exception).__name__)
    count_bad_framing(getattr(request, "method", None))
    return response.text("bad request: malformed Content-Length or Transfer-Encoding", status=400)


def install_framing_guard(app: Any) -> None:
    """Register the handler on ``app`` once (idempotent: several channels may call it)."""
    if getattr(app.ctx, "blaupause_framing_guard", False):
        return
    for exception in (ValueError, KeyError):
        app.error_handler.add(exception, _bad_framing)
    app.ctx.blaupause_framing_guard = True
