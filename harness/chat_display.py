"""What the terminal chat prints for a message the bot sent, and which choices it offers.

WhatsApp shows reply buttons and list rows as things to tap; the terminal numbers them
(``[1] Weitere Ergebnisse``) so that typing the number taps it (harness/chat_input.py). Header
and footer are marked up the way WhatsApp formats them (``*bold*``, ``_italic_``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from standins.meta_graph import AcceptedMessage

__all__ = ["Choice", "describe"]


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
