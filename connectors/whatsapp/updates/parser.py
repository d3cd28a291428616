"""Parse a verified webhook POST body into the frozen dataclasses of :mod:`.messages`.

Why a separate, strict-but-tolerant parser: connectors that index ``payload["entry"][0]``
crash on the first unexpected payload (KeyError 'entry') and, worse, only read the first
message of a batch. Meta batches several entries, changes, messages and statuses in one
POST, adds fields over time and leaves optional ones out, so this parser

* walks every entry, change, message and status;
* ignores unknown fields and unknown ``change.field`` values (e.g. template status updates);
* raises :class:`PayloadError` (-> HTTP 400) only when the envelope itself is wrong: not a
  JSON object, ``object`` is not ``whatsapp_business_account``, or a container has the
  wrong JSON type;
* skips (and counts) a single message or status that lacks its id or sender, because it
  can neither be deduplicated nor answered, while the rest of the batch is processed;
* turns a message of a known type whose content is unusable, and every type it does not
  read, into :class:`~.messages.UnsupportedMessage` so the user gets a polite answer, never silence.

Identifiers (issue 9): a message may carry the phone number, the business-scoped user id
(BSUID), the parent BSUID and the username; any of them may be missing, and a message with only
``from_user_id`` is a normal message. Each message is completed from its ``contacts[]`` entry
(:mod:`.senders`). System messages ``user_changed_number`` / ``user_changed_user_id`` become
:class:`~.messages.IdentityChange` (:mod:`.identity`).

Privacy: the profile name in ``contacts`` is read only so that it can be masked (in logs, and
by value before a message goes to the LLM, privacy/personal_values.py); like every identifier,
the username and the message id (a ``wamid`` embeds the sender's phone number in base64) it is
never handed to Rasa and is excluded from ``repr``, so a logged object leaks none of them.

Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from connectors.whatsapp.updates.fields import as_dict, as_str
from connectors.whatsapp.updates.identity import identity_change
from connectors.whatsapp.updates.messages import (
    BUSINESS_ACCOUNT_OBJECT,
    UNSUPPORTED_TYPES,
    AudioMessage,
    ButtonReply,
    InboundMessage,
    ListReply,
    LocationMessage,
    QuickReply,
    StatusError,
    StatusUpdate,
    TextMessage,
    UnsupportedMessage,
    WebhookUpdate,
)
from connectors.whatsapp.updates.senders import Contacts, is_bsuid, own_ids

__all__ = ["PayloadError", "parse_body", "parse_update", "without_lone_surrogates"]


class PayloadError(ValueError):
    """The body is not a WhatsApp webhook payload (HTTP 400); ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_body(raw_body: bytes) -> WebhookUpdate:
    """Decode the (already verified) raw body and parse it; :class:`PayloadError` on bad JSON."""
    try:
        payload = json.loads(raw_body.decode("utf-8"))
        if b"\\ud" in raw_body or b"\\uD" in raw_body:
            payload = without_lone_surrogates(payload)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except ValueError:  # JSONDecodeError, and integers above Python's 4,300-digit limit
        raise PayloadError("body is not valid JSON") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    return parse_update(payload)


_SURROGATE = re.compile("[\ud800-\udfff]")  # after json.loads, any surrogate left is unpaired


