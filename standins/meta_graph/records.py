"""What the Graph API stand-in accepted: sent messages and mark-as-read calls, as tests read them."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["AcceptedMessage", "ReadReceipt", "Traffic"]


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


class Traffic:
    """Everything the stand-in accepted, oldest first, with live subscribers and waiters."""

    def __init__(self) -> None:
        self.messages: list[AcceptedMessage] = []
        self.reads: list[ReadReceipt] = []
        self._subscribers: list[asyncio.Queue[AcceptedMessage]] = []
        self._changed = asyncio.Condition()

    def clear(self) -> None:
        self.messages.clear()
        self.reads.clear()

    def subscribe(self) -> asyncio.Queue[AcceptedMessage]:
        queue: asyncio.Queue[AcceptedMessage] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AcceptedMessage]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def accept(self, accepted: AcceptedMessage) -> None:
        """Record a message and tell subscribers and waiters."""
        self.messages.append(accepted)
        for queue in self._subscribers:
            queue.put_nowait(accepted)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_messages(self, count: int, timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.messages) >= count), timeout)
