"""Validation of a chat completions request, the way OpenAI's API refuses a bad one.

Modelled on https://platform.openai.com/docs/api-reference/chat/create: unknown parameters,
a missing model, malformed ``messages`` (roles, content strings or text parts), ``max_tokens``
and ``temperature`` out of range are answered 400 with OpenAI's wording and ``param``/``code``;
an unknown model (when the stand-in was given a list) 404 ``model_not_found``.
"""
from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from standins.openai_errors import RequestError, error_body, invalid

__all__ = ["ChatRequest", "check_request", "check_messages"]

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


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What the completion needs from a valid request: model, (role, text) pairs, token cap."""

    model: str
    texts: list[tuple[str, str]]
    max_tokens: int | None


def _check_max_tokens(body: dict[str, Any], ceiling: int) -> int | None:
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is None:
        return None
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid("Invalid type for 'max_tokens': expected an integer.", param="max_tokens", code="invalid_type")
    if not 1 <= max_tokens <= ceiling:
        raise invalid(
            f"max_tokens is too large: {max_tokens}. This model supports at most "
            f"{ceiling} completion tokens, whereas you provided {max_tokens}."
            if max_tokens > 0
            else f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got {max_tokens} instead.",
            param="max_tokens",
            code="invalid_value",
        )
    return max_tokens


def check_request(body: Any, *, models: Set[str] | None, max_tokens_limit: int) -> ChatRequest:
    """The request's parts, or :class:`RequestError` with OpenAI's answer."""
    if not isinstance(body, dict):
        raise invalid("Invalid type for request body: expected an object.")
    unknown = sorted(set(body) - _KNOWN_PARAMS)
    if unknown:
        raise invalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("you must provide a model parameter", param="model")
    if models is not None and model not in models:
        raise RequestError(
            404,
            error_body(
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                param="model",
                code="model_not_found",
            ),
        )
    texts = check_messages(body.get("messages"))
    max_tokens = _check_max_tokens(body, max_tokens_limit)
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2
    ):
        raise invalid("Invalid 'temperature': expected a number between 0 and 2.", param="temperature", code="invalid_value")
    if body.get("stream"):
        raise invalid("This stand-in does not support streaming.", param="stream", code="unsupported_value")
    return ChatRequest(model, texts, max_tokens)


def check_messages(messages: Any) -> list[tuple[str, str]]:
    """(role, text) of every message; content parts are joined into one text."""
    if messages is None:
        raise invalid("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter")
    if not isinstance(messages, list):
        raise invalid("Invalid type for 'messages': expected an array.", param="messages", code="invalid_type")
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    texts: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
        role = message.get("role")
        if role not in _ROLES:
            raise invalid(
                f"Invalid value for '{where}.role': expected one of {', '.join(sorted(_ROLES))}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = message.get("content")
        if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
            parts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
            if len(parts) != len(content) or not all(isinstance(part, str) for part in parts):
                raise invalid(f"Invalid content parts in '{where}.content'.", param=f"{where}.content")
            content = "".join(parts)
        if not isinstance(content, str):
            raise invalid(
                f"Invalid type for '{where}.content': expected a string or an array of content parts.",
                param=f"{where}.content",
                code="invalid_type",
            )
        texts.append((role, content))
    return texts
