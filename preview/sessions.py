"""The two people a designer plays side by side, and everything each of them saw.

Session ``phone`` is a user whose webhooks carry a (fake) phone number and a business-scoped user
id (BSUID), as Meta sends them since 2026; session ``bsuid`` a username user whose number Meta
does not share (BSUID only, replies must come via ``recipient``); see docs/whatsapp-delivery.md.
Identities come from harness/meta_payloads (:class:`WhatsAppUser`); numbers are obviously fake
(``4915550…``), BSUIDs too (``DE.1…``). Reset gives the session a new identity, so the assistant
meets a new person (a new conversation under new keys).

A session keeps its events (``user``, ``bot``, ``status``, ``typing``; shapes in preview/server.py)
so that a page that connects late, or reloads, first gets the history and then the live events
(:meth:`PreviewSession.subscribe`). It also keeps when each user message was sent and which bot
messages it got, for the inspector (preview/inspector.py).
"""
from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

from harness import meta_payloads as mp
from harness.chat import fake_user_id
from standins.meta_graph import AcceptedMessage, ReadReceipt

__all__ = [
    "TYPING_TIMEOUT",
    "Sent",
    "PreviewSession",
    "default_sessions",
    "phone_user",
    "username_user",
    "new_fake_number",
    "new_fake_bsuid",
]

#: WhatsApp hides the typing indicator after 25 s, or when the next message arrives
#: (https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators).
TYPING_TIMEOUT = 25.0
DEFAULT_NUMBER = "4915550000001"
DEFAULT_BSUID = "DE.1000000000000000002"
USERNAME = "@lena_test"
_STATES = ("sent", "delivered", "read")


def phone_user(number: str = DEFAULT_NUMBER) -> mp.WhatsAppUser:
    """A user with a phone number and a BSUID (derived from the number, like the terminal chat's)."""
    return mp.WhatsAppUser(phone=number, user_id=fake_user_id(number), name="Erika")


def username_user(user_id: str = DEFAULT_BSUID) -> mp.WhatsAppUser:
    """A username user: BSUID only, the number is not shared."""
    return mp.WhatsAppUser(user_id=user_id, username=USERNAME, name="Lena")


def new_fake_number() -> str:
    """A fresh, obviously fake German mobile number (4915550 and six random digits)."""
    return "4915550" + "".join(str(secrets.randbelow(10)) for _ in range(6))


def new_fake_bsuid() -> str:
    """A fresh, obviously fake BSUID (DE.1 and 18 random digits)."""
    return "DE.1" + "".join(str(secrets.randbelow(10)) for _ in range(18))


def _label(user: mp.WhatsAppUser) -> str:
    if user.phone:
        number = user.phone
        return f"{user.name} · +{number[:2]} {number[2:6]} {number[6:]}"
    return f"{user.username} (nur Username)"


@dataclasses.dataclass
class Sent:
    """A user message this session sent: its wamid, when, and its delivery state."""

    wamid: str
    time: float
    state: str = "sent"


Event = tuple[str, dict[str, Any]]


