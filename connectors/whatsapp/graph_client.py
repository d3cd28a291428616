"""Outbound WhatsApp Cloud API client: send rendered messages, mark messages read, show typing.

Why this module exists: the channel renders Rasa responses into Graph API message objects
elsewhere (render.py) and needs one small, async, retrying sender for them that never blocks
Sanic's event loop, turns every failure into a typed error (errors.py) and can be pointed at
the local Meta stand-in (standins/meta_graph.py) for tests and offline runs.

The HTTP calls go through pywa 4.5 (``pywa_async.WhatsApp``): it owns the authorisation header,
the Graph API URL layout, the mark-as-read and typing-indicator bodies and the decoding of
success answers. Error answers are decoded by our own httpx response hook, before pywa sees
them, into the families of errors.py (pywa's classes are per code, not per family, and its
decoder fails on error bodies without a code). pywa hard-codes ``https://graph.facebook.com``
as the session's base URL, so a different ``api_base_url`` is applied by an httpx transport
that rewrites that host (``BaseURLTransport``). Below httpx the bytes travel through aiohttp
(``AiohttpTransport``), which costs less CPU per call than httpx's own HTTP stack. pywa has no
retries; capped exponential backoff with full jitter lives here. The full reasoning is in
docs/graph-client.md.

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

Phone numbers, BSUIDs and message texts are never logged above DEBUG (pywa itself logs request bodies
at DEBUG on the ``pywa.api`` logger).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import random
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import certifi
import httpx
from pywa_async import WhatsApp

from connectors.whatsapp.errors import (
    GraphAPIError,
    TransportError,
    UnexpectedResponseError,
    error_from_response,
)
from connectors.whatsapp.pacing import TokenBucket
from connectors.whatsapp.recipient import Recipient
# One source of truth for the Graph API host and version: the channel's settings.
from connectors.whatsapp.settings import DEFAULT_API_BASE_URL, DEFAULT_API_VERSION

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_API_VERSION",
    "GraphSettings",
    "RetryPolicy",
    "BaseURLTransport",
    "AiohttpTransport",
    "GraphClient",
    "SendResult",
    "SentContact",
]

logger = logging.getLogger(__name__)

_PYWA_HOST = "graph.facebook.com"
_ADDRESS_KEYS = ("messaging_product", "to", "recipient")
"""Envelope keys ``send`` always sets itself; a caller's values for them are dropped."""
_VERSION_RE = re.compile(r"^v?(\d+\.\d+)$")

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class GraphSettings:
    """Where and as whom to call the Graph API.

    ``api_base_url`` is ``https://graph.facebook.com`` in production and the stand-in's URL
    (e.g. ``http://127.0.0.1:8765``) in tests; it may carry a path prefix for a reverse proxy.
    """

    access_token: str = dataclasses.field(repr=False)
    phone_number_id: str
    api_base_url: str = DEFAULT_API_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("access_token is required")
        if not str(self.phone_number_id).strip():
            raise ValueError("phone_number_id is required")
        match = _VERSION_RE.match(self.api_version.strip())
        if match is None:
            raise ValueError(f"api_version must look like 'v21.0', got {self.api_version!r}")
        object.__setattr__(self, "api_version", f"v{match.group(1)}")
        object.__setattr__(self, "phone_number_id", str(self.phone_number_id).strip())
        object.__setattr__(self, "api_base_url", self.api_base_url.rstrip("/"))
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> GraphSettings:
        """Read WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID (required) and the optional
        WHATSAPP_API_BASE_URL, WHATSAPP_API_VERSION, WHATSAPP_API_TIMEOUT_S."""
        missing = [name for name in ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID") if not environ.get(name)]
        if missing:
            raise ValueError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            access_token=environ["WHATSAPP_ACCESS_TOKEN"],
            phone_number_id=environ["WHATSAPP_PHONE_NUMBER_ID"],
            api_base_url=environ.get("WHATSAPP_API_BASE_URL") or DEFAULT_API_BASE_URL,
            api_version=environ.get("WHATSAPP_API_VERSION") or DEFAULT_API_VERSION,
            timeout=float(environ.get("WHATSAPP_API_TIMEOUT_S") or 10.0),
        )


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    Attempt n (1-based) that failed with a retryable error waits a uniformly random time in
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter": clients that were throttled
    together do not come back together). ``max_attempts`` counts the first try.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, cap)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RetryPolicy:
        """Read WHATSAPP_SEND_MAX_ATTEMPTS, WHATSAPP_SEND_BACKOFF_BASE_S, WHATSAPP_SEND_BACKOFF_MAX_S."""
        default = cls()
        return cls(
            max_attempts=int(environ.get("WHATSAPP_SEND_MAX_ATTEMPTS") or default.max_attempts),
            base_delay=float(environ.get("WHATSAPP_SEND_BACKOFF_BASE_S") or default.base_delay),
            max_delay=float(environ.get("WHATSAPP_SEND_BACKOFF_MAX_S") or default.max_delay),
        )


