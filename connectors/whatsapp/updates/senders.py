"""Who sent a message: its own identifiers, completed from the ``contacts[]`` of its change value.

Why (issue 9; facts in /work/shared/notes/whatsapp-usernames-bsuid.md): a message may carry the
phone number (``messages[].from``, ``contacts[].wa_id``), the business-scoped user id (BSUID:
``messages[].from_user_id``, ``contacts[].user_id``), the parent BSUID of linked portfolios
(``contacts[].parent_user_id``) and the username (``contacts[].profile.username``, personal data,
no identifier). The phone number is present only while Meta shares it with the business, so any
of them may be missing. Each message is completed from its ``contacts[]`` entry (matched by
``user_id`` or ``wa_id``; a single contact of a value whose messages all come from one sender
matches that sender). Meta: https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.whatsapp.updates.fields import as_dict, as_str

__all__ = ["is_bsuid", "own_ids", "Contact", "Contacts"]


def is_bsuid(identifier: str) -> bool:
    """Whether ``identifier`` is a BSUID rather than a phone number."""
    # Same rule as recipient.looks_like_bsuid / privacy.identity.is_bsuid: a letter means a BSUID.
    return any(ch.isalpha() for ch in identifier)


def own_ids(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """(phone, BSUID) named by the message itself; a ``from`` with letters is taken as a BSUID."""
    phone = as_str(raw.get("from")).strip() or None
    user_id = as_str(raw.get("from_user_id")).strip() or None
    if phone is not None and is_bsuid(phone):
        user_id = user_id or phone
        phone = None
    return phone, user_id


@dataclass(frozen=True)
class Contact:
    """The identifiers one ``contacts[]`` entry names (all kept out of ``repr``)."""

    phone: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)
    parent_user_id: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    profile_name: str | None = field(default=None, repr=False)

    def conflicts(self, phone: str | None, user_id: str | None) -> bool:
        return bool(
            (phone and self.phone and phone != self.phone) or (user_id and self.user_id and user_id != self.user_id)
        )


class Contacts:
    """The ``contacts[]`` of one change value, matched to its messages.

    A contact matches a message that names its ``user_id`` or its ``wa_id``. When the value
    has exactly one contact and all its messages come from one sender, that contact belongs
    to them (unless an identifier contradicts it). The profile name is read only to be masked.
    """

    def __init__(self, raw_contacts: Any, raw_messages: list[Any]) -> None:
        items = raw_contacts if isinstance(raw_contacts, list) else []
        self._contacts = [self._parse(item) for item in items if isinstance(item, dict)]
        senders = {own_ids(raw) for raw in raw_messages if isinstance(raw, dict)}
        self._single = self._contacts[0] if len(self._contacts) == 1 and len(senders) == 1 else None

    @staticmethod
    def _parse(item: dict[str, Any]) -> Contact:
        phone = as_str(item.get("wa_id")).strip() or None
        user_id = as_str(item.get("user_id")).strip() or None
        if phone is not None and is_bsuid(phone):
            user_id = user_id or phone
            phone = None
        return Contact(
            phone=phone,
            user_id=user_id,
            parent_user_id=as_str(item.get("parent_user_id")).strip() or None,
            username=as_str(as_dict(item.get("profile")).get("username")).strip() or None,
            profile_name=as_str(as_dict(item.get("profile")).get("name")).strip()[:200] or None,
        )

    def match(self, phone: str | None, user_id: str | None) -> Contact:
        for contact in self._contacts:
            if (user_id and contact.user_id == user_id) or (phone and contact.phone == phone):
                if not contact.conflicts(phone, user_id):
                    return contact
        if self._single is not None and not self._single.conflicts(phone, user_id):
            return self._single
        return Contact()
