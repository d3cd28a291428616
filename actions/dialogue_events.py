"""What the tracker's events say about the turn being answered, read by several actions.

Why one place: an answer ("ja", "Ja, alles löschen") means something only in reply to the
assistant's last question, so the offer actions (actions/offers.py) and the erasure
(actions/privacy_actions.py) both ask which action came right before the user's message.
"""
from __future__ import annotations

from rasa_sdk import Tracker

__all__ = ["last_action_before_user"]


def last_action_before_user(tracker: Tracker) -> str | None:
    """The last action (not ``action_listen``) before the latest user message."""
    events = list(tracker.events or [])
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            for event in reversed(events[:index]):
                if event.get("event") == "action" and event.get("name") != "action_listen":
                    return event.get("name")
            return None
    return None
