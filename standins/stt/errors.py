"""OpenAI's error answer, ``{"error": {"message", "type", "param", "code"}}``, with an HTTP status.

Shape and wording from https://platform.openai.com/docs/guides/error-codes/api-errors and what
``/v1/audio/transcriptions`` answers, so the client's error mapping is tested against them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = ["error_body", "RequestError", "invalid"]


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class RequestError(Exception):
    """An OpenAI-shaped error answer, raised inside the handler."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


def invalid(message: str, param: str | None = None, code: str | None = None) -> RequestError:
    """A 400 ``invalid_request_error``."""
    return RequestError(400, error_body(message, "invalid_request_error", param, code))
