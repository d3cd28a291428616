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

The builders live in modules named after what they build (ids, users, messages, system,
statuses, envelope); this package is their one import point: ``from harness import meta_payloads as mp``.
"""
from __future__ import annotations

from harness.meta_payloads.envelope import change, change_value, entry, envelope, payload
from harness.meta_payloads.ids import (
    DEFAULT_DISPLAY_PHONE_NUMBER,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_WABA_ID,
    fake_media_id,
    fake_wamid,
    timestamp,
)
from harness.meta_payloads.messages import (
    MESSAGE_TYPES,
    audio,
    button_reply,
    contacts,
    document,
    image,
    list_reply,
    location,
    order,
    reaction,
    sticker,
    template_button,
    text,
    unsupported,
    video,
)
from harness.meta_payloads.statuses import status
from harness.meta_payloads.system import system, user_changed_number, user_changed_user_id
from harness.meta_payloads.users import Sender, WhatsAppUser, contact, looks_like_bsuid

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
