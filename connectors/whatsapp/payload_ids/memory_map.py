"""The in-process payload id map: a bounded LRU for tests and single-process development.

Why no sealing here: the map never leaves the process, so values are kept as they are; tokens
are keyed like Redis' (:mod:`.tokens`) so they reveal nothing to Meta, and an owner index lets
an erasure forget a person's entries (:mod:`.maps`). Lost on restart.
"""
from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable

from connectors.whatsapp.payload_ids.tokens import (
    PAYLOAD_TOKEN_PREFIX,
    TokenCollisionError,
    make_token,
    payload_token_key,
)
from privacy.keyring import Keyring

__all__ = ["InMemoryPayloadIdMap"]


class InMemoryPayloadIdMap:
    """Bounded LRU map for tests and single-process development (lost on restart).

    Tokens are keyed with the token key of ``keyring`` when given, else with a random key of
    this process (the map never leaves the process, so its tokens need not be stable elsewhere).
    """

    def __init__(self, max_entries: int = 10_000, *, keyring: Keyring | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._token_key = payload_token_key(keyring.current) if keyring is not None else secrets.token_bytes(32)
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._owner_of: dict[str, str] = {}
        self._owners: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"InMemoryPayloadIdMap(entries={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    def token(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        """The token :meth:`remember` gives ``value`` (for tests)."""
        return make_token(value, prefix=prefix, key=self._token_key, owner=owner)

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        token = make_token(value, prefix=prefix, key=self._token_key, owner=owner)
        existing = self._entries.get(token)
        if existing is not None and existing != value:
            raise TokenCollisionError(token)
        self._entries[token] = value
        self._entries.move_to_end(token)
        if owner:
            self._owner_of[token] = owner
            self._owners.setdefault(owner, set()).add(token)
        while len(self._entries) > self._max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._unindex(evicted)
        return token

    async def resolve(self, token: str) -> str | None:
        value = self._entries.get(token)
        if value is not None:
            self._entries.move_to_end(token)
        return value

    async def forget_owners(self, owners: Iterable[str]) -> int:
        """Delete every entry remembered under these owners and their index; the count."""
        forgotten = 0
        for owner in dict.fromkeys(owner for owner in owners if owner):
            for token in self._owners.pop(owner, set()):
                self._owner_of.pop(token, None)
                if self._entries.pop(token, None) is not None:
                    forgotten += 1
        return forgotten

    def _unindex(self, token: str) -> None:
        owner = self._owner_of.pop(token, None)
        if owner is None:
            return
        tokens = self._owners.get(owner)
        if tokens is not None:
            tokens.discard(token)
            if not tokens:
                del self._owners[owner]
