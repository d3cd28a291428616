"""The output channel Rasa gets for one WhatsApp message: it collects, it does not send.

Why collect: the replies are rendered, sealed into the outbox and only then sent, so a failed
send can be resumed on Meta's redelivery without running the dialogue again
(docs/whatsapp-delivery.md). Rasa calls the ``send_*`` methods of
:class:`rasa.core.channels.channel.OutputChannel` (Rasa 3.6) once per bot message.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.channels.channel import OutputChannel

__all__ = ["WhatsAppOutput"]


class WhatsAppOutput(OutputChannel):
    """Collects the bot messages of one turn in ``messages``.

    ``messages`` holds each bot message as Rasa produced it (``BotUttered.message()``: text,
    buttons, quick_replies, image, attachment, custom, elements), deep-copied so later
    mutation by Rasa cannot change it. It never holds the phone number.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def _collect(self, message: Mapping[str, Any]) -> None:
        self.messages.append({key: copy.deepcopy(value) for key, value in message.items() if value is not None})

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Keep the whole bot message; the renderer decides how it looks on WhatsApp."""
        self._collect(message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self._collect({"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self._collect({"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self._collect({"text": text, "quick_replies": quick_replies})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self._collect({"image": image})

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        self._collect({"attachment": attachment})

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        self._collect({"elements": list(elements)})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self._collect({"custom": json_message})
