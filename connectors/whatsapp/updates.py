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

Identifiers (issue 9; facts in /work/shared/notes/whatsapp-usernames-bsuid.md): a message may
carry the phone number (``messages[].from``, ``contacts[].wa_id``), the business-scoped user id
(BSUID: ``messages[].from_user_id``, ``contacts[].user_id``), the parent BSUID of linked
portfolios (``contacts[].parent_user_id``) and the username (``contacts[].profile.username``,
personal data, no identifier). The phone number is present only while Meta shares it with the
business, so any of them may be missing; a message with only ``from_user_id`` is a normal
message. Each message is completed from its ``contacts[]`` entry (matched by ``user_id`` or
``wa_id``; a single contact of a value whose messages all come from one sender matches that
sender). System messages ``user_changed_number`` / ``user_changed_user_id`` become
:class:`IdentityChange` (they carry no ``contacts``).

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
    "IdentityChange",
    "IDENTITY_CHANGE_TYPES",
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
# (docs/whatsapp-delivery.md, "What Rasa receives"). Any other type, and a readable type with
# unusable content, is reported to the dialogue as "unsupported".
UNSUPPORTED_TYPES = frozenset(
    {"image", "audio", "video", "document", "sticker", "contacts", "reaction", "order",
     "system", "unsupported"}
)

#: ``system.type`` values that announce a new identity of the user (the conversation moves).
IDENTITY_CHANGE_TYPES = frozenset({"user_changed_number", "user_changed_user_id"})


