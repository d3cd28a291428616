"""Parse a verified webhook POST body into frozen dataclasses.

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
  read, into :class:`UnsupportedMessage` so the user gets a polite answer, never silence.

Privacy: the profile name in ``contacts`` is never read. The sender id (``from``) and the
message id (a ``wamid`` embeds the sender's phone number in base64) are excluded from
``repr`` so a logged object leaks neither.

Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PayloadError",
    "without_lone_surrogates",
    "InboundMessage",
    "TextMessage",
    "ButtonReply",
    "ListReply",
    "QuickReply",
    "LocationMessage",
    "UnsupportedMessage",
    "StatusError",
    "StatusUpdate",
    "WebhookUpdate",
    "BUSINESS_ACCOUNT_OBJECT",
    "UNSUPPORTED_TYPES",
    "parse_body",
    "parse_update",
]

BUSINESS_ACCOUNT_OBJECT = "whatsapp_business_account"

# Types the assistant cannot read and that the dialogue names in its polite answer
# (docs/contracts.md). Any other type, and a readable type with unusable content, is
# reported to the dialogue as "unsupported".
UNSUPPORTED_TYPES = frozenset(
    {"image", "audio", "video", "document", "sticker", "contacts", "reaction", "order",
     "system", "unsupported"}
)


class PayloadError(ValueError):
    """The body is not a WhatsApp webhook payload (HTTP 400); ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class InboundMessage:
    """Common part of every user message: who, which message, which business number.

    ``sender`` is the user's WhatsApp id (the phone number for now); it must only be used
    to derive the pseudonym and to address the reply, and is kept out of ``repr``.
    """

    message_id: str = field(repr=False)
    sender: str = field(repr=False)
    message_type: str
    timestamp: int | None
    phone_number_id: str | None


@dataclass(frozen=True)
class TextMessage(InboundMessage):
    """``type: text``: the user's typed text."""

    body: str = field(default="", repr=False)


@dataclass(frozen=True)
class ButtonReply(InboundMessage):
    """``type: interactive`` / ``button_reply``: a tap on a reply button; ``reply_id`` carries the payload."""

    reply_id: str = field(default="", repr=False)
    title: str = field(default="", repr=False)


@dataclass(frozen=True)
class ListReply(InboundMessage):
    """``type: interactive`` / ``list_reply``: a tap on a list row; ``reply_id`` carries the payload."""

    reply_id: str = field(default="", repr=False)
    title: str = field(default="", repr=False)
    description: str = field(default="", repr=False)


@dataclass(frozen=True)
class QuickReply(InboundMessage):
    """``type: button``: a tap on a template's quick-reply button; ``payload`` is the developer payload."""

    payload: str = field(default="", repr=False)
    text: str = field(default="", repr=False)


@dataclass(frozen=True)
class LocationMessage(InboundMessage):
    """``type: location``: a shared position. Name and address are not read (not needed)."""

    latitude: float = field(default=0.0, repr=False)
    longitude: float = field(default=0.0, repr=False)


@dataclass(frozen=True)
class UnsupportedMessage(InboundMessage):
    """Anything the assistant cannot read (media, reactions, orders, unknown types, broken content).

    ``message_type`` is one of :data:`UNSUPPORTED_TYPES`; ``wire_type`` is the ``type``
    Meta sent (e.g. ``"interactive"`` for an unknown interactive kind), kept for logs.
    """

    wire_type: str = ""


@dataclass(frozen=True)
class StatusError:
    """One entry of a status' ``errors``: the code and Meta's short title (no details)."""

    code: int | None
    title: str


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery status of a message we sent: sent, delivered, read or failed.

    The recipient id is deliberately not parsed: statuses are only acknowledged and logged.
    """

    message_id: str = field(repr=False)
    status: str
    timestamp: int | None
    errors: tuple[StatusError, ...] = ()


@dataclass(frozen=True)
class WebhookUpdate:
    """Everything one POST carried, in payload order."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    change_errors: tuple[StatusError, ...] = ()
    skipped: int = 0


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
            phone_number_id = _str(_dict(value.get("metadata")).get("phone_number_id")) or None
            for raw in _list(value.get("messages"), "messages"):
                message = _message(raw, phone_number_id)
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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


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


def _message(raw: Any, phone_number_id: str | None) -> InboundMessage | None:
    if not isinstance(raw, dict):
        return None
    message_id = _str(raw.get("id"))
    # ``from`` is the phone-number WhatsApp id; from 2026 a user with a username may be
    # identified only by a business-scoped user id (``from_user_id``). Both are
    # pseudonymised the same way (privacy.identity handles either form).
    sender = _str(raw.get("from")) or _str(raw.get("from_user_id"))
    if not message_id or not sender:
        return None
    message_type = _str(raw.get("type")) or "unsupported"
    common = dict(
        message_id=message_id,
        sender=sender,
        message_type=message_type,
        timestamp=_timestamp(raw.get("timestamp")),
        phone_number_id=phone_number_id,
    )
    content = _dict(raw.get(message_type))
    if message_type == "text":
        body = _str(content.get("body"))
        if body.strip():
            return TextMessage(**common, body=body)
    elif message_type == "interactive":
        kind = _str(content.get("type"))
        reply = _dict(content.get(kind))
        reply_id = _str(reply.get("id"))
        if kind == "button_reply" and reply_id:
            return ButtonReply(**common, reply_id=reply_id, title=_str(reply.get("title")))
        if kind == "list_reply" and reply_id:
            return ListReply(
                **common,
                reply_id=reply_id,
                title=_str(reply.get("title")),
                description=_str(reply.get("description")),
            )
    elif message_type == "button":
        payload = _str(content.get("payload")) or _str(content.get("text"))
        if payload:
            return QuickReply(**common, payload=payload, text=_str(content.get("text")))
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
    message_id = _str(raw.get("id"))
    status = _str(raw.get("status"))
    if not message_id or not status:
        return None
    return StatusUpdate(
        message_id=message_id,
        status=status,
        timestamp=_timestamp(raw.get("timestamp")),
        errors=tuple(_errors(raw.get("errors"))),
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
                    title=_str(item.get("title"))[:200],
                )
            )
    return found
