"""What the Graph API stand-in accepted: sent messages and mark-as-read calls, as tests read them."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["AcceptedMessage", "ReadReceipt"]


@dataclasses.dataclass(frozen=True)
class AcceptedMessage:
    """A message the stand-in accepted: its address, the request body as sent, the assigned id.

    ``to`` is the phone number when the send used ``to``; ``recipient`` the BSUID when it used
    ``recipient`` (the other one is None), so tests can assert which field addressed a reply.
    """

    to: str | None
    message: Mapping[str, Any]
    wamid: str
    received_at: float
    recipient: str | None = None

    @property
    def address_field(self) -> str:
        """``"to"`` or ``"recipient"``: the field Meta used to address this message."""
        return "to" if self.to is not None else "recipient"

    @property
    def address(self) -> str:
        """The phone number or BSUID this message went to, whichever field carried it."""
        return self.to if self.to is not None else str(self.recipient)

    def as_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "recipient": self.recipient,
            "address_field": self.address_field,
            "wamid": self.wamid,
            "message": dict(self.message),
            "received_at": self.received_at,
        }


@dataclasses.dataclass(frozen=True)
class ReadReceipt:
    """A mark-as-read call; ``typing`` is True when it also asked for the typing indicator."""

    message_id: str
    typing: bool
    received_at: float

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "typing": self.typing, "received_at": self.received_at}
