"""Sealing of stored payload-id values: what Redis keeps is never the payload in clear.

Why (issue 9 item 8): long payloads and paging state are dialogue content (the titles and
payloads of the options shown to one user, e.g. the job offers of their search), so in Redis
each value is sealed with AES-256-GCM (:mod:`privacy.sealing`) under a key derived from the
server secret (HKDF-SHA256, RFC 5869, info ``blaupause/payload-ids/v1``; independent of every
user key), padded like tracker records and bound to its token (the token is the associated
data, so a value cannot be moved under another token). Stored: ``<key version> NUL <sealed
blob>``. Values sealed under a retired secret still open while that secret is in the keyring.
"""
from __future__ import annotations

from privacy.errors import DecryptionError
from privacy.keyring import Keyring, Secret
from privacy.records import MalformedPayloadError, pad, unpad
from privacy.sealing import seal, unseal

__all__ = ["payload_ids_key", "PayloadSealer"]

_SEALING_INFO = b"blaupause/payload-ids/v1"
_VERSION_SEPARATOR = b"\x00"


def payload_ids_key(secret: Secret) -> bytes:
    """The AES-256 key that seals payload ids under one server secret (HKDF-SHA256, RFC 5869)."""
    return secret.derive(_SEALING_INFO)


class PayloadSealer:
    """Seals and opens stored payload-id values with keys derived from the keyring's secrets."""

    def __init__(self, keyring: Keyring) -> None:
        secrets_ = (keyring.current, *keyring.retired)
        self._keys = {secret.version: payload_ids_key(secret) for secret in secrets_}
        self._version = keyring.current.version

    def __repr__(self) -> str:
        return f"PayloadSealer(version={self._version!r})"

    def seal(self, token: str, value: str) -> bytes:
        """``<version> NUL <AES-GCM(pad(value))>`` bound to ``token``."""
        blob = seal(self._keys[self._version], pad(value.encode("utf-8")), pseudonym=token, key_version=self._version)
        return self._version.encode("ascii") + _VERSION_SEPARATOR + blob

    def open(self, token: str, stored: bytes) -> str:
        """The value sealed for ``token``; :class:`DecryptionError` if it cannot be opened."""
        version_raw, separator, blob = stored.partition(_VERSION_SEPARATOR)
        version = version_raw.decode("ascii", errors="replace")
        key = self._keys.get(version)
        if not separator or key is None:
            raise DecryptionError("payload id sealed under an unknown key version")
        try:
            return unpad(unseal(key, blob, pseudonym=token, key_version=version)).decode("utf-8")
        except (MalformedPayloadError, UnicodeDecodeError) as error:
            raise DecryptionError("payload id content is malformed") from error
