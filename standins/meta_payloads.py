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

Who sends (the username era, facts in docs/whatsapp-delivery.md and
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids):
every message builder's first argument is the sender, one of

- a phone number (``"4915550000001"``): the old payload, ``from`` + ``contacts[].wa_id`` only;
- a business-scoped user id (``"DE.1000000000000000001"``): a username user whose number Meta
  does not share, ``from_user_id`` + ``contacts[].user_id``, no ``from`` and no ``wa_id``;
- a :class:`WhatsAppUser`, for everything in between: phone and BSUID (``from`` +
  ``from_user_id``), a parent BSUID (``contacts[].parent_user_id``), a username
  (``contacts[].profile.username``). ``payload(..., users=[user])`` puts the user's parent BSUID
  and username into the contacts entry (a message object has no place for them).

System messages (``user_changed_number``, ``user_changed_user_id``) carry no ``contacts`` array.
Test BSUIDs must be obviously fake too: ``DE.1000000000000000001``, ``DE.ENT.2000000000000000001``.
"""
from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

__all__ = [
    "DEFAULT_WABA_ID",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "MESSAGE_TYPES",
    "fake_wamid",
    "fake_media_id",
    "timestamp",
    "WhatsAppUser",
    "Sender",
    "looks_like_bsuid",
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
    "user_changed_number",
    "user_changed_user_id",
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


def looks_like_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id (a phone number never contains a letter)."""
    return any(ch.isalpha() for ch in identifier)


@dataclasses.dataclass(frozen=True)
class WhatsAppUser:
    """A WhatsApp user as the webhooks of one business see them.

    ``phone`` is present only while Meta shares the number with the business; ``user_id`` (the
    BSUID) arrives in every webhook since 2026; ``parent_user_id`` only for linked portfolios;
    ``username`` once the user picked one. At least one of ``phone`` and ``user_id`` is set.
    """

    phone: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.phone and not self.user_id:
            raise ValueError("a WhatsAppUser needs a phone number or a business-scoped user id")
        if self.phone and looks_like_bsuid(self.phone):
            raise ValueError("phone must be a phone number, not a business-scoped user id")
        if self.user_id and not looks_like_bsuid(self.user_id):
            raise ValueError("user_id must be a business-scoped user id such as DE.1000000000000000001")

    @classmethod
    def of(cls, sender: Sender) -> WhatsAppUser:
        """A bare identifier as a user: a BSUID (letters) or a phone number (digits)."""
        if isinstance(sender, WhatsAppUser):
            return sender
        return cls(user_id=sender) if looks_like_bsuid(sender) else cls(phone=sender)

    def without_phone(self) -> WhatsAppUser:
        """The same user once Meta stops sharing the number (BSUID-only webhooks)."""
        if not self.user_id:
            raise ValueError("a user without a BSUID cannot lose the phone number")
        return dataclasses.replace(self, phone=None)

    def with_user_id(self, user_id: str, parent_user_id: str | None = None) -> WhatsAppUser:
        """The same user after Meta changed the BSUID (and the parent BSUID, when given)."""
        return dataclasses.replace(
            self, user_id=user_id, parent_user_id=parent_user_id if parent_user_id is not None else self.parent_user_id
        )

    def contact(self, name: str | None = None) -> dict[str, Any]:
        """This user's entry of ``value.contacts``."""
        return contact(
            self.phone,
            name or self.name or "Testperson",
            user_id=self.user_id,
            parent_user_id=self.parent_user_id,
            username=self.username,
        )


Sender = Union[str, WhatsAppUser]
"""The first argument of every message builder: phone number, BSUID or :class:`WhatsAppUser`."""


