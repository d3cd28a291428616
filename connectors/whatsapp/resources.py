"""The channel's long-lived resources, built once from the settings and closed at shutdown.

Why here and not in the adapter: the Graph client (connection pool, retries, throughput),
the pacer, the dedup store, the payload id map and the sealed copies of sent replies
(:mod:`.sent_copies`; each in-process, or Redis when ``WHATSAPP_DEDUP_URL`` is set) are built from :class:`.settings.WhatsAppSettings` alone;
none of them reads the environment. With speech settings (``STT_*``, read by the adapter) the
voice notes (:mod:`.voice`: the media download and the transcriber) are built here too. Tests and
embedders may inject any of them; injected ones are not closed here.
"""
from __future__ import annotations

from connectors.whatsapp.dedup.claims import DedupStore
from connectors.whatsapp.dedup.factory import store_from_url
from connectors.whatsapp.delivery import GraphSender
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.graph.pacing import Pacer
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.payload_ids.redis_map import RedisPayloadIdMap
from connectors.whatsapp.sent_copies.copies import SentCopies
from connectors.whatsapp.sent_copies.factory import sent_copies_from_url
from connectors.whatsapp.media.download import MediaDownloader
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.voice import VoiceNotes
from privacy.keyring import Keyring
from speech.client import OpenAICompatibleTranscriber
from speech.settings import SpeechSettings

__all__ = ["ChannelResources"]


class ChannelResources:
    """Graph client, pacer, dedup store, payload id map, sent copies and voice notes of one channel."""

    def __init__(
        self,
        settings: WhatsAppSettings,
        keyring: Keyring,
        *,
        graph: GraphSender | None = None,
        store: DedupStore | None = None,
        id_map: PayloadIdMap | None = None,
        pacer: Pacer | None = None,
        sent_copies: SentCopies | None = None,
        speech: SpeechSettings | None = None,
        voice: VoiceNotes | None = None,
    ) -> None:
        self.pacer = pacer if pacer is not None else Pacer(
            max_mps=settings.max_mps, recipient_min_gap=settings.recipient_min_gap_seconds
        )
        self.graph: GraphSender = graph if graph is not None else _graph_client(settings, self.pacer)
        self._owns_graph = graph is None
        # "is None", not "or": an empty in-memory store or map is falsy (it has __len__).
        self.store = store if store is not None else store_from_url(settings.dedup_url)
        self._owns_store = store is None
        self.id_map = id_map if id_map is not None else _id_map(settings.dedup_url, keyring)
        self._owns_id_map = id_map is None
        self.sent_copies = sent_copies if sent_copies is not None else sent_copies_from_url(settings.dedup_url)
        self._owns_sent_copies = sent_copies is None
        self.voice = voice if voice is not None else _voice_notes(settings, speech)
        self._owns_voice = voice is None

    async def aclose(self) -> None:
        """Close the connections this object opened (never injected ones)."""
        if self._owns_graph and isinstance(self.graph, GraphClient):
            await self.graph.aclose()
        if self._owns_store:
            await self.store.close()
        if self._owns_id_map and isinstance(self.id_map, RedisPayloadIdMap):
            await self.id_map.close()
        if self._owns_sent_copies:
            await self.sent_copies.close()
        if self._owns_voice and self.voice is not None:
            await self.voice.aclose()


def _retry(settings: WhatsAppSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.send_max_attempts,
        base_delay=settings.send_backoff_base_seconds,
        max_delay=settings.send_backoff_max_seconds,
    )


def _graph_settings(settings: WhatsAppSettings) -> GraphSettings:
    return GraphSettings(
        access_token=settings.access_token,
        phone_number_id=settings.phone_number_id,
        api_base_url=settings.api_base_url,
        api_version=settings.api_version,
        timeout=settings.api_timeout_seconds,
    )


def _graph_client(settings: WhatsAppSettings, pacer: Pacer) -> GraphClient:
    return GraphClient(_graph_settings(settings), retry=_retry(settings), throughput=pacer.throughput)


def _voice_notes(settings: WhatsAppSettings, speech: SpeechSettings | None) -> VoiceNotes | None:
    """Media download (same token, base URL and retry rules as the Graph client) and transcriber."""
    if speech is None:
        return None
    media = MediaDownloader(_graph_settings(settings), retry=_retry(settings))
    return VoiceNotes(media, OpenAICompatibleTranscriber(speech), speech)


def _id_map(dedup_url: str, keyring: Keyring) -> PayloadIdMap:
    """In-process, or Redis with every value sealed under a key derived from the server secret."""
    return RedisPayloadIdMap.from_url(dedup_url, keyring=keyring) if dedup_url else InMemoryPayloadIdMap(keyring=keyring)
