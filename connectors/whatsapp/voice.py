"""A voice note becomes what Rasa receives: fetched and transcribed in memory, never stored.

Why in the channel and before Rasa: the transcript *is* the message (issue 14), so it must go
through NLU like typed text, and the audio must never reach anything that persists (Rasa's
tracker, the outbox, a log). The recording is fetched with the access token
(:mod:`connectors.whatsapp.media`: ``GET /{media-id}``, then the bytes, Meta's audio size limit
and the announced type checked before reading it all) and handed to the transcriber
(:mod:`speech`, any OpenAI-compatible ``/v1/audio/transcriptions`` endpoint), then dropped. What
Rasa receives, and so what the encrypted conversation keeps, is the transcript with the
metadata marker ``"voice_note": true``; never the audio, the media id or its URL.

| what happened                                   | handed to Rasa (``message_type`` "audio")           |
| ----------------------------------------------- | --------------------------------------------------- |
| transcribed, confidence unknown or >= threshold | the transcript, as typed text would be              |
| transcribed, confidence < ``STT_CONFIRM_BELOW`` | ``/voice_unsure{"transcript":"..."}`` (asks "stimmt das?") |
| nothing heard (empty transcript)                | ``/voice_empty``                                    |
| over ``STT_MAX_BYTES`` / ``STT_MAX_SECONDS``    | ``/voice_too_long``                                 |
| download failed (expired, 4xx/5xx, timeout)     | ``/voice_not_fetched``                              |
| transcription failed (5xx, timeout, refused)    | ``/voice_not_transcribed``                          |
| no transcription configured                     | ``/voice_unavailable`` (:mod:`.inbound`)            |

The wording of every answer lives in domain.yml (``utter_voice_unsure``, ``utter_voice_*``).
A failure is never a webhook error: Meta would redeliver the same voice note and fail again, so
the user gets an answer at once and can write instead. Transient failures are retried inside
the step's time budget (media download: ``download_budget_seconds``; transcription:
``STT_TIMEOUT_S``), which keeps the turn well inside the claim lease
(``WHATSAPP_CLAIM_LEASE_S``, renewed while the turn runs) and Meta's patience.

The language hint for the transcriber is the conversation's ``language`` slot (one read of the
encrypted tracker, in the user's key context). The transcript is registered as sensitive before
anything is logged (:mod:`privacy.log_redaction`). Metrics: ``blaupause_voice_notes_total{outcome}``
and ``blaupause_voice_step_seconds{step}`` (:mod:`observability.metrics`); docs/voice-notes.md.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Protocol

from connectors.whatsapp.inbound import DialogueTurn
from connectors.whatsapp.media.download import MediaFile
from connectors.whatsapp.media.errors import MediaError, MediaTooLargeError
from connectors.whatsapp.updates.messages import AudioMessage
from observability.metrics import voice_notes, voice_step_duration
from privacy.log_redaction.sensitive import register_sensitive
from speech.errors import TranscriptionError
from speech.ogg import read_ogg
from speech.settings import SpeechSettings
from speech.transcript import Transcriber

__all__ = ["AUDIO_TYPES", "META_AUDIO_LIMIT_BYTES", "MediaFetcher", "VoiceNotes", "voice_payload"]

logger = logging.getLogger(__name__)

#: Audio types Meta accepts (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types);
#: a voice note is "audio/ogg; codecs=opus".
AUDIO_TYPES = frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"})
#: Meta's maximum audio size (same page): 16 MB.
META_AUDIO_LIMIT_BYTES = 16 * 1024 * 1024
#: Time for the media download, retries included (the Graph API's own timeout is 10 s per call).
DOWNLOAD_BUDGET_SECONDS = 8.0


class MediaFetcher(Protocol):
    """What the voice notes need from the media download (:class:`connectors.whatsapp.media.download.MediaDownloader`)."""

    async def fetch(
        self, media_id: str, *, allowed_types: frozenset[str], max_bytes: int, deadline_seconds: float
    ) -> MediaFile: ...

    async def aclose(self) -> None: ...


def voice_payload(intent: str, entities: dict[str, str] | None = None) -> str:
    """``/voice_unsure{"transcript":"Koch in Berlin"}`` or ``/voice_empty`` (compact JSON entities)."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def _turn(intent: str, outcome: str, entities: dict[str, str] | None = None) -> DialogueTurn:
    voice_notes.labels(outcome).inc()
    return DialogueTurn(voice_payload(intent, entities), "audio")


