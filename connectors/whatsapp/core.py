"""The framework-free webhook core: raw request in, status and body out.

Why framework-free: everything that matters here (signature, limits, parsing, dedup, running
the dialogue once, delivering every reply exactly once) is testable without a web server and
reusable behind any of them; :mod:`.adapter` adapts it to Sanic in a few dozen lines, like
slack-bolt's adapters.

A POST walks down one corridor and never comes back (docs/architecture.md):

    adapter -> core.handle -> intake.read (size, signature, parse)
            -> delivery_statuses.handle (count, log, failed ones recorded or retried)
            -> lanes.run (one lane per person) -> message_flow.handle per message:
               intake.admit (sensitive values, replay rule) -> claims.claim
               -> turn.produce (Rasa, post-turn hook, render) | identity move
               -> delivery (seal outbox, send, progress) -> claim finished or released
            -> outcome.answer_for (the worst outcome sets the status)

The HTTP answers are listed in :mod:`.outcome`. Dedup keys, log references and Rasa message
ids are HMACs of the wamid under a key derived from the server secret (:mod:`.references`),
never computable from a wamid alone. One person, one conversation (issue 9): see
:mod:`.identities`; replies go ``to`` the phone number when this webhook carried it, else to
the BSUID (:mod:`.delivery`).

Collaborators are built once: this core at start-up (:mod:`.adapter`), the turn once per Rasa
agent (:mod:`.agent_turns`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.whatsapp.claims import Claims
from connectors.whatsapp.dedup.claims import DONE_TTL_SECONDS, DedupStore
from connectors.whatsapp.delivery import Delivery, GraphSender
from connectors.whatsapp.delivery_statuses import DeliveryStatuses
from connectors.whatsapp.sent_copies.copies import SentCopies, SentCopyBook
from connectors.whatsapp.sent_copies.memory_store import InMemorySentCopies
from connectors.whatsapp.identities import Identities
from connectors.whatsapp.intake import Intake, ReplayWindow
from connectors.whatsapp.lanes import Lanes
from connectors.whatsapp.message_flow import MessageFlow
from connectors.whatsapp.outcome import WebhookResponse, answer_for, reply
from connectors.whatsapp.graph.pacing import RecipientPacer
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import DEFAULT_CLAIM_LEASE_SECONDS, WhatsAppSettings
from connectors.whatsapp.turn import LanguageLookup, OnNewMessage, PostTurnHook, Turn
from connectors.whatsapp.updates.messages import WebhookUpdate
from connectors.whatsapp.voice import VoiceNotes
from connectors.whatsapp.webhook_metrics import count_answer, count_get, count_refusal, now
from observability.correlation import correlation_id_for, correlation_scope
from privacy.keyring import Keyring

__all__ = ["DeliveryOptions", "WebhookCore"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryOptions:
    """Timing of the claim protocol, the replay window and the lanes (docs/whatsapp-delivery.md).

    ``lease_seconds``: a claim's lifetime without renewal (``WHATSAPP_CLAIM_LEASE_S``).
    ``duplicate_wait_seconds``: how long a concurrent duplicate waits for the first
    delivery before answering 503.

    Replay window (:class:`.intake.ReplayWindow`): ``max_message_age_seconds``: older messages
    are acknowledged without handling, because their DONE marker may already be forgotten;
    with a store that is not durable, messages older than the process start minus
    ``restart_skew_seconds`` too.

    ``max_concurrent_lanes``: how many people of one signed POST are handled at once.
    """

    lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS
    duplicate_wait_seconds: float = 2.0
    duplicate_poll_seconds: float = 0.05
    max_message_age_seconds: float = DONE_TTL_SECONDS - 24 * 3600
    restart_skew_seconds: float = 300.0
    max_concurrent_lanes: int = 8

    def __post_init__(self) -> None:
        if self.max_concurrent_lanes < 1:
            raise ValueError("max_concurrent_lanes must be at least 1")


class WebhookCore:
    """Handles ``GET`` verification and ``POST`` notifications of one WhatsApp business number.

    Args:
        settings: validated channel settings (tokens, limits, identity anchor).
        store: the dedup store (claims and outboxes).
        graph: sends replies and read receipts (GraphClient or a test double).
        keyring: the privacy keyring (pseudonyms and data keys).
        id_map: the payload id map shared with the renderer.
        output_factory: makes the output channel handed to Rasa (:class:`.output.WhatsAppOutput`).
        pacer: keeps each user's sends one at a time (keyed by pseudonym).
        language_lookup, privacy_requests: the defaults of :meth:`receive`.
        options: claim timings, replay window, lane concurrency.
        references: keyed references of message ids; by default derived from ``keyring``.
        wall_clock: the clock the replay window compares message timestamps with.
        sent_copies: where sealed copies of sent replies are kept for retries (in memory by default).
        voice: transcribes voice notes (:mod:`.voice`); None: they get the dialogue's polite answer.
    """

    def __init__(
        self,
        *,
        settings: WhatsAppSettings,
        store: DedupStore,
        graph: GraphSender,
        keyring: Keyring,
        id_map: PayloadIdMap,
        output_factory: Callable[[], OutputChannel],
        pacer: RecipientPacer | None = None,
        language_lookup: LanguageLookup | None = None,
        privacy_requests: PostTurnHook | None = None,
        options: DeliveryOptions | None = None,
        references: References | None = None,
        wall_clock: Callable[[], float] = time.time,
        sent_copies: SentCopies | None = None,
        voice: VoiceNotes | None = None,
    ) -> None:
        self.voice = voice
        self.store, self.graph, self.keyring, self.id_map = store, graph, keyring, id_map
        self.output_factory = output_factory
        self.language_lookup, self.privacy_requests = language_lookup, privacy_requests
        self.options = options = options if options is not None else DeliveryOptions()
        self.references = references if references is not None else References.from_keyring(keyring)
        replay = ReplayWindow(
            durable=bool(getattr(store, "durable", False)),
            max_age_seconds=options.max_message_age_seconds,
            restart_skew_seconds=options.restart_skew_seconds,
            wall_clock=wall_clock,
        )
        self.intake = Intake(settings, self.references, replay)
        self.lanes = Lanes(options.max_concurrent_lanes)
        claims = Claims(
            store, self.references, lease_seconds=options.lease_seconds,
            duplicate_wait_seconds=options.duplicate_wait_seconds, duplicate_poll_seconds=options.duplicate_poll_seconds,
        )
        copies = SentCopyBook(sent_copies if sent_copies is not None else InMemorySentCopies(), keyring)
        self.delivery = Delivery(graph, pacer if pacer is not None else RecipientPacer(), copies)
        identities = Identities(keyring, use_parent_user_id=settings.use_parent_user_id)
        self.statuses = DeliveryStatuses(self.references, identities, self.delivery)
        self.flow = MessageFlow(self.intake, claims, identities, self.delivery)
        self._last_turn: tuple[tuple[object, ...], Turn] | None = None

    @property
    def settings(self) -> WhatsAppSettings:
        return self.intake.settings

    # ------------------------------------------------------------------ the edge (adapter calls)

    def verify(self, params: Mapping[str, str]) -> WebhookResponse:
        """GET: Meta's subscription handshake (:meth:`.intake.Intake.verify`), counted."""
        return count_get(self.intake.verify(params))

    def check_before_body(self, headers: Mapping[str, str], arrived: float | None = None) -> WebhookResponse | None:
        """POST, before the body: length and signature header (:meth:`.intake.Intake.check_before_body`).

        ``arrived``: when the request arrived (``time.monotonic()``, taken in the route) for
        the refusal's duration; default now.
        """
        refused = self.intake.check_before_body(headers)
        return None if refused is None else self.refused(refused, arrived)

    @contextmanager
    def body_slot(self, headers: Mapping[str, str] | None = None, arrived: float | None = None) -> Iterator[WebhookResponse | None]:
        """POST, while the body is read: bounded buffering (:meth:`.intake.Intake.body_slot`); 503 counted."""
        with self.intake.body_slot(headers) as busy:
            yield None if busy is None else self.refused(busy, arrived)

    def refused(self, answer: WebhookResponse, arrived: float | None = None) -> WebhookResponse:
        """Count a POST the edge refuses before handling a message (e.g. the adapter's 413 while reading)."""
        return count_refusal(answer, now() if arrived is None else arrived)

    def turn(
        self,
        on_new_message: OnNewMessage,
        *,
        language_lookup: LanguageLookup | None = None,
        privacy: PostTurnHook | None = None,
        tracker_store: Any | None = None,
        lock_store: Any | None = None,
    ) -> Turn:
        """A turn with this core's payload ids, references and output channel."""
        return Turn(
            on_new_message, id_map=self.id_map, references=self.references, output_factory=self.output_factory,
            language_lookup=language_lookup, privacy=privacy, tracker_store=tracker_store, lock_store=lock_store,
            voice=self.voice,
        )

    async def handle(
        self, body: bytes, headers: Mapping[str, str], turn: Turn, arrived: float | None = None
    ) -> WebhookResponse:
        """POST: handle one notification with ``turn``; never raises.

        ``arrived`` (``time.monotonic()``, taken by the route; default now) starts the POST's
        and each message's duration (:mod:`.webhook_metrics`).
        """
        if arrived is None:
            arrived = now()
        messages = False
        try:
            update = self.intake.read(body, headers)
            if not isinstance(update, WebhookUpdate):
                return count_refusal(update, arrived)  # refused: 400/401/403/413
            with correlation_scope(self._statuses_correlation_id(update)):  # each message sets its own
                await self.statuses.handle(update, turn)  # never raises; retries run after the answer
                messages = bool(update.messages)
                outcomes = await self.lanes.run(update.messages, partial(self.flow.handle, arrived=arrived), turn)
                return count_answer(answer_for(outcomes), outcomes, messages=messages, arrived=arrived)
        except Exception as error:  # the edge: a real internal error, not bad input
            logger.error("webhook POST failed with an internal error: %s", type(error).__name__)
            return count_answer(reply(500, "internal error"), (), messages=messages, arrived=arrived)

    def _statuses_correlation_id(self, update: WebhookUpdate) -> str | None:
        """A POST with only statuses: the correlation id of its first status's wamid (else None)."""
        if update.messages or not update.statuses:
            return None
        return correlation_id_for(self.references.rasa_message_id(update.statuses[0].message_id))

    async def receive(
        self,
        body: bytes,
        headers: Mapping[str, str],
        on_new_message: OnNewMessage,
        *,
        language_lookup: LanguageLookup | None = None,
        privacy_requests: PostTurnHook | None = None,
    ) -> WebhookResponse:
        """POST for embedders and tests without a Rasa agent: the turn from a handler.

        ``language_lookup`` and ``privacy_requests`` override the core's defaults. The turn is
        kept while the same collaborators come again, so it is not rebuilt per request.
        """
        parts = (on_new_message, language_lookup or self.language_lookup, privacy_requests or self.privacy_requests)
        if self._last_turn is None or self._last_turn[0] != parts:
            self._last_turn = (parts, self.turn(parts[0], language_lookup=parts[1], privacy=parts[2]))
        return await self.handle(body, headers, self._last_turn[1])

    async def drain(self) -> None:
        """Wait for pending read receipts and delivery retries (tests and shutdown)."""
        await self.delivery.drain()

