"""Keyed references to a WhatsApp message: dedup keys, log references, Rasa message ids, sent copies.

Why keyed (issue 16 finding 7): a ``wamid`` embeds the sender's phone number (base64), and
Meta, a proxy log or anyone else who holds one could compute ``sha256(label || wamid)`` and
link it to our dedup keys, our log lines and the message ids in the tracker. Every
reference here is ``HMAC-SHA256(reference key, purpose || 0x00 || wamid)`` (RFC 2104), with
the reference key derived from a server secret by HKDF-SHA256 (RFC 5869, info
``blaupause/references/v1``), independent of every user key, pseudonym and the payload-id
keys. Without the server secret a wamid cannot be linked to any of them.

Rotation of the server secret: references made under the *current* secret are used for
everything new. A dedup claim also looks at the keys the message would have under each
*retired* secret (:meth:`References.retired_dedup_keys`), so a message handled before the
rotation and redelivered after it is still recognised as DONE. A message that was *in
flight* at the rotation (claimed or with an unsent outbox under the old key) is handled
once more under the new key: its dialogue may run again and its replies may be sent twice.
Rotate at a quiet moment (docs/privacy.md, key rotation). Log references and Rasa message
ids simply change with the secret; nothing looks them up.

No global state: the webhook core builds one :class:`References` from its keyring at
construction.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field


from privacy.keyring import Keyring, Secret

__all__ = ["REFERENCE_INFO", "References", "reference_key"]

#: HKDF ``info`` of the reference key; bump the version to re-key every reference.
REFERENCE_INFO = b"blaupause/references/v1"

_DEDUP = b"dedup"
_LOG = b"log"
_RASA = b"rasa-message-id"
_SENT_COPY = b"sent-copy"


def reference_key(secret: Secret) -> bytes:
    """The 256-bit HMAC key of message references under one server secret."""
    return secret.derive(REFERENCE_INFO)


def _mac(key: bytes, purpose: bytes, message_id: str) -> str:
    # surrogatepass: a fuzzed id with a lone surrogate must not raise (it gets a reference too).
    data = message_id.encode("utf-8", "surrogatepass")
    return hmac.new(key, purpose + b"\x00" + data, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class References:
    """The keyed references of message ids under one keyring (current secret first)."""

    _current: bytes = field(repr=False)
    _retired: tuple[bytes, ...] = field(default=(), repr=False)

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> "References":
        """References keyed by the keyring's current secret, recognising its retired ones."""
        return cls(reference_key(keyring.current), tuple(reference_key(secret) for secret in keyring.retired))

    def dedup_key(self, message_id: str) -> str:
        """The dedup store's reference of a message (64 hex digits) under the current secret."""
        return _mac(self._current, _DEDUP, message_id)

    def retired_dedup_keys(self, message_id: str) -> tuple[str, ...]:
        """The dedup references the message had under each retired secret (newest first)."""
        return tuple(_mac(key, _DEDUP, message_id) for key in self._retired)

    def log_ref(self, message_id: str) -> str:
        """A short reference for log lines (12 hex digits): correlates one message's lines."""
        return _mac(self._current, _LOG, message_id)[:12]

    def rasa_message_id(self, message_id: str) -> str:
        """The ``message_id`` Rasa stores with the user message (``wa-`` and 32 hex digits)."""
        return "wa-" + _mac(self._current, _RASA, message_id)[:32]

    def sent_copy_key(self, message_id: str) -> str:
        """The store reference of the sealed copy of a reply we sent (its wamid; :mod:`.sent_copies`)."""
        return _mac(self._current, _SENT_COPY, message_id)
