"""The transcription client for any OpenAI-compatible ``/audio/transcriptions`` endpoint.

Why our own client and not the ``openai`` package: one call, a hard time budget inside the
webhook's, typed errors the channel maps to one polite answer, and a guarantee about what leaves
the machine: the audio, the model name, the response format, ``temperature=0`` and the language
hint. Nothing about the user (no sender, no ``prompt`` with earlier messages).

Request (https://platform.openai.com/docs/api-reference/audio/createTranscription):
``multipart/form-data`` with ``file`` (named ``voice.ogg``, ``.mp3``, ... after the mime type,
which the server uses to pick the decoder), ``model``, ``response_format``, ``temperature`` and
``language`` (ISO 639-1 only; anything else is dropped, the server then detects the language).
Bearer auth only when ``STT_API_KEY`` is set.

Time: the whole call, retry included, ends within ``min(STT_TIMEOUT_S, deadline_seconds)``.
One retry on 429 (after ``Retry-After`` when given), 5xx and connection errors, and only when
the wait still fits; timeouts are not retried (the budget is spent).

Errors (speech/errors.py): 401/403/404 -> TranscriptionAuthError; 400/413/415/422 and other
4xx -> TranscriptionRefusedError; 429 -> TranscriptionRateLimitedError; 5xx, timeouts,
connection errors -> TranscriptionUnavailableError; an unreadable 2xx ->
TranscriptionResponseError. Audio over ``STT_MAX_BYTES``, empty audio and a mime type we cannot
name are refused before anything is sent.

Confidence: exp of the duration-weighted mean ``avg_logprob`` of the segments that are not
silence (``no_speech_prob > 0.6`` and ``avg_logprob < -1``, dropped from the text), clamped to
0..1; None without segments. The rule in full: speech/transcript.py.

Logging: statuses and reasons at DEBUG only; never the text, the audio or the key.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from httpkit.retry_after import retry_after_from_headers
from speech.errors import (
    TranscriptionAuthError,
    TranscriptionError,
    TranscriptionRateLimitedError,
    TranscriptionRefusedError,
    TranscriptionResponseError,
    TranscriptionUnavailableError,
)
from speech.settings import SpeechSettings
from speech.transcript import Transcript, language_code, transcript_from_answer

__all__ = ["OpenAICompatibleTranscriber", "FILENAMES", "filename_for"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: The upload's file name by mime type: OpenAI-compatible servers pick the decoder by extension.
FILENAMES: Mapping[str, str] = {
    "audio/ogg": "voice.ogg", "audio/opus": "voice.ogg", "application/ogg": "voice.ogg",
    "audio/mpeg": "voice.mp3", "audio/mp3": "voice.mp3",
    "audio/mp4": "voice.m4a", "audio/m4a": "voice.m4a", "audio/x-m4a": "voice.m4a",
    "audio/aac": "voice.aac", "audio/amr": "voice.amr",
    "audio/wav": "voice.wav", "audio/x-wav": "voice.wav", "audio/wave": "voice.wav",
    "audio/webm": "voice.webm", "audio/flac": "voice.flac",
}
_RETRY_BACKOFF_SECONDS = 0.2
_MAX_ANSWER_BYTES = 1_000_000
_USER_AGENT = "blaupause-speech"


def filename_for(mime_type: str) -> tuple[str, str] | None:
    """(file name, bare mime type) for ``audio/ogg; codecs=opus`` and the like; None if unknown."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    name = FILENAMES.get(bare)
    return (name, bare) if name else None


