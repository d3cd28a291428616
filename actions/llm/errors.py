"""Typed errors of the LLM fallback.

Why types and not status numbers: the fallback action only needs to know *that* the LLM
failed (it then answers with the canned response), but operators need to tell a missing
configuration from a rate limit or an outage when they read the logs. Each error keeps the
HTTP status and the OpenAI error ``type``/``code`` where there was one, and the original
exception as ``__cause__`` (raise ... from ...).

The server's error message is kept on the exception for debugging; it is never logged above
DEBUG by this package, because some servers echo parts of the request in it.

OpenAI error body shape: https://platform.openai.com/docs/guides/error-codes/api-errors
"""
from __future__ import annotations

__all__ = [
    "LLMError",
    "LLMNotConfigured",
    "LLMPromptInvalid",
    "LLMUnavailable",
    "LLMRateLimited",
    "LLMRejected",
    "LLMBadResponse",
]


class LLMError(Exception):
    """Base of every LLM fallback error; catching it is enough to fall back to canned text."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.code = code


class LLMNotConfigured(LLMError):
    """LLM_BASE_URL or LLM_MODEL is missing, or a setting is malformed (e.g. LLM_TIMEOUT).

    This is the normal state of a deployment without an LLM, not an incident.
    """


class LLMPromptInvalid(LLMError):
    """The prompt file (prompts/llm_fallback.yml) is missing, not YAML, or has wrong fields."""


class LLMUnavailable(LLMError):
    """The server could not be reached, timed out, or kept answering 5xx after the retries."""


class LLMRateLimited(LLMError):
    """The server answered 429 and a retry within our budget was not possible.

    ``retry_after`` is the server's hint in seconds (None when it gave none);
    ``code`` is e.g. ``rate_limit_exceeded`` or ``insufficient_quota``.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, error_type=error_type, code=code)
        self.retry_after = retry_after


class LLMRejected(LLMError):
    """The server refused the request with a 4xx (bad key, unknown model, context too long).

    Retrying the same request cannot help; ``status``, ``message`` and ``code`` say why.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, error_type=error_type, code=code)


class LLMBadResponse(LLMError):
    """A 2xx answer that is not a usable chat completion: not JSON, no choices, empty content."""
