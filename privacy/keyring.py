"""The server secrets: one current secret plus retired ones kept for migration.

Why one secret: every per-user value (pseudonym, data key) is derived from a single
256-bit server secret, so there is exactly one thing to protect, back up and rotate.
Rotation moves the old secret into ``PRIVACY_OLD_KEYS``; the tracker store then finds
old records under the retired pseudonyms and re-seals them with the current key.

Configuration (secrets only ever come from the environment):

``PRIVACY_KEY``
    exactly 64 hexadecimal characters (256 bits, either case), e.g. from
    ``python -c "import secrets; print(secrets.token_hex(32))"``. No surrounding
    whitespace is accepted: "exactly" keeps copy-paste accidents visible.
``PRIVACY_OLD_KEYS``
    optional, comma-separated retired secrets in the same format, newest first by
    convention. Whitespace around the commas is ignored; empty entries are errors.

Secrets read from the environment must also look random (:func:`check_strength`):
an all-zero, single-byte, repeating (``"ab" * 32``), counting (``00 01 02 ...``) or
otherwise low-variety value is refused with :class:`WeakSecretError` naming the
variable. A value from ``secrets.token_hex(32)`` never trips the check: 32 random
bytes hold about 30 distinct byte values; the check asks for at least 16, which a
random key misses with a probability far below 2**-80.

Each secret carries a *version*: the first 8 hex characters of
HMAC-SHA256(secret, ``b"blaupause/key-version"``) (RFC 2104). It is short, stable,
safe to store next to sealed data and reveals nothing usable about the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacy.errors import (
    DuplicateSecretError,
    MalformedSecretError,
    MissingSecretError,
    UnknownKeyVersionError,
)

__all__ = [
    "SECRET_BYTES",
    "MIN_DISTINCT_BYTES",
    "WeakSecretError",
    "check_strength",
    "PRIVACY_KEY_ENV",
    "PRIVACY_OLD_KEYS_ENV",
    "Secret",
    "Keyring",
    "key_version_of",
    "parse_secret",
    "parse_old_secrets",
    "derive_key",
]

SECRET_BYTES = 32
PRIVACY_KEY_ENV = "PRIVACY_KEY"
PRIVACY_OLD_KEYS_ENV = "PRIVACY_OLD_KEYS"

_VERSION_LABEL = b"blaupause/key-version"
_VERSION_HEX_CHARS = 8
_HEX_SECRET = re.compile(r"[0-9a-fA-F]{64}")
_VERSION_SYNTAX = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_GENERATE_HINT = 'generate one with: python -c "import secrets; print(secrets.token_hex(32))"'

#: The fewest distinct byte values a secret from the environment may hold (see module doc).
MIN_DISTINCT_BYTES = 16
_MAX_PERIOD = SECRET_BYTES // 2


class WeakSecretError(MalformedSecretError):
    """A secret is well-formed but does not look random (zeros, a repeated pattern, ...).

    Why refuse: every pseudonym and data key derives from this one value; a guessable
    secret turns the pseudonyms into a lookup table of phone numbers. The message
    names the variable and the kind of weakness, never the value.
    """


def _weakness(value: bytes) -> str | None:
    """Why ``value`` does not look like 32 random bytes, or None."""
    if not any(value):
        return "is all zeros"
    for period in range(1, _MAX_PERIOD + 1):
        if all(value[i] == value[i % period] for i in range(len(value))):
            return f"repeats a {period}-byte pattern"
    steps = {(value[i + 1] - value[i]) % 256 for i in range(len(value) - 1)}
    if len(steps) == 1:
        return "is a counting sequence"
    if len(set(value)) < MIN_DISTINCT_BYTES:
        return f"holds only {len(set(value))} distinct byte values (a random secret holds about 30)"
    return None


def check_strength(secret: Secret, *, name: str = PRIVACY_KEY_ENV, position: int | None = None) -> Secret:
    """Return ``secret`` if it looks random; raise :class:`WeakSecretError` otherwise."""
    reason = _weakness(secret.value)
    if reason is not None:
        raise WeakSecretError(
            name, f"{reason}; a low-entropy secret makes pseudonyms guessable, {_GENERATE_HINT}", position=position
        )
    return secret


def derive_key(ikm: bytes, info: bytes) -> bytes:
    """A 256-bit key for one purpose (``info``) from key material: HKDF-SHA256, RFC 5869, no salt.

    Every purpose key of the project (payload ids, references, conversation sub-keys) comes from
    here, so two purposes differ only in their ``info`` label and are independent.
    """
    return HKDF(algorithm=hashes.SHA256(), length=SECRET_BYTES, salt=None, info=info).derive(ikm)


def key_version_of(value: bytes) -> str:
    """The version id of a secret: 8 hex chars of HMAC-SHA256(secret, label) (RFC 2104)."""
    digest = hmac.new(value, _VERSION_LABEL, hashlib.sha256).hexdigest()
    return digest[:_VERSION_HEX_CHARS]


@dataclass(frozen=True, slots=True)
class Secret:
    """One 256-bit server secret and its public version id.

    ``value`` is excluded from ``repr`` so a secret never ends up in a log line or a
    traceback by accident. Build one with :meth:`from_hex`, :meth:`from_value` or
    :meth:`generate`; the plain constructor accepts any well-formed version id so
    tests can use readable ones.
    """

    version: str
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.value, bytes) or len(self.value) != SECRET_BYTES:
            raise ValueError(f"a secret must be {SECRET_BYTES} bytes")
        if not isinstance(self.version, str) or not _VERSION_SYNTAX.fullmatch(self.version):
            raise ValueError("a key version must be 1-32 characters of [A-Za-z0-9_.-]")

    @classmethod
    def from_value(cls, value: bytes) -> Secret:
        """Wrap raw secret bytes, deriving the version from them."""
        if not isinstance(value, bytes) or len(value) != SECRET_BYTES:
            raise ValueError(f"a secret must be {SECRET_BYTES} bytes")
        return cls(version=key_version_of(value), value=value)

    @classmethod
    def from_hex(cls, text: str, *, name: str = PRIVACY_KEY_ENV, position: int | None = None) -> Secret:
        """Parse a 64-hex-character secret; ``name``/``position`` only label errors."""
        return parse_secret(text, name=name, position=position)

    def derive(self, info: bytes) -> bytes:
        """A purpose key of this secret (:func:`derive_key`); never the secret itself."""
        return derive_key(self.value, info)

    @classmethod
    def generate(cls) -> Secret:
        """A fresh random secret from the OS CSPRNG (for tests and key generation)."""
        return cls.from_value(secrets.token_bytes(SECRET_BYTES))


def parse_secret(text: str, *, name: str = PRIVACY_KEY_ENV, position: int | None = None) -> Secret:
    """Parse one secret given as exactly 64 hexadecimal characters.

    Errors name ``name`` (and ``position``) and say what is wrong, never the value.
    """
    if not isinstance(text, str):
        raise MalformedSecretError(name, "must be a string of 64 hexadecimal characters", position=position)
    if not _HEX_SECRET.fullmatch(text):
        if len(text) != 2 * SECRET_BYTES:
            reason = f"must be exactly 64 hexadecimal characters (256 bits), got {len(text)} characters"
        else:
            reason = "must be exactly 64 hexadecimal characters (256 bits), found a non-hexadecimal character"
        raise MalformedSecretError(name, reason, position=position)
    return Secret.from_value(bytes.fromhex(text))


def parse_old_secrets(text: str, *, name: str = PRIVACY_OLD_KEYS_ENV, strict: bool = False) -> tuple[Secret, ...]:
    """Parse a comma-separated list of retired secrets; an empty string means none.

    ``strict`` also applies :func:`check_strength` to every entry (the environment path).
    """
    if text.strip() == "":
        return ()
    parsed: list[Secret] = []
    for position, item in enumerate(text.split(","), start=1):
        item = item.strip()
        if item == "":
            raise MalformedSecretError(name, "is empty (check for a stray comma)", position=position)
        secret = parse_secret(item, name=name, position=position)
        parsed.append(check_strength(secret, name=name, position=position) if strict else secret)
    return tuple(parsed)


def _check_distinct(current: Secret, retired: Iterable[Secret]) -> None:
    seen: list[tuple[str, Secret]] = [("the current secret", current)]
    for position, secret in enumerate(retired, start=1):
        label = f"retired secret {position}"
        for other_label, other in seen:
            if hmac.compare_digest(secret.value, other.value):
                raise DuplicateSecretError("keyring", f"{label} is the same secret as {other_label}")
            if secret.version == other.version:
                raise DuplicateSecretError(
                    "keyring", f"{label} has the same key version as {other_label}; generate a new secret"
                )
        seen.append((label, secret))


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current secret (used for everything new) and retired secrets (read-only).

    Invariant: all secrets are distinct and so are their versions, so
    :meth:`by_version` is unambiguous.
    """

    current: Secret
    retired: tuple[Secret, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.current, Secret):
            raise TypeError("Keyring.current must be a Secret")
        if not isinstance(self.retired, tuple) or not all(isinstance(s, Secret) for s in self.retired):
            raise TypeError("Keyring.retired must be a tuple of Secret")
        _check_distinct(self.current, self.retired)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """All secrets, current first."""
        return (self.current, *self.retired)

    @property
    def versions(self) -> tuple[str, ...]:
        """All key versions, current first."""
        return tuple(secret.version for secret in self.secrets)

    def by_version(self, version: str) -> Secret:
        """The secret with this version; ``UnknownKeyVersionError`` if none."""
        for secret in self.secrets:
            if secret.version == version:
                return secret
        raise UnknownKeyVersionError(version)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """Build the keyring from ``PRIVACY_KEY`` and ``PRIVACY_OLD_KEYS``.

        ``environ`` defaults to ``os.environ`` (read at call time). An unset or empty
        ``PRIVACY_KEY`` raises ``MissingSecretError``; malformed, weak or duplicate
        values raise ``MalformedSecretError``/``WeakSecretError``/``DuplicateSecretError``
        naming the variable and the list position.
        """
        env = os.environ if environ is None else environ
        raw_current = env.get(PRIVACY_KEY_ENV, "")
        if raw_current == "":
            raise MissingSecretError(PRIVACY_KEY_ENV, _GENERATE_HINT)
        current = check_strength(parse_secret(raw_current, name=PRIVACY_KEY_ENV), name=PRIVACY_KEY_ENV)
        retired = parse_old_secrets(env.get(PRIVACY_OLD_KEYS_ENV, ""), strict=True)
        return cls.with_env_names(current, retired)

    @classmethod
    def with_env_names(cls, current: Secret, retired: tuple[Secret, ...]) -> Keyring:
        """Build a keyring whose duplicate errors name the environment variables.

        Used by :meth:`from_env` and by the local development fallback, which takes
        the current secret from a file but the retired ones from ``PRIVACY_OLD_KEYS``.
        """
        for position, secret in enumerate(retired, start=1):
            if hmac.compare_digest(secret.value, current.value):
                raise DuplicateSecretError(
                    PRIVACY_OLD_KEYS_ENV, f"is the same secret as {PRIVACY_KEY_ENV}", position=position
                )
            for earlier, other in enumerate(retired[: position - 1], start=1):
                if hmac.compare_digest(secret.value, other.value):
                    raise DuplicateSecretError(
                        PRIVACY_OLD_KEYS_ENV, f"is the same secret as entry {earlier}", position=position
                    )
        return cls(current=current, retired=retired)
