"""Delivery: seal the replies into the outbox, send them in order, record progress, end the claim.

The last room of the corridor (:mod:`.core`); it knows nothing of Rasa. Replies are rendered
Graph API message objects without an address; they are sealed under the user's key
(:mod:`.outbox`) and saved under the claim before the first send, so Meta's redelivery after a
failed send resumes at the first unsent reply instead of running the dialogue again. The
address is rebuilt from every (redelivered) webhook: ``to`` the phone number when this webhook
carried it, else the BSUID as ``recipient`` (:class:`.recipient.Recipient`).

How a send failure ends the message (docs/whatsapp-delivery.md):

- accepted with an unexpected answer: counted as sent (a resend risks a duplicate);
- rejected as invalid (a rendering bug): that reply is skipped;
- authentication, or a retryable error after the client's retries: the claim is released and
  Meta asked to redeliver (503);
- any other error (blocked, outside the 24 h window, 131062 "cannot go to a BSUID"): the
  replies are undeliverable, the message is finished, not redelivered in a loop.

Read receipts with the typing indicator are sent in the background, so they never delay the
dialogue (https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators).

After each accepted send a sealed copy of the reply is kept for an hour under a keyed reference
of its wamid (:mod:`.sent_copies`), so that a failed status Meta reports later can be retried
(:mod:`.delivery_statuses`, which resends with :meth:`Delivery.resend` in the background). The
copy is written in the background too, so a turn's replies never wait for that store.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from connectors.whatsapp.claims import HeldClaim
from connectors.whatsapp.graph.errors import AuthenticationError, GraphAPIError, InvalidParameterError, UnexpectedResponseError
from connectors.whatsapp.outbox import deliver, open_outbox, seal_outbox
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.sent_copies.copies import SentCopyBook
from connectors.whatsapp.updates.messages import InboundMessage
from privacy.context import UserKeys
from privacy.errors import DecryptionError

__all__ = ["Delivery", "GraphSender"]

logger = logging.getLogger(__name__)


class GraphSender(Protocol):
    """The part of :class:`connectors.whatsapp.graph.client.GraphClient` delivery uses.

    ``send`` gets the reply's :class:`~connectors.whatsapp.recipient.Recipient` (``to`` a phone
    number or ``recipient`` a BSUID); read receipts address the message id only.
    """

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> Any: ...

    async def mark_read(self, message_id: str, typing: bool = True) -> None: ...


class _Undeliverable(Exception):
    """The recipient cannot get the replies (blocked, outside the 24 h window, ...): give up."""

    def __init__(self, error: GraphAPIError) -> None:
        self.error = error
        super().__init__(type(error).__name__)


class Delivery:
    """Sends one message's replies through ``graph``, one user at a time (``pacer``, by pseudonym)."""

    def __init__(self, graph: GraphSender, pacer: RecipientPacer, copies: SentCopyBook | None = None) -> None:
        self.graph = graph
        self.pacer = pacer
        self.copies = copies
        self._background: set[asyncio.Task[None]] = set()

    async def send_new(
        self, message: InboundMessage, held: HeldClaim, replies: Sequence[Mapping[str, Any]], user_keys: UserKeys
    ) -> Outcome:
        """Seal and save ``replies`` under the claim, then send them all."""
        await held.save_outbox(seal_outbox(user_keys, replies))
        return await self._send(message, held, replies, 0, user_keys)

    async def resume(self, message: InboundMessage, held: HeldClaim, user_keys: UserKeys) -> Outcome:
        """Send what the claim's outbox still holds (a redelivery after a failed send)."""
        outbox = held.outbox
        if outbox is None:
            raise ValueError("only a claim with an outbox can be resumed")
        try:
            replies = open_outbox(user_keys, outbox)
        except DecryptionError as error:
            logger.error("message %s: outbox cannot be opened (%s); its unsent replies are lost", held.ref, error.reason)
            return await held.finish()
        start = outbox.sent
        logger.info("message %s: resuming delivery at reply %d of %d", held.ref, start + 1, len(replies))
        return await self._send(message, held, replies, start, user_keys)

    async def _send(
        self,
        message: InboundMessage,
        held: HeldClaim,
        replies: Sequence[Mapping[str, Any]],
        start: int,
        user_keys: UserKeys,
    ) -> Outcome:
        # Rebuilt from the (redelivered) webhook: the outbox never holds an address.
        sending = _Sending(
            self.graph, Recipient.for_message(message.phone, message.user_id or message.parent_user_id),
            self._keeper(user_keys),
        )
        try:
            async with self.pacer.turn(user_keys.pseudonym):
                await deliver(replies, start, sending.one, held.mark_sent)
        except _Undeliverable as undeliverable:
            logger.warning(
                "message %s: replies cannot be delivered (%s code=%s); giving up",
                held.ref, type(undeliverable.error).__name__, undeliverable.error.code,
            )
            return await held.finish()
        except GraphAPIError as error:
            logger.warning(
                "message %s: sending failed after retries (%s code=%s status=%s); asking Meta to redeliver",
                held.ref, type(error).__name__, error.code, error.status,
            )
            return await held.release()
        return await held.finish()

    def _keeper(self, user_keys: UserKeys, attempts: int = 0) -> _OnSent | None:
        """After an accepted send: keep the sealed copy (:mod:`.sent_copies`), if a book is set.

        The copy is written in the background (:meth:`run_soon`): the next reply of the turn
        does not wait for the store (a Redis round trip per reply), and Meta's status for the
        message comes seconds later at the earliest.
        """
        copies = self.copies
        if copies is None:
            return None

        def keep(reply: Mapping[str, Any], wamid: object) -> None:
            if isinstance(wamid, str) and wamid:
                self.run_soon(copies.keep(wamid, user_keys, reply, attempts))

        return keep

    async def resend(self, recipient: Recipient, reply: Mapping[str, Any], user_keys: UserKeys, attempts: int) -> None:
        """Send one earlier reply again (a retryable failed status), paced like every send.

        Raises the Graph API's error; on success the new wamid gets a copy with ``attempts``.
        """
        keep = self._keeper(user_keys, attempts)
        async with self.pacer.turn(user_keys.pseudonym):
            wamid = await self.graph.send(recipient, reply)
        if keep is not None:
            keep(reply, wamid)

    def run_soon(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the webhook is answered; :meth:`drain` waits for it."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def mark_read_soon(self, message_id: str, ref: str) -> None:
        """Blue ticks and the typing indicator, without delaying the dialogue."""
        self.run_soon(self._mark_read(message_id, ref))

    async def _mark_read(self, message_id: str, ref: str) -> None:
        try:
            await self.graph.mark_read(message_id, typing=True)
        except GraphAPIError as error:
            logger.info("message %s: mark as read failed (%s code=%s)", ref, type(error).__name__, error.code)

    async def drain(self) -> None:
        """Wait for pending read receipts and retries (tests and shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


#: Called after an accepted send with the reply and Meta's message id.
_OnSent = Callable[[Mapping[str, Any], object], None]


class _Sending:
    """Sends one reply to one recipient and sorts the Graph API's errors (see the module docstring)."""

    def __init__(self, graph: GraphSender, recipient: Recipient, on_sent: _OnSent | None = None) -> None:
        self.graph = graph
        self.recipient = recipient
        self.on_sent = on_sent

    async def one(self, reply: Mapping[str, Any]) -> None:
        try:
            wamid = await self.graph.send(self.recipient, reply)
            if self.on_sent is not None:
                self.on_sent(reply, wamid)
        except UnexpectedResponseError as error:
            # Meta answered 2xx without an id: the message may well be out; count it as
            # sent rather than risk a duplicate.
            logger.warning("reply accepted with an unexpected answer (%s); counted as sent", type(error).__name__)
        except InvalidParameterError as error:
            # A rendering bug: resending the same body cannot succeed. Skip this one reply.
            logger.error("reply rejected as invalid (code=%s); skipped", error.code)
        except AuthenticationError:
            raise  # fixable by an operator: let Meta redeliver later
        except GraphAPIError as error:
            if error.retryable:
                raise
            raise _Undeliverable(error) from error
