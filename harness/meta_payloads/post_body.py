"""The envelope of a webhook POST: ``object`` > ``entry[]`` > ``changes[]`` > ``value``.

One POST may batch several entries, changes, messages and statuses
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components); ``payload`` builds
the common case of one entry with one change.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.meta_payloads.ids import DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID
from harness.meta_payloads.messages import Message
from harness.meta_payloads.users import WhatsAppUser, contact

__all__ = ["change_value", "change", "entry", "envelope", "payload"]


def _sender_key(message: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return message.get("from"), message.get("from_user_id")


def _default_contacts(
    messages: Sequence[Message], profile_name: str, users: Sequence[WhatsAppUser]
) -> list[dict[str, Any]]:
    """One ``contacts`` entry per distinct sender, in order of first appearance. System messages
    get none (Meta sends them without a contacts array). A sender that matches one of ``users``
    (same number or same BSUID) gets that user's full entry (parent BSUID, username)."""
    entries: list[dict[str, Any]] = []
    for phone, user_id in dict.fromkeys(_sender_key(m) for m in messages if m.get("type") != "system"):
        match = next(
            (u for u in users if (phone and u.phone == phone) or (user_id and u.user_id == user_id)), None
        )
        if match is not None:
            entries.append(match.contact(profile_name if match.name is None else None))
        else:
            entries.append(contact(phone, profile_name, user_id=user_id))
    return entries


def change_value(
    *,
    messages: Sequence[Message] = (),
    statuses: Sequence[Mapping[str, Any]] = (),
    contacts_: Sequence[Mapping[str, Any]] | None = None,
    profile_name: str = "Testperson",
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    users: Sequence[WhatsAppUser] = (),
) -> dict[str, Any]:
    """The ``value`` of a ``messages`` change. ``contacts`` default: one per distinct sender
    (none for system messages; the key is left out when there is no entry)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if messages:
        if contacts_ is None:
            contacts_ = _default_contacts(messages, profile_name, users)
            if contacts_:
                value["contacts"] = contacts_
        else:
            value["contacts"] = [dict(c) for c in contacts_]
        value["messages"] = [dict(m) for m in messages]
    if statuses:
        value["statuses"] = [dict(s) for s in statuses]
    return value


def change(value: Mapping[str, Any], field: str = "messages") -> dict[str, Any]:
    """One ``entry[].changes[]`` element."""
    return {"value": dict(value), "field": field}


def entry(changes: Sequence[Mapping[str, Any]], waba_id: str = DEFAULT_WABA_ID) -> dict[str, Any]:
    """One ``entry[]`` element (per WhatsApp Business Account)."""
    return {"id": waba_id, "changes": [dict(c) for c in changes]}


def envelope(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole POST body."""
    return {"object": "whatsapp_business_account", "entry": [dict(e) for e in entries]}


def payload(
    *messages: Message,
    statuses: Sequence[Mapping[str, Any]] = (),
    profile_name: str = "Testperson",
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    users: Sequence[WhatsAppUser] = (),
    contacts_: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A POST body with one entry and one change holding ``messages`` and/or ``statuses``.

    ``users`` supply the parent BSUID and username of the senders' contacts entries;
    ``contacts_`` replaces the derived contacts entirely.
    """
    value = change_value(
        messages=messages,
        statuses=statuses,
        contacts_=contacts_,
        profile_name=profile_name,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        users=users,
    )
    return envelope([entry([change(value)])])
