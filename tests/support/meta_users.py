"""Webhook bodies re-addressed as Meta identifies users in the username era (BSUIDs).

Meta's business-scoped user ids:
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids
"""
from __future__ import annotations

from typing import Any

from harness import meta_payloads as mp


def as_user(message: dict[str, Any], *, phone: str | None, user_id: str | None,
            parent_user_id: str | None = None, username: str | None = None) -> dict[str, Any]:
    """A POST body for ``message`` (from any builder) re-addressed as Meta identifies the user today.

    ``phone`` None plays a username user, or one whose number Meta no longer shares: no
    ``from``, no ``wa_id``; the BSUID is in ``from_user_id`` and ``contacts[].user_id``.
    """
    user = mp.WhatsAppUser(phone=phone, user_id=user_id, parent_user_id=parent_user_id, username=username,
                           name="Erika Testfrau")
    addressed = {key: value for key, value in message.items() if key not in ("from", "from_user_id")}
    addressed.update({key: value for key, value in mp.text(user, "-").items() if key in ("from", "from_user_id")})
    return mp.payload(addressed, users=[user], contacts_=[user.contact()])


def system_change(previous_user_id: str, new_user_id: str) -> dict[str, Any]:
    """Meta's ``user_changed_user_id`` system message (no ``contacts`` array)."""
    return mp.payload(mp.user_changed_user_id(previous_user_id, new_user_id))
