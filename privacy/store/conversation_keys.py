"""Sealing records under a per-person conversation key, and finding that key (crypto-shredding).

Why conversation keys (issue 16 item 2): the data key is a fixed function of (secret,
identifier), so anything sealed directly under it stays readable in every old copy
(SQLite ``-wal``, PostgreSQL dead tuples and WAL archives, Redis AOF/RDB, backups) for as
long as the secret exists. So each person gets a random 256-bit *conversation key*
(:func:`secrets.token_bytes`), stored only wrapped: sealed under the data key with
AES-GCM, the associated data bound to pseudonym, key version and the purpose
``conversation-key`` (:func:`privacy.sealing.seal`), padded like every record, in a third
namespace (SQL table ``<table>_keys``, Redis ``<prefix><table>_keys:``). Live and archive
records are sealed under an HKDF-SHA256 sub-key of it per namespace (RFC 5869, info
``blaupause/conversation/live|archive``). The key is created on a person's first save
with an atomic insert-if-absent (:meth:`privacy.backends.BlobBackend.add`), so instances
racing on it agree, and never rewritten (Redis: its TTL is restarted on each save).
Records of the earlier format (sealed under the data key itself) are still read, and the
next save seals the live record and the archive anew under a fresh conversation key.
Destroying the wrapped key is the erasure (:mod:`privacy.store.shredding`).
"""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import replace
from typing import Any, Optional

from privacy.backends import CorruptRecordError
from privacy.errors import DecryptionError
from privacy.keyring import derive_key
from privacy.memo import recall, remember
from privacy.records import MalformedPayloadError, StoredRecord, pad, unpad
from privacy.sealing import seal, unseal
from privacy.store.identities import _Identity
from privacy.store.metrics import count_crypto_error, crypto_kind
from privacy.store.sessions import _both, _now
from privacy.store.shredding import _quiet_get

__all__ = ["ConversationKeys"]

logger = logging.getLogger(__name__)

_PAYLOAD_FORMAT = 1
_UNREADABLE = (DecryptionError, CorruptRecordError, MalformedPayloadError)
_RESOLVED = "privacy.store.conversation_key"
_KEY_PURPOSE = "conversation-key"
_KEY_BYTES = 32
_RECORD_PURPOSE = {"events": "live", "sessions": "archive"}


def _record_key(conversation_key: bytes, purpose: str) -> bytes:
    """The sub-key for one namespace (``live``/``archive``): HKDF-SHA256 (RFC 5869) of the conversation key.

    Separate keys per purpose mean a live record copied into the archive (or back)
    fails authentication, on top of the pseudonym/version binding of the AAD.
    """
    info = b"blaupause/conversation/" + purpose.encode("ascii")
    return derive_key(conversation_key, info)


