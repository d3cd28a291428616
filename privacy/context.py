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

One person, several identifiers (issue 9): the keys are derived from the user's
*anchor* (:meth:`privacy.identity.UserIdentifiers.anchor`), and :attr:`UserKeys.aliases`
carries the pseudonym and key of every other identifier the webhook carried, under the
current and every retired secret, so the tracker store can find and move a
conversation that was stored under an alias before (the phone number, before BSUIDs
arrived) and erasure/export cover it too.

Each block also opens a per-request memo (:mod:`privacy.memo`, a performance aid kept
apart from the keys): it lives exactly as long as the block.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from privacy.errors import NoKeyInContextError, UnknownKeyVersionError
from privacy.identity import UserIdentifiers, data_key, normalize_wa_id, pseudonym
from privacy.keyring import Keyring, Secret
from privacy.memo import memo_block

__all__ = [
    "RetiredIdentity",
    "UserKeys",
    "keys_for_user",
    "keys_for_identifiers",
    "user_context",
    "current_user_keys",
    "user_context_active",
]


@dataclass(frozen=True, slots=True)
class RetiredIdentity:
    """A user's pseudonym and data key under one secret version.

    Used for the anchor under a retired secret (key rotation) and for aliases
    (other identifiers of the same person) under the current and retired secrets.
    """

    version: str
    pseudonym: str
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class UserKeys:
    """Everything needed to read and write one user's data; ``repr`` hides the keys.

    ``pseudonym``/``version``/``key`` are the anchor's under the current secret;
    ``retired`` holds the anchor's :class:`RetiredIdentity` per retired secret, in
    keyring order; ``aliases`` one per (alias, secret): for each alias in the order
    given, current secret first, then the retired ones.
    """

    pseudonym: str
    version: str
    key: bytes = field(repr=False)
    retired: tuple[RetiredIdentity, ...] = ()
    aliases: tuple[RetiredIdentity, ...] = ()

    def key_for_version(self, version: str) -> bytes:
        """The data key under the secret with this version (current or retired)."""
        if version == self.version:
            return self.key
        for identity in self.retired:
            if identity.version == version:
                return identity.key
        raise UnknownKeyVersionError(version)

    def pseudonyms(self) -> tuple[str, ...]:
        """All pseudonyms of this user: current, retired in keyring order, then the aliases'.

        Used for everything keyed by pseudonym that must cover the whole person
        (Rasa's locks on erasure, :meth:`owns`).
        """
        return (
            self.pseudonym,
            *(identity.pseudonym for identity in self.retired),
            *(identity.pseudonym for identity in self.aliases),
        )

    def all_identities(self) -> tuple[RetiredIdentity, ...]:
        """Every (version, pseudonym, key) of this user, in :meth:`pseudonyms` order.

        What erasure and export walk: the anchor under every secret and each alias
        under every secret.
        """
        return (
            RetiredIdentity(version=self.version, pseudonym=self.pseudonym, key=self.key),
            *self.retired,
            *self.aliases,
        )

    def owns(self, candidate: str) -> bool:
        """True if ``candidate`` is any pseudonym of this user (anchor, retired or alias)."""
        return candidate in self.pseudonyms()


def _identity(secret: Secret, identifier: str) -> RetiredIdentity:
    return RetiredIdentity(version=secret.version, pseudonym=pseudonym(secret, identifier), key=data_key(secret, identifier))


def keys_for_user(keyring: Keyring, anchor: str, aliases: Iterable[str] = ()) -> UserKeys:
    """Derive a user's keys from their anchor under the current and every retired secret.

    ``anchor`` is the identifier the conversation is keyed on (a phone number or a
    BSUID; ``keys_for_user(keyring, wa_id)`` keeps its old meaning). ``aliases`` are
    the other identifiers of the same person: their pseudonyms and keys (under every
    secret) let the store find a conversation stored under them. An alias equal to
    the anchor after normalisation, or repeated, is skipped. Raises
    ``InvalidIdentifierError`` for an identifier that cannot be normalised.
    """
    anchor_normalized = normalize_wa_id(anchor)
    seen = {anchor_normalized}
    alias_identities: list[RetiredIdentity] = []
    for alias in aliases:
        normalized = normalize_wa_id(alias)
        if normalized in seen:
            continue
        seen.add(normalized)
        alias_identities.extend(_identity(secret, normalized) for secret in keyring.secrets)
    current = _identity(keyring.current, anchor_normalized)
    return UserKeys(
        pseudonym=current.pseudonym,
        version=current.version,
        key=current.key,
        retired=tuple(_identity(secret, anchor_normalized) for secret in keyring.retired),
        aliases=tuple(alias_identities),
    )


def keys_for_identifiers(keyring: Keyring, ids: UserIdentifiers, use_parent: bool = False) -> UserKeys:
    """:func:`keys_for_user` for the anchor and aliases of ``ids`` (see :class:`UserIdentifiers`)."""
    return keys_for_user(keyring, ids.anchor(use_parent), ids.aliases(use_parent))


@dataclass(eq=False, slots=True)
class _Scope:
    """What one :func:`user_context` block binds: the keys."""

    keys: UserKeys


_CURRENT_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "blaupause_privacy_user_scope", default=None
)


@contextmanager
def user_context(user_keys: UserKeys) -> Iterator[UserKeys]:
    """Bind ``user_keys`` (and an empty memo) to the current context for the duration of the block.

    The previous value is restored on exit, also when the block raises, and the block's
    memo is emptied. Tasks created inside the block keep the keys (they copy the
    context at creation). Enter and exit in the same task (a plain ``with`` around
    ``await`` is fine).
    """
    if not isinstance(user_keys, UserKeys):
        raise TypeError("user_context needs a UserKeys")
    scope = _Scope(user_keys)
    token = _CURRENT_SCOPE.set(scope)
    try:
        with memo_block(user_keys.pseudonym):
            yield user_keys
    finally:
        _CURRENT_SCOPE.reset(token)


def current_user_keys(pseudonym: str) -> UserKeys:
    """The keys bound to this context if they belong to ``pseudonym``; fail closed otherwise.

    Matches the current or any retired pseudonym of the bound user, so a store can
    open a record written before a key rotation. Raises ``NoKeyInContextError``
    when no keys are bound or they belong to someone else.
    """
    scope = _CURRENT_SCOPE.get()
    if scope is None:
        raise NoKeyInContextError(pseudonym, "no user context is active")
    if not scope.keys.owns(pseudonym):
        raise NoKeyInContextError(pseudonym, "the active user context belongs to another pseudonym")
    return scope.keys


def user_context_active() -> bool:
    """True inside any :func:`user_context` block (whoever's keys it binds).

    Lets the tracker store tell "no context at all" (Rasa's own tools in local use,
    :mod:`privacy.dev_context`) from "another user's context" (always fail closed).
    """
    return _CURRENT_SCOPE.get() is not None
