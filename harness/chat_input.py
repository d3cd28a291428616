"""What a typed line sends: the inbound message a WhatsApp user's action would produce.

Plain text is a text message; a number taps that button or list row of the bot's last turn
(a ``button_reply`` / ``list_reply`` quoting the bot's message, as WhatsApp sends it);
``/location LAT LON`` shares a location; ``/image [caption]`` sends a photo.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness import meta_payloads as mp
from harness.chat_display import Choice

__all__ = ["HELP", "typed_message", "whoami"]

HELP = (
    "Type a message and press Enter. A number taps a button or list row. "
    "/location LAT LON shares a location, /image [caption] sends a photo, "
    "/drop-number stops sharing your number, /change-id DE.… changes your BSUID, /whoami, /quit exits."
)


def typed_message(line: str, user: mp.WhatsAppUser, choices: Sequence[Choice]) -> dict[str, Any] | str:
    """The inbound message for a typed line, or what to tell the person when it is not valid input."""
    if line.startswith("/location"):
        parts = line.split()
        try:
            latitude, longitude = float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            return "usage: /location LAT LON   e.g. /location 52.52 13.40"
        return mp.location(user, latitude, longitude)
    if line.startswith("/image"):
        caption = line[len("/image"):].strip() or None
        return mp.image(user, caption=caption)
    if line.isdigit() and choices:
        index = int(line) - 1
        if not 0 <= index < len(choices):
            return f"no choice {line}; choose 1-{len(choices)}"
        choice = choices[index]
        if choice.kind == "button_reply":
            return mp.button_reply(user, choice.id, choice.title, reply_to=choice.message_wamid)
        return mp.list_reply(user, choice.id, choice.title, choice.description, reply_to=choice.message_wamid)
    return mp.text(user, line)


def whoami(user: mp.WhatsAppUser) -> str:
    """What the next webhook carries about this person (test identifiers, safe to print)."""
    parts = [f"number {user.phone}" if user.phone else "no number"]
    parts.append(f"BSUID {user.user_id}" if user.user_id else "no BSUID")
    if user.parent_user_id:
        parts.append(f"parent BSUID {user.parent_user_id}")
    if user.username:
        parts.append(f"username {user.username}")
    return "(you are " + ", ".join(parts) + ")"
