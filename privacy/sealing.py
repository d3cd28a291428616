"""Authenticated encryption of one user's record: AES-256-GCM with bound context.

Why GCM with associated data: the store holds many users' blobs under their
pseudonyms. Encryption alone would let someone with database access move a blob to
another pseudonym or relabel it with another key version; binding both into the
associated data makes any such move fail authentication, exactly like a flipped bit.

Construction (NIST SP 800-38D, AES-256-GCM via ``cryptography``'s ``AESGCM``)::

    blob = format_version (1 byte, currently 0x01)
         | nonce (12 bytes, fresh from the OS CSPRNG for every call)
         | ciphertext || tag (16 bytes)

    aad  = b"blaupause/v1" | format_version (1 byte)
         | len(key_version) (2 bytes, big endian) | key_version (UTF-8)
         | len(pseudonym)   (2 bytes, big endian) | pseudonym   (UTF-8)
        [| len(purpose)     (2 bytes, big endian) | purpose     (UTF-8)]   only when given

The length prefixes make the encoding injective (no two (version, pseudonym) pairs
give the same bytes). Random 96-bit nonces are safe for far more than the number of
writes one user's key will ever see (SP 800-38D section 8.3 limits a key to 2**32
random-nonce invocations; every user has their own key).

``DecryptionError.reason`` is one of a few fixed strings and never contains key
material or plaintext.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.errors import DecryptionError

__all__ = [
    "FORMAT_VERSION",
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "OVERHEAD",
    "REASON_TRUNCATED",
    "REASON_AUTH",
    "REASON_NOT_JSON",
    "seal",
    "unseal",
    "seal_json",
    "unseal_json",
    "associated_data",
]

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES

_AAD_LABEL = b"blaupause/v1"
_MAX_FIELD_BYTES = 0xFFFF

REASON_TRUNCATED = "truncated blob"
REASON_AUTH = "authentication failed (wrong key, pseudonym or key version, or tampered data)"
REASON_NOT_JSON = "sealed payload is not UTF-8 JSON"


def _field(name: str, value: str) -> bytes:
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{name} must be a non-empty str")
    encoded = value.encode("utf-8")
    if len(encoded) > _MAX_FIELD_BYTES:
        raise ValueError(f"{name} is too long")
    return len(encoded).to_bytes(2, "big") + encoded


def associated_data(
    *, pseudonym: str, key_version: str, format_version: int = FORMAT_VERSION, purpose: str | None = None
) -> bytes:
    """The GCM associated data binding a blob to its pseudonym and key version (and purpose).

    ``purpose`` (e.g. ``"conversation-key"`` for a wrapped key) is appended as a third
    length-prefixed field when given, so a blob sealed for one purpose never opens as
    another; without it the bytes are exactly those of earlier releases.
    """
    aad = (
        _AAD_LABEL
        + bytes([format_version])
        + _field("key_version", key_version)
        + _field("pseudonym", pseudonym)
    )
    return aad if purpose is None else aad + _field("purpose", purpose)


def _aead(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"key must be {KEY_BYTES} bytes (AES-256)")
    return AESGCM(key)


def seal(key: bytes, plaintext: bytes, *, pseudonym: str, key_version: str, purpose: str | None = None) -> bytes:
    """Encrypt and authenticate ``plaintext`` for one user and key version.

    Every call uses a fresh random nonce, so sealing the same plaintext twice gives
    different blobs. ``ValueError``/``TypeError`` on a wrong key size or argument type.
    """
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise TypeError("plaintext must be bytes")
    aad = associated_data(pseudonym=pseudonym, key_version=key_version, purpose=purpose)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = _aead(key).encrypt(nonce, bytes(plaintext), aad)
    return bytes([FORMAT_VERSION]) + nonce + ciphertext


def unseal(key: bytes, blob: bytes, *, pseudonym: str, key_version: str, purpose: str | None = None) -> bytes:
    """Decrypt a blob made by :func:`seal` with the same key, pseudonym and key version.

    Raises ``DecryptionError`` for a truncated blob, an unknown format version, a wrong
    key, pseudonym or key version, or any modified byte.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError("blob must be bytes")
    blob = bytes(blob)
    aead = _aead(key)
    aad = associated_data(pseudonym=pseudonym, key_version=key_version, purpose=purpose)
    if len(blob) < OVERHEAD:
        raise DecryptionError(REASON_TRUNCATED)
    if blob[0] != FORMAT_VERSION:
        raise DecryptionError(f"unknown format version {blob[0]}")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[1 + NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise DecryptionError(REASON_AUTH) from exc


def seal_json(key: bytes, obj: Any, *, pseudonym: str, key_version: str) -> bytes:
    """Seal a JSON-serialisable value as compact UTF-8 JSON (no NaN/Infinity)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return seal(key, text.encode("utf-8"), pseudonym=pseudonym, key_version=key_version)


def unseal_json(key: bytes, blob: bytes, *, pseudonym: str, key_version: str) -> Any:
    """Inverse of :func:`seal_json`; ``DecryptionError`` also if the payload is not JSON."""
    plaintext = unseal(key, blob, pseudonym=pseudonym, key_version=key_version)
    try:
        return json.loads(plaintext.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DecryptionError(REASON_NOT_JSON) from exc
