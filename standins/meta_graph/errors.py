"""Meta's error answer: ``{"error": {"message", "type", "code", "error_subcode"?, ...}}``.

Shape from https://developers.facebook.com/docs/graph-api/guides/error-handling; codes and their
messages from https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes. The
channel's Graph client maps exactly these codes to its retry decisions, so the stand-in must
spell them as Meta does.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = ["ERROR_TEXT", "meta_error"]

#: Meta's messages for the codes the stand-in produces (error-codes reference page).
ERROR_TEXT: Mapping[int, str] = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "(#80007) There have been too many messages sent from this WhatsApp Business Account",
    130429: "(#130429) Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131030: "Recipient phone number not in allowed list",
    131047: "Re-engagement message",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    131062: "(#131062) Business-scoped User ID (BSUID) recipients are not supported for this message",
}


def _fbtrace_id() -> str:
    return "A" + secrets.token_urlsafe(16)


def meta_error(
    status: int,
    code: int,
    message: str | None = None,
    *,
    subcode: int | None = None,
    details: str | None = None,
    error_type: str = "OAuthException",
) -> web.Response:
    """An error answer in Meta's shape: ``{"error": {"message", "type", "code", ...}}``."""
    error: dict[str, Any] = {
        "message": message or ERROR_TEXT.get(code, "An unknown error occurred"),
        "type": error_type,
        "code": code,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = _fbtrace_id()
    return web.json_response({"error": error}, status=status)