def contact(
    wa_id: str | None,
    name: str = "Testperson",
    *,
    user_id: str | None = None,
    parent_user_id: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """An entry of ``value.contacts``: who sent the messages in this change.

    ``wa_id`` (the phone number) is left out when None, as for a username user whose number Meta
    does not share; ``user_id``, ``parent_user_id`` and ``profile.username`` appear when given.
    """
    if not wa_id and not user_id:
        raise ValueError("a contact needs a wa_id or a user_id")
    profile: dict[str, Any] = {"name": name}
    if username is not None:
        profile["username"] = username
    entry: dict[str, Any] = {"profile": profile}
    if wa_id:
        entry["wa_id"] = wa_id
    if user_id:
        entry["user_id"] = user_id
    if parent_user_id:
        entry["parent_user_id"] = parent_user_id
    return entry


def _message(
    wa_id: Sender,
    kind: str,
    body: Mapping[str, Any] | None,
    *,
    wamid: str | None,
    ts: str | float | None,
    context: Mapping[str, Any] | None = None,
) -> Message:
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


def _ts(ts: str | float | None) -> str:
    return ts if isinstance(ts, str) else timestamp(ts)


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
    return _message(wa_id, "text", {"body": body}, wamid=wamid, ts=ts, context=_reply_context(reply_to, business_number))


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
    return _message(
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
    return _message(
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
    return _message(
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
    return _message(wa_id, "location", body, wamid=wamid, ts=ts)


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
    return _message(wa_id, kind, body, wamid=wamid, ts=ts)


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
    message = _message(wa_id, "contacts", None, wamid=wamid, ts=ts)
    message["contacts"] = shared
    return message


def reaction(wa_id: Sender, message_id: str, emoji: str = "\N{THUMBS UP SIGN}", *, wamid: str | None = None, ts: str | float | None = None) -> Message:
    """An emoji reaction to ``message_id`` (an empty ``emoji`` removes the reaction)."""
    return _message(wa_id, "reaction", {"message_id": message_id, "emoji": emoji}, wamid=wamid, ts=ts)


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
    return _message(wa_id, "order", {"catalog_id": catalog_id, "text": note, "product_items": items}, wamid=wamid, ts=ts)


def system(
    wa_id: Sender,
    new_wa_id: str = "4915550000002",
    *,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """A system message; Meta sends ``user_changed_number`` when a user changes number.

    The old shape (``from`` + ``system.new_wa_id`` only); :func:`user_changed_number` builds the
    username-era one with BSUIDs.
    """
    old = WhatsAppUser.of(wa_id)
    return _message(
        wa_id,
        "system",
        {
            "body": body or f"User changed from {old.phone or old.user_id} to {new_wa_id}",
            "new_wa_id": new_wa_id,
            "type": "user_changed_number",
        },
        wamid=wamid,
        ts=ts,
    )


def user_changed_number(
    old: WhatsAppUser,
    new_phone: str,
    *,
    new_user_id: str | None = None,
    new_parent_user_id: str | None = None,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """Meta's ``user_changed_number`` system message (no ``contacts`` array in its change).

    Message ``from`` is the old number; ``system.new_wa_id`` the new one; the user's previous
    BSUID and parent BSUID are ``system.previous_user_id``/``previous_parent_user_id`` and the
    new ones ``system.user_id``/``parent_user_id`` (a new number usually brings a new BSUID;
    the old one is kept when ``new_user_id`` is None). Payload example:
    https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#user-changed-number-notification
    """
    if not old.phone:
        raise ValueError("user_changed_number needs the user's old phone number")
    system_body: dict[str, Any] = {
        "body": body or "User changed their phone number",
        "new_wa_id": new_phone,
        "type": "user_changed_number",
    }
    if old.user_id:
        system_body["previous_user_id"] = old.user_id
    if old.parent_user_id:
        system_body["previous_parent_user_id"] = old.parent_user_id
    if new_user_id or old.user_id:
        system_body["user_id"] = new_user_id or old.user_id
    if new_parent_user_id or old.parent_user_id:
        system_body["parent_user_id"] = new_parent_user_id or old.parent_user_id
    message: Message = {"from": old.phone, "id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": "system"}
    message["system"] = system_body
    return message


def user_changed_user_id(
    old: Sender,
    new_user_id: str,
    *,
    new_parent_user_id: str | None = None,
    body: str | None = None,
    wamid: str | None = None,
    ts: str | float | None = None,
) -> Message:
    """Meta's ``user_changed_user_id`` system message: only the BSUID changed.

    ``from_user_id`` is the user's (new) BSUID; ``system.previous_user_id`` /
    ``previous_parent_user_id`` the old values and ``system.user_id``/``parent_user_id`` the
    new ones. ``from`` appears only while Meta shares the number. No ``contacts`` array.
    """
    user = WhatsAppUser.of(old)
    if not user.user_id:
        raise ValueError("user_changed_user_id needs the user's previous business-scoped user id")
    if not looks_like_bsuid(new_user_id):
        raise ValueError("new_user_id must be a business-scoped user id")
    system_body: dict[str, Any] = {
        "body": body or "User changed their business-scoped user ID",
        "type": "user_changed_user_id",
        "previous_user_id": user.user_id,
        "user_id": new_user_id,
    }
    if user.parent_user_id:
        system_body["previous_parent_user_id"] = user.parent_user_id
    if new_parent_user_id or user.parent_user_id:
        system_body["parent_user_id"] = new_parent_user_id or user.parent_user_id
    message: Message = {}
    if user.phone:
        message["from"] = user.phone
    message.update(
        {"from_user_id": new_user_id, "id": wamid or fake_wamid(), "timestamp": _ts(ts), "type": "system", "system": system_body}
    )
    return message


def unsupported(wa_id: Sender, *, wamid: str | None = None, ts: str | float | None = None) -> Message:
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
    recipient_user_id: str | None = None,
) -> dict[str, Any]:
    """A status update for a message we sent: ``sent``, ``delivered``, ``read`` or ``failed``.

    ``failed`` carries ``errors`` (default: 131047, outside the 24 h window); ``sent`` and
    ``delivered`` carry conversation and pricing like Meta's. ``recipient_id`` is the phone
    number; a BSUID given there (a user whose number Meta does not share) goes into
    ``recipient_user_id`` instead, which ``recipient_user_id`` also sets next to the number.
    """
    if state not in ("sent", "delivered", "read", "failed"):
        raise ValueError(f"unknown status {state!r}")
    update: dict[str, Any] = {"id": wamid, "status": state, "timestamp": _ts(ts)}
    if looks_like_bsuid(recipient_id):
        recipient_user_id = recipient_user_id or recipient_id
    else:
        update["recipient_id"] = recipient_id
    if recipient_user_id:
        update["recipient_user_id"] = recipient_user_id
    if state in ("sent", "delivered"):
        update["conversation"] = {"id": conversation_id, "origin": {"type": "service"}}
        if state == "sent":
            update["conversation"]["expiration_timestamp"] = timestamp(time.time() + 24 * 3600)
        update["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if state == "failed":
        update["errors"] = [dict(e) for e in errors] if errors is not None else [dict(_FAILED_DEFAULT)]
    return update


def _sender_key(message: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return message.get("from"), message.get("from_user_id")


def _default_contacts(
    messages: Sequence[Message], profile_name: str, users: Sequence[WhatsAppUser]
) -> list[dict[str, Any]]:
    """One ``contacts`` entry per distinct sender, in order of first appearance. System messages
    get none (Meta sends them without a contacts array). A sender that matches one of ``users``
    (same number or same BSUID) gets that user's full entry (parent BSUID, username)."""
    entries: list[dict[str, Any]] = []
    for phone, user_id in dict.fromkeys(_sender_key(m) for m in messages if m.get("type") != "system"):
        match = next(
            (u for u in users if (phone and u.phone == phone) or (user_id and u.user_id == user_id)), None
        )
        if match is not None:
            entries.append(match.contact(profile_name if match.name is None else None))
        else:
            entries.append(contact(phone, profile_name, user_id=user_id))
    return entries


def change_value(
    *,
    messages: Sequence[Message] = (),
    statuses: Sequence[Mapping[str, Any]] = (),
    contacts_: Sequence[Mapping[str, Any]] | None = None,
    profile_name: str = "Testperson",
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    users: Sequence[WhatsAppUser] = (),
) -> dict[str, Any]:
    """The ``value`` of a ``messages`` change. ``contacts`` default: one per distinct sender
    (none for system messages; the key is left out when there is no entry)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if messages:
        if contacts_ is None:
            contacts_ = _default_contacts(messages, profile_name, users)
            if contacts_:
                value["contacts"] = contacts_
        else:
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
    users: Sequence[WhatsAppUser] = (),
    contacts_: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A POST body with one entry and one change holding ``messages`` and/or ``statuses``.

    ``users`` supply the parent BSUID and username of the senders' contacts entries;
    ``contacts_`` replaces the derived contacts entirely.
    """
    value = change_value(
        messages=messages,
        statuses=statuses,
        contacts_=contacts_,
        profile_name=profile_name,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        users=users,
    )
    return envelope([entry([change(value)])])
