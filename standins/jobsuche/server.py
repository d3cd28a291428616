"""The Jobsuche stand-in server: HTTP, the API key, routes, recorded requests and faults.

* header ``X-API-Key``: 401 when missing, 403 when not ``jobboerse-jobsuche``;
* ``GET /jobboerse/jobsuche-service/pc/v4/jobs``: standins/jobsuche/search.py;
* ``GET .../pc/v4/jobdetails/{base64(refnr)}`` (and ``v3``): 404 for an unknown refnr;
* 400 for malformed parameters, 405 for other methods, 404 for other paths.

Fault injection for the client's retry logic: :meth:`JobsucheStandIn.fail_next` makes the
next N requests answer 429/500/503 (optionally with ``Retry-After``), :meth:`delay_next`
makes them answer only after a delay, :meth:`garble_next` sends HTML instead of JSON.
Every request is recorded (:attr:`JobsucheStandIn.requests`).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from standins.jobsuche.postings import DEFAULT_POSTINGS, StandInPosting
from standins.jobsuche.search import BadRequest, decode_refnr, search

__all__ = ["API_KEY", "BASE_PATH", "RecordedRequest", "JobsucheStandIn"]

logger = logging.getLogger(__name__)

API_KEY: Final[str] = "jobboerse-jobsuche"
BASE_PATH: Final[str] = "/jobboerse/jobsuche-service"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the stand-in received (for assertions on parameters, paths and headers)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(slots=True)
class _Fault:
    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    html: bool = False


@dataclass
class _State:
    postings: tuple[StandInPosting, ...]
    api_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[_Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)



class _Handler(BaseHTTPRequestHandler):
    server_version = "JobsucheStandIn/1.0"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("jobsuche stand-in: " + format, *args)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("jobsuche stand-in: client went away")

    def _send_html(self) -> None:
        """A 200 with an HTML page, as a captive portal or a misconfigured proxy would send."""
        payload = b"<html><body>Wartungsarbeiten</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        self._send_json(status, {"status": status, "error": HTTPStatus(status).phrase, "message": message}, headers)

    def _record(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        record = RecordedRequest(self.command, parts.path, query, {k: v for k, v in self.headers.items()})
        with self.state.lock:
            self.state.requests.append(record)
        return parts.path, query

    def _next_fault(self) -> _Fault | None:
        with self.state.lock:
            return self.state.faults.pop(0) if self.state.faults else None

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path, query = self._record()
        fault = self._next_fault()
        if fault is not None:
            if fault.delay_s:
                self.state.stopping.wait(fault.delay_s)
            if fault.html:
                self._send_html()
                return
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                self._error(fault.status, "injected fault", headers)
                return
        key = self.headers.get("X-API-Key")
        if not key:
            self._error(401, "X-API-Key header missing")
            return
        if key != self.state.api_key:
            self._error(403, "invalid client id")
            return
        if not path.startswith(BASE_PATH + "/"):
            self._error(404, "not found")
            return
        route = path[len(BASE_PATH):]
        try:
            if route == "/pc/v4/jobs":
                self._send_json(200, search(self.state.postings, query))
                return
        except BadRequest as exc:
            self._error(400, str(exc))
            return
        for prefix in ("/pc/v4/jobdetails/", "/pc/v3/jobdetails/"):
            if route.startswith(prefix) and len(route) > len(prefix):
                refnr = decode_refnr(route[len(prefix):])
                posting = next((p for p in self.state.postings if p.refnr == refnr), None)
                if posting is None:
                    self._error(404, "Stellenangebot nicht gefunden")
                else:
                    self._send_json(200, posting.details())
                return
        self._error(404, "not found")

    def _not_allowed(self) -> None:
        self._record()
        self._error(405, "method not allowed", {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815 - stdlib names


class JobsucheStandIn:
    """The stand-in server; use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        postings: Iterable[StandInPosting] = DEFAULT_POSTINGS,
        *,
        api_key: str = API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._state = _State(postings=tuple(postings), api_key=api_key)
        handler = type("JobsucheHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What ``JOBS_API_BASE_URL`` should be set to."""
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def fail_next(self, status: int, count: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 429, 500, 503)."""
        with self._state.lock:
            self._state.faults.extend(_Fault(status=status, retry_after=retry_after) for _ in range(count))

    def garble_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with 200 and an HTML page instead of JSON."""
        with self._state.lock:
            self._state.faults.extend(_Fault(html=True) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` requests normally, but only after ``seconds``."""
        with self._state.lock:
            self._state.faults.extend(_Fault(delay_s=seconds) for _ in range(count))

    @property
    def pending_faults(self) -> int:
        with self._state.lock:
            return len(self._state.faults)

    def start(self) -> "JobsucheStandIn":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="jobsuche-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release the port and wake up any delayed answer."""
        self._state.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "JobsucheStandIn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
