"""The Rasa channel: ``WhatsAppInput`` (a thin Sanic adapter) and the collecting output channel.

Why thin: all behaviour lives in the framework-free :class:`connectors.whatsapp.webhook.WebhookCore`;
this module only turns Sanic requests into (raw body bytes, headers) and core answers into
Sanic responses, builds the long-lived resources from the settings, and closes them.

Configure it in ``credentials.yml`` under its module path (Rasa imports the class and calls
:meth:`WhatsAppInput.from_credentials`)::

    connectors.whatsapp.WhatsAppInput:
      verify_token: ${WHATSAPP_VERIFY_TOKEN}   # optional: the environment is read anyway
      # app_secret, access_token, phone_number_id, api_base_url, api_version,
      # max_body_bytes, dedup_url: same, see settings.py

Rasa mounts the blueprint under ``/webhooks/whatsapp``: Meta calls ``GET`` and ``POST
/webhooks/whatsapp/webhook`` (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).

Proactive messages are not supported: a Rasa-initiated message (reminder, ``trigger_intent``
API) only knows the pseudonym, and by design nothing maps a pseudonym back to a phone number.
:meth:`WhatsAppInput.get_output_channel` therefore returns ``None``.
"""
from __future__ import annotations

import copy
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.whatsapp.dedup import DEFAULT_LEASE_SECONDS, DedupStore, store_from_url
from connectors.whatsapp.framing import install_framing_guard
from connectors.whatsapp.graph_client import GraphClient, GraphSettings, RetryPolicy
from connectors.whatsapp.pacing import Pacer
from connectors.whatsapp.payload_ids import InMemoryPayloadIdMap, PayloadIdMap, RedisPayloadIdMap
from connectors.whatsapp.settings import SettingsError, WhatsAppSettings
from connectors.whatsapp.webhook import DeliveryOptions, GraphSender, LanguageLookup, WebhookCore, WebhookResponse
from privacy.dev_key import keyring_for_runtime
from privacy.errors import PrivacyConfigError
from privacy.keyring import Keyring
from privacy.log_redaction.install import install_redaction
from privacy.requests.hook import PrivacyRequests
from rasa_compat import make_fail_closed, tracker_saved_in_this_request

__all__ = ["WhatsAppInput", "WhatsAppOutput"]

logger = logging.getLogger(__name__)

_READ_CHUNK_LIMIT_NOTE = "body is read in chunks and refused as soon as it passes the limit"


