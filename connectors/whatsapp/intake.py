"""Intake: what a webhook request must pass before any message of it is handled.

The first room of the corridor (:mod:`.core`): the subscription handshake, the size limit,
the signature (header before the body, then the body), parsing (:mod:`.updates`), registering what is sensitive before anything is logged, and the replay
rule. It never touches the dedup store, Rasa or the Graph API.

Meta pages followed:
- Verification and signatures: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
- Payloads: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components

Replay window (the signed ``timestamp`` of each message; docs/whatsapp-delivery.md): messages
outside it are acknowledged with 200 without handling (:meth:`Intake.stale_reason`).
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from connectors.whatsapp.outcome import WebhookResponse, reply
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import (
    SIGNATURE_HEADER,
    InvalidSignatureError,
    SignatureError,
    check_header,
    verify_signature,
)
from connectors.whatsapp.updates.messages import AudioMessage, InboundMessage, TextMessage, WebhookUpdate
from connectors.whatsapp.updates.parser import PayloadError, parse_body
from connectors.whatsapp.webhook_metrics import count_inbound
from privacy.log_redaction.sensitive import register_sensitive
from privacy.personal_values import remember_personal_values

__all__ = ["Intake", "ReplayWindow"]

logger = logging.getLogger(__name__)


class ReplayWindow:
    """Which signed messages are too old to handle, because the dedup store may have forgotten them.

    A replayed POST carries Meta's original ``timestamp``; the window is how long the dedup
    store can still recognise it. A durable store keeps DONE markers 8 days (the rule: older
    than ``max_age_seconds``). The in-process store forgets them at a restart, so anything from
    before this process started (minus ``restart_skew_seconds``, for a message that arrived
    while it was starting) may have been handled already and is refused. Without a timestamp
    the age is unknown: only a durable store may handle it (Meta always sends one).
    """

    def __init__(
        self, *, durable: bool, max_age_seconds: float, restart_skew_seconds: float, wall_clock: Callable[[], float]
    ) -> None:
        self.durable = durable
        self.max_age_seconds = max_age_seconds
        self.restart_skew_seconds = restart_skew_seconds
        self._wall_clock = wall_clock
        self._started_at = wall_clock()

    def stale_reason(self, message: InboundMessage) -> str | None:
        """Why a (signed) message falls outside the window, or None to handle it."""
        if message.timestamp is None:
            return None if self.durable else "no timestamp, and the dedup store is in-process"
        if self._wall_clock() - message.timestamp > self.max_age_seconds:
            return "older than the dedup retention"
        if not self.durable and message.timestamp < self._started_at - self.restart_skew_seconds:
            return "older than this process (the in-process dedup store forgot earlier messages)"
        return None


class Intake:
    """Checks one request of one business number and turns its body into a :class:`WebhookUpdate`.

    ``settings``: the verify token, app secret and limits. ``references``: keyed log
    references of message ids. Statuses are :mod:`.delivery_statuses`' job.
    """

    def __init__(self, settings: WhatsAppSettings, references: References, replay: ReplayWindow) -> None:
        self.settings = settings
        self.references = references
        self.replay = replay
        self.buffering = 0  # bodies being read now
        self.buffered_bytes = 0  # what they may grow to (their reservations)

    # ------------------------------------------------------------------ GET

    def verify(self, params: Mapping[str, str]) -> WebhookResponse:
        """Answer Meta's subscription handshake: the challenge for the right token, else 403."""
        mode = params.get("hub.mode", "")
        token = params.get("hub.verify_token", "")
        challenge = params.get("hub.challenge", "")
        token_ok = hmac.compare_digest(token.encode("utf-8"), self.settings.verify_token.encode("utf-8"))
        if mode == "subscribe" and token_ok and challenge:
            logger.info("webhook verification succeeded")
            return reply(200, challenge)
        logger.warning("webhook verification refused (mode ok: %s, token ok: %s)", mode == "subscribe", token_ok)
        return reply(403, "forbidden")

    # ------------------------------------------------------------------ before the body

    def check_declared_length(self, headers: Mapping[str, str]) -> WebhookResponse | None:
        """413 when ``Content-Length`` exceeds the limit, before a byte of the body is read."""
        declared = header(headers, "content-length")
        if declared is None:
            return None
        try:
            length = int(declared)
        except ValueError:
            logger.warning("webhook POST refused: malformed Content-Length")
            return reply(400, "bad request")
        if length > self.settings.max_body_bytes:
            logger.warning("webhook POST refused: Content-Length %d above limit %d", length, self.settings.max_body_bytes)
            return reply(413, "payload too large")
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
            check_header(header(headers, SIGNATURE_HEADER))
        except SignatureError as error:
            logger.warning("webhook POST refused before reading the body: %s", error.reason)
            return reply(401, "unauthorized")
        return None

    @contextmanager
    def body_slot(self, headers: Mapping[str, str] | None = None) -> Iterator[WebhookResponse | None]:
        """Admit one more body to be buffered, or answer 503 when the buffering budget is spent.

        A plausible signature header costs an attacker nothing, so the bytes of bodies being
        read at once are bounded: ``settings.max_buffering_requests`` bodies of the maximum size
        (``max_body_bytes``). Each body reserves what it may grow to: its declared
        ``Content-Length`` (the server reads no more than that; above the limit it was refused
        with 413 before), or the maximum when it declares none (chunked). So an attacker's
        3 MB declarations hit the bound after ``max_buffering_requests`` bodies, while Meta's
        bodies of a few KB are not refused just because many arrive together (a busy event loop
        reads slowly; counting bodies instead refused 1 in 5 webhooks at 50 concurrent users).
        Beyond the budget the request gets 503 at once (Meta redelivers a non-2xx webhook, so
        nothing of Meta's is lost). The reservation is held while the body is read, then
        released. Single-threaded on the event loop, so plain counters are exact.
        """
        reserve = self._reservation(headers)
        budget = self.settings.max_buffering_requests * self.settings.max_body_bytes
        if self.buffered_bytes + reserve > budget:
            logger.warning(
                "webhook POST refused: %d bodies (%d bytes reserved) are already being read (limit %d bytes)",
                self.buffering, self.buffered_bytes, budget,
            )
            yield reply(503, "busy")
            return
        self.buffering += 1
        self.buffered_bytes += reserve
        try:
            yield None
        finally:
            self.buffering -= 1
            self.buffered_bytes -= reserve

    def _reservation(self, headers: Mapping[str, str] | None) -> int:
        """The bytes a body may grow to: its declared length (at least 1), else the maximum."""
        declared = header(headers, "content-length") if headers is not None else None
        try:
            length = int(declared) if declared is not None else None
        except ValueError:
            length = None
        if length is None or length < 0 or length > self.settings.max_body_bytes:
            return self.settings.max_body_bytes
        return max(length, 1)

    # ------------------------------------------------------------------ the body

    def read(self, body: bytes, headers: Mapping[str, str]) -> WebhookUpdate | WebhookResponse:
        """The parsed update of a signed body of acceptable size, or the answer refusing it."""
        refused = self.check_declared_length(headers)
        if refused is not None:
            return refused
        if len(body) > self.settings.max_body_bytes:
            logger.warning("webhook POST refused: body of %d bytes above limit %d", len(body), self.settings.max_body_bytes)
            return reply(413, "payload too large")
        try:
            verify_signature(self.settings.app_secret, body, header(headers, SIGNATURE_HEADER))
        except InvalidSignatureError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return reply(403, "forbidden")
        except SignatureError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return reply(401, "unauthorized")
        try:
            update = parse_body(body)
        except PayloadError as error:
            logger.warning("webhook POST refused: %s", error.reason)
            return reply(400, "bad request")
        for message in update.messages:
            count_inbound(message.message_type)
        return update

    # ------------------------------------------------------------------ one message

    def admit(self, message: InboundMessage) -> str | None:
        """Register what is sensitive in ``message``, then apply the replay rule.

        Every identifier, the profile name, the wamid, a text body and a media id are masked in every log
        line from here on (:mod:`privacy.log_redaction`); profile name and username are masked
        by value before anything leaves for the LLM (:mod:`privacy.personal_values`). Returns
        why the message is outside the replay window, or None to handle it.
        """
        for identifier in message.identifiers():
            register_sensitive(identifier)
        if message.profile_name:
            register_sensitive(message.profile_name)
        remember_personal_values(message.profile_name, message.username)
        register_sensitive(message.message_id)
        if isinstance(message, TextMessage):
            register_sensitive(message.body)
        if isinstance(message, AudioMessage):
            register_sensitive(message.media_id)
        return self.replay.stale_reason(message)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by its lower-case name (HTTP header names are case-insensitive)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None

