"""Loopback stand-in for an OpenAI-compatible chat completions server.

Why: tests and local runs must never reach a real LLM (no network, no cost, no data
leaving the machine), yet the client has to be tested against the real protocol: request
validation, bearer auth, OpenAI-shaped errors, context limits, rate limits and outages.
This server implements ``POST /v1/chat/completions`` with that behaviour, answers
deterministically, records every request so tests can assert what was sent, and injects
faults on demand.

Modelled on: https://platform.openai.com/docs/api-reference/chat/create and
https://platform.openai.com/docs/guides/error-codes/api-errors

Use from tests::

    with LLMStandin(api_key="test-key") as llm:
        llm.inject(FaultKind.RATE_LIMIT, times=1, retry_after=0)
        ... LLM_BASE_URL=llm.base_url ...
        assert llm.requests[-1].body["messages"][0]["role"] == "system"

Local use: ``python -m standins.llm --port 8099 [--api-key KEY] [--model NAME]``.
"""
from __future__ import annotations

import argparse
import enum
import json
import logging
import math
import re
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "GERMAN_REPLY",
    "ENGLISH_REPLY",
    "FaultKind",
    "Fault",
    "RecordedRequest",
    "LLMStandin",
    "estimate_tokens",
    "main",
]

logger = logging.getLogger(__name__)

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
GERMAN_REPLY = (
    "Ich helfe dir gern bei der Jobsuche in Deutschland. "
    "Schreib z. B. 'Ich suche einen Job als Koch in Berlin'."
)
ENGLISH_REPLY = (
    "I am happy to help you find a job in Germany. "
    "Write e.g. 'I am looking for a job as a cook in Berlin'."
)

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# The documented request parameters; anything else is rejected like the real API does.
_KNOWN_PARAMS = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "n", "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "user", "seed", "response_format", "tools",
        "tool_choice", "parallel_tool_calls", "metadata", "store", "service_tier",
        "modalities", "audio", "prediction", "reasoning_effort",
    }
)
_GERMAN_WORDS = frozenset(
    "ich du der die das und nicht wie was wo ein eine ist bitte suche kann ich mir dir "
    "mein meine wir sie es hallo danke warum welche stelle arbeit bewerbung".split()
)
_ENGLISH_WORDS = frozenset(
    "i you the and not how what where a an is please search can my me we they it hello "
    "thanks why which job work application looking".split()
)
_WORD = re.compile(r"[^\W\d_]+")
_MAX_BODY_BYTES = 1_000_000


class FaultKind(enum.Enum):
    """Failures the stand-in can simulate for the next requests."""

    RATE_LIMIT = "rate_limit"  # 429 rate_limit_exceeded, with Retry-After when given
    INSUFFICIENT_QUOTA = "insufficient_quota"  # 429 insufficient_quota (billing), no retry helps
    SERVER_ERROR = "server_error"  # 500
    OVERLOADED = "overloaded"  # 503, with Retry-After when given
    SLOW = "slow"  # answer normally, but only after ``delay`` seconds
    MALFORMED_JSON = "malformed_json"  # 200 with a truncated JSON body
    EMPTY_CHOICES = "empty_choices"  # 200 with "choices": []
    EMPTY_CONTENT = "empty_content"  # 200 with a choice whose content is ""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    retry_after: float | None = None
    delay: float = 5.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; ``body`` is the parsed JSON (None when it did not parse)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    status: int = 0


def estimate_tokens(text: str) -> int:
    """Roughly four characters per token, as OpenAI's own rule of thumb."""
    return math.ceil(len(text) / 4)


def _reply_language(text: str) -> str:
    words = [word.lower() for word in _WORD.findall(text)]
    german = sum(word in _GERMAN_WORDS for word in words) + sum(ch in "äöüßÄÖÜ" for ch in text)
    english = sum(word in _ENGLISH_WORDS for word in words)
    return "en" if english > german else "de"