class VoiceNotes:
    """Turns an :class:`~connectors.whatsapp.updates.messages.AudioMessage` into a :class:`~connectors.whatsapp.inbound.DialogueTurn`.

    Args:
        media: fetches the recording (``MediaDownloader``).
        transcriber: speech to text (``OpenAICompatibleTranscriber``).
        settings: the ``STT_*`` settings (caps, confirmation threshold, timeout).
        download_budget_seconds: the media download's time, retries included.
    """

    def __init__(
        self,
        media: MediaFetcher,
        transcriber: Transcriber,
        settings: SpeechSettings,
        *,
        download_budget_seconds: float = DOWNLOAD_BUDGET_SECONDS,
    ) -> None:
        self.media = media
        self.transcriber = transcriber
        self.settings = settings
        self.download_budget_seconds = download_budget_seconds

    @property
    def max_bytes(self) -> int:
        """The smaller of ``STT_MAX_BYTES`` and Meta's audio limit."""
        return min(self.settings.max_bytes, META_AUDIO_LIMIT_BYTES)

    async def to_turn(self, message: AudioMessage, *, language: str | None, ref: str) -> DialogueTurn:
        """Fetch, check and transcribe ``message``; every failure becomes the matching answer."""
        started = time.monotonic()
        try:
            media = await self.media.fetch(
                message.media_id, allowed_types=AUDIO_TYPES, max_bytes=self.max_bytes,
                deadline_seconds=self.download_budget_seconds,
            )
        except MediaTooLargeError:
            logger.info("message %s: voice note over %d bytes; not transcribed", ref, self.max_bytes)
            return _turn("voice_too_long", "too_long")
        except MediaError as error:
            logger.warning("message %s: voice note not fetched (%s)", ref, type(error).__name__)
            return _turn("voice_not_fetched", "not_fetched")
        finally:
            voice_step_duration.labels("download").observe(time.monotonic() - started)
        ogg = read_ogg(media.content)
        if ogg is not None and ogg.duration_seconds is not None and ogg.duration_seconds > self.settings.max_seconds:
            logger.info("message %s: voice note of %.0f s over the %.0f s cap", ref, ogg.duration_seconds, self.settings.max_seconds)
            return _turn("voice_too_long", "too_long")
        started = time.monotonic()
        try:
            transcript = await self.transcriber.transcribe(
                media.content, mime_type=media.mime_type, language=language,
                deadline_seconds=self.settings.timeout_seconds,
            )
        except TranscriptionError as error:
            logger.warning("message %s: voice note not transcribed (%s)", ref, type(error).__name__)
            return _turn("voice_not_transcribed", "not_transcribed")
        finally:
            voice_step_duration.labels("transcription").observe(time.monotonic() - started)
            del media  # the audio goes no further than this method
        # One line, and never a leading "/": Rasa would read "/word" as an intent (and "Ja, stimmt"
        # sends an unsure transcript back as the user's text).
        text = " ".join(transcript.text.split()).lstrip("/").lstrip()
        if not text:
            logger.info("message %s: nothing heard in the voice note", ref)
            return _turn("voice_empty", "empty")
        register_sensitive(text)  # from here on masked in every log line of this request
        confidence = transcript.confidence
        if confidence is not None and confidence < self.settings.confirm_below:
            logger.info("message %s: voice note transcribed with confidence %.2f; asking the user", ref, confidence)
            return _turn("voice_unsure", "unsure", {"transcript": text})
        logger.info("message %s: voice note transcribed (%d characters)", ref, len(text))
        voice_notes.labels("transcribed").inc()
        return DialogueTurn(text, "audio", voice_note=True)

    async def aclose(self) -> None:
        """Close the download's and the transcriber's connections."""
        await self.media.aclose()
        await self.transcriber.aclose()
