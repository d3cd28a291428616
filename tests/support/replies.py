"""What a reply the assistant sent through the Graph stand-in says: its visible text.

Why here: the end-to-end, integration and reliability tests (test_whatsapp, test_voice_notes,
test_scale_out, test_exactly_once) each had the same copy of this reader; where a reply's text
sits (``text.body`` or ``interactive.body.text``) is WhatsApp's message format, one fact.
"""
from __future__ import annotations

from typing import Any, Dict

__all__ = ["text_of"]


def text_of(message: Dict[str, Any]) -> str:
    """The body text of a sent text or interactive message ("" for anything without one)."""
    if message.get("type") == "text":
        return message["text"]["body"]
    return message.get("interactive", {}).get("body", {}).get("text", "")
