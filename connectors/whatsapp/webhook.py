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
401    ``X-Hub-Signature-256`` missing or malformed (checked before the body is read)
403    wrong signature; wrong verify token or mode
413    body (by ``Content-Length`` or actual length) above the limit
500    a real internal error (logged with its type only); Meta retries
503    a reply could not be delivered yet, the dedup store is down, a
       duplicate is still being handled elsewhere, or too many bodies are
       being read at once (:meth:`WebhookCore.body_slot`): Meta retries, and
       the outbox makes the retry send only what is missing
=====  =====================================================================

Messages outside the replay window (:meth:`WebhookCore._stale_reason`) are acknowledged with
200 without handling. Dedup keys, log references and Rasa message ids are HMACs of the wamid
under a key derived from the server secret (:mod:`.references`), never computable from a
wamid alone.

The delivery design (claim, outbox, states and failure cases) is in
docs/whatsapp-delivery.md.

One person, one conversation (issue 9): a user's keys derive from the *anchor* (the BSUID
when the webhook carries one, else the phone number; ``WHATSAPP_IDENTITY_ANCHOR=parent_user_id``
prefers the parent BSUID), every other identifier of the webhook is an alias the tracker store
migrates from. A POST's messages run in one lane per person (messages sharing any identifier),
in payload order. Replies go ``to`` the phone number when this webhook carried it, else to the
BSUID as ``recipient`` (:class:`~connectors.whatsapp.recipient.Recipient`, rebuilt from every
redelivery; the outbox holds no address). 131062 (a message that cannot go to a BSUID) is
undeliverable: the message is finished, not redelivered. A system message announcing a changed
number or BSUID (:class:`~connectors.whatsapp.updates.IdentityChange`) moves the conversation
to the new identity's keys under the dedup claim, gets no reply and never reaches Rasa.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, AsyncIterator, Iterator, Protocol

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.lock_store import LockError

from connectors.whatsapp.dedup import (
    DEFAULT_LEASE_SECONDS,
    DONE_TTL_SECONDS,
    Claim,
    ClaimStatus,
    DedupStore,
    DedupUnavailableError,
    LeaseLostError,
)
from connectors.whatsapp.errors import (
    AuthenticationError,
    GraphAPIError,
    InvalidParameterError,
    UnexpectedResponseError,
)
from connectors.whatsapp.inbound import CHANNEL_NAME, DirectReply, to_rasa_input
from connectors.whatsapp.outbox import ADDRESS_FIELDS, deliver, open_outbox, seal_outbox
from connectors.whatsapp.pacing import RecipientPacer
from connectors.whatsapp.payload_ids import PayloadIdMap, owned_by
from connectors.whatsapp.render import render_response
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import (
    SIGNATURE_HEADER,
    InvalidSignatureError,
    SignatureError,
    check_header,
    verify_signature,
)
from connectors.whatsapp.recipient import Recipient
from connectors.whatsapp.references import References
from connectors.whatsapp.updates import (
    IdentityChange,
    InboundMessage,
    PayloadError,
    TextMessage,
    WebhookUpdate,
    parse_body,
)
from privacy.backends import TrackerStorageUnavailable
from privacy.context import UserKeys, keys_for_user, user_context
from privacy.errors import DecryptionError, InvalidIdentifierError
from privacy.identity import UserIdentifiers, normalize_wa_id
from privacy.keyring import Keyring
from privacy.log_redaction.sensitive import register_sensitive, sensitive_scope
from privacy.owner_tags import owner_tag
from privacy.personal_values import personal_values_scope, remember_personal_values
from privacy.requests.hook import PrivacyRequestHandler, PrivacyRequests

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
    delivery before answering 503.

    Replay window (the signed ``timestamp`` of each message; docs/whatsapp-delivery.md):
    ``max_message_age_seconds``: older messages are acknowledged without handling, because
    their DONE marker may already be forgotten. With a store that is not durable (the
    in-process one) every marker is lost at a restart, so messages older than the process
    start minus ``restart_skew_seconds`` are acknowledged without handling too, and a message
    without a timestamp is handled only with a durable store (Meta always sends one).

    ``max_concurrent_lanes``: how many people of one signed POST are handled at once.
    """

    lease_seconds: float = DEFAULT_LEASE_SECONDS
    duplicate_wait_seconds: float = 2.0
    duplicate_poll_seconds: float = 0.05
    max_message_age_seconds: float = DONE_TTL_SECONDS - 24 * 3600
    restart_skew_seconds: float = 300.0
    max_concurrent_lanes: int = 8

    def __post_init__(self) -> None:
        if self.max_concurrent_lanes < 1:
            raise ValueError("max_concurrent_lanes must be at least 1")


class Outcome(Enum):
    """How handling one inbound message ended; the worst outcome of a POST sets its status."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # 503: Meta redelivers
    FAILED = "failed"  # 500: an internal error


