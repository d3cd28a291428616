"""Turn a parsed inbound message into what Rasa receives (or into a direct reply).

Why a mapping table rather than "send the text": on WhatsApp most turns are taps, and a tap
must trigger exactly the intent and entities the designer put into the button
(``/select_job{"job_id":"42"}``), never the visible title. Everything the assistant cannot
read still deserves an answer in the user's language, so it becomes
``/unsupported_message{"message_type":"image"}`` and the wording lives in domain.yml
(docs/whatsapp-delivery.md lists the payloads).

| WhatsApp message                         | handed to Rasa                                   |
| ---------------------------------------- | ------------------------------------------------ |
| text                                     | the text                                         |
| interactive button_reply / list_reply    | the reply id (= the Rasa payload)                |
| reply id starting with "~"               | resolved through paging.resolve_reply_id: the    |
|                                          | long payload, or a "more" page sent directly     |
| reply id "~..." unknown or expired       | the tapped title (NLU reads it like typed text)  |
| template quick-reply ``button``          | its payload                                      |
| location                                 | /share_location{"latitude":..,"longitude":..}    |
| audio (voice note or audio file)         | without transcription configured: /voice_unavailable; |
|                                          | with it: connectors/whatsapp/voice.py decides    |
| image, video, document, sticker,         | /unsupported_message{"message_type":"<type>"}    |
| contacts, reaction, order, system,       |                                                  |
| unsupported, unknown types               |                                                  |

Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object

The ids were written by the renderer; both sides share only connectors/whatsapp/paging.py,
so the inbound side never imports the renderer. The "more" row of a list sent before the
pages were stored fitted (paging state version 1) needs the renderer's layout: the caller
hands it in with ``resolver`` (turn.py passes paging.resolve_reply_id with the renderer's
legacy_pages); without it such a tap falls back to its title.

Privacy: nothing here carries the sender id; the metadata is at most the channel, the
message type and the marker that a text is a voice note's transcript.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.whatsapp.paging import CorruptPageStateError, ResolvedReply, UnknownReplyIdError, resolve_reply_id
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.updates.messages import (
    AudioMessage,
    ButtonReply,
    InboundMessage,
    ListReply,
    LocationMessage,
    QuickReply,
    TextMessage,
    UnsupportedMessage,
)

__all__ = [
    "CHANNEL_NAME",
    "VOICE_UNAVAILABLE_PAYLOAD",
    "DialogueTurn",
    "DirectReply",
    "Resolver",
    "location_payload",
    "unsupported_payload",
    "to_rasa_input",
]

logger = logging.getLogger(__name__)

CHANNEL_NAME = "whatsapp"
#: A voice note when no transcription is configured (``STT_BASE_URL`` unset): domain.yml answers it.
VOICE_UNAVAILABLE_PAYLOAD = "/voice_unavailable"

Resolver = Callable[[str, PayloadIdMap], Awaitable[ResolvedReply]]


@dataclass(frozen=True)
class DialogueTurn:
    """Run the dialogue with ``text``; ``metadata`` is what UserMessage.metadata gets."""

    text: str = field(repr=False)
    message_type: str
    voice_note: bool = False

    @property
    def metadata(self) -> dict[str, Any]:
        """The only metadata Rasa stores for a WhatsApp message (no phone number, no name).

        ``voice_note`` marks a text that is a voice note's transcript (connectors/whatsapp/voice.py).
        """
        if self.voice_note:
            return {"channel": CHANNEL_NAME, "message_type": self.message_type, "voice_note": True}
        return {"channel": CHANNEL_NAME, "message_type": self.message_type}


@dataclass(frozen=True)
class DirectReply:
    """Send these rendered Graph messages without running the dialogue (the next page of a list)."""

    messages: tuple[dict[str, Any], ...] = field(repr=False)


def location_payload(latitude: float, longitude: float) -> str:
    """``/share_location{"latitude":52.52,"longitude":13.4}`` (compact JSON entities)."""
    return "/share_location" + json.dumps({"latitude": latitude, "longitude": longitude}, separators=(",", ":"))


def unsupported_payload(message_type: str) -> str:
    """``/unsupported_message{"message_type":"image"}``."""
    return "/unsupported_message" + json.dumps({"message_type": message_type}, separators=(",", ":"))


async def to_rasa_input(
    message: InboundMessage,
    id_map: PayloadIdMap,
    *,
    resolver: Resolver = resolve_reply_id,
) -> DialogueTurn | DirectReply:
    """Map one inbound message (see the module table). Errors of the id map store propagate.

    ``resolver`` turns a tapped reply id into a payload or a page (see the module docstring).
    """
    if isinstance(message, TextMessage):
        return DialogueTurn(message.body, "text")
    if isinstance(message, (ButtonReply, ListReply)):
        kind = "button_reply" if isinstance(message, ButtonReply) else "list_reply"
        return await _tap(message.reply_id, message.title, kind, id_map, resolver)
    if isinstance(message, QuickReply):
        return DialogueTurn(message.payload, "button")
    if isinstance(message, LocationMessage):
        return DialogueTurn(location_payload(message.latitude, message.longitude), "location")
    if isinstance(message, AudioMessage):  # the turn transcribes it when transcription is configured
        return DialogueTurn(VOICE_UNAVAILABLE_PAYLOAD, "audio")
    if isinstance(message, UnsupportedMessage):
        return DialogueTurn(unsupported_payload(message.message_type), message.message_type)
    return DialogueTurn(unsupported_payload("unsupported"), "unsupported")


async def _tap(reply_id: str, title: str, kind: str, id_map: PayloadIdMap, resolver: Resolver) -> DialogueTurn | DirectReply:
    try:
        resolved = await resolver(reply_id, id_map)
    except UnknownReplyIdError:
        logger.info("tapped %s refers to an unknown or expired id; using its title", kind)
        return DialogueTurn(title, kind) if title.strip() else DialogueTurn(unsupported_payload("unsupported"), kind)
    except CorruptPageStateError as error:
        logger.warning("tapped %s has unusable paging state (%s); using its title", kind, type(error).__name__)
        return DialogueTurn(title, kind) if title.strip() else DialogueTurn(unsupported_payload("unsupported"), kind)
    if resolved.kind == "more_page":
        return DirectReply(tuple(resolved.page))
    return DialogueTurn(resolved.payload or title, kind)
