"""A sealed copy of one sent reply, kept for an hour under a keyed reference of its wamid.

Why: Meta accepts a message (``wamid`` in the send response) and reports later, in a status
webhook, that it failed. Some failures are temporary (130429 throughput, 131056 pair rate,
131000/131016 service errors) and worth one or two retries, but by then the dialogue's outbox
is finished. So after each successful send :mod:`connectors.whatsapp.delivery` keeps a copy.

Privacy (docs/privacy.md): the copy holds user-facing text, so it is sealed like an outbox
(:func:`connectors.whatsapp.outbox.seal_outbox`: padded, AES-256-GCM under the user's data key,
bound to the pseudonym). The recipient is never part of it: the status webhook carries the
recipient's ids again, and only from them can the keys to open it be derived. The store key is
the keyed reference :meth:`connectors.whatsapp.references.References.sent_copy_key` of the wamid
(HMAC under the server secret's reference key, purpose ``sent-copy``): nobody holding a wamid can
find the copy without the secret. Stored in clear: the key version and the
attempt count. Copies expire after :data:`DEFAULT_TTL_SECONDS`.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.whatsapp.outbox import Outbox, open_outbox, seal_outbox
from connectors.whatsapp.references import References
from privacy.context import UserKeys
from privacy.keyring import Keyring

__all__ = [
    "DEFAULT_TTL_SECONDS", "SentCopy", "SentCopies", "SentCopyBook", "seal_copy", "open_copy",
]

logger = logging.getLogger(__name__)

#: How long a copy is kept: Meta reports failures within seconds to minutes.
DEFAULT_TTL_SECONDS = 3600


@dataclass(frozen=True)
class SentCopy:
    """One sealed reply and how often it was sent before (0: the first send)."""

    blob: bytes = field(repr=False)
    key_version: str
    attempts: int = 0


class SentCopies(Protocol):
    """Where copies live: in memory (:mod:`.memory_store`) or in Redis (:mod:`.redis_store`)."""

    async def put(self, reference: str, copy: SentCopy) -> None: ...

    async def get(self, reference: str) -> SentCopy | None: ...

    async def forget(self, reference: str) -> None: ...

    async def close(self) -> None: ...


def seal_copy(user_keys: UserKeys, message: Mapping[str, Any], attempts: int = 0) -> SentCopy:
    """Seal one rendered reply (without an address) under the user's current key."""
    outbox = seal_outbox(user_keys, [message])
    return SentCopy(blob=outbox.blob, key_version=outbox.key_version, attempts=attempts)


def open_copy(user_keys: UserKeys, copy: SentCopy) -> dict[str, Any]:
    """The reply of ``copy``; :class:`privacy.errors.DecryptionError` with the wrong keys."""
    return open_outbox(user_keys, Outbox(blob=copy.blob, key_version=copy.key_version, total=1))[0]


class SentCopyBook:
    """Keeps and finds copies by the wamid, under keyed references; a store error is logged, never raised."""

    def __init__(self, store: SentCopies, keyring: Keyring) -> None:
        self.store = store
        self.reference = References.from_keyring(keyring).sent_copy_key

    async def keep(self, wamid: str, user_keys: UserKeys, message: Mapping[str, Any], attempts: int = 0) -> bool:
        """Keep a sealed copy of ``message`` sent as ``wamid``; False when the store failed."""
        try:
            await self.store.put(self.reference(wamid), seal_copy(user_keys, message, attempts))
            return True
        except Exception as error:  # a copy is a convenience: never fail a delivery for it
            logger.warning("sent copy not kept (%s); a failed delivery of it cannot be retried", type(error).__name__)
            return False

    async def find(self, wamid: str) -> SentCopy | None:
        """The copy of ``wamid``, or None (expired, never kept, or the store failed)."""
        try:
            return await self.store.get(self.reference(wamid))
        except Exception as error:
            logger.warning("sent copy lookup failed (%s)", type(error).__name__)
            return None

    async def forget(self, wamid: str) -> None:
        try:
            await self.store.forget(self.reference(wamid))
        except Exception as error:
            logger.warning("sent copy not forgotten (%s); it expires on its own", type(error).__name__)

    async def close(self) -> None:
        await self.store.close()
