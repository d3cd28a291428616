"""The LLM stand-in server: ``POST /v1/chat/completions`` on 127.0.0.1, run in a thread.

HTTP plumbing only: body size, bearer auth (OpenAI's 401 wording), the path, recording every
request, and the faults that change the transport (slow, malformed JSON). What a request must
look like is standins/llm/request_checks.py, what the answer is standins/llm/completion.py, the error
faults standins/llm/faults.py.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standins.llm.completion import completion, prompt_tokens
from standins.llm.faults import Fault, FaultKind, raise_error_fault
from standins.llm.request_checks import check_request
from standins.openai_errors import RequestError, check_bearer, error_body, invalid

__all__ = ["CHAT_COMPLETIONS_PATH", "RecordedRequest", "LLMStandin"]

logger = logging.getLogger(__name__)

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
_MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; ``body`` is the parsed JSON (None when it did not parse)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    status: int = 0


@dataclass(slots=True)
class _State:
    api_key: str | None
    models: frozenset[str] | None
    context_tokens: int
    max_tokens_limit: int
    reply: str | None = None
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class LLMStandin:
    """An OpenAI-compatible chat completions server on 127.0.0.1, run in a thread."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: frozenset[str] | set[str] | None = None,
        context_tokens: int = 4096,
        max_tokens_limit: int = 4096,
        reply: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._state = _State(
            api_key=api_key,
            models=frozenset(models) if models is not None else None,
            context_tokens=context_tokens,
            max_tokens_limit=max_tokens_limit,
            reply=reply,
        )
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> "LLMStandin":
        if self._server is not None:
            raise RuntimeError("the LLM stand-in is already running")
        self._state.stopping.clear()
        handler = type("LLMHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="llm-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "LLMStandin":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the LLM stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Without /v1, like most providers document it; the client adds /v1."""
        return f"http://{self._host}:{self.port}"

    # -- control ---------------------------------------------------------------------
    def inject(
        self, kind: FaultKind, times: int = 1, *, retry_after: float | None = None, delay: float = 5.0
    ) -> None:
        """Make the next ``times`` requests fail with ``kind`` (queued after earlier faults)."""
        with self._state.lock:
            for _ in range(times):
                self._state.faults.append(Fault(kind, retry_after=retry_after, delay=delay))

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    def set_reply(self, reply: str | None) -> None:
        """A fixed answer text; None restores the language-dependent canned answers."""
        with self._state.lock:
            self._state.reply = reply

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._state.lock:
            return tuple(self._state.requests)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end instead of pinning a thread
    server_version = "llm-standin"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("llm-standin: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._record(b"", None, 404)
        self._send_json(404, error_body(f"Invalid URL (GET {self.path})", "invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            self._record(b"", None, 413)
            self.close_connection = True
            self._send_json(413, error_body("Request body too large.", "invalid_request_error"))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            self._check_auth()
            if self.path.split("?", 1)[0] != CHAT_COMPLETIONS_PATH:
                raise RequestError(404, error_body(f"Invalid URL (POST {self.path})", "invalid_request_error"))
            fault = self._next_fault()
            if fault is not None and self._apply_fault(fault, raw, body):
                return
            if body is None:
                raise invalid(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly.)"
                )
            answer = self._complete(body, fault)
        except RequestError as error:
            self._record(raw, body, error.status)
            self._send_json(error.status, error.body, error.headers)
            return
        self._record(raw, body, 200)
        self._send_json(200, answer)

    # -- pieces ----------------------------------------------------------------------
    def _record(self, raw: bytes, body: Any, status: int) -> None:
        headers = {key.lower(): value for key, value in self.headers.items()}
        with self.state.lock:
            self.state.requests.append(RecordedRequest(self.command, self.path, headers, body, raw, status))

    def _check_auth(self) -> None:
        check_bearer(self.headers.get("Authorization", ""), self.state.api_key)

    def _next_fault(self) -> Fault | None:
        with self.state.lock:
            return self.state.faults.popleft() if self.state.faults else None

    def _apply_fault(self, fault: Fault, raw: bytes, body: Any) -> bool:
        """Answer with the fault; False when the request should continue (SLOW, EMPTY_*)."""
        raise_error_fault(fault)
        if fault.kind is FaultKind.SLOW:
            if self.state.stopping.wait(fault.delay):
                self.close_connection = True
                return True
            return False
        if fault.kind is FaultKind.MALFORMED_JSON:
            self._record(raw, body, 200)
            self._send_raw(200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"ind')
            return True
        return False  # EMPTY_CHOICES / EMPTY_CONTENT shape the answer in completion.py

    def _complete(self, body: Any, fault: Fault | None) -> dict[str, Any]:
        request = check_request(body, models=self.state.models, max_tokens_limit=self.state.max_tokens_limit)
        tokens = prompt_tokens(request, self.state.context_tokens)
        with self.state.lock:
            self.state.counter += 1
            number = self.state.counter
            fixed = self.state.reply
        return completion(request, tokens, number=number, fixed_reply=fixed, fault=fault)

    def _send_json(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(body).encode("utf-8"), headers)

    def _send_raw(self, status: int, payload: bytes, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout during a SLOW fault); nothing to answer.
            self.close_connection = True
