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
* Business-scoped user ids (BSUIDs, ``contacts[].user_id`` / ``messages[].from_user_id``)
  look like ``US.13491208655302741918``: a country code, a dot, digits (Meta allows up
  to 128 alphanumerics); a portfolio-wide *parent* BSUID (``contacts[].parent_user_id``)
  adds ``ENT.``: ``US.ENT.11815799212886844830``
  (https://developers.facebook.com/docs/whatsapp/cloud-api/business-scoped-user-ids).
  Any identifier containing a letter is treated as a BSUID (:data:`BSUID_SHAPE` is the
  documented shape; the parser stays tolerant because Meta marks it "subject to
  change"). It is compared case-insensitively (``str.casefold``) and lives in its own
  namespace (``bsuid:`` vs ``tel:`` in the derivation input) so it can never collide
  with a phone number.

Identity anchor (issue 9): one webhook may carry a phone number, a BSUID and a parent
BSUID for the same person, and the phone number comes and goes (Meta shares it only
for a while). Keying the conversation on whichever identifier happens to arrive would
split one person into several conversations, so :class:`UserIdentifiers` names one
*anchor*: the BSUID when present (or, with ``use_parent``, the portfolio-wide parent
BSUID when present), else the phone number. Everything else the webhook carried is an
*alias*: a conversation found under an alias pseudonym is moved to the anchor's (see
:mod:`privacy.store`). Usernames are no identifiers (users change them) and
never enter a derivation.

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
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacy.errors import InvalidIdentifierError
from privacy.keyring import SECRET_BYTES, Secret

__all__ = [
    "PSEUDONYM_PREFIX",
    "DATA_KEY_BYTES",
    "MIN_PHONE_DIGITS",
    "MAX_PHONE_DIGITS",
    "BSUID_SHAPE",
    "normalize_wa_id",
    "is_bsuid",
    "UserIdentifiers",
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

BSUID_SHAPE = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[0-9A-Z]{1,128}", re.IGNORECASE)
"""The documented shape of a BSUID or parent BSUID (``US.1349...``, ``US.ENT.1181...``), any case.

Documentation and tests only: :func:`is_bsuid` stays "contains a letter" so that a
changed format from Meta still keys a conversation instead of being refused."""

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


def _usable(raw: object, *, bsuid: bool) -> tuple[str | None, str | None]:
    """(normalised identifier, None) or (None, reason): phone fields hold numbers, id fields BSUIDs."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None, None
    try:
        normalized = normalize_wa_id(raw)  # type: ignore[arg-type]
    except InvalidIdentifierError as error:
        return None, str(error)
    if is_bsuid(normalized) != bsuid:
        return None, "a business-scoped user id where a phone number belongs" if not bsuid else (
            "a phone number where a business-scoped user id belongs"
        )
    return normalized, None


@dataclass(frozen=True, slots=True)
class UserIdentifiers:
    """The identifiers one webhook carried for one user; ``repr`` shows none of them.

    ``phone`` (``messages[].from`` / ``contacts[].wa_id``), ``user_id`` (the BSUID,
    ``messages[].from_user_id`` / ``contacts[].user_id``) and ``parent_user_id``
    (``contacts[].parent_user_id``); each may be ``None``. Values are kept as given;
    :meth:`anchor` and :meth:`aliases` return normalised forms and skip a value that
    cannot be used (an unparsable number, a BSUID in the phone field), so one malformed
    field never costs the user the conversation the others identify.
    """

    phone: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)
    parent_user_id: str | None = field(default=None, repr=False)

    def _normalized(self) -> tuple[str | None, str | None, str | None, list[str]]:
        phone, phone_problem = _usable(self.phone, bsuid=False)
        user_id, user_problem = _usable(self.user_id, bsuid=True)
        parent, parent_problem = _usable(self.parent_user_id, bsuid=True)
        problems = [
            f"{name}: {problem}"
            for name, problem in (("phone", phone_problem), ("user_id", user_problem), ("parent_user_id", parent_problem))
            if problem
        ]
        return phone, user_id, parent, problems

    def anchor(self, use_parent: bool = False) -> str:
        """The identifier the user's pseudonym and data key derive from (normalised).

        The BSUID when present, else the phone number; with ``use_parent`` the parent
        BSUID first (portfolio-wide: one conversation across the linked businesses that
        share this deployment's store), then the BSUID, then the phone number. Raises
        :class:`~privacy.errors.InvalidIdentifierError` (naming fields, never values)
        when no identifier is usable.
        """
        phone, user_id, parent, problems = self._normalized()
        order = (parent, user_id, phone) if use_parent else (user_id, phone)
        for candidate in order:
            if candidate is not None:
                return candidate
        detail = "; ".join(problems) if problems else "no phone number, user_id or parent_user_id"
        raise InvalidIdentifierError(f"no usable user identifier ({detail})")

    def aliases(self, use_parent: bool = False) -> tuple[str, ...]:
        """Every other usable identifier (normalised, without duplicates), phone first.

        A conversation stored under the pseudonym of an alias (e.g. the phone number,
        before BSUIDs arrived) belongs to the same person and moves to the anchor.
        """
        anchor = self.anchor(use_parent)
        phone, user_id, parent, _ = self._normalized()
        found: list[str] = []
        for candidate in (phone, user_id, parent):
            if candidate is not None and candidate != anchor and candidate not in found:
                found.append(candidate)
        return tuple(found)
