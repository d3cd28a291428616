"""Who a send goes to: ``to`` (a phone number) or ``recipient`` (a business-scoped user id).

Meta's rules (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids):
if both fields are present ``to`` wins and ``recipient`` is ignored; a BSUID in ``to`` is
rejected (400, code 100); some messages still need a phone number and are answered 131062 when
addressed by BSUID (one-tap, zero-tap and copy-code authentication templates), which
:class:`BsuidRecipients` plays on demand. Sends are answered with Meta's ``contacts`` shape:
``{"input", "wa_id"}`` for a phone number, ``{"input", "user_id"}`` for a BSUID.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from standins.meta_graph.errors import meta_error

__all__ = ["looks_like_bsuid", "Address", "resolve_address", "BsuidRecipients"]


def looks_like_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id (``DE.1000…``, ``DE.ENT.2000…``): a phone number
    never contains a letter. The same rule as ``connectors.whatsapp.recipient``, repeated so the
    stand-in, which plays Meta, does not import the channel it tests."""
    return any(ch.isalpha() for ch in identifier)


class Address:
    """The field that addressed a send: exactly one of ``to`` and ``recipient`` is set."""

    def __init__(self, to: str | None, recipient: str | None) -> None:
        self.to = to
        self.recipient = recipient

    def contact(self) -> dict[str, Any]:
        """The ``contacts[]`` entry of Meta's answer to this send."""
        if self.to is not None:
            return {"input": self.to, "wa_id": "".join(ch for ch in self.to if ch.isdigit())}
        return {"input": self.recipient, "user_id": self.recipient}


def _invalid(details: str) -> web.Response:
    return meta_error(400, 100, "(#100) Invalid parameter", details=details)


def resolve_address(body: Mapping[str, Any]) -> Address | web.Response:
    """The send's address, or Meta's error answer for a missing or wrong one."""
    to, recipient = body.get("to"), body.get("recipient")
    if to is not None:
        if not isinstance(to, str) or not to.strip():
            return meta_error(400, 100, "(#100) The parameter to is required.")
        if looks_like_bsuid(to):
            return _invalid(
                "The parameter to must be a phone number. "
                "Send to a business-scoped user ID with the parameter recipient."
            )
        return Address(to, None)
    if recipient is None:
        return meta_error(400, 100, "(#100) The parameter to is required.")
    if not isinstance(recipient, str) or not recipient.strip():
        return meta_error(400, 100, "(#100) The parameter recipient must be a non-empty string.")
    if not looks_like_bsuid(recipient):
        return _invalid(
            "The parameter recipient must be a business-scoped user ID. "
            "Send to a phone number with the parameter to."
        )
    return Address(None, recipient)


class BsuidRecipients:
    """Which ``recipient`` sends are refused with 131062: none, all (None), or a set of BSUIDs."""

    def __init__(self) -> None:
        self.refused: frozenset[str] | None = frozenset()

    def refuse(self, recipients: Iterable[str] | None = None) -> None:
        self.refused = None if recipients is None else frozenset(recipients)

    def accept_all(self) -> None:
        self.refused = frozenset()

    def answer(self, address: Address) -> web.Response | None:
        """Meta's 131062 answer when this send must not go to a BSUID; None otherwise."""
        recipient = address.recipient
        if recipient is None or (self.refused is not None and recipient not in self.refused):
            return None
        return meta_error(
            400,
            131062,
            details="This message cannot be sent to a business-scoped user ID. Send it to the user's phone number.",
        )
