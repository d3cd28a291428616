"""OpenAI's error answer as an aiohttp response: the shape and wording are standins/openai_errors.py.

Why here: the speech-to-text stand-in serves with aiohttp, the LLM stand-in with ``http.server``;
the shared module stays free of either, and this is the speech-to-text side's one line of glue.
"""
from __future__ import annotations

from aiohttp import web

from standins.openai_errors import RequestError

__all__ = ["error_response"]


def error_response(error: RequestError) -> web.Response:
    """``error`` as the JSON answer with its status and headers (``Retry-After``)."""
    return web.json_response(error.body, status=error.status, headers=error.headers)
