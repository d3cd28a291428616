"""The framework-free webhook core: raw request in, status and body out.

Why framework-free: everything that matters here (signature, limits, parsing, dedup,
running the dialogue once, delivering every reply exactly once) is testable without a
web server and reusable behind any of them; :mod:`.channel` adapts it to Sanic in a few
lines, like slack-bolt's adapters.

Meta pages followed:
- Verification and signatures: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
- Payloads: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
- Mark as read / typing: https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators

HTTP answers (never a 500 for bad input; the reason is logged, the body never):

=====  =====================================================================
200    verified challenge; every message handled or already handled
400    body is not JSON / not a ``whatsapp_business_account`` payload
401    ``X-Hub-Signature-256`` missing or malformed
403    wrong signature; wrong verify token or mode
413    body (by ``Content-Length`` or actual length) above the limit
500    a real internal error (logged with its type only); Meta retries
503    a reply could not be delivered yet, the dedup store is down, or a
       duplicate is still being handled elsewhere: Meta retries, and the
       outbox makes the retry send only what is missing
=====  =====================================================================

The delivery design (claim, outbox, states and failure cases) is in
docs/whatsapp-delivery.md.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, AsyncIterator, Protocol

from rasa.core.channels.channel import OutputChannel, UserMessage

from connectors.whatsapp.dedup import (
    DEFAULT_LEASE_SECONDS,
    DONE_TTL_SECONDS,
    Claim,
    ClaimStatus,
    DedupStore,
    DedupUnavailableError,
    LeaseLostError,
    message_key,
)
from connectors.whatsapp.errors import (
    AuthenticationError,
    GraphAPIError,
    InvalidParameterError,
    UnexpectedResponseError,
)
from connectors.whatsapp.inbound import CHANNEL_NAME, DirectReply, to_rasa_input
from connectors.whatsapp.outbox import deliver, open_outbox, seal_outbox
from connectors.whatsapp.pacing import RecipientPacer
from connectors.whatsapp.privacy_requests import PrivacyRequestHandler, resolve_privacy_requests
from connectors.whatsapp.payload_ids import PayloadIdMap
from connectors.whatsapp.render import render_response
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import (
    SIGNATURE_HEADER,
    InvalidSignatureError,
    SignatureError,
    verify_signature,
)
from connectors.whatsapp.updates import InboundMessage, PayloadError, TextMessage, WebhookUpdate, parse_body
from privacy.context import UserKeys, keys_for_user, user_context
from privacy.errors import DecryptionError, InvalidIdentifierError
from privacy.keyring import Keyring
from privacy.log_redaction import register_sensitive, sensitive_scope

__all__ = [
    "WebhookResponse",
    "DeliveryOptions",
    "Outcome",
    "GraphSender",
    "OnNewMessage",
    "LanguageLookup",
    "WebhookCore",
]

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
LanguageLookup = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class WebhookResponse:
    """What the adapter writes back: a status and a short plain-text body."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class DeliveryOptions:
    """Timing of the claim protocol (see docs/whatsapp-delivery.md).

    ``lease_seconds``: a claim's lifetime without renewal (renewed every third while held).
    ``duplicate_wait_seconds``: how long a concurrent duplicate waits for the first
    delivery before answering 503. ``max_message_age_seconds``: older messages are
    acknowledged without handling, because their DONE marker may already be forgotten
    (replay protection via the signed ``timestamp``).
    """

    lease_seconds: float = DEFAULT_LEASE_SECONDS
    duplicate_wait_seconds: float = 2.0
    duplicate_poll_seconds: float = 0.05
    max_message_age_seconds: float = DONE_TTL_SECONDS - 24 * 3600


class Outcome(Enum):
    """How handling one inbound message ended; the worst outcome of a POST sets its status."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # 503: Meta redelivers
    FAILED = "failed"  # 500: an internal error


class GraphSender(Protocol):
    """The part of :class:`connectors.whatsapp.graph_client.GraphClient` the core uses."""

    async def send(self, to: str, message: Mapping[str, Any]) -> str: ...

    async def mark_read(self, message_id: str, typing: bool = True) -> None: ...


@dataclass(frozen=True)
class _Dialogue:
    """The per-request collaborators: Rasa's handler, the language lookup, the privacy requests."""

    on_new_message: OnNewMessage
    language_lookup: LanguageLookup | None
    privacy_requests: PrivacyRequestHandler | None = None


