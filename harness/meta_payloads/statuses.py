"""Status updates for messages the business sent: sent, delivered, read, failed.

They arrive out of order and outnumber inbound messages (about three per outbound message);
shape: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from harness.meta_payloads.ids import as_timestamp as _ts
from harness.meta_payloads.ids import timestamp
from harness.meta_payloads.users import looks_like_bsuid

__all__ = ["status"]

_FAILED_DEFAULT = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {
        "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    },
    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
}


def status(
    wamid: str,
    recipient_id: str,
    state: str,
    *,
    ts: str | float | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    conversation_id: str = "CONVERSATION_ID_FAKE",
    recipient_user_id: str | None = None,
) -> dict[str, Any]:
    """A status update for a message we sent: ``sent``, ``delivered``, ``read`` or ``failed``.

    ``failed`` carries ``errors`` (default: 131047, outside the 24 h window); ``sent`` and
    ``delivered`` carry conversation and pricing like Meta's. ``recipient_id`` is the phone
    number; a BSUID given there (a user whose number Meta does not share) goes into
    ``recipient_user_id`` instead, which ``recipient_user_id`` also sets next to the number.
    """
    if state not in ("sent", "delivered", "read", "failed"):
        raise ValueError(f"unknown status {state!r}")
    update: dict[str, Any] = {"id": wamid, "status": state, "timestamp": _ts(ts)}
    if looks_like_bsuid(recipient_id):
        recipient_user_id = recipient_user_id or recipient_id
    else:
        update["recipient_id"] = recipient_id
    if recipient_user_id:
        update["recipient_user_id"] = recipient_user_id
    if state in ("sent", "delivered"):
        update["conversation"] = {"id": conversation_id, "origin": {"type": "service"}}
        if state == "sent":
            update["conversation"]["expiration_timestamp"] = timestamp(time.time() + 24 * 3600)
        update["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if state == "failed":
        update["errors"] = [dict(e) for e in errors] if errors is not None else [dict(_FAILED_DEFAULT)]
    return update
