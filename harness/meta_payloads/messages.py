"""Inbound message objects (``value.messages[]``), one builder per message type.

Shapes follow Meta's payload examples:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples. Every builder's
first argument is the sender (see :mod:`harness.meta_payloads.users`).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.meta_payloads.ids import DEFAULT_DISPLAY_PHONE_NUMBER, fake_media_id, fake_wamid
from harness.meta_payloads.ids import as_timestamp as _ts
from harness.meta_payloads.users import Sender, WhatsAppUser

__all__ = [
    "MESSAGE_TYPES",
    "Message",
    "build_message",
    "text",
    "button_reply",
    "list_reply",
    "template_button",
    "location",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "contacts",
    "reaction",
    "order",
    "unsupported",
]

#: Every ``messages[].type`` a builder here produces.
MESSAGE_TYPES = (
    "text", "interactive", "button", "location", "image", "audio", "video", "document",
    "sticker", "contacts", "reaction", "order", "system", "unsupported",
)

Message = dict[str, Any]


def build_message(
    wa_id: Sender,
    kind: str,
    body: Mapping[str, Any] | None,
    *,
    wamid: str | None,
    ts: str | float | None,
    context: Mapping[str, Any] | None = None,
) -> Message:
    """One ``messages[]`` object: sender fields, id, timestamp, type, and the type's object."""
    user = WhatsAppUser.of(wa_id)
    message: Message = {}
    if user.phone:
        message["from"] = user.phone
    if user.user_id:
        message["from_user_id"] = user.user_id
    message.update({"id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": kind})
    if context is not None:
        message["context"] = dict(context)
    if body is not None:
        message[kind] = dict(body)
    return message


def _reply_context(reply_to: str | None, business_number: str) -> dict[str, str] | None:
    # Quoted replies and taps on buttons and list rows point at the business message.
    return {"from": business_number, "id": reply_to} if reply_to else None


def text(
    wa_id: Sender,
    body: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A text message; ``reply_to`` makes it a quoted reply to that (business) message id."""
    return build_message(wa_id, "text", {"body": body}, wamid=wamid, ts=ts, context=_reply_context(reply_to, business_number))


def button_reply(
    wa_id: Sender,
    button_id: str,
    title: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A tap on a reply button of an interactive message."""
    return build_message(
        wa_id,
        "interactive",
        {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def list_reply(
    wa_id: Sender,
    row_id: str,
    title: str,
    description: str | None = None,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A choice of a row in a list message."""
    row: dict[str, str] = {"id": row_id, "title": title}
    if description is not None:
        row["description"] = description
    return build_message(
        wa_id,
        "interactive",
        {"type": "list_reply", "list_reply": row},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def template_button(
    wa_id: Sender,
    payload_text: str,
    button_text: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A tap on a quick-reply button of a template message (type ``button``)."""
    return build_message(
        wa_id,
        "button",
        {"payload": payload_text, "text": button_text},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def location(
    wa_id: Sender,
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """A shared location (name and address only for a chosen place)."""
    body: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        body["name"] = name
    if address is not None:
        body["address"] = address
    return build_message(wa_id, "location", body, wamid=wamid, ts=ts)


def _media(
    wa_id: Sender,
    kind: str,
    mime_type: str,
    extra: Mapping[str, Any],
    media_id: str | None,
    wamid: str | None,
    ts: str | float | None,
) -> Message:
    body = {"mime_type": mime_type, "sha256": secrets.token_hex(32), "id": media_id or fake_media_id(), **extra}
    return build_message(wa_id, kind, body, wamid=wamid, ts=ts)


def image(wa_id: Sender, *, caption: str | None = None, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A photo (JPEG)."""
    extra = {"caption": caption} if caption is not None else {}
    return _media(wa_id, "image", "image/jpeg", extra, media_id, wamid, ts)


def audio(wa_id: Sender, *, voice: bool = True, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A voice note (``voice`` True, Opus in Ogg) or an audio file."""
    mime = "audio/ogg; codecs=opus" if voice else "audio/mpeg"
    return _media(wa_id, "audio", mime, {"voice": voice}, media_id, wamid, ts)


def video(wa_id: Sender, *, caption: str | None = None, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A video (MP4)."""
    extra = {"caption": caption} if caption is not None else {}
    return _media(wa_id, "video", "video/mp4", extra, media_id, wamid, ts)


def document(
    wa_id: Sender,
    filename: str = "Lebenslauf.pdf",
    *,
    caption: str | None = None,
    media_id: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """A document (PDF by default)."""
    extra: dict[str, Any] = {"filename": filename}
    if caption is not None:
        extra["caption"] = caption
    return _media(wa_id, "document", "application/pdf", extra, media_id, wamid, ts)


def sticker(wa_id: Sender, *, animated: bool = False, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A sticker (WebP)."""
    return _media(wa_id, "sticker", "image/webp", {"animated": animated}, media_id, wamid, ts)


def contacts(
    wa_id: Sender,
    cards: Sequence[Mapping[str, Any]] | None = None,
    *,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """Shared contact cards (``contacts`` is a list, unlike the other types' objects)."""
    shared = list(cards) if cards is not None else [
        {
            "name": {"formatted_name": "Erika Beispiel", "first_name": "Erika", "last_name": "Beispiel"},
            "phones": [{"phone": "+49 1555 0000002", "wa_id": "4915550000002", "type": "MOBILE"}],
        }
    ]
    message = build_message(wa_id, "contacts", None, wamid=wamid, ts=ts)
    message["contacts"] = shared
    return message


def reaction(wa_id: Sender, message_id: str, emoji: str = "\N{THUMBS UP SIGN}", *, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """An emoji reaction to ``message_id`` (an empty ``emoji`` removes the reaction)."""
    return build_message(wa_id, "reaction", {"message_id": message_id, "emoji": emoji}, wamid=wamid, ts=ts)


def order(
    wa_id: Sender,
    catalog_id: str = "100000000000077",
    product_items: Iterable[Mapping[str, Any]] | None = None,
    note: str = "",
    *,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """An order from a catalog message."""
    items = list(product_items) if product_items is not None else [
        {"product_retailer_id": "sku-1", "quantity": "1", "item_price": "9.99", "currency": "EUR"}
    ]
    return build_message(wa_id, "order", {"catalog_id": catalog_id, "text": note, "product_items": items}, wamid=wamid, ts=ts)


def unsupported(wa_id: Sender, *, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A message type the Cloud API does not support (it carries ``errors``, no object)."""
    message = build_message(wa_id, "unsupported", None, wamid=wamid, ts=ts)
    message["errors"] = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return message
