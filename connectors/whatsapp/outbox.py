"""The outbox: a message's rendered replies, sealed for its user, plus how many were sent.

Why an outbox: the dialogue must run once per inbound message, but sending its replies
can fail half-way (Graph API outage, throttling that outlasts the client's retries, a
crash). The channel therefore renders the replies once, stores them here *before* sending
anything, and counts each successful send. A redelivery of the same message (Meta retries
a non-2xx webhook for up to 7 days) finds the outbox and sends only the unsent rest; the
dialogue is not run again. See docs/whatsapp-delivery.md.

Privacy: the rendered messages contain user-facing text that may repeat what the user
said, so they are sealed (AES-256-GCM, :mod:`privacy.sealing`) with the user's data key,
bound to the user's pseudonym and key version. No identifier is ever part of the
outbox: a Graph message object here has neither ``to`` nor ``recipient`` (the address is
rebuilt at send time from the redelivered webhook, the only place the phone number or BSUID
exists). Stored in the clear: the key *version*, the number of messages, the sent count and
the *owner tag* (:func:`privacy.owner_tags.owner_tag`): it lets an
erasure find and drop the person's unsent outboxes (issue 9 item 8) without a pseudonym or
identifier in the dedup store; without the data key (derived from the identifier and the
server secret) it cannot be linked to anyone.

Padding (issue 16 finding 9): the JSON is padded to a size bucket before sealing, like a
tracker record (:func:`privacy.records.pad`: at least 1 KiB, then powers of two), so the
ciphertext length does not tell how long the replies are. Outboxes sealed before padding
(unpadded JSON) still open: a padded payload starts with a 4-byte length prefix that no
JSON text (``[``...) can match (:func:`_payload`).
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from privacy.context import UserKeys
from privacy.errors import DecryptionError
from privacy.owner_tags import owner_tag
from privacy.records import MalformedPayloadError, pad, unpad
from privacy.sealing import REASON_NOT_JSON, seal, unseal

__all__ = ["Outbox", "seal_outbox", "open_outbox", "deliver", "ADDRESS_FIELDS"]

#: Graph message fields that address a person; an outbox message carries none of them.
ADDRESS_FIELDS = ("to", "recipient")


@dataclass(frozen=True)
class Outbox:
    """What the dedup store keeps for a message whose dialogue already ran."""

    blob: bytes = field(repr=False)
    key_version: str
    total: int
    sent: int = 0
    owner: str = ""

    def __post_init__(self) -> None:
        if self.total < 0 or not 0 <= self.sent <= self.total:
            raise ValueError("outbox counts out of range")

    @property
    def remaining(self) -> int:
        """How many messages have not been sent yet."""
        return self.total - self.sent


def _pseudonym_for(user_keys: UserKeys, version: str) -> str:
    if version == user_keys.version:
        return user_keys.pseudonym
    for identity in user_keys.retired:
        if identity.version == version:
            return identity.pseudonym
    return user_keys.pseudonym  # key_for_version below raises UnknownKeyVersionError


def seal_outbox(user_keys: UserKeys, messages: Sequence[Mapping[str, Any]]) -> Outbox:
    """Seal rendered Graph message objects (without an address) under the user's current key."""
    payload = [dict(message) for message in messages]
    if any(name in message for message in payload for name in ADDRESS_FIELDS):
        raise ValueError("outbox messages must not carry the recipient ('to' or 'recipient')")
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    blob = seal(user_keys.key, pad(text), pseudonym=user_keys.pseudonym, key_version=user_keys.version)
    return Outbox(
        blob=blob, key_version=user_keys.version, total=len(payload), sent=0, owner=owner_tag(user_keys.key)
    )


def open_outbox(user_keys: UserKeys, outbox: Outbox) -> list[dict[str, Any]]:
    """Decrypt an outbox with the keys derived from the (redelivered) sender id.

    Works across a key rotation as long as the sealing secret is still in the keyring
    (current or retired). Raises :class:`privacy.errors.DecryptionError` (or its subclass
    ``UnknownKeyVersionError``) when it cannot be opened.
    """
    key = user_keys.key_for_version(outbox.key_version)
    plaintext = unseal(
        key, outbox.blob, pseudonym=_pseudonym_for(user_keys, outbox.key_version), key_version=outbox.key_version
    )
    try:
        messages = json.loads(_payload(plaintext).decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DecryptionError(REASON_NOT_JSON) from error
    if not isinstance(messages, list) or len(messages) != outbox.total or not all(
        isinstance(message, dict) for message in messages
    ):
        raise DecryptionError("outbox content does not match its header")
    return messages


def _payload(plaintext: bytes) -> bytes:
    """The JSON of an opened outbox: unpadded, or as it is for one sealed before padding."""
    try:
        return unpad(plaintext)
    except MalformedPayloadError:
        return plaintext  # an unpadded outbox from before padding (in flight across the upgrade)


async def deliver(
    messages: Sequence[Mapping[str, Any]],
    start: int,
    send: Callable[[Mapping[str, Any]], Awaitable[object]],
    record_sent: Callable[[int], Awaitable[object]],
) -> int:
    """Send ``messages[start:]`` in order, recording the new sent count after each one.

    Stops at the first exception and lets it propagate; everything before it has been
    recorded, so a later attempt resumes exactly after the last confirmed send.
    Returns the final sent count.
    """
    sent = start
    for message in messages[start:]:
        await send(message)
        sent += 1
        await record_sent(sent)
    return sent