class GraphSender(Protocol):
    """The part of :class:`connectors.whatsapp.graph_client.GraphClient` the core uses.

    ``send`` gets the reply's :class:`~connectors.whatsapp.recipient.Recipient` (``to`` a phone
    number or ``recipient`` a BSUID); read receipts address the message id only.
    """

    async def send(self, recipient: Recipient, message: Mapping[str, Any]) -> Any: ...

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


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return tuple(seen)


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
            (:mod:`privacy.requests`); without it their markers are dropped.
        options: claim timings, replay window, lane concurrency.
        references: keyed references of message ids (dedup keys, log references, Rasa
            message ids); by default derived from ``keyring`` (:mod:`.references`).
        wall_clock: the clock the replay window compares message timestamps with; the
            process start of the window is this clock at construction.
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
        references: References | None = None,
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
        self.references = references if references is not None else References.from_keyring(keyring)
        self._wall_clock = wall_clock
        self._started_at = wall_clock()
        self._background: set[asyncio.Task[None]] = set()
        self._buffering = 0

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

    def check_before_body(self, headers: Mapping[str, str]) -> WebhookResponse | None:
        """Everything that can refuse a POST before its body is read: length and signature header.

        A request without a well-formed ``X-Hub-Signature-256`` cannot be from Meta; refusing
        it here (401) means an anonymous client cannot make the server buffer a body at all.
        """
        refused = self.check_declared_length(headers)
        if refused is not None:
            return refused
        try:
            check_header(_header(headers, SIGNATURE_HEADER))
        except SignatureError as error:
            logger.warning("webhook POST refused before reading the body: %s", error.reason)
            return _reply(401, "unauthorized")
        return None

    @contextmanager
    def body_slot(self) -> Iterator[WebhookResponse | None]:
        """Admit one more body to be buffered, or answer 503 when too many are being read.

        A plausible signature header costs an attacker nothing, so at most
        ``settings.max_buffering_requests`` bodies (each up to ``max_body_bytes``) are read at
        once; beyond that the request gets 503 at once (Meta redelivers a non-2xx webhook, so
        nothing of Meta's is lost). The slot is held while the body is read, then released.
        Single-threaded on the event loop, so a plain counter is exact.
        """
        if self._buffering >= self.settings.max_buffering_requests:
            logger.warning(
                "webhook POST refused: %d bodies are already being read (limit %d)",
                self._buffering, self.settings.max_buffering_requests,
            )
            yield _reply(503, "busy")
            return
        self._buffering += 1
        try:
            yield None
        finally:
            self._buffering -= 1

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
                logger.warning("outbound message %s failed: %s", self._ref(status.message_id), codes)
            else:
                logger.debug("outbound message %s: %s", self._ref(status.message_id), status.status)

    async def _handle_messages(self, messages: Sequence[InboundMessage], dialogue: "_Dialogue") -> list[Outcome]:
        # One lane per person: a person's messages run in payload order, people run concurrently,
        # at most max_concurrent_lanes at once (a signed batch cannot start unbounded work).
        bound = asyncio.Semaphore(self.options.max_concurrent_lanes)

        async def bounded(lane: list[InboundMessage]) -> list[Outcome]:
            async with bound:
                return await self._handle_lane(lane, dialogue)

        results = await asyncio.gather(*(bounded(lane) for lane in _lanes(messages)))
        return [outcome for lane in results for outcome in lane]

    async def _handle_lane(self, lane: Iterable[InboundMessage], dialogue: "_Dialogue") -> list[Outcome]:
        outcomes = []
        with sensitive_scope(), personal_values_scope():
            for message in lane:
                outcome = await self._handle_message(message, dialogue)
                outcomes.append(outcome)
                if outcome in (Outcome.RETRY, Outcome.FAILED):
                    # Later messages of this user come back with Meta's redelivery, in order.
                    break
        return outcomes

    # ------------------------------------------------------------------ one message

    async def _handle_message(self, message: InboundMessage, dialogue: "_Dialogue") -> Outcome:
        for identifier in message.identifiers():
            register_sensitive(identifier)
        if message.profile_name:
            register_sensitive(message.profile_name)
        # Masked by value before a message leaves for the LLM (privacy/personal_values.py).
        remember_personal_values(message.profile_name, message.username)
        register_sensitive(message.message_id)
        if isinstance(message, TextMessage):
            register_sensitive(message.body)
        ref = self._ref(message.message_id)
        stale = self._stale_reason(message)
        if stale is not None:
            logger.info("message %s acknowledged without handling: %s (replay protection)", ref, stale)
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
        if isinstance(message, IdentityChange):
            return await self._change_identity(message, claim, dialogue, ref)
        try:
            user_keys = self._keys(message.phone, message.user_id, message.parent_user_id)
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

    def _keys(
        self, phone: str | None, user_id: str | None, parent_user_id: str | None
    ) -> UserKeys:
        """The user's keys: derived from the anchor, with every other identifier as an alias.

        The anchor is the BSUID when present, else the phone number; with
        ``WHATSAPP_IDENTITY_ANCHOR=parent_user_id`` the parent BSUID when present
        (:class:`privacy.identity.UserIdentifiers`, docs/privacy.md "Identity").
        """
        identifiers = UserIdentifiers(phone=phone, user_id=user_id, parent_user_id=parent_user_id)
        use_parent = self.settings.use_parent_user_id
        return keys_for_user(self.keyring, identifiers.anchor(use_parent), identifiers.aliases(use_parent))

    async def _change_identity(
        self, message: IdentityChange, claim: Claim, dialogue: "_Dialogue", ref: str
    ) -> Outcome:
        """Move the conversation from the previous identity's keys to the new one's; no reply.

        Runs under the dedup claim (a redelivered system message moves nothing twice; the move
        is idempotent anyway). Without an encrypted tracker store there is nothing to move and
        the message is just acknowledged. The system message never reaches Rasa.
        """
        previous = _distinct((message.previous_phone, message.previous_user_id, message.previous_parent_user_id))
        new = _distinct((message.new_phone, message.new_user_id, message.new_parent_user_id))
        new_set = {_normalized(identifier) for identifier in new}
        # Only what the person no longer is: identifiers on both sides stay with the target.
        gone = [identifier for identifier in previous if _normalized(identifier) not in new_set]
        if not gone or not new:
            logger.info("message %s: identity change (%s) with nothing to move; acknowledged", ref, message.change)
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        try:
            source = self._keys(*_slot(gone, message, "previous"))
            target = self._keys(message.new_phone, message.new_user_id, message.new_parent_user_id)
        except InvalidIdentifierError as error:
            logger.warning("message %s: identity change (%s) ignored: identifier unusable (%s)", ref, message.change, error)
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        if set(source.pseudonyms()) & set(target.pseudonyms()):  # never move a record onto itself
            logger.warning("message %s: identity change (%s) names the same identity twice; acknowledged", ref, message.change)
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        mover = getattr(dialogue.privacy_requests, "move_conversation", None)
        if mover is None:
            logger.info("message %s: identity change (%s) acknowledged: no tracker store to move", ref, message.change)
            return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)
        try:
            async with self._lease_kept(message.message_id, claim.token, ref):
                moved = await mover(source, target, ref)
        except (TrackerStorageUnavailable, LockError) as error:
            logger.warning("message %s: identity change not applied (%s); asking Meta to retry", ref, type(error).__name__)
            await self._release(message.message_id, claim.token)
            return Outcome.RETRY
        except (LeaseLostError, DedupUnavailableError) as error:
            logger.warning("message %s: dedup store: %s; asking Meta to retry", ref, type(error).__name__)
            await self._release(message.message_id, claim.token)
            return Outcome.RETRY
        except Exception as error:
            logger.error("message %s: identity change failed with an internal error: %s", ref, type(error).__name__)
            await self._release(message.message_id, claim.token)
            return Outcome.FAILED
        logger.info("message %s: identity change (%s) handled (conversation moved: %s)", ref, message.change, moved)
        return await self._finish(message.message_id, claim.token, ref, Outcome.HANDLED)

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
            await self._write_while_leased(lambda: self.store.save_outbox(self._key(message.message_id), claim.token, sealed), ref)
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
        """Run the dialogue once (or resolve a "more" page) and render its replies.

        Payload ids (long button payloads, "more" pages) are remembered under the user's owner
        tag, so they are the person's own and an erasure removes them (issue 16 item 6).
        """
        id_map = owned_by(self.id_map, owner_tag(user_keys.key))
        rasa_input = await to_rasa_input(message, id_map)
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
                message_id=self.references.rasa_message_id(message.message_id),
                metadata=rasa_input.metadata,
            )
        )
        bot_messages: list[dict[str, Any]] = list(getattr(output, "messages", []))
        # After the turn (Rasa has saved the tracker): erase/export, markers become replies.
        hook = dialogue.privacy_requests if dialogue.privacy_requests is not None else PrivacyRequests.for_agent(None)
        bot_messages = await hook.after_turn(bot_messages, user_keys, ref)
        language = await self._language(bot_messages, user_keys.pseudonym, dialogue.language_lookup, ref)
        rendered: list[dict[str, Any]] = []
        for bot_message in bot_messages:
            rendered.extend(await render_response(bot_message, id_map=id_map, language=language))
        for reply in rendered:  # a native custom message may name an address: never sealed, never used
            for name in ADDRESS_FIELDS:
                reply.pop(name, None)
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
        # Rebuilt from the (redelivered) webhook: the outbox never holds an address.
        recipient = Recipient.for_message(message.phone, message.user_id or message.parent_user_id)
        ref = self._ref(message.message_id)

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
            await self._write_while_leased(lambda: self.store.mark_sent(self._key(message.message_id), token, sent), ref)

        async with self.pacer.turn(user_keys.pseudonym):
            await deliver(messages, start, send_one, record_sent)

    # ------------------------------------------------------------------ helpers

    def _key(self, message_id: str) -> str:
        """The message's keyed dedup reference (what the dedup store gets, never the wamid)."""
        return self.references.dedup_key(message_id)

    def _ref(self, message_id: str) -> str:
        """A log-safe reference to a message: keyed, so a wamid cannot be linked to log lines."""
        return self.references.log_ref(message_id)

    def _stale_reason(self, message: InboundMessage) -> str | None:
        """Why a (signed) message falls outside the replay window, or None to handle it.

        A replayed POST carries Meta's original ``timestamp``; the window is how long the
        dedup store can still recognise it. A durable store keeps DONE markers 8 days (the
        rule: older than ``max_message_age_seconds``). The in-process store forgets them at a
        restart, so anything from before this process started (minus a skew for a message
        that arrived while it was starting) may have been handled already and is refused.
        Without a timestamp the age is unknown: only a durable store may handle it.
        """
        durable = bool(getattr(self.store, "durable", False))
        if message.timestamp is None:
            return None if durable else "no timestamp, and the dedup store is in-process"
        if self._wall_clock() - message.timestamp > self.options.max_message_age_seconds:
            return "older than the dedup retention"
        if not durable and message.timestamp < self._started_at - self.options.restart_skew_seconds:
            return "older than this process (the in-process dedup store forgot earlier messages)"
        return None

    async def _claim(self, message_id: str) -> Claim:
        """Claim; a concurrent duplicate polls briefly for the first delivery to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.duplicate_wait_seconds
        # After a key rotation: DONE under a retired secret's reference is DONE (references.py).
        retired = self.references.retired_dedup_keys(message_id)
        previous = {"previous": retired} if retired else {}
        while True:
            claim = await self.store.claim(self._key(message_id), self.options.lease_seconds, **previous)
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
                    await self.store.renew(self._key(message_id), token, self.options.lease_seconds)
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
        await self.store.finish(self._key(message_id), token)
        logger.debug("message %s done", ref)
        return outcome

    async def _release(self, message_id: str, token: str) -> None:
        try:
            await self.store.release(self._key(message_id), token)
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


def _normalized(identifier: str) -> str:
    try:
        return normalize_wa_id(identifier)
    except InvalidIdentifierError:
        return identifier


def _slot(identifiers: Sequence[str], message: IdentityChange, side: str) -> tuple[str | None, str | None, str | None]:
    """(phone, user_id, parent_user_id) of ``identifiers`` as they stand on ``side`` of the change."""
    wanted = set(identifiers)
    phone = getattr(message, f"{side}_phone")
    user_id = getattr(message, f"{side}_user_id")
    parent = getattr(message, f"{side}_parent_user_id")
    return (
        phone if phone in wanted else None,
        user_id if user_id in wanted else None,
        parent if parent in wanted else None,
    )


def _lane_ids(message: InboundMessage) -> tuple[str, ...]:
    ids = [message.sender, message.phone, message.user_id, message.parent_user_id]
    if isinstance(message, IdentityChange):
        ids += [message.previous_phone, message.previous_user_id, message.previous_parent_user_id,
                message.new_phone, message.new_user_id, message.new_parent_user_id]
    return _distinct(ids)


def _lanes(messages: Sequence[InboundMessage]) -> list[list[InboundMessage]]:
    """Group messages by person, keeping payload order within each group.

    Two messages belong to one person when they share any identifier (phone number, BSUID,
    parent BSUID), so one person's messages with and without a number in one POST run in
    one lane, in order, and never race on the same conversation (union-find over identifiers).
    """
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    keys: list[str] = []
    for index, message in enumerate(messages):
        own = [f"id:{identifier.casefold()}" for identifier in _lane_ids(message)] or [f"message:{index}"]
        root = find(own[0])
        for other in own[1:]:
            other_root = find(other)
            if other_root != root:
                parent[other_root] = root
        keys.append(own[0])
    lanes: dict[str, list[InboundMessage]] = {}
    for key, message in zip(keys, messages):
        lanes.setdefault(find(key), []).append(message)
    return list(lanes.values())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None