class BaseURLTransport(httpx.AsyncBaseTransport):
    """Sends requests that pywa addresses to graph.facebook.com to ``base_url`` instead.

    pywa sets ``session.base_url = "https://graph.facebook.com/v{version}"`` when the client is
    built, so the override has to happen below it. Scheme, host, port and an optional path
    prefix of ``base_url`` replace those of the request; path and query are kept.
    """

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        target = httpx.URL(base_url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"api_base_url must be an absolute http(s) URL, got {base_url!r}")
        self._target = target
        self._prefix = target.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == _PYWA_HOST:
            request.url = request.url.copy_with(
                scheme=self._target.scheme,
                host=self._target.host,
                port=self._target.port,
                raw_path=self._prefix + request.url.raw_path,
            )
            request.headers["Host"] = request.url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """The innermost transport: each request pywa builds on httpx is sent through one aiohttp session.

    Why: pywa needs an ``httpx.AsyncClient``, but below it httpx's own HTTP stack (httpcore
    on anyio and h11) costs the Rasa process about 1.7 ms more CPU per Graph API call than
    aiohttp (4.0 against 2.3 ms per ``GraphClient.send`` to the stand-in on the 2-core
    benchmark machine), and a turn makes two to three calls (read receipt, replies).
    aiohttp is already there: Rasa uses it for its own HTTP calls. Everything above the
    transport stays httpx's: URL, headers, body, the error hook, the per-request timeouts.
    Transport failures become httpx's exceptions, so the retry loop sees what it did before.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop.

        TLS trusts certifi's CA bundle, the one httpx's own transport uses.
        """
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls), auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            async with self._open_session().request(
                request.method,
                str(request.url),
                headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
                data=body or None,
                allow_redirects=False,
                timeout=_aiohttp_timeout(request),
            ) as answer:
                content = await answer.read()
        except asyncio.TimeoutError as error:  # aiohttp's ServerTimeoutError is one as well
            raise httpx.TimeoutException(f"timed out: {type(error).__name__}", request=request) from error
        except aiohttp.ClientConnectorError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        except aiohttp.ClientError as error:
            raise httpx.NetworkError(f"{type(error).__name__}: {error}", request=request) from error
        return httpx.Response(
            answer.status, headers=answer.raw_headers, stream=httpx.ByteStream(content), request=request
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _aiohttp_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts (connect, read) in aiohttp's terms."""
    timeouts = request.extensions.get("timeout", {})
    return aiohttp.ClientTimeout(total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read"))


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
            if self._throughput is not None:
                await self._throughput.acquire()
            response = await self._wa.api.send_raw_request(method="POST", endpoint=endpoint, json=body)
            return SendResult(message_id=_message_id(response), contacts=_contacts(response))

        return await self._with_retries("send", attempt)

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

        await self._with_retries("mark_read", attempt)

    async def _with_retries(self, operation: str, attempt_once: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    return await attempt_once()
                except httpx.RequestError as exc:
                    raise TransportError(message=f"{type(exc).__name__}: {exc}") from exc
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise UnexpectedResponseError(message="success response is not JSON", status=200) from exc
            except GraphAPIError as error:
                if not error.retryable or attempt >= self.retry.max_attempts:
                    logger.warning(
                        "Graph API %s failed: %s code=%s status=%s fbtrace_id=%s after %d attempt(s)",
                        operation, type(error).__name__, error.code, error.status, error.fbtrace_id, attempt,
                    )
                    raise error.with_attempts(attempt) from error.__cause__
                delay = self.retry.delay(attempt, self._rng)
                logger.info(
                    "Graph API %s attempt %d/%d failed: %s code=%s status=%s; retrying in %.3fs",
                    operation, attempt, self.retry.max_attempts, type(error).__name__, error.code, error.status, delay,
                )
                await self._sleep(delay)


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
