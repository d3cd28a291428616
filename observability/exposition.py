"""The operator port: ``GET /metrics`` in Prometheus' text format, off the public webhook path.

Why a port of its own: the webhook port faces Meta (the internet); the metrics describe the
service's load and errors and are for the operator's Prometheus only. The port binds to
loopback unless told otherwise, and can require a bearer token
(https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config,
``authorization``). With several instances, each gets its own port (or host) and Prometheus
scrapes each; nothing is shared between instances.

Environment (the Rasa process; the action server reads the same names with ``ACTIONS_`` in
front of ``METRICS``, e.g. ``BLAUPAUSE_ACTIONS_METRICS_PORT``):

``BLAUPAUSE_METRICS_PORT``   port of the operator server; unset or empty: no server
``BLAUPAUSE_METRICS_HOST``   address to bind (default ``127.0.0.1``)
``BLAUPAUSE_METRICS_TOKEN``  if set, ``Authorization: Bearer <token>`` is required (else 401)

The server is a thread of the process (the standard library's WSGI server with one thread
per scrape, like ``prometheus_client.start_http_server``), so a busy event loop does not
delay a scrape.
"""
from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from observability.metrics import REGISTRY

__all__ = ["MetricsConfigError", "MetricsSettings", "MetricsServer", "serve_metrics_from_env"]

logger = logging.getLogger(__name__)


class MetricsConfigError(ValueError):
    """A metrics setting is invalid; names the variable."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


@dataclass(frozen=True)
class MetricsSettings:
    port: int
    host: str = "127.0.0.1"
    token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], prefix: str = "BLAUPAUSE_METRICS") -> "MetricsSettings | None":
        """The settings under ``prefix`` (``_PORT``, ``_HOST``, ``_TOKEN``), or None when no port is set."""
        raw = (env.get(f"{prefix}_PORT") or "").strip()
        if not raw:
            return None
        try:
            port = int(raw)
        except ValueError:
            raise MetricsConfigError(f"{prefix}_PORT", f"not a port number: {raw!r}") from None
        if not 0 <= port <= 65535:
            raise MetricsConfigError(f"{prefix}_PORT", f"out of range: {port}")
        host = (env.get(f"{prefix}_HOST") or "127.0.0.1").strip()
        token = env.get(f"{prefix}_TOKEN") or None
        return cls(port=port, host=host, token=token)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """No access log: a scrape every few seconds is noise."""


def _app(registry: CollectorRegistry, token: str | None) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)
    expected = f"Bearer {token}".encode() if token else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in ("/metrics", "/metrics/"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: the operator port serves /metrics only\n"]
        if expected is not None:
            given = (environ.get("HTTP_AUTHORIZATION") or "").encode()
            if not hmac.compare_digest(given, expected):
                start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8"),
                                                     ("WWW-Authenticate", 'Bearer realm="metrics"')])
                return [b"unauthorized\n"]
        return metrics(environ, start_response)

    return app


class MetricsServer:
    """The operator server in a daemon thread; :meth:`close` stops it."""

    def __init__(self, settings: MetricsSettings, registry: CollectorRegistry = REGISTRY) -> None:
        self.settings = settings
        self._server = make_server(settings.host, settings.port, _app(registry, settings.token),
                                   server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


_running: dict[str, MetricsServer] = {}
_lock = threading.Lock()


def serve_metrics_from_env(env: Mapping[str, str], prefix: str = "BLAUPAUSE_METRICS") -> MetricsServer | None:
    """Start the operator server once per process and prefix (Rasa may build its channel twice)."""
    settings = MetricsSettings.from_env(env, prefix)
    if settings is None:
        return None
    with _lock:
        running = _running.get(prefix)
        if running is not None:
            return running
        try:
            server = MetricsServer(settings)
        except OSError as error:
            raise MetricsConfigError(f"{prefix}_PORT", f"cannot listen on {settings.host}:{settings.port}: {error}") from error
        _running[prefix] = server
        logger.info("metrics served on http://%s:%d/metrics%s", settings.host, server.port,
                    " (bearer token required)" if settings.token else "")
        return server
