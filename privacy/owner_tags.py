"""Owner tags: how an erasure finds a person's entries in stores that hold no identifier.

Why a tag: the dedup store's outboxes and the payload id map's entries must be removable
on erasure (issue 9 item 8) without a pseudonym or identifier next to them. The tag is
``HMAC-SHA256(user's data key, "blaupause/outbox-owner")``, cut to 128 bits: without the
data key (derived from the identifier and the server secret) it links to nobody. It sits
in privacy/ because both the channel (which stores the tags, connectors/whatsapp/outbox.py
and payload_ids.py) and the erasure (privacy/requests/erasure.py, which looks them up)
need it, and privacy/ is the bottom layer.
"""
from __future__ import annotations

import hashlib
import hmac

from privacy.context import UserKeys

__all__ = ["owner_tag", "owner_tags"]

_OWNER_LABEL = b"blaupause/outbox-owner"


def owner_tag(key: bytes) -> str:
    """The owner tag of outboxes sealed with this data key (hex, 128 bits)."""
    return hmac.new(key, _OWNER_LABEL, hashlib.sha256).hexdigest()[:32]


def owner_tags(user_keys: UserKeys) -> tuple[str, ...]:
    """Every owner tag a person's outboxes may carry: anchor, retired and alias keys."""
    keys = [user_keys.key, *(identity.key for identity in user_keys.retired)]
    keys += [identity.key for identity in getattr(user_keys, "aliases", ())]
    tags: list[str] = []
    for key in keys:
        tag = owner_tag(key)
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)
