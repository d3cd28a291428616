"""The Rasa channel ``WhatsAppInput``: a thin Sanic adapter over :class:`.core.WebhookCore`.

Why thin: all behaviour lives in the framework-free core; this module only turns Sanic
requests into (raw body bytes, headers) and core answers into Sanic responses, like
slack-bolt's ``adapter/sanic``. Settings, keyring and resources are built once in
:meth:`WhatsAppInput.from_credentials`; the turn once per Rasa agent (:mod:`.agent_turns`).

Configure it in ``credentials.yml`` under its module path (Rasa imports the class and calls
:meth:`WhatsAppInput.from_credentials`)::

    connectors.whatsapp.WhatsAppInput:
      verify_token: ${WHATSAPP_VERIFY_TOKEN}   # optional: the environment is read anyway
      # app_secret, access_token, phone_number_id, api_base_url, api_version,
      # max_body_bytes, max_buffering_requests, dedup_url, identity_anchor: same, see settings.py

The operator port (Prometheus metrics, :mod:`observability.exposition`) is configured in the
environment only, next to the ``WHATSAPP_*`` variables: ``BLAUPAUSE_METRICS_PORT`` (unset: no
port), ``BLAUPAUSE_METRICS_HOST`` (default ``127.0.0.1``), ``BLAUPAUSE_METRICS_TOKEN`` (bearer
token a scrape must send). A bad value stops the server with a :class:`SettingsError` naming
the variable. The channel's metrics are counted in :mod:`.webhook_metrics` and the Graph client.
Voice notes are transcribed when ``STT_BASE_URL`` is set (the ``STT_*`` variables,
:mod:`speech.settings`; docs/voice-notes.md); a bad ``STT_*`` value stops the server the same way.

Rasa mounts the blueprint under ``/webhooks/whatsapp``: Meta calls ``GET`` and ``POST
/webhooks/whatsapp/webhook`` (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).

Proactive messages are not supported: a Rasa-initiated message (reminder, ``trigger_intent``
API) only knows the pseudonym, and by design nothing maps a pseudonym back to a phone number.
:meth:`WhatsAppInput.get_output_channel` therefore returns ``None``.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.whatsapp.agent_turns import AgentTurns
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from connectors.whatsapp.dedup.claims import DedupStore
from connectors.whatsapp.delivery import GraphSender
from connectors.whatsapp.framing import install_framing_guard
from connectors.whatsapp.outcome import WebhookResponse
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.graph.pacing import Pacer
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.resources import ChannelResources
from connectors.whatsapp.settings import SettingsError, WhatsAppSettings
from connectors.whatsapp.voice import VoiceNotes
from connectors.whatsapp.turn import OnNewMessage
from connectors.whatsapp.webhook_metrics import now
from observability.exposition import MetricsConfigError, serve_metrics_from_env
from speech.errors import SpeechSettingsError
from speech.settings import SpeechSettings
from observability.metrics import initialise_channel_series
from privacy.dev_key import keyring_for_runtime
from privacy.errors import PrivacyConfigError
from privacy.keyring import Keyring
from privacy.log_redaction.install import install_redaction
from rasa_compat import install_hot_path

__all__ = ["WhatsAppInput", "WhatsAppOutput"]

logger = logging.getLogger(__name__)


class WhatsAppInput(InputChannel):
    """Rasa input channel for the WhatsApp Cloud API (module path ``connectors.whatsapp.WhatsAppInput``).

    Tests and embedders may inject the collaborators (:class:`.resources.ChannelResources`);
    :meth:`from_credentials` builds the real ones from the settings.
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
        speech: SpeechSettings | None = None,
        voice: VoiceNotes | None = None,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.resources = ChannelResources(
            settings, keyring, graph=graph, store=store, id_map=id_map, pacer=pacer, speech=speech, voice=voice
        )
        self.core = WebhookCore(
            settings=settings, store=self.resources.store, graph=self.resources.graph, keyring=keyring,
            id_map=self.resources.id_map, output_factory=WhatsAppOutput, pacer=self.resources.pacer.recipients,
            sent_copies=self.resources.sent_copies, voice=self.resources.voice,
            options=options if options is not None else DeliveryOptions(lease_seconds=settings.claim_lease_seconds),
        )

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "WhatsAppInput":
        """Validate settings and secrets at start; :class:`SettingsError` names what is wrong."""
        settings = WhatsAppSettings.load(credentials, os.environ)
        try:
            keyring = keyring_for_runtime(os.environ, api_base_url=settings.api_base_url)
        except PrivacyConfigError as error:
            raise SettingsError(getattr(error, "variable", "PRIVACY_KEY"), str(error)) from error
        # Rasa has configured logging by now; mask phone numbers and message text in every
        # logger (ours, Rasa's, Sanic's, httpx's) from here on.
        install_redaction()
        # Rasa 3.6's own turn without its waste (rasa_compat.hot_path: action results validated by
        # a validator built once, event classes from a table); refuses another Rasa version
        # (rasa_compat.RasaVersionError). Once per process.
        install_hot_path()
        # The operator port (GET /metrics), once per process; off unless BLAUPAUSE_METRICS_PORT is set.
        # The series alerts read exist from the start, at 0 (observability.metrics).
        initialise_channel_series()
        try:
            serve_metrics_from_env(os.environ)
        except MetricsConfigError as error:
            raise SettingsError(error.variable, str(error).removeprefix(f"{error.variable}: ")) from error
        try:  # voice notes: transcribed when STT_BASE_URL is set (docs/voice-notes.md)
            speech = SpeechSettings.from_env(os.environ)
        except SpeechSettingsError as error:
            raise SettingsError(error.variable, str(error).removeprefix(f"{error.variable}: ")) from error
        channel = cls(settings, keyring, speech=speech)
        logger.info(
            "WhatsApp channel ready (phone number id %s, Graph API %s %s, dedup %s, voice notes %s)",
            settings.phone_number_id, settings.api_base_url, settings.api_version,
            "redis" if settings.dedup_url else "in-process", "transcribed" if speech is not None else "not transcribed",
        )
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        """None: proactive messages need a phone number, and a pseudonym cannot be mapped back."""
        return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET/POST ``/webhook`` (verification, notifications), GET ``/`` (health), ``/live`` and ``/ready``."""
        from connectors.whatsapp.readiness import Readiness, keep_checking

        core, turns = self.core, AgentTurns(self.core, on_new_message)
        webhook = Blueprint("whatsapp_webhook", url_prefix=None)
        readiness = Readiness(self.keyring, self.resources.store)

        @webhook.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.get("/live")
        async def live(request: Request) -> HTTPResponse:
            """Liveness: the process serves requests (no dependency is checked)."""
            return response.json({"status": "live"})

        @webhook.get("/ready")
        async def ready(request: Request) -> HTTPResponse:
            """Readiness (:mod:`connectors.whatsapp.readiness`): 200 when model, key and stores answer, else 503."""
            report = await readiness.check(getattr(request.app.ctx, "agent", None))
            return response.json(report.as_json(), status=report.status)

        @webhook.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            return _to_sanic(core.verify({key: values[0] for key, values in request.args.items() if values}))

        @webhook.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            arrived = now()  # the POST's and each message's duration start here (webhook_metrics)
            turn = turns.for_agent(getattr(request.app.ctx, "agent", None))
            headers = dict(request.headers)
            refused = core.check_before_body(headers, arrived)  # 413/401 before a byte of the body
            if refused is not None:
                return _to_sanic(refused)
            with core.body_slot(headers, arrived) as busy:  # a bounded number of bytes buffered at once
                if busy is not None:
                    return _to_sanic(busy)
                body = await _read_limited(request, core.settings.max_body_bytes)
            if body is None:
                logger.warning(
                    "webhook POST refused: body above limit %d (body is read in chunks and refused as soon as "
                    "it passes the limit)", core.settings.max_body_bytes,
                )
                return _to_sanic(core.refused(WebhookResponse(413, "payload too large"), arrived))
            return _to_sanic(await core.handle(body, headers, turn, arrived))

        @webhook.listener("before_server_start")
        async def guard_framing(app: Any, loop: Any) -> None:
            install_framing_guard(app)

        @webhook.listener("after_server_start")
        async def refresh_readiness(app: Any, loop: Any) -> None:
            # The readiness gauges stay current without a probe (readiness.keep_checking).
            self._readiness_task = loop.create_task(keep_checking(readiness, lambda: getattr(app.ctx, "agent", None)))

        @webhook.listener("after_server_stop")
        async def close(app: Any, loop: Any) -> None:
            task = getattr(self, "_readiness_task", None)
            if task is not None:
                task.cancel()
            await self.aclose()

        return webhook

    async def aclose(self) -> None:
        """Wait for pending read receipts and close the connections this channel opened."""
        await self.core.drain()
        await self.resources.aclose()


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


def _to_sanic(answer: WebhookResponse) -> HTTPResponse:
    return response.text(answer.body, status=answer.status, content_type=answer.content_type)
