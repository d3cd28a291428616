"""What a payload id map is, and the per-person view of one.

Why: the renderer remembers long payloads and paging state under tokens (:mod:`.tokens`) and
the inbound side resolves them; both share one map, in memory (:mod:`.memory_map`) or in Redis
(:mod:`.redis_map`). Per person (issue 16 item 6): the renderer remembers each value under the
*owner tag* of the user it renders for (:func:`connectors.whatsapp.outbox.owner_tag` of the
user's data key, so only computable with the user's identifier and the server secret), and each
entry is registered under its owner, so ``forget_owners`` removes every entry of a person on
erasure (:func:`connectors.whatsapp.outbox.owner_tags`, under the user's lock). A value
remembered without an owner gets a token shared by everyone (kept for tests and callers without
a user). Entries nobody erases expire 30 days after last use.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from connectors.whatsapp.payload_ids.tokens import PAYLOAD_TOKEN_PREFIX

__all__ = ["PayloadIdMap", "OwnedPayloadIds", "owned_by"]


@runtime_checkable
class PayloadIdMap(Protocol):
    """Stores values under their token; the renderer and the inbound side share one instance."""

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        """Store ``value`` (registered under ``owner`` when given) and return its token."""
        ...

    async def resolve(self, token: str) -> str | None:
        """The value stored under ``token``, or None when unknown or expired."""
        ...


class OwnedPayloadIds:
    """A view of a map that remembers every value under one person's owner tag.

    The webhook wraps the shared map in one view per request (:func:`owned_by`) and hands it to
    the renderer and the inbound side, which need not know whose turn it is.
    """

    def __init__(self, id_map: PayloadIdMap, owner: str) -> None:
        self._map = id_map
        self.owner = owner

    def __repr__(self) -> str:
        return f"OwnedPayloadIds({self._map!r})"  # never the owner tag

    async def remember(self, value: str, *, prefix: str = PAYLOAD_TOKEN_PREFIX, owner: str | None = None) -> str:
        return await self._map.remember(value, prefix=prefix, owner=owner or self.owner)

    async def resolve(self, token: str) -> str | None:
        return await self._map.resolve(token)


def owned_by(id_map: PayloadIdMap, owner: str | None) -> PayloadIdMap:
    """``id_map`` remembering under ``owner`` (unchanged without an owner)."""
    if not owner:
        return id_map
    if isinstance(id_map, OwnedPayloadIds):
        id_map = id_map._map
    return OwnedPayloadIds(id_map, owner)
