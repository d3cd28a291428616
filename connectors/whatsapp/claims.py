"""The claim protocol: who handles a message, for how long, and what progress is recorded.

Why: Meta redelivers a webhook until it gets a 2xx, and several instances may get the same
message at once. Exactly one of them may run the dialogue; its claim is a lease renewed while
it works, its progress (the sealed outbox, the number of replies sent) is written under the
lease token, and at the end the message is finished (DONE) or released for a redelivery.
The states and failure cases are in docs/whatsapp-delivery.md; the store is
:class:`connectors.whatsapp.dedup.claims.DedupStore` (in-process or Redis).

The store only ever sees the message's keyed dedup reference (:mod:`.references`), never the
wamid. Each claim counts what it found (``blaupause_dedup_duplicates`` by state, and
``blaupause_dedup_lease_expiries`` for a lease that ran out; :mod:`observability.metrics`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from connectors.whatsapp.dedup.claims import (
    Claim,
    ClaimStatus,
    DedupStore,
    DedupUnavailableError,
    LeaseLostError,
)
from connectors.whatsapp.outbox import Outbox
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.references import References
from observability.metrics import dedup_duplicates, dedup_lease_expiries

__all__ = ["Claims", "HeldClaim"]

logger = logging.getLogger(__name__)

_DUPLICATE_DONE = dedup_duplicates.labels("done")
_DUPLICATE_BUSY = dedup_duplicates.labels("in_progress")
_DUPLICATE_OUTBOX = dedup_duplicates.labels("outbox")


def _count(claim: Claim) -> None:
    """A redelivery by the state its claim found (done, in progress, a sealed outbox); an expired lease."""
    if claim.status is ClaimStatus.DONE:
        _DUPLICATE_DONE.inc()
    elif claim.status is ClaimStatus.BUSY:
        _DUPLICATE_BUSY.inc()
    elif claim.outbox is not None:
        _DUPLICATE_OUTBOX.inc()
    if claim.lease_expired:
        dedup_lease_expiries.inc()


class Claims:
    """Claims messages in the dedup store and hands out :class:`HeldClaim` objects.

    ``lease_seconds``: a claim's lifetime without renewal (renewed every third while held).
    ``duplicate_wait_seconds``: how long a concurrent duplicate waits for the first delivery
    before answering 503 (polling every ``duplicate_poll_seconds``).
    """

    def __init__(
        self,
        store: DedupStore,
        references: References,
        *,
        lease_seconds: float,
        duplicate_wait_seconds: float,
        duplicate_poll_seconds: float,
    ) -> None:
        self.store = store
        self.references = references
        self.lease_seconds = lease_seconds
        self.duplicate_wait_seconds = duplicate_wait_seconds
        self.duplicate_poll_seconds = duplicate_poll_seconds

    async def claim(self, message_id: str) -> Claim:
        """Claim; a concurrent duplicate polls briefly for the first delivery to end.

        Raises :class:`DedupUnavailableError` when the store cannot be reached.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.duplicate_wait_seconds
        # After a key rotation: DONE under a retired secret's reference is DONE (references.py).
        retired = self.references.retired_dedup_keys(message_id)
        previous = {"previous": retired} if retired else {}
        while True:
            claim = await self.store.claim(self.references.dedup_key(message_id), self.lease_seconds, **previous)
            if claim.status is not ClaimStatus.BUSY or loop.time() >= deadline:
                _count(claim)
                return claim
            await asyncio.sleep(self.duplicate_poll_seconds)

    def held(self, message_id: str, claim: Claim) -> "HeldClaim":
        """The claim this instance now holds on ``message_id`` (status NEW or taken over)."""
        return HeldClaim(self, message_id, claim)


class HeldClaim:
    """A claim this instance holds: keep it alive, record progress, finish or release it."""

    def __init__(self, claims: Claims, message_id: str, claim: Claim) -> None:
        self._claims = claims
        self.message_id = message_id
        self.key = claims.references.dedup_key(message_id)
        self.ref = claims.references.log_ref(message_id)
        self.token = claim.token
        self.outbox: Outbox | None = claim.outbox
        self.taken_over = claim.taken_over
        #: ``time.monotonic()`` when the Graph API last accepted a reply (the turn's end), or None.
        self.sent_at: float | None = None

    @asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """Renew the lease every third of its lifetime while the body runs."""
        task = asyncio.create_task(self._renew())
        try:
            yield
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _renew(self) -> None:
        lease = self._claims.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self._claims.store.renew(self.key, self.token, lease)
            except LeaseLostError:
                logger.warning("message %s: lease lost while handling it", self.ref)
                return
            except DedupUnavailableError as error:
                logger.warning("message %s: lease renewal failed: %s", self.ref, error)

    async def save_outbox(self, outbox: Outbox) -> None:
        """Record the sealed replies: a redelivery then sends them without a second turn."""
        await self._write_while_leased(self._claims.store.save_outbox, outbox)

    async def mark_sent(self, sent: int) -> None:
        """Record that the first ``sent`` replies were accepted by the Graph API."""
        self.sent_at = time.monotonic()
        await self._write_while_leased(self._claims.store.mark_sent, sent)

    async def _write_while_leased(self, write: Callable[[str, str, object], Awaitable[None]], value: object) -> None:
        """Retry a progress write (outbox, sent count) while the dedup store is unreachable.

        Why: when the store is down for a moment (a Redis restart), giving up at once would lose
        what only this process knows: that the dialogue produced these replies (a redelivery
        would run it again) or that reply k was accepted by the Graph API (a redelivery would
        send it again, since the Graph API has no idempotency key). The lease bounds the wait:
        the write is guarded by the lease token, and once the lease has expired another
        delivery may own the message, so the write fails with LeaseLostError and is not retried.
        docs/reliability.md shows the effect.
        """
        deadline = time.monotonic() + self._claims.lease_seconds
        pause = 0.05
        while True:
            try:
                await write(self.key, self.token, value)
                return
            except DedupUnavailableError:
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning("message %s: dedup store unreachable; retrying the progress write", self.ref)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def finish(self, outcome: Outcome = Outcome.HANDLED) -> Outcome:
        """Mark the message DONE: every redelivery of it is a duplicate from now on."""
        await self._claims.store.finish(self.key, self.token)
        logger.debug("message %s done", self.ref)
        return outcome

    async def release(self, outcome: Outcome = Outcome.RETRY) -> Outcome:
        """Give the claim up so Meta's redelivery can take it (keeping any outbox)."""
        try:
            await self._claims.store.release(self.key, self.token)
        except DedupUnavailableError as error:
            logger.warning("lease release failed (%s); it expires on its own", type(error).__name__)
        return outcome
