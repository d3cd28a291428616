"""tests/support/replies.py: the text of a sent text or interactive message."""
from __future__ import annotations

from tests.support.replies import text_of


def test_text_and_interactive_bodies_and_nothing_else() -> None:
    assert text_of({"type": "text", "text": {"body": "Hallo"}}) == "Hallo"
    buttons = {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Was nun?"}}}
    assert text_of(buttons) == "Was nun?"
    assert text_of({"type": "location", "location": {}}) == ""
