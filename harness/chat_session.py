"""One person chatting from a terminal: typed lines become webhooks, the bot's replies are printed.

The printer runs as its own task, so replies that arrive while the person is typing are shown at
once; a typed line returns only after the replies have gone quiet (``wait`` seconds), which is
what makes piped input work. Identity commands play the username era (docs/whatsapp-delivery.md):
``/drop-number``, ``/change-id DE.…``, ``/whoami``. A voice note (``/voice``, ``/voice-file``,
harness/chat_input.py) is put on the Graph stand-in before its webhook is sent, as Meta holds
the media before it tells the business, and the terminal shows what the person "said".
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, TextIO

from harness import meta_payloads as mp
from harness.chat_display import Choice, describe
from harness.chat_input import HELP, VoiceNoteRequest, typed_message, whoami
from harness.webhook_sender import WebhookSender
from standins.meta_graph import AcceptedMessage, MetaGraphStandIn

__all__ = ["DEFAULT_WA_ID", "DEFAULT_NAME", "ChatSession"]

DEFAULT_WA_ID = "4915550000001"
DEFAULT_NAME = "Testperson"


class ChatSession:
    """One person chatting: turns lines into webhooks and prints the bot's replies.

    The printer runs as its own task, so replies that arrive while the person is typing are
    shown at once; ``handle_line`` returns only after the replies have gone quiet. Replies are
    matched by any identifier this person has had in the session (phone number via ``to``,
    BSUID or parent BSUID via ``recipient``), so a late reply to a changed BSUID still shows.
    """

    def __init__(
        self,
        standin: MetaGraphStandIn,
        sender: WebhookSender,
        *,
        wa_id: str | None = DEFAULT_WA_ID,
        name: str = DEFAULT_NAME,
        user: mp.WhatsAppUser | None = None,
        out: TextIO = sys.stdout,
        wait: float = 1.5,
        reply_timeout: float = 20.0,
        send_statuses: bool = False,
    ) -> None:
        self.standin = standin
        self.sender = sender
        self.user = user if user is not None else mp.WhatsAppUser(phone=wa_id)
        self.name = name
        self.out = out
        self.wait = wait
        self.reply_timeout = reply_timeout
        self.send_statuses = send_statuses
        self.choices: list[Choice] = []
        self._known: set[str] = set()
        self._remember(self.user)
        self._last_had_phone = self.user.phone is not None
        self._new_turn = True
        self._activity = asyncio.Event()
        self._queue = standin.subscribe()
        self._printer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def wa_id(self) -> str | None:
        """The phone number the next webhook carries (None once Meta stopped sharing it)."""
        return self.user.phone

    def _remember(self, user: mp.WhatsAppUser) -> None:
        self._known.update(i for i in (user.phone, user.user_id, user.parent_user_id) if i)

    def is_for_me(self, accepted: AcceptedMessage) -> bool:
        """Whether a message the stand-in accepted is addressed to this person."""
        return accepted.address.lstrip("+") in self._known

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def __aenter__(self) -> ChatSession:
        self._printer = asyncio.create_task(self._print_replies())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._printer is not None:
            self._printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._printer
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self.standin.unsubscribe(self._queue)

    async def _print_replies(self) -> None:
        while True:
            accepted = await self._queue.get()
            if not self.is_for_me(accepted):
                continue
            if self._new_turn:
                self.choices = []
                self._new_turn = False
            lines, choices = describe(accepted, first_number=len(self.choices) + 1)
            self.choices.extend(choices)
            self._print("bot> " + lines[0])
            for line in lines[1:]:
                self._print("     " + line)
            if accepted.address_field == "to" and not self._last_had_phone:
                self._print("     (!) addressed to your phone number ('to'), but your last webhook carried none")
            if self.send_statuses:
                task = asyncio.create_task(self._acknowledge(accepted))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            self._activity.set()

    async def _acknowledge(self, accepted: AcceptedMessage) -> None:
        recipient_user_id = self.user.user_id
        recipient = accepted.to or recipient_user_id or accepted.address
        statuses = [
            mp.status(accepted.wamid, recipient, state, recipient_user_id=recipient_user_id)
            for state in ("sent", "delivered", "read")
        ]
        await self.sender.send(mp.payload(statuses=statuses, phone_number_id=self.standin.phone_number_id))

    def message_for(self, line: str) -> dict[str, Any] | None:
        """The inbound message for a typed line (a voice note's media uploaded to the stand-in
        first); None when the line is not valid input."""
        message = typed_message(line, self.user, self.choices)
        if isinstance(message, str):
            self._print(message)
            return None
        if isinstance(message, VoiceNoteRequest):
            self._print(message.describe())
            return message.upload(self.standin, self.user)
        return message

    def whoami(self) -> str:
        """What the next webhook carries about this person (test identifiers, safe to print)."""
        return whoami(self.user)

    def drop_number(self) -> None:
        """From now on, webhooks carry the BSUID only, as when Meta stops sharing the number."""
        if self.user.user_id is None:
            self._print("(you have no BSUID to fall back on; start without --phone-only)")
            return
        if self.user.phone is None:
            self._print("(your number is not shared already)")
            return
        self.user = self.user.without_phone()
        self._print("(Meta no longer shares your number: your webhooks carry only your BSUID from now on)")

    async def change_id(self, new_user_id: str) -> None:
        """Send Meta's ``user_changed_user_id`` system message, then continue with the new BSUID."""
        if not new_user_id or not mp.looks_like_bsuid(new_user_id):
            self._print("usage: /change-id NEW_BSUID   e.g. /change-id DE.1000000000000000002")
            return
        if self.user.user_id is None:
            self._print("(you have no BSUID to change; start without --phone-only)")
            return
        if new_user_id == self.user.user_id:
            self._print("(that is your BSUID already)")
            return
        message = mp.user_changed_user_id(self.user, new_user_id)
        self._activity.clear()
        self._new_turn = True
        delivery = await self.sender.send(mp.payload(message, phone_number_id=self.standin.phone_number_id))
        if not delivery.delivered:
            self._print(f"(webhook not delivered after {delivery.attempts} attempts: {', '.join(delivery.failures)})")
            return
        self.user = self.user.with_user_id(new_user_id)
        self._remember(self.user)
        self._print(f"(Meta told the assistant that your BSUID changed; it is {new_user_id} now)")
        # A system message gets no chat reply; wait briefly so a wrong one would still show.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._activity.wait(), self.wait)
            await self._await_quiet_after_activity()

    async def handle_line(self, line: str) -> bool:
        """Send one typed line and wait for the replies; False once the person quits."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit"):
            return False
        if line == "/help":
            self._print(HELP)
            return True
        if line == "/whoami":
            self._print(self.whoami())
            return True
        if line == "/drop-number":
            self.drop_number()
            return True
        if line == "/change-id" or line.startswith("/change-id "):
            await self.change_id(line[len("/change-id"):].strip())
            return True
        message = self.message_for(line)
        if message is None:
            return True
        self._activity.clear()
        self._new_turn = True
        self._last_had_phone = self.user.phone is not None
        delivery = await self.sender.send(
            mp.payload(message, profile_name=self.name, users=[self.user], phone_number_id=self.standin.phone_number_id)
        )
        if not delivery.delivered:
            self._print(f"(webhook not delivered after {delivery.attempts} attempts: {', '.join(delivery.failures)})")
            return True
        await self._await_quiet()
        return True

    async def _await_quiet(self) -> None:
        try:
            await asyncio.wait_for(self._activity.wait(), self.reply_timeout)
        except asyncio.TimeoutError:
            self._print(f"(no reply within {self.reply_timeout:g} s)")
            return
        await self._await_quiet_after_activity()

    async def _await_quiet_after_activity(self) -> None:
        while True:
            self._activity.clear()
            try:
                await asyncio.wait_for(self._activity.wait(), self.wait)
            except asyncio.TimeoutError:
                return
