"""Outbound WhatsApp Cloud API client: send rendered messages, mark messages read, show typing.

Why this module exists: the channel renders Rasa responses into Graph API message objects
elsewhere (the renderer) and needs one small, async, retrying sender for them that never blocks
Sanic's event loop, turns every failure into a typed error (:mod:`.errors`) and can be pointed at
the local Meta stand-in (standins/meta_graph/) for tests and offline runs.

The HTTP calls go through pywa 4.5 (``pywa_async.WhatsApp``): it owns the authorisation header,
the Graph API URL layout, the mark-as-read and typing-indicator bodies and the decoding of
success answers. Error answers are decoded by our own httpx response hook, before pywa sees
them, into the families of :mod:`.errors` (pywa's classes are per code, not per family, and its
decoder fails on error bodies without a code). pywa hard-codes ``https://graph.facebook.com``
as the session's base URL, so a different ``api_base_url`` is applied by an httpx transport
that rewrites that host (``BaseURLTransport``, :mod:`.transport`). Below httpx the bytes travel
through aiohttp (``AiohttpTransport``), which costs less CPU per call than httpx's own HTTP stack.
pywa has no retries; the retry loop lives here, its capped exponential backoff with full jitter
in :mod:`.retry`. Settings come in as :class:`~connectors.whatsapp.graph.config.GraphSettings`
(built by the channel's settings). The full reasoning is in docs/graph-client.md.

Meta pages followed:
- Send messages: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
- Mark as read: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read
- Typing indicators: https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators
- Error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
- Business-scoped user ids (``recipient``, send-response ``contacts[].user_id``):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids

Addressing: a reply goes ``to`` a phone number or to a ``recipient`` (a business-scoped user
id), never both and never a BSUID in ``to`` (see connectors/whatsapp/recipient.py and
docs/graph-client.md, "Addressing replies").

Every attempt is counted by endpoint, outcome (the error family) and Meta's error code, and
timed without its pacing wait; every retry by the failed attempt's outcome
(:func:`count_attempt`, :mod:`observability.metrics`). No label ever carries an address or a text.

Phone numbers, BSUIDs and message texts are never logged above DEBUG (pywa itself logs request bodies
at DEBUG on the ``pywa.api`` logger).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pywa_async import WhatsApp

from connectors.whatsapp.graph.config import DEFAULT_API_BASE_URL, GraphSettings
from connectors.whatsapp.graph.errors import (
    AuthenticationError,
    GraphAPIError,
    InvalidParameterError,
    PairRateLimitError,
    ReengagementError,
    RecipientError,
    ServerError,
    ThrottlingError,
    TransportError,
    UnexpectedResponseError,
    error_from_response,
)
from connectors.whatsapp.graph.pacing import TokenBucket
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.graph.transport import AiohttpTransport, BaseURLTransport
from connectors.whatsapp.recipient import Recipient
from observability.labels import code_label, one_of
from observability.metrics import GRAPH_ENDPOINTS, GRAPH_OUTCOMES, graph_request_duration, graph_requests, graph_retries

__all__ = ["GraphClient", "SendResult", "SentContact"]

logger = logging.getLogger(__name__)

_ADDRESS_KEYS = ("messaging_product", "to", "recipient")
"""Envelope keys ``send`` always sets itself; a caller's values for them are dropped."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class SentContact:
    """One entry of a send response's ``contacts[]``: what Meta made of the address.

    Meta answers a send ``to`` a phone number with ``{"input": <as sent>, "wa_id": <normalised
    number>}`` and a send to a ``recipient`` with ``{"input": <as sent>, "user_id": <BSUID>}``;
    later shapes may carry both or neither, so every field is optional. Values are identifiers:
    they never appear in ``repr`` and must never be logged or stored.
    """

    input: str | None = dataclasses.field(default=None, repr=False)
    wa_id: str | None = dataclasses.field(default=None, repr=False)
    user_id: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class SendResult:
    """What a successful send returned: Meta's message id and the (tolerantly parsed) contacts."""

    message_id: str
    contacts: tuple[SentContact, ...] = ()


