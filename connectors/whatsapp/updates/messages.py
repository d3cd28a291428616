"""What one webhook POST carries, as frozen dataclasses: user messages, identity changes, statuses.

Why a module of its own: the intake, the turn and the tests read these types; only the parser
(:mod:`.parser`) builds them. Meta's shapes:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components and
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples.

Privacy: every identifier (phone number, BSUID, parent BSUID), the username, the profile name
and the message id (a ``wamid`` embeds the sender's phone number in base64) is excluded from
``repr``, so a logged object leaks none of them; message content is excluded as well.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BUSINESS_ACCOUNT_OBJECT",
    "UNSUPPORTED_TYPES",
    "IDENTITY_CHANGE_TYPES",
    "InboundMessage",
    "TextMessage",
    "ButtonReply",
    "ListReply",
    "QuickReply",
    "LocationMessage",
    "AudioMessage",
    "UnsupportedMessage",
    "IdentityChange",
    "StatusError",
    "StatusUpdate",
    "WebhookUpdate",
]

BUSINESS_ACCOUNT_OBJECT = "whatsapp_business_account"

# Types the assistant cannot read and that the dialogue names in its polite answer
# (``utter_unsupported_message`` in domain.yml; the payload is built in connectors/whatsapp/inbound.py). Any other type, and a readable type with unusable content, is
# reported to the dialogue as "unsupported".
UNSUPPORTED_TYPES = frozenset(
    {"image", "audio", "video", "document", "sticker", "contacts", "reaction", "order",
     "system", "unsupported"}
)

#: ``system.type`` values that announce a new identity of the user (the conversation moves).
IDENTITY_CHANGE_TYPES = frozenset({"user_changed_number", "user_changed_user_id"})


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
class AudioMessage(InboundMessage):
    """``type: audio``: a voice note (``voice`` true, Opus in Ogg) or an audio file.

    Only the media id and the announced mime type arrive; the bytes are fetched with the
    access token (:mod:`connectors.whatsapp.media`) and transcribed in memory
    (:mod:`connectors.whatsapp.voice`). The media id names the recording at Meta, so it is
    kept out of ``repr`` and masked in logs like an identifier.
    Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components (audio).
    """

    media_id: str = field(default="", repr=False)
    mime_type: str = ""
    voice: bool = False


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

    The recipient's identifiers (``recipient_id``: the phone number; ``recipient_user_id`` and
    ``recipient_parent_user_id``: BSUIDs) are read only so that a failed delivery can be
    recorded in the person's encrypted conversation and retried
    (:mod:`connectors.whatsapp.delivery_statuses`). Like every identifier they exist in memory
    only, are kept out of ``repr`` and are registered as sensitive before anything is logged.
    """

    message_id: str = field(repr=False)
    status: str
    timestamp: int | None
    errors: tuple[StatusError, ...] = ()
    phone: str | None = field(default=None, repr=False, kw_only=True)
    user_id: str | None = field(default=None, repr=False, kw_only=True)
    parent_user_id: str | None = field(default=None, repr=False, kw_only=True)

    def identifiers(self) -> tuple[str, ...]:
        """Every identifier of the recipient this status carried (to mask in logs)."""
        return tuple(v for v in (self.phone, self.user_id, self.parent_user_id) if v)

    @property
    def code(self) -> int | None:
        """The first error's code (Meta sends one error per failed status), else None."""
        return self.errors[0].code if self.errors else None


@dataclass(frozen=True)
class WebhookUpdate:
    """Everything one POST carried, in payload order."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    change_errors: tuple[StatusError, ...] = ()
    skipped: int = 0
