"""Builders for inbound webhook payloads shaped exactly like Meta's.

Why: the channel's webhook must be tested against every message type and status WhatsApp sends,
including batched deliveries (several entries, changes, messages and statuses in one POST),
without a phone. Each builder returns plain dicts in the shape of Meta's payload examples:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
(envelope: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

Usage: build message objects (``text``, ``button_reply``, ``location``, ...) or statuses
(``status``), then wrap them with ``payload(...)`` for a single change, or build ``change_value``
/ ``change`` / ``entry`` objects and wrap them with ``envelope`` for batches. Ids and timestamps
default to fresh fake values (``wamid.FAKE…``, now). Test numbers must be obviously fake, such as
4915550000001.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_WABA_ID",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "MESSAGE_TYPES",
    "fake_wamid",
    "fake_media_id",
    "timestamp",
    "contact",
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
    "system",
    "unsupported",
    "status",
    "change_value",
    "change",
    "entry",
    "envelope",
    "payload",
]

DEFAULT_WABA_ID = "100000000000009"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"  # same default as standins.meta_graph
DEFAULT_DISPLAY_PHONE_NUMBER = "4915550000000"

#: Every ``messages[].type`` a builder here produces.
MESSAGE_TYPES = (
    "text", "interactive", "button", "location", "image", "audio", "video", "document",
    "sticker", "contacts", "reaction", "order", "system", "unsupported",
)

Message = dict[str, Any]


def fake_wamid() -> str:
    """A unique, obviously fake WhatsApp message id."""
    return "wamid.FAKE" + secrets.token_hex(16).upper()


def fake_media_id() -> str:
    """A unique, obviously fake media id (digits, like Meta's)."""
    return "9" + "".join(str(secrets.randbelow(10)) for _ in range(15))


def timestamp(at: float | None = None) -> str:
    """Unix seconds as Meta sends them: a decimal string."""
    return str(int(time.time() if at is None else at))


def contact(wa_id: str, name: str = "Testperson") -> dict[str, Any]:
    """An entry of ``value.contacts``: who sent the messages in this change."""
    return {"profile": {"name": name}, "wa_id": wa_id}


def _message(
    wa_id: str,
    kind: str,
    body: Mapping[str, Any] | None,
    *,
    wamid: str | None,
    ts: str | float | None,
    context: Mapping[str, Any] | None = None,
) -> Message:
    message: Message = {"from": wa_id, "id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": kind}
    if context is not None:
        message["context"] = dict(context)
    if body is not None:
        message[kind] = dict(body)
    return message


def _ts(ts: str | float | None) -> str:
    return ts if isinstance(ts, str) else timestamp(ts)


def _reply_context(reply_to: str | None, business_number: str) -> dict[str, str] | None:
    # Quoted replies and taps on buttons and list rows point at the business message.
    return {"from": business_number, "id": reply_to} if reply_to else None


def text(
    wa_id: str,
    body: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A text message; ``reply_to`` makes it a quoted reply to that (business) message id."""
    return _message(wa_id, "text", {"body": body}, wamid=wamid, ts=ts, context=_reply_context(reply_to, business_number))


def button_reply(
    wa_id: str,
    button_id: str,
    title: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A tap on a reply button of an interactive message."""
    return _message(
        wa_id,
        "interactive",
        {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def list_reply(
    wa_id: str,
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
    return _message(
        wa_id,
        "interactive",
        {"type": "list_reply", "list_reply": row},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def template_button(
    wa_id: str,
    payload_text: str,
    button_text: str,
    *,
    reply_to: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
    business_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> Message:
    """A tap on a quick-reply button of a template message (type ``button``)."""
    return _message(
        wa_id,
        "button",
        {"payload": payload_text, "text": button_text},
        wamid=wamid,
        ts=ts,
        context=_reply_context(reply_to, business_number),
    )


def location(
    wa_id: str,
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
    return _message(wa_id, "location", body, wamid=wamid, ts=ts)


def _media(
    wa_id: str,
    kind: str,
    mime_type: str,
    extra: Mapping[str, Any],
    media_id: str | None,
    wamid: str | None,
    ts: str | float | None,
) -> Message:
    body = {"mime_type": mime_type, "sha256": secrets.token_hex(32), "id": media_id or fake_media_id(), **extra}
    return _message(wa_id, kind, body, wamid=wamid, ts=ts)


def image(wa_id: str, *, caption: str | None = None, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A photo (JPEG)."""
    extra = {"caption": caption} if caption is not None else {}
    return _media(wa_id, "image", "image/jpeg", extra, media_id, wamid, ts)


def audio(wa_id: str, *, voice: bool = True, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A voice note (``voice`` True, Opus in Ogg) or an audio file."""
    mime = "audio/ogg; codecs=opus" if voice else "audio/mpeg"
    return _media(wa_id, "audio", mime, {"voice": voice}, media_id, wamid, ts)


def video(wa_id: str, *, caption: str | None = None, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A video (MP4)."""
    extra = {"caption": caption} if caption is not None else {}
    return _media(wa_id, "video", "video/mp4", extra, media_id, wamid, ts)


def document(
    wa_id: str,
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


def sticker(wa_id: str, *, animated: bool = False, media_id: str | None = None, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A sticker (WebP)."""
    return _media(wa_id, "sticker", "image/webp", {"animated": animated}, media_id, wamid, ts)


def contacts(
    wa_id: str,
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
    message = _message(wa_id, "contacts", None, wamid=wamid, ts=ts)
    message["contacts"] = shared
    return message


def reaction(wa_id: str, message_id: str, emoji: str = "\N{THUMBS UP SIGN}", *, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """An emoji reaction to ``message_id`` (an empty ``emoji`` removes the reaction)."""
    return _message(wa_id, "reaction", {"message_id": message_id, "emoji": emoji}, wamid=wamid, ts=ts)


def order(
    wa_id: str,
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
    return _message(wa_id, "order", {"catalog_id": catalog_id, "text": note, "product_items": items}, wamid=wamid, ts=ts)


def system(
    wa_id: str,
    new_wa_id: str = "4915550000002",
    *,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """A system message; Meta sends ``user_changed_number`` when a user changes number."""
    return _message(
        wa_id,
        "system",
        {"body": body or f"User changed from {wa_id} to {new_wa_id}", "new_wa_id": new_wa_id, "type": "user_changed_number"},
        wamid=wamid,
        ts=ts,
    )


def unsupported(wa_id: str, *, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """A message type the Cloud API does not support (it carries ``errors``, no object)."""
    message = _message(wa_id, "unsupported", None, wamid=wamid, ts=ts)
    message["errors"] = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return message


_FAILED_DEFAULT = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {
        "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    },
    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
}


def status(
    wamid: str,
    recipient_id: str,
    state: str,
    *,
    ts: str | float | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    conversation_id: str = "CONVERSATION_ID_FAKE",
) -> dict[str, Any]:
    """A status update for a message we sent: ``sent``, ``delivered``, ``read`` or ``failed``.

    ``failed`` carries ``errors`` (default: 131047, outside the 24 h window); ``sent`` and
    ``delivered`` carry conversation and pricing like Meta's.
    """
    if state not in ("sent", "delivered", "read", "failed"):
        raise ValueError(f"unknown status {state!r}")
    update: dict[str, Any] = {"id": wamid, "status": state, "timestamp": _ts(ts), "recipient_id": recipient_id}
    if state in ("sent", "delivered"):
        update["conversation"] = {"id": conversation_id, "origin": {"type": "service"}}
        if state == "sent":
            update["conversation"]["expiration_timestamp"] = timestamp(time.time() + 24 * 3600)
        update["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if state == "failed":
        update["errors"] = [dict(e) for e in errors] if errors is not None else [dict(_FAILED_DEFAULT)]
    return update


def change_value(
    *,
    messages: Sequence[Message] = (),
    statuses: Sequence[Mapping[str, Any]] = (),
    contacts_: Sequence[Mapping[str, Any]] | None = None,
    profile_name: str = "Testperson",
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """The ``value`` of a ``messages`` change. ``contacts`` default: one per distinct sender."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if messages:
        if contacts_ is None:
            senders = list(dict.fromkeys(m["from"] for m in messages))
            contacts_ = [contact(s, profile_name) for s in senders]
        value["contacts"] = [dict(c) for c in contacts_]
        value["messages"] = [dict(m) for m in messages]
    if statuses:
        value["statuses"] = [dict(s) for s in statuses]
    return value


def change(value: Mapping[str, Any], field: str = "messages") -> dict[str, Any]:
    """One ``entry[].changes[]`` element."""
    return {"value": dict(value), "field": field}


def entry(changes: Sequence[Mapping[str, Any]], waba_id: str = DEFAULT_WABA_ID) -> dict[str, Any]:
    """One ``entry[]`` element (per WhatsApp Business Account)."""
    return {"id": waba_id, "changes": [dict(c) for c in changes]}


def envelope(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole POST body."""
    return {"object": "whatsapp_business_account", "entry": [dict(e) for e in entries]}


def payload(
    *messages: Message,
    statuses: Sequence[Mapping[str, Any]] = (),
    profile_name: str = "Testperson",
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """A POST body with one entry and one change holding ``messages`` and/or ``statuses``."""
    value = change_value(
        messages=messages,
        statuses=statuses,
        profile_name=profile_name,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
    )
    return envelope([entry([change(value)])])