class GraphClient:
    """Async Graph API client for one business phone number.

    Create it once per process (it holds a connection pool) inside or outside the event loop,
    and close it with ``await client.aclose()`` or ``async with``.

    Args:
        settings: token, phone number id, base URL, version, per-request timeout.
        retry: attempts and backoff for retryable failures (throttling, 5xx, transport).
        throughput: optional shared token bucket; one token is taken per HTTP attempt of
            ``send`` so retries count against the number's messages-per-second too.
        transport: the innermost httpx transport; :class:`AiohttpTransport` unless given (tests
            may pass ``httpx.MockTransport``).
        sleep, rng: injectable for tests (tiny or recorded delays, seeded jitter).
    """

    def __init__(
        self,
        settings: GraphSettings,
        *,
        retry: RetryPolicy | None = None,
        throughput: TokenBucket | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._throughput = throughput
        self._sleep = sleep
        self._rng = rng or random.Random()
        inner = transport or AiohttpTransport()
        if settings.api_base_url != DEFAULT_API_BASE_URL:
            inner = BaseURLTransport(settings.api_base_url, inner)
        self._session = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout),
            transport=inner,
            event_hooks={"response": [_raise_graph_error]},
        )
        self._wa = WhatsApp(
            phone_id=settings.phone_number_id,
            token=settings.access_token,
            session=self._session,
            api_version=settings.api_version.removeprefix("v"),
            validate_updates=False,
        )

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._session.aclose()

    async def send(self, recipient: Recipient | str, message: Mapping[str, Any]) -> str:
        """Send one rendered message object and return Meta's message id (``wamid.…``).

        ``recipient`` is a :class:`Recipient` or a bare identifier, classified with
        :meth:`Recipient.of` (a phone number goes into ``to``, a BSUID or parent BSUID into
        ``recipient``; never both, never a BSUID in ``to``). ``message`` is a Graph API message
        object without the envelope, e.g. ``{"type": "text", "text": {"body": "Hallo"}}``; this
        method adds ``messaging_product``, ``recipient_type`` (unless given) and the address,
        replacing any ``to``/``recipient`` the message carried.
        Raises a GraphAPIError subclass; retryable ones only after the retries are used up
        (131062, a message that cannot go to a BSUID, is BSUIDRecipientNotSupportedError and
        never retried).
        """
        return (await self.send_message(recipient, message)).message_id

    async def send_message(self, recipient: Recipient | str, message: Mapping[str, Any]) -> SendResult:
        """Like :meth:`send`, but also return the send response's ``contacts[]``."""
        address = recipient if isinstance(recipient, Recipient) else Recipient.of(recipient)
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        body.update({key: value for key, value in message.items() if key not in _ADDRESS_KEYS})
        body.update(address.graph_fields())
        endpoint = f"/{self.settings.phone_number_id}/messages"

        async def attempt() -> SendResult:
            response = await self._wa.api.send_raw_request(method="POST", endpoint=endpoint, json=body)
            return SendResult(message_id=_message_id(response), contacts=_contacts(response))

        return await self._with_retries("send", "messages", attempt, paced=True)

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        """Mark an inbound message (and all earlier ones) read; with ``typing`` also show the
        typing indicator, which WhatsApp hides on our next message or after 25 s."""

        async def attempt() -> None:
            if typing:
                result = await self._wa.indicate_typing(message_id)
            else:
                result = await self._wa.mark_message_as_read(message_id)
            if not result.success:
                raise UnexpectedResponseError(message="Graph API answered success=false", status=200)

        await self._with_retries("mark_read", "typing" if typing else "read_receipt", attempt)

    async def _with_retries(
        self, operation: str, endpoint: str, attempt_once: Callable[[], Awaitable[T]], *, paced: bool = False
    ) -> T:
        """Run ``attempt_once`` until it succeeds, fails for good or the attempts are used up.

        ``paced``: take a throughput token before each attempt (sends only). Each attempt is
        counted (:func:`count_attempt`), its time without the token's wait.
        """
        attempt = 0
        while True:
            attempt += 1
            if paced and self._throughput is not None:
                await self._throughput.acquire()
            started = time.monotonic()
            try:
                try:
                    result = await attempt_once()
                except httpx.RequestError as exc:
                    raise TransportError(message=f"{type(exc).__name__}: {exc}") from exc
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise UnexpectedResponseError(message="success response is not JSON", status=200) from exc
            except GraphAPIError as error:
                outcome = count_attempt(endpoint, error, time.monotonic() - started)
                if not error.retryable or attempt >= self.retry.max_attempts:
                    logger.warning(
                        "Graph API %s failed: %s code=%s status=%s fbtrace_id=%s after %d attempt(s)",
                        operation, type(error).__name__, error.code, error.status, error.fbtrace_id, attempt,
                    )
                    raise error.with_attempts(attempt) from error.__cause__
                count_retry(outcome)
                delay = self.retry.delay(attempt, self._rng)
                logger.info(
                    "Graph API %s attempt %d/%d failed: %s code=%s status=%s; retrying in %.3fs",
                    operation, attempt, self.retry.max_attempts, type(error).__name__, error.code, error.status, delay,
                )
                await self._sleep(delay)
            else:
                count_attempt(endpoint, None, time.monotonic() - started)
                return result


