"""Error types of the privacy layer.

Callers branch on the type, never on the message: a tracker store catches
``DecryptionError`` to treat a record as unreadable, the startup code catches
``PrivacyConfigError`` to stop the process with a clear message.

Every message here is written for logs: it may name an environment variable, a
position in a list, a file path, a key *version* or a pseudonym, but never a secret,
a key, a phone number or any plaintext. The hierarchy (docs/architecture.md,
section "Privacy seams")::

    PrivacyError
    ├── PrivacyConfigError
    │   ├── MissingSecretError
    │   ├── MalformedSecretError
    │   │   └── DuplicateSecretError
    │   └── InsecureKeyFileError
    ├── DecryptionError
    │   └── UnknownKeyVersionError
    ├── NoKeyInContextError
    └── InvalidIdentifierError
"""
from __future__ import annotations

__all__ = [
    "PrivacyError",
    "PrivacyConfigError",
    "MissingSecretError",
    "MalformedSecretError",
    "DuplicateSecretError",
    "InsecureKeyFileError",
    "DecryptionError",
    "UnknownKeyVersionError",
    "NoKeyInContextError",
    "InvalidIdentifierError",
]


class PrivacyError(Exception):
    """Base class of every error raised by :mod:`privacy`."""


class PrivacyConfigError(PrivacyError):
    """The server secret configuration is unusable; the process must not start."""


class MissingSecretError(PrivacyConfigError):
    """A required secret is not set (or set to the empty string).

    ``variable`` names the environment variable, e.g. ``"PRIVACY_KEY"``.
    """

    def __init__(self, variable: str, hint: str = "") -> None:
        self.variable = variable
        message = f"{variable} is not set"
        if hint:
            message = f"{message}; {hint}"
        super().__init__(message)


class MalformedSecretError(PrivacyConfigError):
    """A secret is not exactly 64 hexadecimal characters (256 bits).

    ``variable`` names where the secret came from (an environment variable or a
    file path) and ``position`` its 1-based index in a comma-separated list
    (``None`` for a single value). The offending value is never part of the
    message, because a near-miss secret is still a secret.
    """

    def __init__(self, variable: str, reason: str, *, position: int | None = None) -> None:
        self.variable = variable
        self.position = position
        self.reason = reason
        where = variable if position is None else f"{variable} entry {position}"
        super().__init__(f"{where}: {reason}")


class DuplicateSecretError(MalformedSecretError):
    """The same secret (or the same key version) appears twice in one keyring.

    A duplicate would make ``Keyring.by_version`` ambiguous and hides a rotation
    mistake (the "old" key is still the current one).
    """


class InsecureKeyFileError(PrivacyConfigError):
    """A local development key file (or its directory) is readable or writable by others.

    ``path`` is the file or directory; ``detail`` says what is wrong (e.g. its mode).
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"refusing to use {path}: {detail}")


class DecryptionError(PrivacyError):
    """A sealed blob cannot be opened.

    ``reason`` is short and safe to log (e.g. ``"truncated blob"``). With AES-GCM a
    wrong key, a wrong pseudonym, a wrong key version and a tampered byte are
    indistinguishable by design, so they share one reason.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnknownKeyVersionError(DecryptionError):
    """No secret (or user key) with this version is known: it was retired and removed.

    It is a ``DecryptionError`` because the practical consequence is the same: the
    record cannot be opened with the keys this process holds.
    """

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(f"unknown key version {version!r}")


class NoKeyInContextError(PrivacyError):
    """No user keys for this pseudonym are bound to the current context.

    Raised instead of falling back to anything else (fail closed): code that reads
    or writes a user's data outside :func:`privacy.context.user_context` for that
    user is a bug. ``pseudonym`` is the requested pseudonym (never the key).
    """

    def __init__(self, pseudonym: str, detail: str = "") -> None:
        self.pseudonym = pseudonym
        message = f"no user keys in context for pseudonym {pseudonym!r}"
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message)


class InvalidIdentifierError(PrivacyError):
    """A WhatsApp user identifier cannot be normalised.

    The message describes the problem (e.g. ``"phone number has 5 digits"``) but
    never repeats the identifier itself.
    """


class ErasureJournalError(PrivacyError):
    """The erasure journal (``PRIVACY_ERASURE_JOURNAL``) cannot be written or read.

    An erasure fails (before anything is deleted) rather than go unjournalled: a
    backup restored later would otherwise bring the conversation back unnoticed.
    The message names the file's failure, never a pseudonym.
    """
