"""Who sends a webhook: a phone number, a business-scoped user id (BSUID), or both.

The username era (facts in docs/whatsapp-delivery.md and
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids):
a user's webhooks carry the phone number only while Meta shares it, a BSUID always, a parent
BSUID for linked portfolios and a username once the user picked one. :class:`WhatsAppUser` holds
that state so a test can play one person through number and id changes.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Union

__all__ = ["looks_like_bsuid", "WhatsAppUser", "Sender", "contact"]


def looks_like_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id (a phone number never contains a letter)."""
    return any(ch.isalpha() for ch in identifier)


@dataclasses.dataclass(frozen=True)
class WhatsAppUser:
    """A WhatsApp user as the webhooks of one business see them.

    ``phone`` is present only while Meta shares the number with the business; ``user_id`` (the
    BSUID) arrives in every webhook since 2026; ``parent_user_id`` only for linked portfolios;
    ``username`` once the user picked one. At least one of ``phone`` and ``user_id`` is set.
    """

    phone: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.phone and not self.user_id:
            raise ValueError("a WhatsAppUser needs a phone number or a business-scoped user id")
        if self.phone and looks_like_bsuid(self.phone):
            raise ValueError("phone must be a phone number, not a business-scoped user id")
        if self.user_id and not looks_like_bsuid(self.user_id):
            raise ValueError("user_id must be a business-scoped user id such as DE.1000000000000000001")

    @classmethod
    def of(cls, sender: Sender) -> WhatsAppUser:
        """A bare identifier as a user: a BSUID (letters) or a phone number (digits)."""
        if isinstance(sender, WhatsAppUser):
            return sender
        return cls(user_id=sender) if looks_like_bsuid(sender) else cls(phone=sender)

    def without_phone(self) -> WhatsAppUser:
        """The same user once Meta stops sharing the number (BSUID-only webhooks)."""
        if not self.user_id:
            raise ValueError("a user without a BSUID cannot lose the phone number")
        return dataclasses.replace(self, phone=None)

    def with_user_id(self, user_id: str, parent_user_id: str | None = None) -> WhatsAppUser:
        """The same user after Meta changed the BSUID (and the parent BSUID, when given)."""
        return dataclasses.replace(
            self, user_id=user_id, parent_user_id=parent_user_id if parent_user_id is not None else self.parent_user_id
        )

    def contact(self, name: str | None = None) -> dict[str, Any]:
        """This user's entry of ``value.contacts``."""
        return contact(
            self.phone,
            name or self.name or "Testperson",
            user_id=self.user_id,
            parent_user_id=self.parent_user_id,
            username=self.username,
        )


Sender = Union[str, WhatsAppUser]
"""The first argument of every message builder: phone number, BSUID or :class:`WhatsAppUser`."""


def contact(
    wa_id: str | None,
    name: str = "Testperson",
    *,
    user_id: str | None = None,
    parent_user_id: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """An entry of ``value.contacts``: who sent the messages in this change.

    ``wa_id`` (the phone number) is left out when None, as for a username user whose number Meta
    does not share; ``user_id``, ``parent_user_id`` and ``profile.username`` appear when given.
    """
    if not wa_id and not user_id:
        raise ValueError("a contact needs a wa_id or a user_id")
    profile: dict[str, Any] = {"name": name}
    if username is not None:
        profile["username"] = username
    entry: dict[str, Any] = {"profile": profile}
    if wa_id:
        entry["wa_id"] = wa_id
    if user_id:
        entry["user_id"] = user_id
    if parent_user_id:
        entry["parent_user_id"] = parent_user_id
    return entry