async def _raise_graph_error(response: httpx.Response) -> None:
    """httpx response hook: turn every HTTP error answer into our typed error.

    It runs inside pywa's request call, before pywa decodes the body, so the error family is
    always decided here from the raw body and status. pywa's own decoding would fail on bodies
    without ``error.code`` (KeyError) or with a non-object ``error`` (AttributeError).
    """
    if response.status_code < 400:
        return
    await response.aread()
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_from_response(response.status_code, body, response.text[:500])


def _message_id(response: Any) -> str:
    try:
        wamid = response["messages"][0]["id"]
    except (KeyError, IndexError, TypeError) as exc:
        raise UnexpectedResponseError(
            message="success response without messages[0].id", status=200, raw=response if isinstance(response, Mapping) else {}
        ) from exc
    if not isinstance(wamid, str) or not wamid:
        raise UnexpectedResponseError(message="messages[0].id is not a string", status=200, raw=response)
    return wamid


def _contacts(response: Any) -> tuple[SentContact, ...]:
    """The send response's ``contacts[]``, read tolerantly: it is informational, so a missing,
    malformed or differently shaped list never fails a send that Meta accepted (the message id
    decides that). Entries that are not objects and values that are not strings are skipped."""
    entries = response.get("contacts") if isinstance(response, Mapping) else None
    if not isinstance(entries, list):
        return ()
    contacts: list[SentContact] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        fields = {name: entry.get(name) for name in ("input", "wa_id", "user_id")}
        fields = {name: value for name, value in fields.items() if isinstance(value, str) and value}
        if fields:
            contacts.append(SentContact(**fields))
    return tuple(contacts)


# ---------------------------------------------------------------- metrics (labels from closed sets only)

#: The outcome label of each error family; the most specific family first (a subclass before its base).
_FAMILY_OUTCOMES: tuple[tuple[type[GraphAPIError], str], ...] = (
    (PairRateLimitError, "pair_rate"),
    (ThrottlingError, "throttled"),
    (ReengagementError, "reengagement"),
    (InvalidParameterError, "invalid_parameter"),
    (AuthenticationError, "authentication"),
    (RecipientError, "recipient"),
    (ServerError, "server_error"),
    (TransportError, "transport"),
    (UnexpectedResponseError, "unexpected"),
)
_outcomes: dict[type[GraphAPIError], str] = {}
_attempts: dict[tuple[str, str, str], Any] = {}
_durations = {endpoint: graph_request_duration.labels(endpoint) for endpoint in GRAPH_ENDPOINTS}
_retries = {outcome: graph_retries.labels(outcome) for outcome in GRAPH_OUTCOMES}


def outcome_of(error: GraphAPIError | None) -> str:
    """The ``outcome`` label of an attempt: ``ok``, its error family, or ``other`` (an unknown code)."""
    if error is None:
        return "ok"
    family = type(error)
    outcome = _outcomes.get(family)
    if outcome is None:
        outcome = next((label for cls, label in _FAMILY_OUTCOMES if issubclass(family, cls)), "other")
        _outcomes[family] = one_of(outcome, GRAPH_OUTCOMES)
    return _outcomes[family]


def count_attempt(endpoint: str, error: GraphAPIError | None, seconds: float) -> str:
    """Count and time one Graph API attempt; its outcome label."""
    outcome = outcome_of(error)
    code = "none" if error is None else code_label(error.code)
    key = (endpoint, outcome, code)
    child = _attempts.get(key)
    if child is None:
        child = graph_requests.labels(one_of(endpoint, GRAPH_ENDPOINTS), outcome, code)
        if len(_attempts) < 512:  # codes are Meta's few dozen; never let the cache grow without bound
            _attempts[key] = child
    child.inc()
    _durations[endpoint].observe(seconds)
    return outcome


def count_retry(outcome: str) -> None:
    """One attempt repeated after a retryable failure with ``outcome``."""
    child = _retries.get(outcome)
    (child if child is not None else graph_retries.labels("other")).inc()
