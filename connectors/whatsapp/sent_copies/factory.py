"""Choose the sent-copies store from ``WHATSAPP_DEDUP_URL`` (like :mod:`connectors.whatsapp.dedup.factory`)."""
from __future__ import annotations

from connectors.whatsapp.sent_copies.copies import SentCopies
from connectors.whatsapp.sent_copies.memory_store import InMemorySentCopies
from connectors.whatsapp.sent_copies.redis_store import RedisSentCopies

__all__ = ["sent_copies_from_url"]


def sent_copies_from_url(url: str) -> SentCopies:
    """Empty: in-process; otherwise Redis at ``url``."""
    return RedisSentCopies.from_url(url) if url else InMemorySentCopies()