class WhatsAppOutput(OutputChannel):
    """The output channel Rasa gets for one WhatsApp message: it collects, it does not send.

    Why collect: the replies are rendered, sealed into the outbox and only then sent, so a
    failed send can be resumed on Meta's redelivery without running the dialogue again
    (docs/whatsapp-delivery.md). ``messages`` holds each bot message as Rasa produced it
    (``BotUttered.message()``: text, buttons, quick_replies, image, attachment, custom,
    elements), deep-copied so later mutation by Rasa cannot change it. It never holds the
    phone number.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def _collect(self, message: Mapping[str, Any]) -> None:
        self.messages.append({key: copy.deepcopy(value) for key, value in message.items() if value is not None})

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Keep the whole bot message; the renderer decides how it looks on WhatsApp."""
        self._collect(message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self._collect({"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self._collect({"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self._collect({"text": text, "quick_replies": quick_replies})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self._collect({"image": image})

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        self._collect({"attachment": attachment})

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        self._collect({"elements": list(elements)})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self._collect({"custom": json_message})


def _float_env(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, "must be a number") from None
    if value < 0:
        raise SettingsError(name, "must not be negative")
    return value


class WhatsAppInput(InputChannel):
    """Rasa input channel for the WhatsApp Cloud API (module path ``connectors.whatsapp.WhatsAppInput``).

    Tests and embedders may inject the collaborators; :meth:`from_credentials` builds the real
    ones: a :class:`GraphClient` (retries, throughput), the dedup store and payload id map
    (in-process, or Redis when ``WHATSAPP_DEDUP_URL`` is set) and the privacy keyring.
    """

    def __init__(
        self,
        settings: WhatsAppSettings,
        keyring: Keyring,
        *,
        graph: GraphSender | None = None,
        store: DedupStore | None = None,
        id_map: PayloadIdMap | None = None,
        pacer: Pacer | None = None,
        options: DeliveryOptions | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.settings = settings
        self.keyring = keyring
        self.pacer = pacer if pacer is not None else _pacer_from_env(env)
        self.graph: GraphSender = graph if graph is not None else _graph_client(settings, self.pacer, env)
        self._owns_graph = graph is None
        # "is None", not "or": an empty in-memory store or map is falsy (it has __len__).
        self.store = store if store is not None else store_from_url(settings.dedup_url)
        self._owns_store = store is None
        self.id_map = id_map if id_map is not None else _id_map(settings.dedup_url, keyring)
        self._owns_id_map = id_map is None
        self.core = WebhookCore(
            settings=settings,
            store=self.store,
            graph=self.graph,
            keyring=keyring,
            id_map=self.id_map,
            output_factory=WhatsAppOutput,
            pacer=self.pacer.recipients,
            options=options if options is not None else _options_from_env(env),
        )

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "WhatsAppInput":
        """Validate settings and secrets at start; :class:`SettingsError` names what is wrong."""
        settings = WhatsAppSettings.load(credentials, os.environ)
        try:
            keyring = keyring_for_runtime(os.environ)
        except PrivacyConfigError as error:
            raise SettingsError(getattr(error, "variable", "PRIVACY_KEY"), str(error)) from error
        # Rasa has configured logging by now; mask phone numbers and message text in every
        # logger (ours, Rasa's, Sanic's, httpx's) from here on.
        install_redaction()
        channel = cls(settings, keyring)
        logger.info(
            "WhatsApp channel ready (phone number id %s, Graph API %s %s, dedup %s)",
            settings.phone_number_id, settings.api_base_url, settings.api_version,
            "redis" if settings.dedup_url else "in-process",
        )
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        """None: proactive messages need a phone number, and a pseudonym cannot be mapped back."""
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """GET/POST ``/webhook`` (verification, notifications) and GET ``/`` (health)."""
        core = self.core
        webhook = Blueprint("whatsapp_webhook", url_prefix=None)

        @webhook.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            params = {key: values[0] for key, values in request.args.items() if values}
            return _to_sanic(core.verify(params))

        @webhook.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            _fail_closed_once(request)
            headers = dict(request.headers)
            refused = core.check_before_body(headers)  # 413/401 before a byte of the body
            if refused is not None:
                return _to_sanic(refused)
            with core.body_slot() as busy:  # a bounded number of bodies buffered at once
                if busy is not None:
                    return _to_sanic(busy)
                body = await _read_limited(request, core.settings.max_body_bytes)
            if body is None:
                logger.warning("webhook POST refused: body above limit %d (%s)", core.settings.max_body_bytes, _READ_CHUNK_LIMIT_NOTE)
                return _to_sanic(WebhookResponse(413, "payload too large"))
            return _to_sanic(
                await core.receive(
                    body,
                    headers,
                    on_new_message,
                    language_lookup=_language_lookup(request),
                    privacy_requests=PrivacyRequests.for_agent(
                        getattr(request.app.ctx, "agent", None), outboxes=core.store, payload_ids=core.id_map
                    ),
                )
            )

        @webhook.listener("before_server_start")
        async def guard_framing(app: Any, loop: Any) -> None:
            install_framing_guard(app)

        @webhook.listener("after_server_stop")
        async def close(app: Any, loop: Any) -> None:
            await self.aclose()

        return webhook

    async def aclose(self) -> None:
        """Wait for pending read receipts and close the connections this channel opened."""
        await self.core.drain()
        if self._owns_graph and isinstance(self.graph, GraphClient):
            await self.graph.aclose()
        if self._owns_store:
            await self.store.close()
        if self._owns_id_map and isinstance(self.id_map, RedisPayloadIdMap):
            await self.id_map.close()


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it grows past ``limit`` (no unbounded buffering)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _fail_closed_once(request: Request) -> None:
    """Let storage errors reach the webhook core (503, Meta redelivers) instead of Rasa's
    FailSafe wrapper hiding them; see rasa_compat.make_fail_closed."""
    ctx = request.app.ctx
    if getattr(ctx, "blaupause_fail_closed", False):
        return
    agent = getattr(ctx, "agent", None)
    if agent is not None and getattr(agent, "tracker_store", None) is not None:
        make_fail_closed(agent.tracker_store)
        ctx.blaupause_fail_closed = True


def _to_sanic(answer: WebhookResponse) -> HTTPResponse:
    return response.text(answer.body, status=answer.status, content_type=answer.content_type)


def _language_lookup(request: Request) -> LanguageLookup | None:
    """The user's ``language`` slot as the turn left it (inside the user's key context).

    The tracker the encrypted store saved in this request answers it; reading it back
    from the store (retrieve, decrypt, rebuild) is only the fallback for another store
    or a turn that saved nothing.
    """
    agent = getattr(request.app.ctx, "agent", None)
    tracker_store = getattr(agent, "tracker_store", None)
    if tracker_store is None:
        return None

    async def lookup(pseudonym: str) -> str | None:
        tracker = tracker_saved_in_this_request(pseudonym)
        if tracker is None:
            tracker = await tracker_store.retrieve(pseudonym)
        value = tracker.get_slot("language") if tracker is not None else None
        return value if isinstance(value, str) else None

    return lookup


def _options_from_env(environ: Mapping[str, str]) -> DeliveryOptions:
    """``WHATSAPP_CLAIM_LEASE_S``: how long a crashed instance's claim blocks a redelivery.

    30 s by default: long enough that a slow but alive turn (an LLM call) renews it in time
    (every third), short next to Meta's redelivery pauses. Tests of a crash lower it.
    """
    lease = _float_env(environ, "WHATSAPP_CLAIM_LEASE_S", DEFAULT_LEASE_SECONDS)
    if lease < 1.0:
        raise SettingsError("WHATSAPP_CLAIM_LEASE_S", "must be at least 1 second")
    return DeliveryOptions(lease_seconds=lease)


def _pacer_from_env(environ: Mapping[str, str]) -> Pacer:
    return Pacer(
        max_mps=_float_env(environ, "WHATSAPP_MAX_MPS", 80.0) or 80.0,
        recipient_min_gap=_float_env(environ, "WHATSAPP_RECIPIENT_MIN_GAP_S", 0.0),
    )


def _graph_client(settings: WhatsAppSettings, pacer: Pacer, environ: Mapping[str, str]) -> GraphClient:
    try:
        retry = RetryPolicy.from_env(environ)
    except ValueError as error:
        raise SettingsError("WHATSAPP_SEND_MAX_ATTEMPTS/WHATSAPP_SEND_BACKOFF_*_S", str(error)) from None
    graph_settings = GraphSettings(
        access_token=settings.access_token,
        phone_number_id=settings.phone_number_id,
        api_base_url=settings.api_base_url,
        api_version=settings.api_version,
        timeout=_float_env(environ, "WHATSAPP_API_TIMEOUT_S", 10.0) or 10.0,
    )
    return GraphClient(graph_settings, retry=retry, throughput=pacer.throughput)


def _id_map(dedup_url: str, keyring: Keyring) -> PayloadIdMap:
    """In-process, or Redis with every value sealed under a key derived from the server secret."""
    return RedisPayloadIdMap.from_url(dedup_url, keyring=keyring) if dedup_url else InMemoryPayloadIdMap(keyring=keyring)