def _error_code(body: bytes) -> str | None:
    """OpenAI's ``error.code`` (or ``type``) from an error answer; the message is not kept."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and value:
            return value[:64]
    return None


def _error_for(status: int, body: bytes, headers: Mapping[str, str]) -> TranscriptionError:
    code = _error_code(body)
    label = f"{status}" + (f" ({code})" if code else "")
    if status == 429:
        return TranscriptionRateLimitedError(
            f"the transcription server is rate limiting: {label}", code=code, retry_after=retry_after_from_headers(headers)
        )
    if status >= 500 or status == 408:
        return TranscriptionUnavailableError(f"the transcription server failed: {label}", status=status, code=code)
    if status in (401, 403, 404):
        return TranscriptionAuthError(f"the transcription server refused the key or model: {label}", status=status, code=code)
    if 400 <= status < 500:
        return TranscriptionRefusedError(f"the transcription server refused the audio: {label}", status=status, code=code)
    return TranscriptionResponseError(f"unexpected answer from the transcription server: {label}", status=status, code=code)


def _retryable(error: TranscriptionError) -> bool:
    if isinstance(error, TranscriptionRateLimitedError):
        return error.code != "insufficient_quota"  # billing: waiting cannot help
    # 5xx and connection errors; not a timeout or a spent deadline (no time left to retry in)
    return isinstance(error, TranscriptionUnavailableError) and (
        error.status is not None or isinstance(error.__cause__, aiohttp.ClientError)
    )


class OpenAICompatibleTranscriber:
    """Sends one voice note to an OpenAI-compatible server; one lazily created aiohttp session."""

    def __init__(self, settings: SpeechSettings, *, sleep: Sleep = asyncio.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    @property
    def settings(self) -> SpeechSettings:
        return self._settings

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
            if self._settings.api_key:
                headers["Authorization"] = f"Bearer {self._settings.api_key}"
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def transcribe(
        self, audio: bytes, *, mime_type: str, language: str | None = None, deadline_seconds: float | None = None
    ) -> Transcript:
        """The transcript of ``audio``; raises a TranscriptionError subclass (module docstring).

        ``language``: the conversation's language as a hint; only an ISO 639-1 code is sent.
        ``deadline_seconds``: what is left of the caller's budget; shortens ``STT_TIMEOUT_S``.
        """
        settings = self._settings
        if not audio:
            raise TranscriptionRefusedError("the voice note is empty")
        if len(audio) > settings.max_bytes:
            raise TranscriptionRefusedError(f"the voice note is larger than STT_MAX_BYTES ({settings.max_bytes})")
        named = filename_for(mime_type)
        if named is None:
            raise TranscriptionRefusedError("the voice note has an audio type the client cannot name")
        hint = language.strip().lower() if isinstance(language, str) else None
        hint = hint if hint and len(hint) == 2 and language_code(hint) == hint else None
        budget = settings.timeout_seconds if deadline_seconds is None else min(settings.timeout_seconds, deadline_seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        retried = False
        while True:
            try:
                return await self._attempt(audio, named, hint, deadline - loop.time())
            except TranscriptionError as error:
                if retried or not _retryable(error):
                    raise
                wait = _RETRY_BACKOFF_SECONDS
                if isinstance(error, TranscriptionRateLimitedError) and error.retry_after is not None:
                    wait = error.retry_after
                if loop.time() + wait >= deadline:
                    raise
                logger.debug("transcription failed (%s, %s); one retry in %.2f s", error.reason, error.status, wait)
                await self._sleep(wait)
                retried = True

    def _form(self, audio: bytes, named: tuple[str, str], language: str | None) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("file", audio, filename=named[0], content_type=named[1])
        form.add_field("model", self._settings.model)
        form.add_field("response_format", self._settings.response_format)
        form.add_field("temperature", "0")
        if language:
            form.add_field("language", language)
        return form

    async def _attempt(
        self, audio: bytes, named: tuple[str, str], language: str | None, remaining: float
    ) -> Transcript:
        if remaining <= 0:
            raise TranscriptionUnavailableError("the deadline was spent before the transcription")
        url = self._settings.transcriptions_url
        try:
            async with asyncio.timeout(remaining):
                async with self._http().post(
                    url, data=self._form(audio, named, language), allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=remaining),
                ) as response:
                    body = await response.content.read(_MAX_ANSWER_BYTES + 1)
                    status, headers = response.status, response.headers
        except (TimeoutError, asyncio.TimeoutError) as error:
            raise TranscriptionUnavailableError(f"no transcription within {remaining:.1f} s") from error
        except aiohttp.ClientError as error:
            raise TranscriptionUnavailableError(
                f"cannot reach the transcription server ({type(error).__name__})"
            ) from error
        if not 200 <= status < 300:
            raise _error_for(status, body, headers)
        if len(body) > _MAX_ANSWER_BYTES:
            raise TranscriptionResponseError("the transcription answer is too large", status=status)
        try:
            data = json.loads(body)
        except ValueError as error:
            raise TranscriptionResponseError("the transcription answer is not JSON", status=status) from error
        transcript = transcript_from_answer(data)
        logger.debug("transcribed %d bytes: %d characters, confidence %s", len(audio), len(transcript.text),
                     "none" if transcript.confidence is None else f"{transcript.confidence:.2f}")
        return transcript
