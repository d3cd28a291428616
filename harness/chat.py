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

Voice notes (issue 14, harness/chat_input.py): ``/voice Ich suche einen Job als Koch`` sends a
voice note that says this, ``/voice? ...`` one the transcriber hardly makes out (the assistant
asks "stimmt das?"), ``/voice-file PATH`` an audio file (.ogg, .opus, .mp3, .m4a, .aac, .amr).
The recording is put on this stand-in, where the assistant downloads it with its access token;
start the assistant with ``STT_BASE_URL`` pointing at the transcription stand-in
(``python -m standins.stt --port 8098``, then ``STT_BASE_URL=http://127.0.0.1:8098/v1``) or a real
server. scripts/run.sh does both.

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
import hashlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from harness import meta_payloads as mp
from harness.chat_input import HELP
from harness.chat_session import DEFAULT_NAME, DEFAULT_WA_ID, ChatSession
from harness.webhook_sender import WebhookSender
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, MetaGraphStandIn

__all__ = ["DEFAULT_WEBHOOK_URL", "fake_user_id", "run", "user_from_args", "main"]

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"


def fake_user_id(phone: str) -> str:
    """A stable, obviously fake BSUID for a fake phone number (``DE.1`` + 18 digits of a hash), so
    that the default chat user has one and different ``--wa-id`` users never share one. The
    number itself is not embedded (an at-rest scan for the number must not hit the BSUID)."""
    digits = str(int.from_bytes(hashlib.sha256(phone.encode()).digest()[:8], "big") % 10**18).zfill(18)
    return "DE.1" + digits


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