class ConversationKeys:
    """Part of :class:`~privacy.store.encrypted.EncryptedTrackerStore`: sealing, opening, key records.

    Expects ``self.backends`` (:class:`privacy.backends.ConversationBackends`).
    """

    backends: Any

    # ------------------------------------------------------------- sealing
    def _seal(self, identity: _Identity, payload: dict[str, Any]) -> StoredRecord:
        """Seal a live (``events``) or archive (``sessions``) document under the conversation key."""
        if identity.conversation_key is None:
            raise ValueError("records are sealed under a conversation key; resolve with create=True first")
        purpose = _RECORD_PURPOSE["sessions" if "sessions" in payload else "events"]
        document = {"format": _PAYLOAD_FORMAT, **payload}
        plaintext = pad(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        try:
            ciphertext = seal(
                _record_key(identity.conversation_key, purpose),
                plaintext,
                pseudonym=identity.pseudonym,
                key_version=identity.version,
            )
        except (TypeError, ValueError):
            count_crypto_error("encrypt")
            raise
        return StoredRecord(
            pseudonym=identity.pseudonym, key_version=identity.version, ciphertext=ciphertext, updated_at=_now()
        )

    def _seal_live(self, identity: _Identity, events: list[dict[str, Any]], settled: frozenset[str]) -> StoredRecord:
        payload: dict[str, Any] = {"events": events}
        if settled:
            payload["aliases_settled"] = sorted(settled)
        return self._seal(identity, payload)

    @staticmethod
    def _open_document(identity: _Identity, record: StoredRecord, field: str) -> dict[str, Any]:
        """Decrypt ``record``; the document, checked to carry a ``field`` list; ``_UNREADABLE`` otherwise."""
        if record.key_version != identity.version:
            raise DecryptionError(f"record is labelled with key version {record.key_version!r}, expected another")
        keys = [identity.key]  # the format before conversation keys: sealed under the data key itself
        if identity.conversation_key is not None:
            keys.insert(0, _record_key(identity.conversation_key, _RECORD_PURPOSE[field]))
        for index, key in enumerate(keys):
            try:
                sealed = unseal(key, record.ciphertext, pseudonym=identity.pseudonym, key_version=identity.version)
                break
            except DecryptionError:
                if index == len(keys) - 1:
                    raise
        plaintext = unpad(sealed)
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except ValueError as error:
            raise MalformedPayloadError("sealed payload is not UTF-8 JSON") from error
        if not isinstance(document, dict) or document.get("format") != _PAYLOAD_FORMAT:
            raise MalformedPayloadError("sealed payload has an unknown format")
        if not isinstance(document.get(field), list):
            raise MalformedPayloadError(f"sealed payload lacks {field!r}")
        return document

    @classmethod
    def _open(cls, identity: _Identity, record: StoredRecord, field: str) -> list[Any]:
        """Decrypt ``record`` and return its ``field`` list; ``_UNREADABLE`` errors otherwise."""
        return cls._open_document(identity, record, field)[field]

    @staticmethod
    def _warn_unreadable(kind: str, pseudonym: str, error: Exception) -> None:
        """Every record the store gives up on passes here: a failed unsealing is counted in
        ``blaupause_crypto_errors`` (an opened record Rasa cannot replay is not a crypto error)."""
        if isinstance(error, _UNREADABLE):
            count_crypto_error(crypto_kind(error))
        logger.warning(
            "Discarding unreadable %s record of %s (%s: %s); the conversation starts afresh",
            kind,
            pseudonym,
            type(error).__name__,
            getattr(error, "reason", "payload check failed"),
        )

    # ------------------------------------------------- conversation keys
    @staticmethod
    def _wrap(identity: _Identity, conversation_key: bytes) -> StoredRecord:
        """The key record: the conversation key sealed under the identity's data key, padded."""
        ciphertext = seal(
            identity.key,
            pad(conversation_key),
            pseudonym=identity.pseudonym,
            key_version=identity.version,
            purpose=_KEY_PURPOSE,
        )
        return StoredRecord(
            pseudonym=identity.pseudonym, key_version=identity.version, ciphertext=ciphertext, updated_at=_now()
        )

    @staticmethod
    def _unwrap(identity: _Identity, record: StoredRecord) -> bytes:
        if record.key_version != identity.version:
            raise DecryptionError(f"key record is labelled with key version {record.key_version!r}, expected another")
        key = unpad(
            unseal(
                identity.key,
                record.ciphertext,
                pseudonym=identity.pseudonym,
                key_version=identity.version,
                purpose=_KEY_PURPOSE,
            )
        )
        if len(key) != _KEY_BYTES:
            raise MalformedPayloadError("a conversation key has 32 bytes")
        return key

    async def _resolve(self, identity: _Identity, *, create: bool = False) -> _Identity:
        """``identity`` with its tombstone time and unwrapped conversation key (created if asked).

        A key record written at or before the pseudonym's tombstone is a stale copy
        (a racing save, a restored backup) and is deleted, as is an unreadable one
        when a new key is created. The result is kept for the rest of the request
        (bound user's anchor only), so a save after a retrieve reads nothing again.
        """
        if identity.resolved and (identity.conversation_key is not None or not create):
            return identity
        cached = recall(identity.pseudonym, _RESOLVED)
        if (
            isinstance(cached, _Identity)
            and cached.pseudonym == identity.pseudonym
            and cached.version == identity.version
            and (cached.conversation_key is not None or not create)
        ):
            return cached
        tombstone, wrapped = await _both(
            _quiet_get(self.backends.erased, identity.pseudonym),
            self._get_raw(self.backends.keys, identity.pseudonym, "key"),
        )
        erased_at = tombstone.updated_at if tombstone is not None else None
        if wrapped is not None and erased_at is not None and wrapped.updated_at <= erased_at:
            await self.backends.keys.delete(identity.pseudonym)
            logger.info("Deleted a key record of %s written before its erasure", identity.pseudonym)
            wrapped = None
        conversation_key: Optional[bytes] = None
        if wrapped is not None:
            try:
                conversation_key = self._unwrap(identity, wrapped)
            except _UNREADABLE as error:
                self._warn_unreadable("key", identity.pseudonym, error)
        fresh = False
        if conversation_key is None and create:
            if wrapped is not None:
                await self.backends.keys.delete(identity.pseudonym)
            candidate_key = secrets.token_bytes(_KEY_BYTES)
            candidate = self._wrap(identity, candidate_key)
            stored = await self.backends.keys.add(candidate)
            if stored.ciphertext == candidate.ciphertext:
                conversation_key, fresh = candidate_key, True
            else:  # another instance created it first: use theirs
                try:
                    conversation_key = self._unwrap(identity, stored)
                except _UNREADABLE as error:
                    count_crypto_error(crypto_kind(error))
                    raise
        resolved = replace(
            identity, conversation_key=conversation_key, erased_at=erased_at, resolved=True, fresh=fresh
        )
        remember(identity.pseudonym, _RESOLVED, resolved)
        return resolved


    async def _get_raw(self, backend: Any, pseudonym: str, kind: str) -> Optional[StoredRecord]:
        try:
            return await backend.get(pseudonym)
        except CorruptRecordError as error:
            self._warn_unreadable(kind, pseudonym, error)
            return None

    async def _get(self, backend: Any, identity: _Identity, kind: str) -> Optional[StoredRecord]:
        """The identity's record in ``backend``; one written at or before its tombstone is deleted, not returned."""
        if not identity.resolved:
            raise ValueError("resolve the identity first")
        return await self._unless_erased(backend, identity, await self._get_raw(backend, identity.pseudonym, kind), kind)

    async def _unless_erased(
        self, backend: Any, identity: _Identity, record: Optional[StoredRecord], kind: str
    ) -> Optional[StoredRecord]:
        """``record``, unless it was written at or before the identity's tombstone: then it is deleted."""
        if record is not None and identity.erased_at is not None and record.updated_at <= identity.erased_at:
            await backend.delete(identity.pseudonym)
            logger.info("Deleted a %s record of %s written before its erasure", kind, identity.pseudonym)
            return None
        return record
