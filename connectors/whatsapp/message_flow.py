"""One inbound message down the corridor: admit, claim, turn (or identity move), deliver, outcome.

Why a module of its own: this is the order every message follows, written once and read top
to bottom; each step is another module's job (:mod:`.intake`, :mod:`.claims`, :mod:`.turn`,
:mod:`.identities`, :mod:`.delivery`). The delivery design (claim, outbox, states and
failure cases) is in docs/whatsapp-delivery.md.

- Outside the replay window: acknowledged without handling.
- Claim: a handled message is a duplicate (200); one still being handled elsewhere, or a
  dedup store that is down, asks Meta to retry (503).
- An identity change (changed number or BSUID) moves the conversation under the claim, gets
  no reply and never reaches Rasa.
- Otherwise, inside the user's key context and while the lease is kept: a new message gets a
  read receipt and a turn, and its replies are delivered; a redelivered one with an outbox
  resumes delivery. A lost lease or an unreachable store releases the claim (503); any other
  error is internal (500, logged with its type only).

Each message's turn duration (``blaupause_turn_duration_seconds``, :mod:`.webhook_metrics`) is
observed here, by outcome; a resumed outbox counts ``blaupause_outbox_resumes``.
"""
from __future__ import annotations

import logging

from rasa.core.lock_store import LockError

from connectors.whatsapp.claims import Claims, HeldClaim
from connectors.whatsapp.dedup.claims import ClaimStatus, DedupUnavailableError, LeaseLostError
from connectors.whatsapp.delivery import Delivery
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.intake import Intake
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.turn import Turn
from connectors.whatsapp.updates.messages import IdentityChange, InboundMessage
from connectors.whatsapp.webhook_metrics import now, observe_turn
from observability.correlation import correlation_id_for, correlation_scope
from observability.metrics import outbox_resumes
from privacy.backends import TrackerStorageUnavailable
from privacy.context import UserKeys, user_context
from privacy.errors import InvalidIdentifierError

__all__ = ["MessageFlow"]

logger = logging.getLogger(__name__)


class MessageFlow:
    """Handles one message of a verified POST and says how it ended (:class:`.outcome.Outcome`)."""

    def __init__(self, intake: Intake, claims: Claims, identities: Identities, delivery: Delivery) -> None:
        self.intake = intake
        self.claims = claims
        self.identities = identities
        self.delivery = delivery

    async def handle(self, message: InboundMessage, turn: Turn, arrived: float | None = None) -> Outcome:
        """:meth:`_handle` with the message's correlation id on every log line (observability.correlation)."""
        with correlation_scope(correlation_id_for(self.claims.references.rasa_message_id(message.message_id))):
            return await self._handle(message, turn, arrived)

    async def _handle(self, message: InboundMessage, turn: Turn, arrived: float | None = None) -> Outcome:
        """Handle ``message``; ``arrived`` (``time.monotonic()`` of the webhook's arrival, default
        now) starts its turn duration, which ends when its last reply was accepted by the Graph
        API (:attr:`.claims.HeldClaim.sent_at`) or when its outcome is known."""
        if arrived is None:
            arrived = now()
        stale = self.intake.admit(message)
        ref = self.claims.references.log_ref(message.message_id)
        if stale is not None:
            logger.info("message %s acknowledged without handling: %s (replay protection)", ref, stale)
            observe_turn("stale", arrived)
            return Outcome.HANDLED
        try:
            claim = await self.claims.claim(message.message_id)
        except DedupUnavailableError as error:
            logger.error("message %s not handled: %s", ref, error)
            observe_turn("retry", arrived)
            return Outcome.RETRY
        if claim.status is ClaimStatus.DONE:
            logger.info("message %s is a duplicate of a handled message; acknowledged", ref)
            observe_turn("duplicate", arrived)
            return Outcome.DUPLICATE
        if claim.status is ClaimStatus.BUSY:
            logger.info("message %s is still being handled elsewhere; asking Meta to retry", ref)
            observe_turn("retry", arrived)
            return Outcome.RETRY
        held = self.claims.held(message.message_id, claim)
        if isinstance(message, IdentityChange):
            outcome = await self._change_identity(message, held, turn)
            observe_turn("identity_move" if outcome is Outcome.HANDLED else outcome.value, arrived)
            return outcome
        outcome = await self._handle_held(message, held, turn)
        observe_turn(outcome.value, arrived, held.sent_at if outcome is Outcome.HANDLED else None)
        return outcome

    async def _handle_held(self, message: InboundMessage, held: HeldClaim, turn: Turn) -> Outcome:
        ref = held.ref
        try:
            user_keys = self.identities.keys_of(message)
        except InvalidIdentifierError as error:
            logger.warning("message %s dropped: sender id unusable (%s)", ref, error)
            return await held.finish()
        try:
            async with held.kept():
                with user_context(user_keys):
                    return await self._reply(message, held, user_keys, turn)
        except (LeaseLostError, DedupUnavailableError) as error:
            logger.warning("message %s: dedup store: %s; asking Meta to retry", ref, type(error).__name__)
            return await held.release()
        except Exception as error:  # the dialogue or the renderer failed: an internal error
            logger.error("message %s failed with an internal error: %s", ref, type(error).__name__)
            return await held.release(Outcome.FAILED)

    async def _reply(self, message: InboundMessage, held: HeldClaim, user_keys: UserKeys, turn: Turn) -> Outcome:
        if held.outbox is not None:
            outbox_resumes.inc()
            return await self.delivery.resume(message, held, user_keys)
        if not held.taken_over:
            self.delivery.mark_read_soon(message.message_id, held.ref)
        replies = await turn.produce(message, user_keys, held.ref)
        if not replies:
            return await held.finish()
        return await self.delivery.send_new(message, held, replies, user_keys)

    async def _change_identity(self, message: IdentityChange, held: HeldClaim, turn: Turn) -> Outcome:
        """Move the conversation from the previous identity's keys to the new one's; no reply.

        Runs under the dedup claim (a redelivered system message moves nothing twice; the move
        is idempotent anyway). Without the post-turn hook (no encrypted tracker store) there is
        nothing to move and the message is just acknowledged.
        """
        ref = held.ref
        move = self.identities.plan_move(message, ref)
        if move is None:
            return await held.finish()
        if not turn.can_move:
            logger.info("message %s: identity change (%s) acknowledged: no tracker store to move", ref, message.change)
            return await held.finish()
        try:
            async with held.kept():
                moved = await turn.move_conversation(*move, ref)
        except (TrackerStorageUnavailable, LockError) as error:
            logger.warning("message %s: identity change not applied (%s); asking Meta to retry", ref, type(error).__name__)
            return await held.release()
        except (LeaseLostError, DedupUnavailableError) as error:
            logger.warning("message %s: dedup store: %s; asking Meta to retry", ref, type(error).__name__)
            return await held.release()
        except Exception as error:
            logger.error("message %s: identity change failed with an internal error: %s", ref, type(error).__name__)
            return await held.release(Outcome.FAILED)
        logger.info("message %s: identity change (%s) handled (conversation moved: %s)", ref, message.change, moved)
        return await held.finish()
