"""Render one Rasa bot message as native WhatsApp Cloud API messages (outbound).

Why: the generic connectors people use send Rasa buttons as plain text with the payload visible
(rasa #6773), show nothing for more than 3 buttons (heyoo #17), let over-long titles make messages
undeliverable (heyoo #18) and drop custom JSON. Here every Rasa response kind becomes the native
WhatsApp message that fits it, always inside the limits in limits.py. One module per job:

- text_fit.py: texts split into text messages of at most 4,096 characters, bodies, titles and
  labels fitted to their limits;
- layout.py: buttons and quick replies as reply buttons, lists (paged through a "more" row, the
  pages kept by connectors/whatsapp/paging.py) and CTA URL buttons;
- media.py: ``image`` and ``attachment`` as image and document messages;
- passthrough.py: custom ``{"whatsapp": {...}}`` messages sent natively;
- labels.py: the channel's own words, from the ``channel`` section of labels.yml.

This module puts them together in the order docs/designing-for-whatsapp.md describes.
Output objects omit ``messaging_product``, ``to`` and ``recipient``: the Graph client adds them.
Rendering is pure apart from the payload id map, which keeps long payloads and the following
pages of long lists; odd input is skipped with a warning, never raised. Message texts are only
ever logged at DEBUG.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.whatsapp.limits import LIST_BUTTON_TEXT_MAX, MEDIA_CAPTION_MAX, measure
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.render.labels import ChannelLabels, channel_labels
from connectors.whatsapp.render.layout import Choice, choice_messages, cta_messages, legacy_pages, parse_choices
from connectors.whatsapp.render.media import attachment_messages, image_messages
from connectors.whatsapp.render.passthrough import custom_messages
from connectors.whatsapp.render.text_fit import shorten, split_text, text_messages

__all__ = ["Choice", "render_response", "legacy_pages", "split_text", "shorten"]

logger = logging.getLogger(__name__)


async def _render_card(
    text: str | None,
    choices: Sequence[Choice],
    links: Sequence[Choice],
    image: Any,
    *,
    id_map: PayloadIdMap,
    labels: ChannelLabels,
    label: str,
) -> list[dict[str, Any]]:
    """Text, buttons, links and image of one message, in the order described in the designer doc."""
    messages: list[dict[str, Any]] = []
    if image:
        caption_fits = text is not None and not choices and not links and measure(text) <= MEDIA_CAPTION_MAX
        if caption_fits:
            # An image the renderer cannot send (not an http(s) link) must not take its caption along.
            return image_messages(image, text) or text_messages(text)
        if text is not None and not choices and not links:
            return text_messages(text) + image_messages(image, None)
        messages += image_messages(image, None)
    if choices:
        messages += await choice_messages(text, choices, id_map=id_map, labels=labels, label=label)
        cta, _ = cta_messages(None, links, labels)
        return messages + cta
    cta, text_used = cta_messages(text if links else None, links, labels)
    if text is not None and not text_used:
        messages += text_messages(text)
    return messages + cta


def _text_of(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def _element_messages(
    elements: Any, *, id_map: PayloadIdMap, labels: ChannelLabels, label: str
) -> list[dict[str, Any]]:
    """Rasa's generic-template ``elements`` as one card each: title and subtitle, buttons, image."""
    if not isinstance(elements, Sequence) or isinstance(elements, str):
        logger.warning("ignoring elements that are not a list")
        return []
    messages: list[dict[str, Any]] = []
    for element in elements:
        if not isinstance(element, Mapping):
            logger.warning("ignoring element that is not an object")
            continue
        parts = [_text_of(element.get("title")), _text_of(element.get("subtitle"))]
        card_text = "\n".join(part for part in parts if part) or None
        card_choices, card_links = parse_choices(element.get("buttons") or [])
        messages += await _render_card(
            card_text, card_choices, card_links, element.get("image_url"), id_map=id_map, labels=labels, label=label
        )
    return messages


async def render_response(
    message: Mapping[str, Any],
    *,
    id_map: PayloadIdMap,
    language: str | None = None,
    list_label: str | None = None,
) -> list[dict[str, Any]]:
    """Render a Rasa bot message (as OutputChannel.send_response gets it) as WhatsApp messages.

    Returns Graph API message objects, in sending order, without ``messaging_product``/``to``.
    ``language`` picks the built-in labels of labels.yml ("en-GB" reads "en"; a language
    labels.yml does not list, or None, reads its default language); ``list_label`` overrides
    the label of the list button.
    Never raises on odd input (unknown keys are ignored, junk is skipped with a warning, an empty
    message gives []); errors of the id map (e.g. Redis down) do propagate.
    """
    if not isinstance(message, Mapping):
        logger.warning("ignoring bot message that is not an object (%s)", type(message).__name__)
        return []
    labels = channel_labels(language)
    label = shorten(list_label, LIST_BUTTON_TEXT_MAX) if _text_of(list_label) else labels.options
    text = _text_of(message.get("text"))
    if message.get("quick_replies"):
        if message.get("buttons"):
            logger.warning("message has quick_replies and buttons; using quick_replies like Rasa does")
        choices, links = parse_choices(message.get("quick_replies"))
    else:
        choices, links = parse_choices(message.get("buttons"))
    messages = await _render_card(
        text, choices, links, message.get("image"), id_map=id_map, labels=labels, label=label
    )
    if message.get("custom"):
        messages += custom_messages(message["custom"])
    if message.get("attachment"):
        messages += attachment_messages(message["attachment"])
    if message.get("elements"):
        messages += await _element_messages(message["elements"], id_map=id_map, labels=labels, label=label)
    logger.debug("rendered bot message into %d WhatsApp message(s)", len(messages))
    return messages
