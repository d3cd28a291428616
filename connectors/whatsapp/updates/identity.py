"""System messages ``user_changed_number`` / ``user_changed_user_id``: the user's new identity.

Why apart from the parser: the rules for which identifier is previous and which is new differ
per change and per payload generation (older payloads name the new number ``wa_id``, newer ones
``new_wa_id``; the new BSUID may come only as the message's ``from_user_id``), and they decide
where the conversation moves. Such a message carries no ``contacts``.
Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components (system).
"""
from __future__ import annotations

from typing import Any

from connectors.whatsapp.updates.fields import as_str
from connectors.whatsapp.updates.messages import IDENTITY_CHANGE_TYPES, IdentityChange

__all__ = ["identity_change"]


def _opt(content: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = as_str(content.get(name)).strip()
        if value:
            return value
    return None


def identity_change(common: dict[str, Any], content: dict[str, Any]) -> IdentityChange | None:
    """The :class:`IdentityChange` a system message announces, or None for other system types."""
    change = as_str(content.get("type"))
    if change not in IDENTITY_CHANGE_TYPES:
        return None
    phone, user_id = common["phone"], common["user_id"]
    previous_user_id = _opt(content, "previous_user_id")
    new_user_id = _opt(content, "user_id", "new_user_id")
    if change == "user_changed_number":
        previous_phone = phone
        new_phone = _opt(content, "new_wa_id", "wa_id")
        # No BSUID change announced: from_user_id is the user's unchanged BSUID. Otherwise it
        # names the new one (when the system object does not), unless it is the previous one.
        if previous_user_id is None and new_user_id is None:
            previous_user_id = new_user_id = user_id
        elif new_user_id is None and user_id and user_id != previous_user_id:
            new_user_id = user_id
    else:
        previous_phone = new_phone = phone  # a BSUID change keeps the number
        if new_user_id is None and user_id and user_id != previous_user_id:
            new_user_id = user_id
    previous_parent = _opt(content, "previous_parent_user_id")
    new_parent = _opt(content, "parent_user_id", "new_parent_user_id")
    common = dict(common, phone=new_phone or phone, user_id=new_user_id or user_id,
                  parent_user_id=new_parent or common["parent_user_id"])
    return IdentityChange(
        **common,
        change=change,
        previous_phone=previous_phone,
        previous_user_id=previous_user_id,
        previous_parent_user_id=previous_parent,
        new_phone=new_phone,
        new_user_id=new_user_id,
        new_parent_user_id=new_parent,
    )