class _Undeliverable(Exception):
    """The recipient cannot get the replies (blocked, outside the 24 h window, ...): give up."""

    def __init__(self, error: GraphAPIError) -> None:
        self.error = error
        super().__init__(type(error).__name__)


def _ref(message_id: str) -> str:
    """A log-safe reference to a message: a prefix of its dedup key (never the wamid)."""
    return message_key(message_id)[:12]


def _reply(status: int, body: str) -> WebhookResponse:
    return WebhookResponse(status, body)


class WebhookCore:
    """Handles ``GET`` verification and ``POST`` notifications of one WhatsApp business number.

    Args:
        settings: validated channel settings (tokens, limits).
        store: the dedup store (claims and outboxes).
        graph: sends replies and read receipts (GraphClient or a test double).
        keyring: the privacy keyring (pseudonyms and data keys).
        id_map: the payload id map shared with the renderer.
        output_factory: makes the output channel handed to Rasa; it must collect the bot
            messages in a ``messages`` list (channel.WhatsAppOutput) instead of sending them.
        pacer: keeps each user's sends one at a time (keyed by pseudonym).
        language_lookup: the user's language ("de"/"en") for built-in labels, by pseudonym.
        privacy_requests: performs erase/export requests the dialogue asked for
            (:mod:`.privacy_requests`); without it their markers are dropped.
        options: claim timings.
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
        privacy_requests: PrivacyRequestHandler | None = None,
        options: DeliveryOptions | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.graph = graph
        self.keyring = keyring
        self.id_map = id_map
        self.output_factory = output_factory
        self.pacer = pacer if pacer is not None else RecipientPacer()
        self.language_lookup = language_lookup
        self.privacy_requests = privacy_requests
        self.options = options if options is not None else DeliveryOptions()
        self._wall_clock = wall_clock
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ GET

    def verify(self, params: Mapping[str, str]) -> WebhookResponse:
        """Answer Meta's subscription handshake: the challenge for the right token, else 403."""
        mode = params.get("hub.mode", "")
        token = params.get("hub.verify_token", "")
        challenge = params.get("hub.challenge", "")
        token_ok = hmac.compare_digest(token.encode("utf-8"), self.settings.verify_token.encode("utf-8"))
        if mode == "subscribe" and token_ok and challenge:
            logger.info("webhook verification succeeded")
            return _reply(200, challenge)
        logger.warning("webhook verification refused (mode ok: %s, token ok: %s)", mode == "subscribe", token_ok)
        return _reply(403, "forbidden")

    # ------------------------------------------------------------------ POST

    def check_declared_length(self, headers: Mapping[str, str]) -> WebhookResponse | None:
        """413 when ``Content-Length`` exceeds the limit, before a byte of the body is read."""
        declared = _header(headers, "content-length")
        if declared is None:
            return None
        try:
            length = int(declared)
        except ValueError:
            logger.warning("webhook POST refused: malformed Content-Length")
            return _reply(400, "bad request")
        if length > self.settings.max_body_bytes:
            logger.warning("webhook POST refused: Content-Length %d above limit %d", length, self.settings.max_body_bytes)
            return _reply(413, "payload too large")
        return None

    async def receive(
        self,
        body: bytes,
        headers: Mapping[str, str],
        on_new_message: OnNewMessage,
        *,
        language_lookup: LanguageLookup | None = None,
        privacy_requests: PrivacyRequestHandler | None = None,
    ) -> WebhookResponse:
        """Handle one notification POST; never raises.

        ``on_new_message`` runs the dialogue (Rasa's handler, or a fake in tests);
        ``language_lookup`` and ``privacy_requests`` override the ones given at
        construction for this request.
        """
        dialogue = _Dialogue(
            on_new_message, language_lookup or self.language_lookup, privacy_requests or self.privacy_requests
        )
        try:
            return await self._receive(body, headers, dialogue)
        except Exception as error:  # the edge: a real internal error, not bad input
            logger.error("webhook POST failed with an internal error: %s", type(error).__name__)
            return _reply(500, "internal error")

    async def _receive(self, body: bytes, headers: Mapping[str, str], dialogue: "_Dialogue") -> WebhookResponse:
        refused = self.check_declared_length(headers)
        if refused is not None:
            return refused
        if len(body) > self.settings.max_body_bytes:
            logger.warning("webhook POST refused: body of %d bytes above limit %d", len(body), self.settings.max_body_bytes)
            return _reply(413, "payload too large")
        try:
            verify_signature(self.settings.app_secret, body, _header(headers, SIGNATURE_HEADER))
        except InvalidSignatureError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return _reply(403, "forbidden")
        except SignatureError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return _reply(401, "unauthorized")
        try:
            update = parse_body(body)
        except PayloadError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return _reply(400, "bad request")
        self._log_statuses(update)
        outcomes = await self._handle_messages(update.messages, dialogue)
        if Outcome.FAILED in outcomes:
            return _reply(500, "internal error")
        if Outcome.RETRY in outcomes:
            return _reply(503, "retry later")
        return _reply(200, "ok")

    def _log_statuses(self, update: WebhookUpdate) -> None:
        if update.skipped:
            logger.warning("webhook payload: skipped %d message(s)/status(es) without id or sender", update.skipped)
        for error in update.change_errors:
            logger.warning("webhook payload carries an error: code=%s title=%s", error.code, error.title)
        for status in update.statuses:
            if status.status == "failed":
                codes = ", ".join(f"code={e.code} title={e.title}" for e in status.errors) or "no error code"
                logger.warning("outbound message %s failed: %s", _ref(status.message_id), codes)
            else:
                logger.debug("outbound message %s: %s", _ref(status.message_id), status.status)

    async def _handle_messages(self, messages: Sequence[InboundMessage], dialogue: "_Dialogue") -> list[Outcome]:
        # One lane per sender: a user's messages run in payload order, users run concurrently.
        lanes: dict[str, list[InboundMessage]] = {}
        for message in messages:
            lanes.setdefault(message.sender, []).append(message)
        results = await asyncio.gather(*(self._handle_lane(lane, dialogue) for lane in lanes.values()))
        return [outcome for lane in results for outcome in lane]

    async def _handle_lane(self, lane: Iterable[InboundMessage], dialogue: "_Dialogue") -> list[Outcome]:
        outcomes = []
        with sensitive_scope():
            for message in lane:
                outcome = await self._handle_message(message, dialogue)
                outcomes.append(outcome)
                if outcome in (Outcome.RETRY, Outcome.FAILED):
                    # Later messages of this user come back with Meta's redelivery, in order.
                    break
        return outcomes

    # ------------------------------------------------------------------ one message

    async def _handle_message(self, message: InboundMessage, dialogue: "_Dialogue") -> Outcome:
        register_sensitive(message.sender)
        register_sensitive(message.message_id)
        if isinstance(message, TextMessage):
            register_sensitive(message.body)
        ref = _ref(message.message_id)
        if self._is_stale(message):
            logger.info("message %s ignored: older than the dedup retention (replay protection)", ref)
            return Outcome.HANDLED
        try:
            claim = await self._claim(message.message_id)
        except DedupUnavailableError as error:
            logger.error("message %s not handled: %s", ref, error)
            return Outcome.RETRY
        if claim.status is ClaimStatus.DONE:
            logger.info("message %s is a duplicate of a handled message; acknowledged", ref)
            return Outcome.DUPLICATE
        if claim.status is ClaimStatus.BUSY:
            logger.info("message %s is still being handled elsewhere; asking Meta to retry", ref)
            return Outcome.RETRY
        try:
            user_keys = keys_for_user(self.keyring, message.sender)
        except InvalidIdentifierError as error:
            logger.warning("message %s dropped: sender id unusable (%s)", ref, error)
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        try:
            async with self._lease_kept(message.message_id, claim.token, ref):
                with user_context(user_keys):
                    return await self._handle_claimed(message, claim, user_keys, dialogue, ref)
        except (LeaseLostError, DedupUnavailableError) as error:
            logger.warning("message %s: dedup store: %s; asking Meta to retry", ref, type(error).__name__)
            await self._release(message.message_id, claim.token)
            return Outcome.RETRY
        except Exception as error:  # the dialogue or the renderer failed: an internal error
            logger.error("message %s failed with an internal error: %s", ref, type(error).__name__)
            await self._release(message.message_id, claim.token)
            return Outcome.FAILED

    async def _handle_claimed(
        self,
        message: InboundMessage,
        claim: Claim,
        user_keys: UserKeys,
        dialogue: "_Dialogue",
        ref: str,
    ) -> Outcome:
        if claim.outbox is None:
            if not claim.taken_over:
                self._mark_read_soon(message.message_id, ref)
            messages = await self._produce(message, user_keys, dialogue, ref)
            if not messages:
                return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
            sealed = seal_outbox(user_keys, messages)
            await self._write_while_leased(lambda: self.store.save_outbox(message.message_id, claim.token, sealed), ref)
            start = 0
        else:
            try:
                messages = open_outbox(user_keys, claim.outbox)
            except DecryptionError as error:
                logger.error("message %s: outbox cannot be opened (%s); its unsent replies are lost", ref, error.reason)
                return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
            start = claim.outbox.sent
            logger.info("message %s: resuming delivery at reply %d of %d", ref, start + 1, len(messages))
        try:
            await self._deliver(message, claim.token, messages, start, user_keys)
        except _Undeliverable as undeliverable:
            logger.warning(
                "message %s: replies cannot be delivered (%s code=%s); giving up",
                ref, type(undeliverable.error).__name__, undeliverable.error.code,
            )
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        except GraphAPIError as error:
            logger.warning(
                "message %s: sending failed after retries (%s code=%s status=%s); asking Meta to redeliver",
                ref, type(error).__name__, error.code, error.status,
            )
            await self._release(message.message_id, claim.token)
            return Outcome.RETRY
        return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)

    async def _produce(
        self,
        message: InboundMessage,
        user_keys: UserKeys,
        dialogue: "_Dialogue",
        ref: str,
    ) -> list[dict[str, Any]]:
        """Run the dialogue once (or resolve a "more" page) and render its replies."""
        rasa_input = await to_rasa_input(message, self.id_map)
        if isinstance(rasa_input, DirectReply):
            logger.info("message %s: next page of a list, sent without the dialogue", ref)
            return [dict(page) for page in rasa_input.messages]
        output = self.output_factory()
        await dialogue.on_new_message(
            UserMessage(
                text=rasa_input.text,
                output_channel=output,
                sender_id=user_keys.pseudonym,
                input_channel=CHANNEL_NAME,
                message_id=_rasa_message_id(message.message_id),
                metadata=rasa_input.metadata,
            )
        )
        bot_messages: list[dict[str, Any]] = list(getattr(output, "messages", []))
        # After the turn (Rasa has saved the tracker): erase/export, markers become replies.
        bot_messages = await resolve_privacy_requests(bot_messages, dialogue.privacy_requests, user_keys, ref)
        language = await self._language(bot_messages, user_keys.pseudonym, dialogue.language_lookup, ref)
        rendered: list[dict[str, Any]] = []
        for bot_message in bot_messages:
            rendered.extend(await render_response(bot_message, id_map=self.id_map, language=language))
        logger.info("message %s: dialogue produced %d reply message(s)", ref, len(rendered))
        return rendered

    async def _language(
        self,
        bot_messages: Sequence[Mapping[str, Any]],
        pseudonym: str,
        lookup: LanguageLookup | None,
        ref: str,
    ) -> str:
        """The language for the renderer's built-in labels ("Bitte wählen:", "Optionen").

        A ``language`` key in the response's metadata wins; otherwise, only when a reply
        has choices (the only place labels appear), the tracker's ``language`` slot.
        """
        for bot_message in bot_messages:
            language = bot_message.get("language")
            if isinstance(language, str) and language:
                return language
        needs_labels = any(m.get("buttons") or m.get("quick_replies") or m.get("elements") for m in bot_messages)
        if not needs_labels or lookup is None:
            return "de"
        try:
            return await lookup(pseudonym) or "de"
        except Exception as error:  # a label language is never worth failing the turn
            logger.warning("message %s: language lookup failed (%s); using German labels", ref, type(error).__name__)
            return "de"

    async def _deliver(
        self,
        message: InboundMessage,
        token: str,
        messages: Sequence[Mapping[str, Any]],
        start: int,
        user_keys: UserKeys,
    ) -> None:
        recipient = message.sender
        ref = _ref(message.message_id)

        async def send_one(reply: Mapping[str, Any]) -> None:
            try:
                await self.graph.send(recipient, reply)
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

        async def record_sent(sent: int) -> None:
            await self._write_while_leased(lambda: self.store.mark_sent(message.message_id, token, sent), ref)

        async with self.pacer.turn(user_keys.pseudonym):
            await deliver(messages, start, send_one, record_sent)

    # ------------------------------------------------------------------ helpers

    def _is_stale(self, message: InboundMessage) -> bool:
        if message.timestamp is None:
            return False
        return self._wall_clock() - message.timestamp > self.options.max_message_age_seconds

    async def _claim(self, message_id: str) -> Claim:
        """Claim; a concurrent duplicate polls briefly for the first delivery to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.duplicate_wait_seconds
        while True:
            claim = await self.store.claim(message_id, self.options.lease_seconds)
            if claim.status is not ClaimStatus.BUSY or loop.time() >= deadline:
                return claim
            await asyncio.sleep(self.options.duplicate_poll_seconds)

    @asynccontextmanager
    async def _lease_kept(self, message_id: str, token: str, ref: str) -> AsyncIterator[None]:
        """Renew the lease every third of its lifetime while the body runs."""
        interval = self.options.lease_seconds / 3

        async def renew() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.store.renew(message_id, token, self.options.lease_seconds)
                except LeaseLostError:
                    logger.warning("message %s: lease lost while handling it", ref)
                    return
                except DedupUnavailableError as error:
                    logger.warning("message %s: lease renewal failed: %s", ref, error)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _write_while_leased(self, write: Callable[[], Awaitable[None]], ref: str) -> None:
        """Retry a progress write (outbox, sent count) while the dedup store is unreachable.

        Why: when the store is down for a moment (a Redis restart), giving up at once would lose
        what only this process knows: that the dialogue produced these replies (a redelivery
        would run it again) or that reply k was accepted by the Graph API (a redelivery would
        send it again, since the Graph API has no idempotency key). The lease bounds the wait:
        the write is guarded by the lease token, and once the lease has expired another
        delivery may own the message, so the write fails with LeaseLostError and is not retried.
        docs/reliability.md shows the effect.
        """
        deadline = time.monotonic() + self.options.lease_seconds
        pause = 0.05
        while True:
            try:
                await write()
                return
            except DedupUnavailableError:
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning("message %s: dedup store unreachable; retrying the progress write", ref)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _finish(self, message_id: str, token: str, ref: str, outcome: Outcome) -> Outcome:
        await self.store.finish(message_id, token)
        logger.debug("message %s done", ref)
        return outcome

    async def _release(self, message_id: str, token: str) -> None:
        try:
            await self.store.release(message_id, token)
        except DedupUnavailableError as error:
            logger.warning("lease release failed (%s); it expires on its own", type(error).__name__)

    def _mark_read_soon(self, message_id: str, ref: str) -> None:
        """Blue ticks and the typing indicator, without delaying the dialogue."""

        async def mark() -> None:
            try:
                await self.graph.mark_read(message_id, typing=True)
            except GraphAPIError as error:
                logger.info("message %s: mark as read failed (%s code=%s)", ref, type(error).__name__, error.code)

        task = asyncio.create_task(mark())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for pending read receipts (tests and shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _rasa_message_id(message_id: str) -> str:
    """The id Rasa stores for the user message: a hash, because a wamid embeds the phone number."""
    return "wa-" + message_key(message_id)[:32]
