"""The marker a privacy action sends through Rasa, and how the hook recognises it.

Why a marker: the action server never holds a user's key (see :mod:`privacy.requests`), so
``action_erase_data`` / ``action_export_data`` (actions/privacy_actions.py) send a custom
bot message ``{"blaupause_privacy_request": "erase" | "export", "language": <code>}`` and
the channel's post-turn hook performs the request. The key is defined here only; the
actions import it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import wording

__all__ = [
    "PRIVACY_REQUEST_KEY",
    "RESPONSE_ERASED",
    "RESPONSE_EXPORT",
    "RESPONSE_EXPORT_EMPTY",
    "RESPONSE_FAILED",
    "RequestKind",
    "PrivacyRequest",
    "privacy_request_of",
]

#: Key of the custom bot message that carries a request (imported by actions/privacy_actions.py).
PRIVACY_REQUEST_KEY = "blaupause_privacy_request"

#: The domain responses of the replies (wording in domain.yml only).
RESPONSE_ERASED = "utter_data_erased"
RESPONSE_EXPORT = "utter_data_export"
RESPONSE_EXPORT_EMPTY = "utter_data_export_empty"
RESPONSE_FAILED = "utter_privacy_request_failed"


class RequestKind(Enum):
    """What the user asked for."""

    ERASE = "erase"
    EXPORT = "export"


@dataclass(frozen=True)
class PrivacyRequest:
    """One marker found in the bot messages; ``kind`` is ``None`` for an unknown request."""

    kind: RequestKind | None
    language: str | None


def privacy_request_of(bot_message: Mapping[str, Any]) -> PrivacyRequest | None:
    """The request a collected bot message carries, or ``None`` for an ordinary message.

    The language is kept only when it is one of labels.yml's ``languages``.
    """
    custom = bot_message.get("custom")
    if not isinstance(custom, Mapping) or PRIVACY_REQUEST_KEY not in custom:
        return None
    raw_kind = custom.get(PRIVACY_REQUEST_KEY)
    kind = next((k for k in RequestKind if k.value == raw_kind), None)
    language = custom.get("language")
    return PrivacyRequest(kind, language if wording.current().is_supported(language) else None)
