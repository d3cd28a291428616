"""OpenAI's error answer, ``{"error": {"message", "type", "param", "code"}}``, for the stand-ins that play OpenAI.

Why one module: the LLM stand-in (standins/llm/, chat completions) and the speech-to-text
stand-in (standins/stt/, transcriptions) answer with the same error shape, the same bearer check
and the same wording for rate limits and outages, because the real API does; two copies drift
apart and then test the clients against two different "OpenAIs". Shape and wording from
https://platform.openai.com/docs/guides/error-codes/api-errors. Standard library only: each
stand-in turns a :class:`RequestError` into a response of its own HTTP server (``http.server``
for the LLM, aiohttp for speech to text: standins/stt/errors.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "RequestError",
    "error_body",
    "invalid",
    "status_error",
    "check_bearer",
]

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)

#: OpenAI's (message, type, code) for a status a stand-in is told to answer (a fault).
_STATUS_ERRORS: Mapping[int, tuple[str, str, str | None]] = {
    400: ("Injected fault: the request was not accepted.", "invalid_request_error", None),
    413: ("Maximum content size limit (26214400) exceeded.", "invalid_request_error", None),
    429: ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class RequestError(Exception):
    """An OpenAI-shaped error answer, raised inside the handler: ``status``, ``body``, ``headers``."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def invalid(message: str, param: str | None = None, code: str | None = None) -> RequestError:
    """A 400 ``invalid_request_error``."""
    return RequestError(400, error_body(message, "invalid_request_error", param, code))


def _incorrect_key(token: str) -> str:
    """OpenAI's 401 wording for a wrong key, showing only its first three and last two characters."""
    masked = (token[:3] + "***" + token[-2:]) if len(token) > 6 else "***"
    return (f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.")


def status_error(status: int, *, retry_after: float | None = None) -> RequestError:
    """OpenAI's answer for ``status`` (a 4xx or 5xx), with ``Retry-After`` when ``retry_after`` is given."""
    if status == 401:
        message, error_type, code = _incorrect_key(""), "invalid_request_error", "invalid_api_key"
    else:
        fallback_type = "server_error" if status >= 500 else "invalid_request_error"
        message, error_type, code = _STATUS_ERRORS.get(status, (f"Injected fault {status}.", fallback_type, None))
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return RequestError(status, error_body(message, error_type, None, code), headers)


def check_bearer(authorization: str, expected: str | None) -> None:
    """Raise OpenAI's 401 unless ``authorization`` is ``Bearer <expected>``; any request passes without a key."""
    if expected is None:
        return
    if not authorization:
        raise RequestError(401, error_body(_MISSING_KEY, "invalid_request_error"))
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or token.strip() != expected:
        raise RequestError(401, error_body(_incorrect_key(token), "invalid_request_error", None, "invalid_api_key"))
