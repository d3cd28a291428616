"""Meta's ``POST /{version}/{phone_number_id}/messages``: a message send or a mark-as-read.

As documented at https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read. Checks, in
Meta's order and with Meta's error shape (errors.py): the bearer token (401, code 190), the phone
number id (400, code 100 subcode 33), the address (addressing.py), required fields (400, code
100 / 131008), every outbound limit of meta_limits.py (400, code 131009) and BSUID refusals
(131062). Then queued or random faults (faults.py); a message that passes is recorded and
answered with a fake ``wamid``.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from standins.meta_graph.addressing import Address, resolve_address
from standins.meta_graph.errors import meta_error
from standins.meta_graph.faults import answer_fault
from standins.meta_graph.message_checks import outbound_problems
from standins.meta_graph.records import AcceptedMessage, ReadReceipt

if TYPE_CHECKING:
    from standins.meta_graph.server import MetaGraphStandIn

__all__ = ["MessagesEndpoint"]

_MESSAGE_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "template", "reaction"}
)
_ENVELOPE_KEYS = frozenset({"messaging_product", "recipient_type", "to", "recipient"})


class MessagesEndpoint:
    """The one Graph API route of a stand-in, answering with its token, number id and state."""

    def __init__(self, standin: MetaGraphStandIn) -> None:
        self.standin = standin

    async def handle(self, request: web.Request) -> web.StreamResponse:
        standin = self.standin
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not secrets.compare_digest(
            authorization[len("Bearer "):].encode(), standin.access_token.encode()
        ):
            return meta_error(401, 190)
        if request.match_info["phone_number_id"] != standin.phone_number_id:
            return meta_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{request.match_info['phone_number_id']}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                error_type="GraphMethodException",
            )
        try:
            body = await request.json()
        except ValueError:
            return meta_error(400, 100, "(#100) Invalid JSON in request body")
        if not isinstance(body, dict):
            return meta_error(400, 100, "(#100) Request body must be a JSON object")
        if body.get("messaging_product") != "whatsapp":
            return meta_error(400, 100, "(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(body)
        return await self._send(body)

    def _mark_read(self, body: Mapping[str, Any]) -> web.Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            return meta_error(400, 100, "(#100) The parameter message_id is required.")
        indicator = body.get("typing_indicator")
        if indicator is not None and indicator != {"type": "text"}:
            return meta_error(400, 131009, details="typing_indicator.type must be 'text'")
        receipt = ReadReceipt(message_id=message_id, typing=indicator is not None, received_at=time.time())
        self.standin.traffic.reads.append(receipt)
        return web.json_response({"success": True})

    def _refusal(self, body: Mapping[str, Any], address: Address) -> web.Response | None:
        """Meta's answer to a send it refuses (type, fields, limits, BSUID); None to accept."""
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            return meta_error(400, 131008, details="Parameter 'type' is required")
        if kind not in _MESSAGE_TYPES:
            return meta_error(400, 100, f"(#100) Param type must be one of {sorted(_MESSAGE_TYPES)}")
        if kind not in body:
            return meta_error(400, 131008, details=f"Parameter '{kind}' is required for type '{kind}'")
        if body.get("recipient_type", "individual") != "individual":
            return meta_error(400, 100, "(#100) Param recipient_type must be 'individual'")
        if self.standin.validate_limits:
            problems = outbound_problems({key: value for key, value in body.items() if key not in _ENVELOPE_KEYS})
            if problems:
                return meta_error(400, 131009, details="; ".join(problems))
        return self.standin.bsuid_recipients.answer(address)

    async def _send(self, body: dict[str, Any]) -> web.Response:
        address = resolve_address(body)
        if isinstance(address, web.Response):
            return address
        refusal = self._refusal(body, address)
        if refusal is not None:
            return refusal
        fault = self.standin.faults.take()
        if fault is not None:
            return await answer_fault(fault, self.standin.stopping)
        wamid = "wamid.FAKE" + secrets.token_hex(16).upper()
        await self.standin.traffic.accept(
            AcceptedMessage(to=address.to, recipient=address.recipient, message=body, wamid=wamid, received_at=time.time())
        )
        return web.json_response(
            {"messaging_product": "whatsapp", "contacts": [address.contact()], "messages": [{"id": wamid}]}
        )
