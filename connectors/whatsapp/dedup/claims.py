"""Exactly-once handling of inbound messages: a claim with a lease per message id.

Why: Meta delivers webhooks at least once and retries a non-2xx answer "with decreasing
frequency for up to 7 days"; a slow turn (an LLM call) invites a redelivery *while* the
first delivery is still running. Without a shared claim the bot answers twice (the most
common complaint about WhatsApp connectors). Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications

States of one message id (docs/whatsapp-delivery.md explains failure cases)::

    (absent) --claim--> CLAIMED (lease) --save_outbox--> REPLYING (lease, sent=k/n) --finish--> DONE
                          |  lease expired or released: the next claim takes over  |

* A claim on an absent id creates CLAIMED with a lease (a random token and an expiry).
* A claim while the lease is alive answers BUSY (a concurrent duplicate).
* A claim after the lease expired (a crashed instance) or was released (a failed send)
  takes over: it gets a new token and, in REPLYING, the outbox, so only the unsent rest
  is sent and the dialogue is not run again.
* DONE answers every later claim with DONE and is kept for 7 days, then forgotten.

Every write after the claim is a compare-and-set on the lease token, so an instance that
lost its lease (paused longer than the lease) cannot overwrite the new holder's progress:
it gets :class:`LeaseLostError`.

The webhook core passes each message's *keyed reference* (:mod:`connectors.whatsapp.references`:
HMAC of the wamid with a key derived from the server secret), never the wamid itself (a
``wamid`` embeds the sender's phone number in base64); the store keys its records by a
labelled ``sha256`` of what it is given, so even a caller that passed a raw id would not
write it. Without the server secret nothing links a record to a wamid or a person. After
a key rotation :meth:`DedupStore.claim` also gets the references under the retired secrets
(``previous``): DONE under any of them answers DONE. Values are the state, the lease
token, the sealed outbox, its key version, the counts and the outbox's owner tag (a keyed
hash of the user's data key, see :mod:`connectors.whatsapp.outbox`).

Erasure (issue 9 item 8): :meth:`DedupStore.drop_outboxes` turns every unsent outbox of one
person (found by owner tag) into DONE, dropping the sealed replies at once instead of leaving
them for up to 8 days; a redelivery of such a message is then acknowledged without a reply,
and a holder still sending loses its lease at its next progress write.

This module holds the protocol: the states' results (:class:`Claim`), the errors and the
store interface (:class:`DedupStore`). Two stores implement it:
:class:`~connectors.whatsapp.dedup.memory_store.InMemoryDedupStore` (one process; bounded LRU
with TTL) and :class:`~connectors.whatsapp.dedup.redis_store.RedisDedupStore` (several Rasa
instances; ``SET NX PX`` leases and Lua scripts for the compare-and-set steps, so lease expiry
is Redis' clock, not the instances'); :func:`~connectors.whatsapp.dedup.factory.store_from_url`
chooses one.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from connectors.whatsapp.outbox import Outbox

__all__ = [
    "DONE_TTL_SECONDS",
    "DEFAULT_LEASE_SECONDS",
    "ClaimStatus",
    "Claim",
    "DedupError",
    "LeaseLostError",
    "DedupUnavailableError",
    "DedupStore",
    "message_key",
    "new_token",
]

#: Meta retries for up to 7 days; a DONE marker must outlive every retry (plus a day).
DONE_TTL_SECONDS = 8 * 24 * 3600
#: How long a claim is valid without renewal. The holder renews it every third of this
#: while it works, so only a crashed or frozen holder loses it.
DEFAULT_LEASE_SECONDS = 30.0

_KEY_LABEL = b"blaupause/whatsapp/dedup/v1\x00"


def message_key(message_id: str) -> str:
    """The store key for a message reference: sha256 hex of the labelled reference (never the reference itself)."""
    return hashlib.sha256(_KEY_LABEL + message_id.encode("utf-8", "surrogatepass")).hexdigest()


class ClaimStatus(Enum):
    """What a claim found."""

    ACQUIRED = "acquired"  # this caller holds the lease and must handle the message
    BUSY = "busy"  # another holder's lease is alive (a concurrent duplicate)
    DONE = "done"  # handled completely before: acknowledge, do nothing


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`DedupStore.claim`.

    ``token`` identifies the lease (empty unless ACQUIRED). ``outbox`` is set when a
    previous holder already ran the dialogue and stored its replies; ``taken_over`` when
    the message had been claimed before (expired or released lease), ``lease_expired`` when
    that claim was not released but its lease ran out (its holder died or stalled; counted as
    ``blaupause_dedup_lease_expiries``).
    """

    status: ClaimStatus
    token: str = field(default="", repr=False)
    outbox: Outbox | None = None
    taken_over: bool = False
    lease_expired: bool = False


class DedupError(Exception):
    """Base class of dedup store errors."""


class LeaseLostError(DedupError):
    """The caller's lease expired and another holder took the message over; stop working on it."""


class DedupUnavailableError(DedupError):
    """The store cannot be reached; the message must not be handled (answer 503, Meta retries)."""


class DedupStore(Protocol):
    """What the webhook core needs from a store (connectors/whatsapp/dedup/memory_store.py, redis_store.py).

    ``durable``: whether DONE markers survive a restart of this process (Redis: yes; the
    in-process store: no). The core's replay window depends on it (docs/whatsapp-delivery.md).
    """

    durable: bool

    async def claim(self, message_id: str, lease_seconds: float, *, previous: Sequence[str] = ()) -> Claim:
        """Claim a message (see the module docstring for the outcomes).

        ``previous``: the message's references under retired secrets; DONE under any of them
        answers DONE (a message handled before a key rotation is not handled again).
        """
        ...

    async def renew(self, message_id: str, token: str, lease_seconds: float) -> None:
        """Extend a held lease; :class:`LeaseLostError` if it is no longer held."""
        ...

    async def save_outbox(self, message_id: str, token: str, outbox: Outbox) -> None:
        """Store the rendered replies (state REPLYING); :class:`LeaseLostError` if not held."""
        ...

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        """Record how many outbox messages were sent; :class:`LeaseLostError` if not held."""
        ...

    async def release(self, message_id: str, token: str) -> None:
        """Give the lease up early (after a failure) so a redelivery can take over at once."""
        ...

    async def finish(self, message_id: str, token: str) -> None:
        """Mark DONE, drop the outbox; :class:`LeaseLostError` if not held."""
        ...

    async def drop_outboxes(self, owners: Iterable[str]) -> int:
        """Mark DONE every unsent outbox whose owner tag is in ``owners`` (an erasure); the count."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def new_token() -> str:
    """A fresh lease token: 128 random bits, never derived from the message."""
    return secrets.token_hex(16)
