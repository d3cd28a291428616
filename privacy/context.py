"""Per-request user keys, bound to the current context and nowhere else.

Why a context variable: Rasa's ``TrackerStore`` API only receives the ``sender_id``
(our pseudonym). The data key must not be derivable from it, so the channel, which
still knows the ``wa_id``, derives the keys and binds them to the request with
:func:`user_context`. The tracker store then asks :func:`current_user_keys` for the
keys of the pseudonym it is about to read or write and fails closed when they are
not there (a background job, another user's request, a bug).

``contextvars`` (PEP 567) give exactly the needed scope: the value follows ``await``
within a task, is copied into tasks created inside the block, and is invisible to
concurrent tasks handling other users.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from privacy.errors import NoKeyInContextError, UnknownKeyVersionError
from privacy.identity import data_key, pseudonym
from privacy.keyring import Keyring

__all__ = [
    "RetiredIdentity",
    "UserKeys",
    "keys_for_user",
    "user_context",
    "current_user_keys",
]


@dataclass(frozen=True, slots=True)
class RetiredIdentity:
    """A user's pseudonym and data key under one retired secret (for migration)."""

    version: str
    pseudonym: str
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class UserKeys:
    """Everything needed to read and write one user's data; ``repr`` hides the keys.

    ``pseudonym``/``version``/``key`` are under the current secret; ``retired`` holds
    one :class:`RetiredIdentity` per retired secret, in keyring order.
    """

    pseudonym: str
    version: str
    key: bytes = field(repr=False)
    retired: tuple[RetiredIdentity, ...] = ()

    def key_for_version(self, version: str) -> bytes:
        """The data key under the secret with this version (current or retired)."""
        if version == self.version:
            return self.key
        for identity in self.retired:
            if identity.version == version:
                return identity.key
        raise UnknownKeyVersionError(version)

    def pseudonyms(self) -> tuple[str, ...]:
        """All pseudonyms of this user, current first, then retired in keyring order."""
        return (self.pseudonym, *(identity.pseudonym for identity in self.retired))

    def owns(self, candidate: str) -> bool:
        """True if ``candidate`` is this user's current or a retired pseudonym."""
        return candidate in self.pseudonyms()


def keys_for_user(keyring: Keyring, wa_id: str) -> UserKeys:
    """Derive a user's keys under the current and every retired secret.

    Raises ``InvalidIdentifierError`` for an identifier that cannot be normalised.
    """
    retired = tuple(
        RetiredIdentity(version=secret.version, pseudonym=pseudonym(secret, wa_id), key=data_key(secret, wa_id))
        for secret in keyring.retired
    )
    current = keyring.current
    return UserKeys(
        pseudonym=pseudonym(current, wa_id),
        version=current.version,
        key=data_key(current, wa_id),
        retired=retired,
    )


_CURRENT_USER_KEYS: contextvars.ContextVar[UserKeys | None] = contextvars.ContextVar(
    "blaupause_privacy_user_keys", default=None
)


@contextmanager
def user_context(user_keys: UserKeys) -> Iterator[UserKeys]:
    """Bind ``user_keys`` to the current context for the duration of the block.

    The previous value is restored on exit, also when the block raises. Tasks
    created inside the block keep the keys (they copy the context at creation).
    Enter and exit in the same task (a plain ``with`` around ``await`` is fine).
    """
    if not isinstance(user_keys, UserKeys):
        raise TypeError("user_context needs a UserKeys")
    token = _CURRENT_USER_KEYS.set(user_keys)
    try:
        yield user_keys
    finally:
        _CURRENT_USER_KEYS.reset(token)


def current_user_keys(pseudonym: str) -> UserKeys:
    """The keys bound to this context if they belong to ``pseudonym``; fail closed otherwise.

    Matches the current or any retired pseudonym of the bound user, so a store can
    open a record written before a key rotation. Raises ``NoKeyInContextError``
    when no keys are bound or they belong to someone else.
    """
    keys = _CURRENT_USER_KEYS.get()
    if keys is None:
        raise NoKeyInContextError(pseudonym, "no user context is active")
    if not keys.owns(pseudonym):
        raise NoKeyInContextError(pseudonym, "the active user context belongs to another pseudonym")
    return keys