def without_lone_surrogates(value: Any) -> Any:
    """Replace unpaired UTF-16 surrogates (``"\\udc00"`` in JSON) by U+FFFD, everywhere.

    Why: JSON may escape any code point, and Python decodes an unpaired surrogate escape into
    a string that cannot be encoded to UTF-8 again, so hashing a message id or handing the
    text to Rasa would fail deep inside a turn. Meta sends emoji as *paired* escapes, which
    ``json`` joins into one code point; those are left as they are.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value


def parse_update(payload: Any) -> WebhookUpdate:
    """Parse a decoded webhook payload (see the module docstring for what is tolerated)."""
    if not isinstance(payload, dict):
        raise PayloadError("payload is not a JSON object")
    if payload.get("object") != BUSINESS_ACCOUNT_OBJECT:
        raise PayloadError("payload is not a whatsapp_business_account object")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    change_errors: list[StatusError] = []
    skipped = 0
    for entry in _list(payload.get("entry"), "entry"):
        if not isinstance(entry, dict):
            raise PayloadError("an entry is not an object")
        for change in _list(entry.get("changes"), "entry.changes"):
            if not isinstance(change, dict):
                raise PayloadError("a change is not an object")
            if change.get("field", "messages") != "messages":
                continue
            value = change.get("value")
            if value is None:
                continue
            if not isinstance(value, dict):
                raise PayloadError("a change value is not an object")
            phone_number_id = as_str(as_dict(value.get("metadata")).get("phone_number_id")) or None
            raw_messages = _list(value.get("messages"), "messages")
            contacts = Contacts(value.get("contacts"), raw_messages)
            for raw in raw_messages:
                message = _message(raw, phone_number_id, contacts)
                if message is None:
                    skipped += 1
                else:
                    messages.append(message)
            for raw in _list(value.get("statuses"), "statuses"):
                status = _status(raw)
                if status is None:
                    skipped += 1
                else:
                    statuses.append(status)
            change_errors.extend(_errors(value.get("errors")))
    return WebhookUpdate(tuple(messages), tuple(statuses), tuple(change_errors), skipped)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} is not a list")
    return value


#: Unix seconds have 10 digits until the year 2286; anything longer is not a timestamp.
_MAX_TIMESTAMP = 10**11


def _timestamp(value: Any) -> int | None:
    # Meta sends Unix seconds as a string; be lenient about ints. Only ASCII digits count
    # ("²".isdigit() is True, int("²") fails) and only plausible sizes (no overflow later).
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 11:
        value = int(value)
    if isinstance(value, int) and 0 <= value < _MAX_TIMESTAMP:
        return value
    return None


def _message(raw: Any, phone_number_id: str | None, contacts: Contacts | None = None) -> InboundMessage | None:
    if not isinstance(raw, dict):
        return None
    message_id = as_str(raw.get("id"))
    # ``from`` is the phone number; since 2026 every message also carries the business-scoped
    # user id (``from_user_id``), and a user whose number Meta does not share is identified by
    # it alone. Both are pseudonymised (privacy.identity handles either form).
    own_phone, own_user_id = own_ids(raw)
    contact = (contacts or Contacts(None, [])).match(own_phone, own_user_id)
    phone = own_phone or contact.phone
    user_id = own_user_id or contact.user_id
    sender = own_phone or own_user_id or phone or user_id
    if not message_id or not sender:
        return None
    message_type = as_str(raw.get("type")) or "unsupported"
    common: dict[str, Any] = dict(
        message_id=message_id,
        sender=sender,
        message_type=message_type,
        timestamp=_timestamp(raw.get("timestamp")),
        phone_number_id=phone_number_id,
        phone=phone,
        user_id=user_id,
        parent_user_id=contact.parent_user_id or (as_str(raw.get("from_parent_user_id")).strip() or None),
        username=contact.username,
        profile_name=contact.profile_name,
    )
    content = as_dict(raw.get(message_type))
    if message_type == "system":
        change = identity_change(common, content)
        if change is not None:
            return change
    if message_type == "text":
        body = as_str(content.get("body"))
        if body.strip():
            return TextMessage(**common, body=body)
    elif message_type == "interactive":
        kind = as_str(content.get("type"))
        reply = as_dict(content.get(kind))
        reply_id = as_str(reply.get("id"))
        if kind == "button_reply" and reply_id:
            return ButtonReply(**common, reply_id=reply_id, title=as_str(reply.get("title")))
        if kind == "list_reply" and reply_id:
            return ListReply(
                **common,
                reply_id=reply_id,
                title=as_str(reply.get("title")),
                description=as_str(reply.get("description")),
            )
    elif message_type == "button":
        payload = as_str(content.get("payload")) or as_str(content.get("text"))
        if payload:
            return QuickReply(**common, payload=payload, text=as_str(content.get("text")))
    elif message_type == "audio":
        media_id = as_str(content.get("id")).strip()
        if media_id:
            voice = content.get("voice") is True
            return AudioMessage(**common, media_id=media_id, mime_type=as_str(content.get("mime_type"))[:100], voice=voice)
    elif message_type == "location":
        latitude = _coordinate(content.get("latitude"), 90.0)
        longitude = _coordinate(content.get("longitude"), 180.0)
        if latitude is not None and longitude is not None:
            return LocationMessage(**common, latitude=latitude, longitude=longitude)
    common["message_type"] = message_type if message_type in UNSUPPORTED_TYPES else "unsupported"
    return UnsupportedMessage(**common, wire_type=message_type[:40])


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an integer too large for a float
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def _status(raw: Any) -> StatusUpdate | None:
    if not isinstance(raw, dict):
        return None
    message_id = as_str(raw.get("id"))
    status = as_str(raw.get("status"))
    if not message_id or not status:
        return None
    # The recipient: ``recipient_id`` is the phone number (a value with letters is a BSUID),
    # ``recipient_user_id`` the BSUID, ``recipient_parent_user_id`` the parent BSUID; any may be
    # missing (facts: /work/shared/notes/whatsapp-usernames-bsuid.md).
    phone = as_str(raw.get("recipient_id")).strip() or None
    user_id = as_str(raw.get("recipient_user_id")).strip() or None
    if phone is not None and is_bsuid(phone):
        user_id = user_id or phone
        phone = None
    return StatusUpdate(
        message_id=message_id,
        status=status,
        timestamp=_timestamp(raw.get("timestamp")),
        errors=tuple(_errors(raw.get("errors"))),
        phone=phone,
        user_id=user_id,
        parent_user_id=as_str(raw.get("recipient_parent_user_id")).strip() or None,
    )


def _errors(value: Any) -> list[StatusError]:
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if isinstance(item, dict):
            code = item.get("code")
            found.append(
                StatusError(
                    code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                    title=as_str(item.get("title"))[:200],
                )
            )
    return found
