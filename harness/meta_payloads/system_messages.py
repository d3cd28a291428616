"""Meta's system messages: a user changed the phone number or the business-scoped user id.

Meta sends them without a ``contacts`` array; payload example:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#user-changed-number-notification
"""
from __future__ import annotations

from typing import Any

from harness.meta_payloads.ids import as_timestamp as _ts
from harness.meta_payloads.ids import fake_wamid
from harness.meta_payloads.messages import Message, build_message
from harness.meta_payloads.users import Sender, WhatsAppUser, looks_like_bsuid

__all__ = ["system", "user_changed_number", "user_changed_user_id"]


def system(
    wa_id: Sender,
    new_wa_id: str = "4915550000002",
    *,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """A system message; Meta sends ``user_changed_number`` when a user changes number.

    The old shape (``from`` + ``system.new_wa_id`` only); :func:`user_changed_number` builds the
    username-era one with BSUIDs.
    """
    old = WhatsAppUser.of(wa_id)
    return build_message(
        wa_id,
        "system",
        {
            "body": body or f"User changed from {old.phone or old.user_id} to {new_wa_id}",
            "new_wa_id": new_wa_id,
            "type": "user_changed_number",
        },
        wamid=wamid,
        ts=ts,
    )


def user_changed_number(
    old: WhatsAppUser,
    new_phone: str,
    *,
    new_user_id: str | None = None,
    new_parent_user_id: str | None = None,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """Meta's ``user_changed_number`` system message (no ``contacts`` array in its change).

    Message ``from`` is the old number; ``system.new_wa_id`` the new one; the user's previous
    BSUID and parent BSUID are ``system.previous_user_id``/``previous_parent_user_id`` and the
    new ones ``system.user_id``/``parent_user_id`` (a new number usually brings a new BSUID;
    the old one is kept when ``new_user_id`` is None). Payload example:
    https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#user-changed-number-notification
    """
    if not old.phone:
        raise ValueError("user_changed_number needs the user's old phone number")
    system_body: dict[str, Any] = {
        "body": body or "User changed their phone number",
        "new_wa_id": new_phone,
        "type": "user_changed_number",
    }
    if old.user_id:
        system_body["previous_user_id"] = old.user_id
    if old.parent_user_id:
        system_body["previous_parent_user_id"] = old.parent_user_id
    if new_user_id or old.user_id:
        system_body["user_id"] = new_user_id or old.user_id
    if new_parent_user_id or old.parent_user_id:
        system_body["parent_user_id"] = new_parent_user_id or old.parent_user_id
    message: Message = {"from": old.phone, "id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": "system"}
    message["system"] = system_body
    return message


def user_changed_user_id(
    old: Sender,
    new_user_id: str,
    *,
    new_parent_user_id: str | None = None,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """Meta's ``user_changed_user_id`` system message: only the BSUID changed.

    ``from_user_id`` is the user's (new) BSUID; ``system.previous_user_id`` /
    ``previous_parent_user_id`` the old values and ``system.user_id``/``parent_user_id`` the
    new ones. ``from`` appears only while Meta shares the number. No ``contacts`` array.
    """
    user = WhatsAppUser.of(old)
    if not user.user_id:
        raise ValueError("user_changed_user_id needs the user's previous business-scoped user id")
    if not looks_like_bsuid(new_user_id):
        raise ValueError("new_user_id must be a business-scoped user id")
    system_body: dict[str, Any] = {
        "body": body or "User changed their business-scoped user ID",
        "type": "user_changed_user_id",
        "previous_user_id": user.user_id,
        "user_id": new_user_id,
    }
    if user.parent_user_id:
        system_body["previous_parent_user_id"] = user.parent_user_id
    if new_parent_user_id or user.parent_user_id:
        system_body["parent_user_id"] = new_parent_user_id or user.parent_user_id
    message: Message = {}
    if user.phone:
        message["from"] = user.phone
    message.update(
        {"from_user_id": new_user_id, "id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": "system", "system": system_body}
    )
    return message