class PayloadError(ValueError):
    """The body is not a WhatsApp webhook payload (HTTP 400); ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class InboundMessage:
    """Common part of every user message: who, which message, which business number.

    ``sender`` is the identifier the message itself names (the phone number when present,
    else the BSUID). ``phone``, ``user_id`` and ``parent_user_id`` are every identifier this
    webhook carried for the sender (message and matching ``contacts[]`` entry), ``username``
    the username if any. They exist only to derive the pseudonym and keys and to address the
    reply, and are all kept out of ``repr``.
    """

    message_id: str = field(repr=False)
    sender: str = field(repr=False)
    message_type: str
    timestamp: int | None
    phone_number_id: str | None
    phone: str | None = field(default=None, repr=False, kw_only=True)
    user_id: str | None = field(default=None, repr=False, kw_only=True)
    parent_user_id: str | None = field(default=None, repr=False, kw_only=True)
    username: str | None = field(default=None, repr=False, kw_only=True)
    profile_name: str | None = field(default=None, repr=False, kw_only=True)

    def identifiers(self) -> tuple[str, ...]:
        """Every identifier and the username this message carried (to mask in logs)."""
        return tuple(v for v in (self.sender, self.phone, self.user_id, self.parent_user_id, self.username) if v)


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
class IdentityChange(InboundMessage):
    """``type: system`` announcing that the user's number or BSUID changed.

    ``change`` is ``user_changed_number`` or ``user_changed_user_id``. For a number change the
    message's ``from`` is the old number and ``system.new_wa_id`` (older payloads: ``wa_id``)
    the new one; the previous and new BSUIDs come in ``system.previous_user_id`` /
    ``system.user_id`` (the new one also as the message's ``from_user_id``), likewise for
    parent BSUIDs. A BSUID change keeps the number (if any) on both sides. The channel moves
    the conversation from the previous identity to the new one and sends no chat reply.
    Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components (system).
    """

    change: str = ""
    previous_phone: str | None = field(default=None, repr=False)
    previous_user_id: str | None = field(default=None, repr=False)
    previous_parent_user_id: str | None = field(default=None, repr=False)
    new_phone: str | None = field(default=None, repr=False)
    new_user_id: str | None = field(default=None, repr=False)
    new_parent_user_id: str | None = field(default=None, repr=False)

    def identifiers(self) -> tuple[str, ...]:
        changed = (
            self.previous_phone, self.previous_user_id, self.previous_parent_user_id,
            self.new_phone, self.new_user_id, self.new_parent_user_id,
        )
        return super().identifiers() + tuple(v for v in changed if v)


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
            raw_messages = _list(value.get("messages"), "messages")
            contacts = _Contacts(value.get("contacts"), raw_messages)
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


def _is_bsuid(identifier: str) -> bool:
    # Same rule as recipient.looks_like_bsuid / privacy.identity.is_bsuid: a letter means a BSUID.
    return any(ch.isalpha() for ch in identifier)


def _own_ids(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """(phone, BSUID) named by the message itself; a ``from`` with letters is taken as a BSUID."""
    phone = _str(raw.get("from")).strip() or None
    user_id = _str(raw.get("from_user_id")).strip() or None
    if phone is not None and _is_bsuid(phone):
        user_id = user_id or phone
        phone = None
    return phone, user_id


@dataclass(frozen=True)
class _Contact:
    phone: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)
    parent_user_id: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    profile_name: str | None = field(default=None, repr=False)

    def conflicts(self, phone: str | None, user_id: str | None) -> bool:
        return bool(
            (phone and self.phone and phone != self.phone) or (user_id and self.user_id and user_id != self.user_id)
        )


class _Contacts:
    """The ``contacts[]`` of one change value, matched to its messages.

    A contact matches a message that names its ``user_id`` or its ``wa_id``. When the value
    has exactly one contact and all its messages come from one sender, that contact belongs
    to them (unless an identifier contradicts it). The profile name is read only to be masked.
    """

    def __init__(self, raw_contacts: Any, raw_messages: list[Any]) -> None:
        items = raw_contacts if isinstance(raw_contacts, list) else []
        self._contacts = [self._parse(item) for item in items if isinstance(item, dict)]
        senders = {_own_ids(raw) for raw in raw_messages if isinstance(raw, dict)}
        self._single = self._contacts[0] if len(self._contacts) == 1 and len(senders) == 1 else None

    @staticmethod
    def _parse(item: dict[str, Any]) -> _Contact:
        phone = _str(item.get("wa_id")).strip() or None
        user_id = _str(item.get("user_id")).strip() or None
        if phone is not None and _is_bsuid(phone):
            user_id = user_id or phone
            phone = None
        return _Contact(
            phone=phone,
            user_id=user_id,
            parent_user_id=_str(item.get("parent_user_id")).strip() or None,
            username=_str(_dict(item.get("profile")).get("username")).strip() or None,
            profile_name=_str(_dict(item.get("profile")).get("name")).strip()[:200] or None,
        )

    def match(self, phone: str | None, user_id: str | None) -> _Contact:
        for contact in self._contacts:
            if (user_id and contact.user_id == user_id) or (phone and contact.phone == phone):
                if not contact.conflicts(phone, user_id):
                    return contact
        if self._single is not None and not self._single.conflicts(phone, user_id):
            return self._single
        return _Contact()


def _message(raw: Any, phone_number_id: str | None, contacts: _Contacts | None = None) -> InboundMessage | None:
    if not isinstance(raw, dict):
        return None
    message_id = _str(raw.get("id"))
    # ``from`` is the phone number; since 2026 every message also carries the business-scoped
    # user id (``from_user_id``), and a user whose number Meta does not share is identified by
    # it alone. Both are pseudonymised (privacy.identity handles either form).
    own_phone, own_user_id = _own_ids(raw)
    contact = (contacts or _Contacts(None, [])).match(own_phone, own_user_id)
    phone = own_phone or contact.phone
    user_id = own_user_id or contact.user_id
    sender = own_phone or own_user_id or phone or user_id
    if not message_id or not sender:
        return None
    message_type = _str(raw.get("type")) or "unsupported"
    common: dict[str, Any] = dict(
        message_id=message_id,
        sender=sender,
        message_type=message_type,
        timestamp=_timestamp(raw.get("timestamp")),
        phone_number_id=phone_number_id,
        phone=phone,
        user_id=user_id,
        parent_user_id=contact.parent_user_id or (_str(raw.get("from_parent_user_id")).strip() or None),
        username=contact.username,
        profile_name=contact.profile_name,
    )
    content = _dict(raw.get(message_type))
    if message_type == "system":
        change = _identity_change(common, content)
        if change is not None:
            return change
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


def _opt(content: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = _str(content.get(name)).strip()
        if value:
            return value
    return None


def _identity_change(common: dict[str, Any], content: dict[str, Any]) -> IdentityChange | None:
    """The :class:`IdentityChange` a system message announces, or None for other system types."""
    change = _str(content.get("type"))
    if change not in IDENTITY_CHANGE_TYPES:
        return None
    phone, user_id = common["phone"], common["user_id"]
    previous_user_id = _opt(content, "previous_user_id")
    new_user_id = _opt(content, "user_id", "new_user_id")
    if change == "user_changed_number":
        previous_phone = phone
        new_phone = _opt(content, "new_wa_id", "wa_id")
        # No BSUID change announced: from_user_id is the user's unchanged BSUID. Otherwise it
        # names the new one (when the system object does not), unless it is the previous one.
        if previous_user_id is None and new_user_id is None:
            previous_user_id = new_user_id = user_id
        elif new_user_id is None and user_id and user_id != previous_user_id:
            new_user_id = user_id
    else:
        previous_phone = new_phone = phone  # a BSUID change keeps the number
        if new_user_id is None and user_id and user_id != previous_user_id:
            new_user_id = user_id
    previous_parent = _opt(content, "previous_parent_user_id")
    new_parent = _opt(content, "parent_user_id", "new_parent_user_id")
    common = dict(common, phone=new_phone or phone, user_id=new_user_id or user_id,
                  parent_user_id=new_parent or common["parent_user_id"])
    return IdentityChange(
        **common,
        change=change,
        previous_phone=previous_phone,
        previous_user_id=previous_user_id,
        previous_parent_user_id=previous_parent,
        new_phone=new_phone,
        new_user_id=new_user_id,
        new_parent_user_id=new_parent,
    )


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
