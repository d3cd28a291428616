"""The stored record and the framing of what gets sealed into it.

A record is all a backend ever sees of a conversation: the pseudonym (Rasa's
``sender_id``), the version of the secret the ciphertext was sealed under, the
ciphertext, and when it was last written (so retention can delete it without
reading it). Nothing else is in clear: no intent or action names, no slot names,
no event counts. The plaintext is padded to a size bucket before sealing, so the
ciphertext length tells an observer only roughly how long a conversation is,
not how long the last message was.

Buckets: at least 1 KiB, then the next power of two, and above 64 KiB the next
multiple of 64 KiB. That bounds the overhead to 2x for small blobs and to one
bucket for large ones; finer schemes (e.g. Padmé from the PURBs paper, PETS 2019)
leak a little less but buy nothing at chat-transcript sizes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = [
    "StoredRecord",
    "MalformedPayloadError",
    "pad",
    "unpad",
    "padded_size",
]

_MIN_BUCKET = 1024
_LINEAR_FROM = 64 * 1024
_LENGTH_PREFIX = struct.Struct(">I")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRecord:
    """One conversation blob as a backend stores it.

    ``updated_at`` is always timezone-aware UTC; backends convert on the way in
    and out so that retention comparisons never mix naive and aware times.
    """

    pseudonym: str
    key_version: str
    ciphertext: bytes
    updated_at: datetime

    def __post_init__(self) -> None:
        if not self.pseudonym:
            raise ValueError("a stored record needs a pseudonym")
        if not self.key_version:
            raise ValueError("a stored record needs a key version")
        if self.updated_at.tzinfo is None:
            raise ValueError("updated_at must be timezone-aware (UTC)")
        object.__setattr__(self, "updated_at", self.updated_at.astimezone(timezone.utc))

    def __repr__(self) -> str:
        # Keep ciphertext out of logs and tracebacks; its length is bucketed anyway.
        return (
            f"StoredRecord(pseudonym={self.pseudonym!r}, key_version={self.key_version!r}, "
            f"ciphertext=<{len(self.ciphertext)} bytes>, updated_at={self.updated_at.isoformat()})"
        )


class MalformedPayloadError(ValueError):
    """A decrypted payload does not carry the padding frame this module writes.

    Only reachable with a valid authentication tag, i.e. a bug or a foreign writer
    using the same key, never through tampering (which fails decryption first).
    """


def padded_size(length: int) -> int:
    """Size of the bucket that a framed payload of ``length`` bytes is padded to."""
    if length < 0:
        raise ValueError("length must not be negative")
    if length <= _MIN_BUCKET:
        return _MIN_BUCKET
    if length <= _LINEAR_FROM:
        return 1 << (length - 1).bit_length()
    return -(-length // _LINEAR_FROM) * _LINEAR_FROM


def pad(payload: bytes) -> bytes:
    """Frame ``payload`` with its length and zero-pad it to its bucket."""
    framed = _LENGTH_PREFIX.pack(len(payload)) + payload
    return framed + b"\x00" * (padded_size(len(framed)) - len(framed))


def unpad(padded: bytes) -> bytes:
    """Undo :func:`pad`; raise :class:`MalformedPayloadError` for anything else."""
    if len(padded) < _LENGTH_PREFIX.size:
        raise MalformedPayloadError("payload shorter than its length prefix")
    (length,) = _LENGTH_PREFIX.unpack_from(padded)
    end = _LENGTH_PREFIX.size + length
    if len(padded) != padded_size(end) or any(padded[end:]):
        raise MalformedPayloadError("payload length prefix does not match its padding")
    return padded[_LENGTH_PREFIX.size:end]
