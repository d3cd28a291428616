"""Choose the dedup store from the channel's setting ``WHATSAPP_DEDUP_URL``.

Why a module of its own: the choice needs both stores, and neither store should import the
other. The URL itself is read and validated by connectors/whatsapp/settings.py.
"""
from __future__ import annotations

from connectors.whatsapp.dedup.claims import DedupStore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.dedup.redis_store import RedisDedupStore

__all__ = ["store_from_url"]


def store_from_url(url: str) -> DedupStore:
    """The store for ``WHATSAPP_DEDUP_URL``: empty means in-process, otherwise Redis."""
    if not url:
        return InMemoryDedupStore()
    return RedisDedupStore.from_url(url)