class PreviewSession:
    """One person: identity, history of events, live subscribers, what was sent and received."""

    def __init__(
        self,
        sid: str,
        user: mp.WhatsAppUser,
        *,
        typing_timeout: float = TYPING_TIMEOUT,
        renew: Callable[[], mp.WhatsAppUser] | None = None,
    ) -> None:
        self.id = sid
        self.typing_timeout = typing_timeout
        self._renew = renew
        self.user = user
        self.history: list[Event] = []
        self.sent: list[Sent] = []
        self.received: list[AcceptedMessage] = []
        self._subscribers: list[asyncio.Queue[Event | None]] = []
        self._typing_off: asyncio.TimerHandle | None = None
        self.typing = False

    # -- who -------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The session as ``/api/config`` lists it."""
        return {
            "id": self.id,
            "label": _label(self.user),
            "phone": self.user.phone,
            "user_id": self.user.user_id,
            "username": self.user.username,
        }

    def owns(self, accepted: AcceptedMessage) -> bool:
        """Whether a message the stand-in accepted went to this person (``to`` or ``recipient``)."""
        address = accepted.address.lstrip("+")
        return address in (self.user.phone, self.user.user_id)

    def reset(self) -> None:
        """Start over as a new person; live subscribers get a ``reset`` event."""
        if self._renew is not None:
            self.user = self._renew()
        self._cancel_typing_timer()
        self.typing = False
        self.history.clear()
        self.sent.clear()
        self.received.clear()
        self._broadcast(("reset", {"session": self.describe()}))

    # -- events ----------------------------------------------------------------------------
    def subscribe(self) -> tuple[list[Event], asyncio.Queue[Event | None]]:
        """The history so far and a queue of the events after it (no gap, no duplicate)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribers.append(queue)
        return list(self.history), queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def close_subscribers(self) -> None:
        """End every live stream (server shutdown)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    def _broadcast(self, event: Event) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self.history.append((name, data))
        self._broadcast((name, data))

    # -- what happens ----------------------------------------------------------------------
    def user_sent(self, message: dict[str, Any], at: float | None = None) -> Sent:
        """The user sent ``message`` (before its webhook goes out): a ``user`` and a ``sent`` event."""
        sent = Sent(wamid=message["id"], time=time.time() if at is None else at)
        self.sent.append(sent)
        self._emit("user", {"wamid": sent.wamid, "message": message, "time": sent.time})
        self._emit("status", {"wamid": sent.wamid, "state": "sent"})
        return sent

    def delivered(self, wamid: str) -> None:
        """The assistant's webhook took the message (2xx)."""
        self._advance(wamid, "delivered")

    def bot_message(self, accepted: AcceptedMessage) -> None:
        """The stand-in accepted a message for this person: typing stops, a ``bot`` event."""
        self.received.append(accepted)
        self.typing_changed(False)
        self._emit("bot", {"wamid": accepted.wamid, "message": dict(accepted.message), "time": accepted.received_at})

    def read_receipt(self, receipt: ReadReceipt) -> bool:
        """A mark-as-read the stand-in got; True when it was for one of this session's messages.

        It marks that message and every earlier one read (Meta's meaning); with the typing
        indicator, typing shows until the next bot message or ``typing_timeout``.
        """
        index = next((i for i, sent in enumerate(self.sent) if sent.wamid == receipt.message_id), None)
        if index is None:
            return False
        for sent in self.sent[: index + 1]:
            self._advance(sent.wamid, "read")
        if receipt.typing:
            self.typing_changed(True)
        return True

    def _advance(self, wamid: str, state: str) -> None:
        for sent in self.sent:
            if sent.wamid == wamid and _STATES.index(state) > _STATES.index(sent.state):
                sent.state = state
                self._emit("status", {"wamid": wamid, "state": state})

    def typing_changed(self, on: bool) -> None:
        """Show or hide the typing indicator (an event only when it changes)."""
        self._cancel_typing_timer()
        if on:
            self._typing_off = asyncio.get_running_loop().call_later(self.typing_timeout, self.typing_changed, False)
        if on != self.typing:
            self.typing = on
            self._emit("typing", {"on": on})

    def _cancel_typing_timer(self) -> None:
        if self._typing_off is not None:
            self._typing_off.cancel()
            self._typing_off = None


def default_sessions(typing_timeout: float = TYPING_TIMEOUT) -> dict[str, PreviewSession]:
    """The two sessions of the page: ``phone`` (number + BSUID) and ``bsuid`` (username user)."""
    return {
        "phone": PreviewSession(
            "phone", phone_user(), typing_timeout=typing_timeout, renew=lambda: phone_user(new_fake_number())
        ),
        "bsuid": PreviewSession(
            "bsuid", username_user(), typing_timeout=typing_timeout, renew=lambda: username_user(new_fake_bsuid())
        ),
    }
