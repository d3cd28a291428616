"""Who a reply goes to: a phone number (``to``) or a business-scoped user id (``recipient``).

Why a type of its own: since 2026 Meta's Messages API takes two kinds of address. ``to`` is
for phone numbers only; a business-scoped user id (BSUID, e.g. ``US.13491208655302741918``)
or a parent BSUID (``US.ENT.11815799212886844830``) goes into ``recipient``. If both are
present, ``to`` wins. Meta recommends sending to the phone number whenever the webhook
carried one (so phone fields keep appearing in later webhooks), so :meth:`Recipient.for_message`
prefers it and falls back to the BSUID only for a user who wrote without a number.
(https://developers.facebook.com/docs/whatsapp/cloud-api/messages; facts in
docs/whatsapp-delivery.md, "Addressing replies".)

A ``Recipient`` exists only in memory while one webhook is handled: it is built from the
inbound message, handed to the Graph client and dropped. It is never sealed into the outbox
(a redelivered webhook rebuilds it) and its ``repr`` shows the kind of address, never the value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Recipient", "looks_like_bsuid"]


def looks_like_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id: phone numbers never contain a letter, BSUIDs start
    with an ISO 3166 country code (``US.…``, ``DE.…``, ``US.ENT.…``)."""
    return any(ch.isalpha() for ch in identifier)


@dataclass(frozen=True, slots=True)
class Recipient:
    """The address of one reply: exactly one of ``phone`` and ``user_id`` is set."""

    phone: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.phone is None) == (self.user_id is None):
            raise ValueError("a Recipient has exactly one of phone and user_id")
        value = self.phone if self.phone is not None else self.user_id
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a Recipient's address must be a non-empty string")
        if self.phone is not None and looks_like_bsuid(self.phone):
            raise ValueError("a business-scoped user id cannot be sent as a phone number ('to')")

    @classmethod
    def of(cls, identifier: str) -> Recipient:
        """Classify a bare identifier by its shape (a letter means a BSUID)."""
        if looks_like_bsuid(identifier):
            return cls(user_id=identifier)
        return cls(phone=identifier)

    @classmethod
    def for_message(cls, phone: str | None, user_id: str | None) -> Recipient:
        """The address for a reply to a message that carried these identifiers: the phone
        number when the webhook carried one, else the BSUID."""
        if phone:
            return cls(phone=phone)
        if user_id:
            return cls(user_id=user_id)
        raise ValueError("the message carried neither a phone number nor a business-scoped user id")

    @property
    def kind(self) -> str:
        """``"phone"`` or ``"bsuid"``: safe to log."""
        return "phone" if self.phone is not None else "bsuid"

    def graph_fields(self) -> dict[str, Any]:
        """The Messages API field that addresses this recipient: ``{"to": …}`` or ``{"recipient": …}``."""
        if self.phone is not None:
            return {"to": self.phone}
        return {"recipient": self.user_id}

    def __repr__(self) -> str:
        return f"Recipient(kind={self.kind!r})"
