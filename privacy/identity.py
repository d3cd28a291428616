"""From a WhatsApp user id to a pseudonym and a per-user data key.

Why: the tracker store, the lock store and the logs must never see a phone number.
Everything downstream of the channel uses a *pseudonym* (a keyed hash, stable while
the server secret is unchanged) as the Rasa ``sender_id``, and encrypts the user's
data with a *data key* derived from the same secret and id. Without the secret,
neither can be computed from a phone number, and the data key cannot be computed from
the pseudonym or from anything that is stored.

Identifiers (WhatsApp Cloud API webhooks,
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples):

* ``wa_id`` is the user's phone number in international format without ``+``
  (``4915550000001``). Humans and some tools format it (``+49 155 5000-0001``,
  ``0049 155 50000001``); :func:`normalize_wa_id` maps all of these to the same digits.
* Business-scoped user ids (BSUIDs), announced by Meta for users with usernames, are
  opaque strings containing letters. Any identifier containing a letter is treated as
  a BSUID. It is compared case-insensitively (``str.casefold``) and lives in its own
  namespace (``bsuid:`` vs ``tel:`` in the derivation input) so it can never collide
  with a phone number.

Derivations (RFC 2104 HMAC-SHA256, RFC 5869 HKDF-SHA256)::

    ns(id)     = b"tel:" + digits           | b"bsuid:" + utf8(casefolded id)
    pseudonym  = "u_" + base32lower(HMAC(secret, b"blaupause/pseudonym\\x00" + ns)[:20])
    data_key   = HKDF(ikm=HMAC(secret, b"blaupause/data-key\\x00" + ns),
                      salt=None, info=b"blaupause/data-key/v1", length=32)

The pseudonym is 160 bits in 32 lowercase base32 characters (RFC 4648, no padding):
safe in URLs, Redis keys, file names and case-insensitive databases. The two HMAC
inputs differ in their label, so the data key and the pseudonym are independent PRF
outputs; knowing one tells nothing about the other.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacy.errors import InvalidIdentifierError
from privacy.keyring import SECRET_BYTES, Secret

__all__ = [
    "PSEUDONYM_PREFIX",
    "DATA_KEY_BYTES",
    "MIN_PHONE_DIGITS",
    "MAX_PHONE_DIGITS",
    "normalize_wa_id",
    "is_bsuid",
    "pseudonym",
    "data_key",
]

PSEUDONYM_PREFIX = "u_"
DATA_KEY_BYTES = 32
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15  # ITU-T E.164 maximum
_MAX_BSUID_CHARS = 256
_PSEUDONYM_BYTES = 20

_PSEUDONYM_LABEL = b"blaupause/pseudonym\x00"
_DATA_KEY_LABEL = b"blaupause/data-key\x00"
_DATA_KEY_INFO = b"blaupause/data-key/v1"

_PHONE_SEPARATORS = re.compile(r"[\s\-./()]")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def is_bsuid(identifier: str) -> bool:
    """True if the identifier is a business-scoped user id (it contains a letter)."""
    return any(ch.isalpha() for ch in identifier)


def _normalize_bsuid(raw: str) -> str:
    value = raw.strip().casefold()
    if len(value) > _MAX_BSUID_CHARS:
        raise InvalidIdentifierError(f"business-scoped user id is longer than {_MAX_BSUID_CHARS} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InvalidIdentifierError("business-scoped user id contains whitespace or control characters")
    return value


def _normalize_phone(raw: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", raw)
    plus = digits.startswith("+")
    if plus:
        digits = digits[1:]
    if digits == "":
        raise InvalidIdentifierError("identifier is empty")
    if not _ASCII_DIGITS.fullmatch(digits):
        raise InvalidIdentifierError("phone number contains characters other than digits and separators")
    if not plus and digits.startswith("00"):
        digits = digits[2:]  # international call prefix used in Germany and most of Europe
    if digits.startswith("0"):
        raise InvalidIdentifierError("phone number is not in international format (starts with 0, no country code)")
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise InvalidIdentifierError(
            f"phone number has {len(digits)} digits, expected {MIN_PHONE_DIGITS}-{MAX_PHONE_DIGITS}"
        )
    return digits


def normalize_wa_id(raw: str) -> str:
    """Canonical form of a WhatsApp user identifier.

    Phone numbers become ASCII digits only (``+``, spaces, dashes, dots, slashes and
    parentheses removed; a leading ``00`` international prefix stripped) and must
    have 7-15 digits and start with a country code. Identifiers containing a letter
    are BSUIDs: surrounding whitespace stripped, case-folded. Idempotent.
    Raises ``InvalidIdentifierError`` (never echoing the input) otherwise.
    """
    if not isinstance(raw, str):
        raise InvalidIdentifierError(f"identifier must be a str, got {type(raw).__name__}")
    if raw.strip() == "":
        raise InvalidIdentifierError("identifier is empty")
    if is_bsuid(raw):
        return _normalize_bsuid(raw)
    return _normalize_phone(raw)


def _namespaced(wa_id: str) -> bytes:
    normalized = normalize_wa_id(wa_id)
    if is_bsuid(normalized):
        return b"bsuid:" + normalized.encode("utf-8")
    return b"tel:" + normalized.encode("ascii")


def _secret_bytes(secret: Secret | bytes) -> bytes:
    if isinstance(secret, Secret):
        return secret.value
    if isinstance(secret, bytes) and len(secret) == SECRET_BYTES:
        return secret
    raise TypeError(f"secret must be a Secret or {SECRET_BYTES} raw bytes")


def pseudonym(secret: Secret | bytes, wa_id: str) -> str:
    """The stable pseudonym of a user under one server secret (``u_`` + 32 base32 chars).

    Deterministic for (secret, normalised id); changes when the secret is rotated.
    """
    mac = hmac.new(_secret_bytes(secret), _PSEUDONYM_LABEL + _namespaced(wa_id), hashlib.sha256).digest()
    encoded = base64.b32encode(mac[:_PSEUDONYM_BYTES]).decode("ascii").lower()
    return PSEUDONYM_PREFIX + encoded


def data_key(secret: Secret | bytes, wa_id: str) -> bytes:
    """The user's 256-bit data key under one server secret (HKDF-SHA256, RFC 5869).

    Independent of the pseudonym (different HMAC label), so it cannot be derived from
    anything the store keeps; it exists only in memory while a request is handled.
    """
    ikm = hmac.new(_secret_bytes(secret), _DATA_KEY_LABEL + _namespaced(wa_id), hashlib.sha256).digest()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_BYTES, salt=None, info=_DATA_KEY_INFO)
    return hkdf.derive(ikm)
