"""Delivery statuses: counted, logged without identifiers, and a failed delivery handled.

Why a module of its own: statuses are the other half of a webhook (about three per message we
send, https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object).
Every status is counted (``blaupause_delivery_statuses{status,code}``). A ``failed`` one:

- is logged with the keyed log reference of its wamid, the code and our category of it
  (:func:`category_of`) only; Meta's ``title`` is free text and never logged (the fuzz suite
  found a title that was a user's text in the log);
- with a retryable code (:data:`RETRYABLE_CODES`: 130429 throughput, 131056 pair rate limit,
  131000/131016 temporary) and a sealed copy of the message (:mod:`.sent_copies`, kept by
  :mod:`.delivery` after each send) with retries left (at most :data:`MAX_RETRIES`): the copy
  is opened with the keys derived from the status's recipient ids and sent again, after the
  webhook was answered (a background task, drained at shutdown), after the wait Meta's rule asks
  for (131056: about one message per 6 s per pair);
- otherwise (or when the resend fails) recorded in the person's encrypted conversation: a
  ``SlotSet`` of the slot ``last_reply_failed`` (:data:`connectors.whatsapp.turn.FAILED_DELIVERY_SLOT`)
  to a category (:func:`category_of`), never the error's text. The person's next turn gets a
  short notice (labels.yml ``channel.last_reply_failed``, :mod:`.turn`) and the slot is reset.

What the channel did is counted once per failed status in
``blaupause_failed_deliveries_handled{action,code}``: ``retried`` (resent, accepted),
``recorded`` (retryable code, but no copy, no retry left or the resend failed: recorded),
``not_retryable`` (recorded; the code is not worth a retry: 131026, 131047, 131051, ...),
``unknown_message`` (no usable recipient id, no conversation, or no tracker store: nothing
stored) and ``store_error`` (the store failed: logged, and the webhook still gets 200, since a
status webhook redelivered for days would not make the store come back sooner).
Codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes;
docs/whatsapp-delivery.md, "Delivery statuses".
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.shared.core.events import SlotSet

from connectors.whatsapp.conversation_writes import append_events
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.graph.errors import GraphAPIError
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.sent_copies.copies import SentCopy, open_copy
from connectors.whatsapp.turn import FAILED_DELIVERY_SLOT, Turn
from connectors.whatsapp.updates.messages import StatusUpdate, WebhookUpdate
from observability.labels import code_label, one_of
from observability.metrics import (
    DELIVERY_STATUSES,
    FAILED_DELIVERY_ACTIONS,
    delivery_statuses,
    failed_deliveries_handled,
)
from privacy.context import UserKeys, user_context
from privacy.errors import DecryptionError, InvalidIdentifierError
from privacy.log_redaction.sensitive import register_sensitive

__all__ = ["DeliveryStatuses", "RETRYABLE_CODES", "MAX_RETRIES", "category_of"]

logger = logging.getLogger(__name__)

#: Seconds to wait before resending, by retryable code (Meta's rules; the pacer adds its gap).
RETRYABLE_CODES: dict[int, float] = {
    130429: 2.0,   # throughput of the business number exceeded: back off briefly
    131056: 6.0,   # pair rate limit: about one message per 6 s to the same person
    131000: 3.0,   # something went wrong (temporary)
    131016: 3.0,   # service temporarily unavailable
}
#: At most this many resends of one message.
MAX_RETRIES = 2

_CATEGORIES = {130429: "rate_limited", 131056: "rate_limited", 131000: "server_error", 131016: "server_error",
               131047: "outside_window"}


def category_of(code: int | None) -> str:
    """The slot value for a failed delivery's code: a category, never Meta's text."""
    return _CATEGORIES.get(code, "undeliverable") if code is not None else "undeliverable"


class DeliveryStatuses:
    """Counts, logs and handles the statuses of one webhook (see the module docstring)."""

    def __init__(
        self,
        references: References,
        identities: Identities,
        delivery: Delivery,
        *,
        waits: dict[int, float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.references = references
        self.identities = identities
        self.delivery = delivery
        self.waits = dict(RETRYABLE_CODES if waits is None else waits)
        self._sleep = sleep

    def log(self, update: WebhookUpdate) -> None:
        """What a payload carried besides messages: skipped items, change errors, statuses."""
        if update.skipped:
            logger.warning("webhook payload: skipped %d message(s)/status(es) without id or sender", update.skipped)
        for error in update.change_errors:
            logger.warning("webhook payload carries an error: code=%s", error.code)
        for status in update.statuses:
            if status.status != "failed":
                logger.debug("outbound message %s: %s", self.references.log_ref(status.message_id), status.status)

    async def handle(self, update: WebhookUpdate, turn: Turn) -> None:
        """Count every status and handle the failed ones; never raises (the webhook answers 200)."""
        self.log(update)
        for status in update.statuses:
            delivery_statuses.labels(status=one_of(status.status, DELIVERY_STATUSES), code=code_label(status.code)).inc()
            try:
                if status.status == "failed":
                    await self._failed(status, turn)
                elif status.status in ("delivered", "read") and self.delivery.copies is not None:
                    await self.delivery.copies.forget(status.message_id)  # it arrived: no retry needed
            except Exception as error:  # a status must never fail the webhook
                logger.error("delivery status not handled: internal error %s", type(error).__name__)

    async def _failed(self, status: StatusUpdate, turn: Turn) -> None:
        for identifier in status.identifiers():
            register_sensitive(identifier)
        register_sensitive(status.message_id)
        ref = self.references.log_ref(status.message_id)
        codes = ", ".join(f"code={e.code} ({category_of(e.code)})" for e in status.errors) or "no error code"
        logger.warning("outbound message %s failed: %s", ref, codes)
        code = status.code
        try:
            keys = self.identities.keys(status.phone, status.user_id, status.parent_user_id)
        except InvalidIdentifierError:
            logger.info("outbound message %s: failed status without a usable recipient id; nothing stored", ref)
            self._count("unknown_message", code)
            return
        if code in self.waits and self.delivery.copies is not None:
            copy = await self.delivery.copies.find(status.message_id)
            if copy is not None and copy.attempts < MAX_RETRIES:
                self.delivery.run_soon(self._retry(status, copy, keys, ref, turn))
                return
        await self._record(status, keys, ref, turn)

    async def _retry(self, status: StatusUpdate, copy: SentCopy, keys: UserKeys, ref: str, turn: Turn) -> None:
        """Resend the copy after Meta's wait; record the failure when that is not possible."""
        code = status.code
        await self._sleep(self.waits.get(code or 0, 0.0))
        try:
            reply = open_copy(keys, copy)
            recipient = Recipient.for_message(status.phone, status.user_id or status.parent_user_id)
            await self.delivery.resend(recipient, reply, keys, copy.attempts + 1)
        except (DecryptionError, ValueError) as error:  # ValueError: no address to send to
            logger.warning("outbound message %s: cannot be resent (%s)", ref, type(error).__name__)
        except GraphAPIError as error:
            logger.warning("outbound message %s: resend failed (%s code=%s)", ref, type(error).__name__, error.code)
        except Exception as error:
            logger.error("outbound message %s: resend failed with an internal error %s", ref, type(error).__name__)
        else:
            logger.info("outbound message %s: resent (retry %d of %d)", ref, copy.attempts + 1, MAX_RETRIES)
            if self.delivery.copies is not None:
                await self.delivery.copies.forget(status.message_id)
            self._count("retried", code)
            return
        await self._record(status, keys, ref, turn)

    async def _record(self, status: StatusUpdate, keys: UserKeys, ref: str, turn: Turn) -> None:
        """SlotSet(last_reply_failed, category) in the person's conversation, if there is one."""
        code = status.code
        store = turn.tracker_store
        if store is None:
            logger.info("outbound message %s: failure not recorded: no tracker store", ref)
            self._count("unknown_message", code)
            return
        try:
            with user_context(keys):
                recorded = await append_events(
                    store, turn.lock_store, keys.pseudonym, [SlotSet(FAILED_DELIVERY_SLOT, category_of(code))]
                )
            if not recorded:
                logger.info("outbound message %s: failure not recorded: no conversation", ref)
                self._count("unknown_message", code)
                return
        except Exception as error:  # TrackerStorageUnavailable, a crypto error: 200 all the same
            logger.warning("outbound message %s: failure not recorded: tracker store %s", ref, type(error).__name__)
            self._count("store_error", code)
            return
        logger.info("outbound message %s: failure recorded in the conversation (%s)", ref, category_of(code))
        self._count("recorded" if code in self.waits else "not_retryable", code)

    @staticmethod
    def _count(action: str, code: int | None) -> None:
        failed_deliveries_handled.labels(action=one_of(action, FAILED_DELIVERY_ACTIONS), code=code_label(code)).inc()
