"""Chat with the assistant from a terminal as if from WhatsApp, with no phone and no Meta.

Why: the only other way to see the real WhatsApp rendering (buttons, lists, typing) is a Meta
test number. This tool plays both Meta sides locally: it runs the Graph API stand-in
(standins/meta_graph/) that the assistant sends its replies to, and it turns each typed line
into a signed, Meta-shaped webhook POST (harness/webhook_sender.py, harness/meta_payloads/).

    python -m harness.chat [--webhook-url http://127.0.0.1:5005/webhooks/whatsapp/webhook]
                            [--app-secret ...] [--graph-port 8765] [--wait 1.5]
                            [--wa-id 4915550000001] [--user-id DE.…] [--parent-user-id DE.ENT.…]
                            [--username @name] [--no-number | --phone-only]

Point the assistant at the stand-in (WHATSAPP_API_BASE_URL=http://127.0.0.1:8765 and the token and
phone number id printed at start). Typing: plain text sends a text message; a number taps that
button or list row of the bot's last turn; ``/location 52.52 13.40`` shares a location;
``/image [caption]`` sends a photo; ``/help``; ``/quit``. Works with piped stdin: after each line
it waits for the replies to stop (``--wait`` seconds of quiet) before reading the next one.

Who you are (the username era, docs/whatsapp-delivery.md): by default a user whose webhooks carry
the phone number and a business-scoped user id (BSUID), as Meta sends them since 2026. ``--user-id``
without ``--wa-id`` (or ``--no-number``) plays a username user whose number Meta does not share
(BSUID only, replies must come via ``recipient``); ``--phone-only`` plays the old payloads.
``/drop-number`` makes the number disappear mid-conversation (later webhooks carry the BSUID
only); ``/change-id DE.…`` sends Meta's ``user_changed_user_id`` system message and continues
with the new BSUID; ``/whoami`` shows the identifiers the next webhook carries.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from harness import meta_payloads as mp
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, AcceptedMessage, MetaGraphStandIn
from harness.webhook_sender import WebhookSender

__all__ = [
    "DEFAULT_WEBHOOK_URL",
    "DEFAULT_WA_ID",
    "DEFAULT_NAME",
    "Choice",
    "describe",
    "fake_user_id",
    "ChatSession",
    "main",
]

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"
DEFAULT_WA_ID = "4915550000001"
DEFAULT_NAME = "Testperson"

HELP = (
    "Type a message and press Enter. A number taps a button or list row. "
    "/location LAT LON shares a location, /image [caption] sends a photo, "
    "/drop-number stops sharing your number, /change-id DE.… changes your BSUID, /whoami, /quit exits."
)


def fake_user_id(phone: str) -> str:
    """A stable, obviously fake BSUID for a fake phone number (``DE.1`` + 18 digits of a hash), so
    that the default chat user has one and different ``--wa-id`` users never share one. The
    number itself is not embedded (an at-rest scan for the number must not hit the BSUID)."""
    digits = str(int.from_bytes(hashlib.sha256(phone.encode()).digest()[:8], "big") % 10**18).zfill(18)
    return "DE.1" + digits


@dataclasses.dataclass(frozen=True)
class Choice:
    """A tappable reply button or list row of a bot message."""

    kind: str  # "button_reply" or "list_reply"
    id: str
    title: str
    description: str | None
    message_wamid: str


def _text_of(part: Any) -> str | None:
    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
        return part["text"]
    return None


def describe(accepted: AcceptedMessage, first_number: int = 1) -> tuple[list[str], list[Choice]]:
    """Printable lines for a message the bot sent, and the choices it offers (numbered from
    ``first_number`` in the lines)."""
    message = accepted.message
    kind = message.get("type")
    obj = message.get(kind) if isinstance(kind, str) else None
    lines: list[str] = []
    choices: list[Choice] = []
    if kind == "text" and isinstance(obj, Mapping):
        lines.append(str(obj.get("body", "")))
    elif kind == "interactive" and isinstance(obj, Mapping):
        header = obj.get("header")
        if isinstance(header, Mapping) and header.get("type") == "text":
            lines.append(f"*{header.get('text', '')}*")
        if (body := _text_of(obj.get("body"))) is not None:
            lines.append(body)
        if (footer := _text_of(obj.get("footer"))) is not None:
            lines.append(f"_{footer}_")
        action = obj.get("action") if isinstance(obj.get("action"), Mapping) else {}
        if obj.get("type") == "button":
            for button in action.get("buttons", []):
                reply = button.get("reply", {}) if isinstance(button, Mapping) else {}
                choices.append(Choice("button_reply", str(reply.get("id", "")), str(reply.get("title", "")), None, accepted.wamid))
                lines.append(f"  [{first_number + len(choices) - 1}] {reply.get('title', '')}")
        elif obj.get("type") == "list":
            lines.append(f"  ({action.get('button', 'List')})")
            for section in action.get("sections", []):
                if not isinstance(section, Mapping):
                    continue
                if section.get("title"):
                    lines.append(f"  {section['title']}:")
                for row in section.get("rows", []):
                    if not isinstance(row, Mapping):
                        continue
                    description = row.get("description")
                    choices.append(Choice("list_reply", str(row.get("id", "")), str(row.get("title", "")), description, accepted.wamid))
                    suffix = f" - {description}" if description else ""
                    lines.append(f"  [{first_number + len(choices) - 1}] {row.get('title', '')}{suffix}")
        elif obj.get("type") == "cta_url":
            parameters = action.get("parameters", {})
            lines.append(f"  -> {parameters.get('display_text', '')}: {parameters.get('url', '')}")
        elif obj.get("type") == "location_request_message":
            lines.append("  (share a location with /location LAT LON)")
        else:
            lines.append(f"[interactive {obj.get('type')}]")
    elif kind in ("image", "video", "audio", "document", "sticker") and isinstance(obj, Mapping):
        where = obj.get("link") or f"media id {obj.get('id')}"
        caption = f" {obj['caption']}" if obj.get("caption") else ""
        lines.append(f"[{kind}]{caption} ({where})")
    elif kind == "location" and isinstance(obj, Mapping):
        lines.append(f"[location {obj.get('latitude')}, {obj.get('longitude')} {obj.get('name', '')}]".rstrip())
    elif kind == "template" and isinstance(obj, Mapping):
        language = obj.get("language", {}).get("code") if isinstance(obj.get("language"), Mapping) else None
        lines.append(f"[template {obj.get('name')} ({language})]")
    else:
        lines.append(f"[{kind}]")
    return lines, choices


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
        """The inbound message for a typed line; None when the line is not valid input."""
        if line.startswith("/location"):
            parts = line.split()
            try:
                latitude, longitude = float(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                self._print("usage: /location LAT LON   e.g. /location 52.52 13.40")
                return None
            return mp.location(self.user, latitude, longitude)
        if line.startswith("/image"):
            caption = line[len("/image"):].strip() or None
            return mp.image(self.user, caption=caption)
        if line.isdigit() and self.choices:
            index = int(line) - 1
            if not 0 <= index < len(self.choices):
                self._print(f"no choice {line}; choose 1-{len(self.choices)}")
                return None
            choice = self.choices[index]
            if choice.kind == "button_reply":
                return mp.button_reply(self.user, choice.id, choice.title, reply_to=choice.message_wamid)
            return mp.list_reply(self.user, choice.id, choice.title, choice.description, reply_to=choice.message_wamid)
        return mp.text(self.user, line)

    def whoami(self) -> str:
        """What the next webhook carries about this person (test identifiers, safe to print)."""
        user = self.user
        parts = [f"number {user.phone}" if user.phone else "no number"]
        parts.append(f"BSUID {user.user_id}" if user.user_id else "no BSUID")
        if user.parent_user_id:
            parts.append(f"parent BSUID {user.parent_user_id}")
        if user.username:
            parts.append(f"username {user.username}")
        return "(you are " + ", ".join(parts) + ")"

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


async def _read_line(stream: TextIO) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, stream.readline)


async def run(args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    standin = MetaGraphStandIn(args.access_token, args.phone_number_id)
    base_url = await standin.start(args.graph_host, args.graph_port)
    token_hint = args.access_token if args.access_token == DEFAULT_ACCESS_TOKEN else "(the one you passed)"
    print(
        f"Meta stand-in on {base_url}. Start the assistant with WHATSAPP_API_BASE_URL={base_url} "
        f"WHATSAPP_PHONE_NUMBER_ID={args.phone_number_id} WHATSAPP_ACCESS_TOKEN={token_hint}",
        file=out,
        flush=True,
    )
    user = user_from_args(args)
    shown = user.phone or user.username or user.user_id
    print(f"Chatting as {args.name} ({shown}) with {args.webhook_url}. {HELP}", file=out, flush=True)
    echo = not stdin.isatty()
    try:
        async with WebhookSender(args.webhook_url, args.app_secret, retry_delays=(0.5, 1.0, 2.0)) as sender:
            session = ChatSession(
                standin,
                sender,
                user=user,
                name=args.name,
                out=out,
                wait=args.wait,
                reply_timeout=args.reply_timeout,
                send_statuses=args.statuses,
            )
            async with session:
                while True:
                    if not echo:
                        print("you> ", end="", file=out, flush=True)
                    line = await _read_line(stdin)
                    if not line:
                        break
                    if echo and line.strip():
                        print(f"you> {line.rstrip()}", file=out, flush=True)
                    if not await session.handle_line(line):
                        break
    finally:
        await standin.stop()


def user_from_args(args: argparse.Namespace) -> mp.WhatsAppUser:
    """The fake user the options describe (see the module docstring)."""
    no_number = args.no_number or (args.user_id and not args.wa_id)
    phone = None if no_number else (args.wa_id or DEFAULT_WA_ID)
    if args.phone_only:
        user_id = None
    else:
        user_id = args.user_id or fake_user_id(args.wa_id or DEFAULT_WA_ID)
    return mp.WhatsAppUser(
        phone=phone, user_id=user_id, parent_user_id=args.parent_user_id, username=args.username, name=args.name
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--webhook-url", default=DEFAULT_WEBHOOK_URL)
    parser.add_argument("--app-secret", default=os.environ.get("WHATSAPP_APP_SECRET"), help="default: $WHATSAPP_APP_SECRET")
    parser.add_argument("--graph-host", default="127.0.0.1")
    parser.add_argument("--graph-port", type=int, default=8765)
    parser.add_argument("--access-token", default=os.environ.get("WHATSAPP_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN)
    parser.add_argument("--phone-number-id", default=os.environ.get("WHATSAPP_PHONE_NUMBER_ID") or DEFAULT_PHONE_NUMBER_ID)
    parser.add_argument("--wa-id", default=None, help=f"the fake user's phone number (default {DEFAULT_WA_ID})")
    parser.add_argument(
        "--user-id", default=None, help="the fake user's BSUID, e.g. DE.1000000000000000001; alone: a user without a number"
    )
    parser.add_argument("--parent-user-id", default=None, help="a parent BSUID, e.g. DE.ENT.2000000000000000001")
    parser.add_argument("--username", default=None, help="the fake user's WhatsApp username, e.g. @erika_test")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--no-number", action="store_true", help="webhooks carry the BSUID only (a username user)")
    who.add_argument("--phone-only", action="store_true", help="old webhooks: phone number, no BSUID")
    parser.add_argument("--name", default=DEFAULT_NAME, help="the fake user's profile name")
    parser.add_argument("--wait", type=float, default=1.5, help="seconds of quiet that end a bot turn")
    parser.add_argument("--reply-timeout", type=float, default=20.0, help="seconds to wait for the first reply")
    parser.add_argument("--statuses", action="store_true", help="answer each bot message with sent/delivered/read statuses")
    args = parser.parse_args(argv)
    if args.phone_only and args.user_id:
        parser.error("--phone-only and --user-id contradict each other")
    try:
        user_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    if not args.app_secret:
        parser.error("--app-secret or WHATSAPP_APP_SECRET is required (the assistant verifies signatures)")
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