def _error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class _RequestError(Exception):
    """An OpenAI-shaped error answer, raised inside the handler."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _invalid(message: str, param: str | None = None, code: str | None = None) -> _RequestError:
    return _RequestError(400, _error_body(message, "invalid_request_error", param, code))


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
        state = self._state
        state.stopping.clear()

        class Handler(_Handler):
            pass

        Handler.state = state
        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
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
        self._send_json(404, _error_body(f"Invalid URL (GET {self.path})", "invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            self._record(b"", None, 413)
            self.close_connection = True
            self._send_json(413, _error_body("Request body too large.", "invalid_request_error"))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            self._check_auth()
            if self.path.split("?", 1)[0] != CHAT_COMPLETIONS_PATH:
                raise _RequestError(404, _error_body(f"Invalid URL (POST {self.path})", "invalid_request_error"))
            fault = self._next_fault()
            if fault is not None and self._apply_fault(fault, raw, body):
                return
            if body is None:
                raise _invalid(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly.)"
                )
            answer = self._complete(body, fault)
        except _RequestError as error:
            self._record(raw, body, error.status)
            self._send_json(error.status, error.body, error.headers)
            return
        self._record(raw, body, 200)
        self._send_json(200, answer)

    # -- pieces ----------------------------------------------------------------------
    def _record(self, raw: bytes, body: Any, status: int) -> None:
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=body,
                    raw=raw,
                    status=status,
                )
            )

    def _check_auth(self) -> None:
        expected = self.state.api_key
        if expected is None:
            return
        header = self.headers.get("Authorization", "")
        if not header:
            raise _RequestError(
                401,
                _error_body(
                    "You didn't provide an API key. You need to provide your API key in an Authorization "
                    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                ),
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != expected:
            masked = (token[:3] + "***" + token[-2:]) if len(token) > 6 else "***"
            raise _RequestError(
                401,
                _error_body(f"Incorrect API key provided: {masked}.", "invalid_request_error", code="invalid_api_key"),
            )

    def _next_fault(self) -> Fault | None:
        with self.state.lock:
            return self.state.faults.popleft() if self.state.faults else None

    def _apply_fault(self, fault: Fault, raw: bytes, body: Any) -> bool:
        """Answer with the fault; False when the request should continue (SLOW, EMPTY_*)."""
        retry_headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        if fault.kind is FaultKind.RATE_LIMIT:
            raise _RequestError(
                429,
                _error_body(
                    "Rate limit reached for requests. Please try again later.",
                    "requests",
                    code="rate_limit_exceeded",
                ),
                retry_headers,
            )
        if fault.kind is FaultKind.INSUFFICIENT_QUOTA:
            raise _RequestError(
                429,
                _error_body(
                    "You exceeded your current quota, please check your plan and billing details.",
                    "insufficient_quota",
                    code="insufficient_quota",
                ),
            )
        if fault.kind is FaultKind.SERVER_ERROR:
            raise _RequestError(
                500,
                _error_body(
                    "The server had an error while processing your request. Sorry about that!", "server_error"
                ),
            )
        if fault.kind is FaultKind.OVERLOADED:
            raise _RequestError(
                503,
                _error_body("The engine is currently overloaded, please try again later.", "server_error"),
                retry_headers,
            )
        if fault.kind is FaultKind.SLOW:
            if self.state.stopping.wait(fault.delay):
                self.close_connection = True
                return True
            return False
        if fault.kind is FaultKind.MALFORMED_JSON:
            self._record(raw, body, 200)
            self._send_raw(200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"ind')
            return True
        return False  # EMPTY_CHOICES / EMPTY_CONTENT shape the answer in _complete

    def _complete(self, body: Any, fault: Fault | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _invalid("Invalid type for request body: expected an object.")
        unknown = sorted(set(body) - _KNOWN_PARAMS)
        if unknown:
            raise _invalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _invalid("you must provide a model parameter", param="model")
        if self.state.models is not None and model not in self.state.models:
            raise _RequestError(
                404,
                _error_body(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    param="model",
                    code="model_not_found",
                ),
            )
        texts = self._validate_messages(body.get("messages"))
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
                raise _invalid("Invalid type for 'max_tokens': expected an integer.", param="max_tokens", code="invalid_type")
            if not 1 <= max_tokens <= self.state.max_tokens_limit:
                raise _invalid(
                    f"max_tokens is too large: {max_tokens}. This model supports at most "
                    f"{self.state.max_tokens_limit} completion tokens, whereas you provided {max_tokens}."
                    if max_tokens > 0
                    else f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got {max_tokens} instead.",
                    param="max_tokens",
                    code="invalid_value",
                )
        temperature = body.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2
        ):
            raise _invalid(
                "Invalid 'temperature': expected a number between 0 and 2.", param="temperature", code="invalid_value"
            )
        if body.get("stream"):
            raise _invalid("This stand-in does not support streaming.", param="stream", code="unsupported_value")

        prompt_tokens = sum(estimate_tokens(text) + 4 for _, text in texts)
        completion_budget = max_tokens if max_tokens is not None else 256
        limit = self.state.context_tokens
        if prompt_tokens + completion_budget > limit:
            raise _invalid(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt_tokens + completion_budget} tokens ({prompt_tokens} in the messages, "
                f"{completion_budget} in the completion). Please reduce the length of the messages or completion.",
                param="messages",
                code="context_length_exceeded",
            )

        last_user = next((text for role, text in reversed(texts) if role == "user"), "")
        with self.state.lock:
            self.state.counter += 1
            number = self.state.counter
            fixed = self.state.reply
        reply = fixed if fixed is not None else (GERMAN_REPLY if _reply_language(last_user) == "de" else ENGLISH_REPLY)
        finish_reason = "stop"
        if estimate_tokens(reply) > completion_budget:
            reply = reply[: completion_budget * 4]
            finish_reason = "length"
        choices: list[dict[str, Any]] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ]
        if fault is not None and fault.kind is FaultKind.EMPTY_CHOICES:
            choices = []
        elif fault is not None and fault.kind is FaultKind.EMPTY_CONTENT:
            choices[0]["message"]["content"] = ""
        completion_tokens = estimate_tokens(reply)
        return {
            "id": f"chatcmpl-standin{number:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_standin",
        }

    @staticmethod
    def _validate_messages(messages: Any) -> list[tuple[str, str]]:
        if messages is None:
            raise _invalid("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter")
        if not isinstance(messages, list):
            raise _invalid("Invalid type for 'messages': expected an array.", param="messages", code="invalid_type")
        if not messages:
            raise _invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                param="messages",
                code="empty_array",
            )
        texts: list[tuple[str, str]] = []
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise _invalid(f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
            role = message.get("role")
            if role not in _ROLES:
                raise _invalid(
                    f"Invalid value for '{where}.role': expected one of {', '.join(sorted(_ROLES))}.",
                    param=f"{where}.role",
                    code="invalid_value",
                )
            content = message.get("content")
            if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
                parts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
                if len(parts) != len(content) or not all(isinstance(part, str) for part in parts):
                    raise _invalid(f"Invalid content parts in '{where}.content'.", param=f"{where}.content")
                content = "".join(parts)
            if not isinstance(content, str):
                raise _invalid(
                    f"Invalid type for '{where}.content': expected a string or an array of content parts.",
                    param=f"{where}.content",
                    code="invalid_type",
                )
            texts.append((role, content))
        return texts

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


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m standins.llm", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--model", action="append", default=None, help="accepted model name (repeatable; default: any)")
    parser.add_argument("--context-tokens", type=int, default=4096)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    standin = LLMStandin(
        api_key=args.api_key,
        models=frozenset(args.model) if args.model else None,
        context_tokens=args.context_tokens,
        host=args.host,
        port=args.port,
    ).start()
    print(f"LLM stand-in on {standin.base_url}{CHAT_COMPLETIONS_PATH} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())  # `docker stop`, `kill`
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
