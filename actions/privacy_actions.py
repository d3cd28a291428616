"""Erasure and export of a user's data, asked for in the chat (GDPR Art. 15 and 17).

Why these actions do no work themselves: everything stored about a user is sealed with a
key derived from the phone number and the server secret (privacy/), and only the WhatsApp
channel ever sees the phone number. The action server gets the decrypted tracker over HTTP
but holds no key and cannot reach the encrypted store, so it cannot erase or export
anything. Instead each action sends a *request marker* as a custom bot message::

    {"blaupause_privacy_request": "erase" | "export", "language": <a code of labels.yml's languages>}

Rasa passes it to the channel's output as a ``custom`` message. After the turn (when Rasa has
saved the tracker) the channel finds the marker, removes it from what is sent to WhatsApp,
performs the request inside the user's key context and answers with the domain's responses
(``utter_data_erased``, ``utter_data_export``, ``utter_data_export_empty``,
``utter_privacy_request_failed``). See privacy/requests/hook.py and
docs/whatsapp-delivery.md ("Erasure and export").

Erasure happens only as the answer to the confirmation question: ``action_erase_data``
refuses unless the assistant's last action before the user's message was
``utter_confirm_delete`` (the rules of data/rules.yml ensure that too; this is the second
lock). Refused, it asks that question instead (``FollowupAction``), so a "ja" after it erases.

``language`` is a hint for the channel's reply when the store cannot be read (after an
erasure, or during an outage): the action has the tracker's ``language`` slot at hand.

The marker key is duplicated in the channel module on purpose: the action server must not
import the channel (Sanic, Rasa core). A test checks that both spell it the same.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

import wording
from actions.dialogue_events import last_action_before_user
from privacy.requests.markers import PRIVACY_REQUEST_KEY

__all__ = [
    "PRIVACY_REQUEST_KEY",
    "ERASE",
    "EXPORT",
    "ActionEraseData",
    "ActionExportData",
    "privacy_request_marker",
    "CONFIRM_QUESTION",
    "confirmation_was_asked",
]

ERASE = "erase"
EXPORT = "export"
#: The question (domain.yml response) an erasure must answer. Rules utter it (data/rules.yml);
#: action_erase_data asks it itself when the answer came without the question.
CONFIRM_QUESTION = "utter_confirm_delete"


def confirmation_was_asked(tracker: Tracker) -> bool:
    """True when the last action before the latest user message was the confirmation question."""
    return last_action_before_user(tracker) == CONFIRM_QUESTION


def privacy_request_marker(kind: str, language: Optional[str]) -> Dict[str, Any]:
    """The custom message asking the channel to perform ``kind`` ("erase" or "export")."""
    if kind not in (ERASE, EXPORT):
        raise ValueError(f"unknown privacy request {kind!r}")
    marker: Dict[str, Any] = {PRIVACY_REQUEST_KEY: kind}
    if wording.current().is_supported(language):
        marker["language"] = language
    return marker


def _dispatch(kind: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Send the marker of one request kind and change nothing else (no events)."""
    dispatcher.utter_message(json_message=privacy_request_marker(kind, tracker.get_slot("language")))
    return []


# No shared Action base class: rasa-sdk registers every non-abstract Action subclass it
# finds and calls its name(), so a helper function keeps the registry to the two actions.


class ActionEraseData(Action):
    """``action_erase_data``: the user confirmed deletion; the channel erases everything."""

    def name(self) -> Text:
        return "action_erase_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if not confirmation_was_asked(tracker):
            # Not an answer to the question: ask it; nothing is erased.
            return [FollowupAction(CONFIRM_QUESTION)]
        return _dispatch(ERASE, dispatcher, tracker)


class ActionExportData(Action):
    """``action_export_data``: the channel answers with a summary of what is stored."""

    def name(self) -> Text:
        return "action_export_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        return _dispatch(EXPORT, dispatcher, tracker)
