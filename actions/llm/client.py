"""A small client for OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Ollama).

Why our own client and not the ``openai`` package: we need exactly one call, a hard time
budget for a chat user who is waiting, a privacy guarantee about what leaves the machine,
and typed errors that the fallback action maps to a canned answer. That is ~200 lines.

What is sent: the system prompt and ONE user message, redacted by
:mod:`actions.llm.redaction` inside :meth:`ChatCompletionsClient.complete`, so no caller
can forget it. No sender id, no history, no metadata and no ``user`` field.

Time budget: ``LLM_TIMEOUT`` (default 8 s) bounds the whole call including retries, so
the user waits at most that long before the canned answer. 429 and 5xx are retried at
most ``RetryPolicy.max_retries`` times; a ``Retry-After`` longer than
``RetryPolicy.max_wait`` or than the remaining budget ends the call at once.

Metrics (observability/metrics.py, docs/operations.md): every :meth:`ChatCompletionsClient.complete`
counts ``blaupause_llm_requests{outcome}`` (``outcome`` from ``LLM_OUTCOMES``, mapped from the
error types by :func:`actions.llm.metering.llm_outcome`) and observes
``blaupause_llm_request_seconds`` (the whole call, retries included). No label carries text.

Request/response shape: https://platform.openai.com/docs/api-reference/chat/create
Error shape and codes: https://platform.openai.com/docs/guides/error-codes/api-errors
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import httpx

from httpkit.retry_after import retry_after_from_headers

from .errors import (
    LLMBadResponse,
    LLMError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRejected,
    LLMUnavailable,
)
from .metering import llm_outcome, record_call
from .redaction import redact_detailed

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "LLMConfig",
    "RetryPolicy",
    "Usage",
    "Completion",
    "ChatCompletionsClient",
    "build_request_body",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 8.0
MAX_TIMEOUT_SECONDS = 120.0
_USER_AGENT = "blaupause-llm-fallback"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMConfig:
    """Where the LLM is and how long we wait for it; read from the environment."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LLMNotConfigured("LLM_BASE_URL must be an http(s) URL with a host")
        if parts.query or parts.fragment:
            raise LLMNotConfigured("LLM_BASE_URL must not carry a query or fragment")
        if not self.model.strip():
            raise LLMNotConfigured("LLM_MODEL is empty")
        if not (math.isfinite(self.timeout) and 0 < self.timeout <= MAX_TIMEOUT_SECONDS):
            raise LLMNotConfigured(f"LLM_TIMEOUT must be > 0 and <= {MAX_TIMEOUT_SECONDS:g} seconds")

    @property
    def chat_completions_url(self) -> str:
        """``{base}/v1/chat/completions``, whether or not the base already ends in /v1."""
        base = self.base_url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if base.endswith("/v1"):
            return f"{base}/chat/completions"
        return f"{base}/v1/chat/completions"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "LLMConfig":
        """Build the config from LLM_BASE_URL, LLM_MODEL, LLM_API_KEY and LLM_TIMEOUT.

        Raises LLMNotConfigured when the URL or model is missing or a value is malformed;
        an absent LLM is a supported deployment, so the caller treats this as "off".
        """
        env = os.environ if environ is None else environ
        base_url = env.get("LLM_BASE_URL", "").strip()
        model = env.get("LLM_MODEL", "").strip()
        if not base_url or not model:
            raise LLMNotConfigured("LLM_BASE_URL and LLM_MODEL must both be set")
        api_key = env.get("LLM_API_KEY", "").strip() or None
        raw_timeout = env.get("LLM_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError as error:
            raise LLMNotConfigured("LLM_TIMEOUT must be a number of seconds") from error
        return cls(base_url=base_url, model=model, api_key=api_key, timeout=timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry 429 and 5xx answers.

    ``max_wait`` caps a single wait: when the server asks for more (``Retry-After``), the
    user would wait too long, so we stop and report the rate limit instead.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    max_wait: float = 2.0

    def backoff(self, attempt: int) -> float:
        return self.backoff_base * (2**attempt)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """The first choice of a chat completion."""

    text: str
    finish_reason: str | None
    model: str | None
    usage: Usage | None = None
    attempts: int = 1


def build_request_body(
    *, model: str, system_prompt: str, user_text: str, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """The exact JSON body we send: two messages and the generation settings, nothing else."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_text},
        ],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": False,
    }


def _error_fields(response: httpx.Response) -> tuple[str, str | None, str | None]:
    """message, type and code from an OpenAI error body, tolerating other servers' shapes."""
    fallback = f"HTTP {response.status_code}"
    try:
        data = response.json()
    except ValueError:
        return fallback, None, None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # some local servers answer {"error": "..."}
        return error or fallback, None, None
    if not isinstance(error, dict):
        return fallback, None, None
    message = error.get("message")
    error_type = error.get("type")
    code = error.get("code")
    return (
        message if isinstance(message, str) and message else fallback,
        error_type if isinstance(error_type, str) else None,
        str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
    )


def _error_for(response: httpx.Response) -> LLMError:
    status = response.status_code
    message, error_type, code = _error_fields(response)
    if status == 429:
        return LLMRateLimited(
            message, retry_after=retry_after_from_headers(response.headers), error_type=error_type, code=code
        )
    if status >= 500:
        return LLMUnavailable(message, status=status, error_type=error_type, code=code)
    return LLMRejected(message, status=status, error_type=error_type, code=code)


def _is_retryable(error: LLMError) -> bool:
    if isinstance(error, LLMRateLimited):
        # OpenAI answers 429 "insufficient_quota" when billing is exhausted: waiting won't help.
        return error.code != "insufficient_quota"
    return isinstance(error, LLMUnavailable)


def _parse_completion(response: httpx.Response, attempts: int) -> Completion:
    try:
        data = json.loads(response.content)
    except ValueError as error:
        raise LLMBadResponse("the answer is not JSON", status=response.status_code) from error
    if not isinstance(data, dict):
        raise LLMBadResponse("the answer is not a JSON object", status=response.status_code)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise LLMBadResponse("the answer has no choices", status=response.status_code)
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise LLMBadResponse("the first choice has no text content", status=response.status_code)
    finish_reason = first.get("finish_reason")
    model = data.get("model")
    return Completion(
        text=content,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        model=model if isinstance(model, str) else None,
        usage=_parse_usage(data.get("usage")),
        attempts=attempts,
    )


def _parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    values = [raw.get(key) for key in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return None
    return Usage(*values)


class ChatCompletionsClient:
    """Sends one redacted question to an OpenAI-compatible server and returns the answer."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._config = config
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    @property
    def config(self) -> LLMConfig:
        return self._config

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self._config.api_key:
            headers["Authorization"] = f"Bearer {self._config.api_key}"
        return headers

    async def complete(
        self,
        *,
        system_prompt: str,
        user_text: str,
        max_tokens: int,
        temperature: float,
        known_values: Iterable[str] = (),
    ) -> Completion:
        """Ask the model; the user text is redacted here before it leaves the machine.

        ``known_values``: personal values of this request the caller holds (profile name,
        username); they are masked as ``[name]`` in addition to what the redaction finds.
        Raises a subclass of LLMError on every failure; never returns empty text.
        Counted and timed (module docstring, "Metrics").
        """
        started, outcome = time.perf_counter(), "error"
        try:
            completion = await self._complete(system_prompt, user_text, max_tokens, temperature, known_values)
            outcome = "ok"
            return completion
        except Exception as error:
            outcome = llm_outcome(error)
            raise
        finally:
            record_call(outcome, time.perf_counter() - started)

    async def _complete(
        self, system_prompt: str, user_text: str, max_tokens: int, temperature: float, known_values: Iterable[str]
    ) -> Completion:
        redaction = redact_detailed(user_text, known_values)
        if redaction.changed:
            logger.debug("redacted before sending to the LLM: %s", redaction.counts)
        body = build_request_body(
            model=self._config.model,
            system_prompt=system_prompt,
            user_text=redaction.text,
            max_tokens=max_tokens,
            temperature=temperature,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.timeout
        url = self._config.chat_completions_url
        attempt = 0
        async with httpx.AsyncClient(follow_redirects=False, headers=self._headers()) as http:
            while True:
                response = await self._post_once(http, url, body, deadline - loop.time())
                if response.is_success:
                    return _parse_completion(response, attempts=attempt + 1)
                error = _error_for(response)
                if not _is_retryable(error) or attempt >= self._retry.max_retries:
                    raise error
                wait = self._wait_before_retry(retry_after_from_headers(response.headers), attempt)
                if wait is None or loop.time() + wait >= deadline:
                    raise error
                logger.debug("LLM answered %s, retry %d in %.2f s", error.status, attempt + 1, wait)
                await self._sleep(wait)
                attempt += 1

    def _wait_before_retry(self, hint: float | None, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when we should give up now.

        A server hint (429 or 503 with Retry-After) wins over our backoff, but only up to
        ``max_wait``: asking a chat user to wait longer is worse than the canned answer.
        """
        if hint is None:
            return min(self._retry.backoff(attempt), self._retry.max_wait)
        return hint if hint <= self._retry.max_wait else None

    async def _post_once(
        self, http: httpx.AsyncClient, url: str, body: dict[str, Any], remaining: float
    ) -> httpx.Response:
        budget = self._config.timeout
        if remaining <= 0:  # the budget ran out during the retries: a timeout (see llm_outcome)
            raise LLMUnavailable(f"no answer within {budget:g} s") from TimeoutError()
        try:
            async with asyncio.timeout(remaining):
                return await http.post(url, json=body, timeout=remaining)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise LLMUnavailable(f"no answer within {budget:g} s") from error
        except httpx.HTTPError as error:
            raise LLMUnavailable(f"cannot reach the LLM server ({type(error).__name__})") from error
