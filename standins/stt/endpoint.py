"""``POST /v1/audio/transcriptions`` and ``GET /v1/models`` as OpenAI answers them.

Checks, in order (https://platform.openai.com/docs/api-reference/audio/createTranscription):
bearer key when one is configured (401 ``invalid_api_key``); a ``multipart/form-data`` body;
``file`` at most 25 MB (413); ``file`` and ``model`` present (400, ``param`` names the field);
a configured model list (404 ``model_not_found``); ``response_format`` one of json, text, srt,
verbose_json, vtt (srt and vtt are answered 400 "not supported by this stand-in"); ``language``
ISO 639-1; ``temperature`` 0..1; the format sniffed from the bytes (standins/stt/formats.py,
400 "Invalid file format"); at least 0.1 s of audio when the length is known (400). Then the
queued fault, if any (standins/stt/faults.py), the simulated latency
(``latency + realtime_factor * duration``) and the answer (standins/stt/hearing.py).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from standins.fault_queue import hold
from standins.openai_errors import RequestError, check_bearer, error_body, invalid
from standins.stt.errors import error_response
from standins.stt.faults import error_answer
from standins.stt.formats import SUPPORTED_FORMATS, duration_seconds, sniff
from standins.stt.hearing import answer, hear
from standins.stt.records import ReceivedRequest

if TYPE_CHECKING:
    from standins.stt.server import STTStandIn

__all__ = ["TranscriptionsEndpoint", "RESPONSE_FORMATS", "IMPLEMENTED_FORMATS", "MIN_AUDIO_SECONDS"]

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
IMPLEMENTED_FORMATS = ("json", "text", "verbose_json")
MIN_AUDIO_SECONDS = 0.1
_FIELD_LIMIT = 4096
_ISO_639_1 = re.compile(r"[a-z]{2}")


def _shutting_down() -> RequestError:
    return RequestError(503, error_body("The server is shutting down.", "server_error"))


@dataclass
class _Upload:
    fields: dict[str, str] = field(default_factory=dict)
    audio: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    byte_count: int = 0
    audio_format: str | None = None
    bearer: bool = False


class TranscriptionsEndpoint:
    def __init__(self, standin: STTStandIn) -> None:
        self.standin = standin

    async def models(self, request: web.Request) -> web.Response:
        try:
            self._check_auth(request)
        except RequestError as error:
            return error_response(error)
        names = sorted(self.standin.models or ("whisper-1",))
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "standin"} for name in names]})

    async def transcriptions(self, request: web.Request) -> web.Response:
        upload, authorised = _Upload(bearer="Authorization" in request.headers), False
        try:
            self._check_auth(request)
            authorised = True
            await self._read(request, upload)
            fault = self.standin.faults.take()
            if fault is not None:
                if await hold(fault.timeout, self.standin.stopping):
                    raise _shutting_down()
                response = error_answer(fault)
                if response is not None:
                    self._record(upload, authorised, response.status)
                    return response
            response = await self._transcribe(upload)
        except RequestError as error:
            self._record(upload, authorised, error.status)
            return error_response(error)
        self._record(upload, authorised, response.status)
        return response

    # -- pieces ----------------------------------------------------------------------------
    def _check_auth(self, request: web.Request) -> None:
        check_bearer(request.headers.get("Authorization", ""), self.standin.api_key)

    async def _read(self, request: web.Request, upload: _Upload) -> None:
        if request.content_type == "application/x-www-form-urlencoded":  # a form without a file
            fields = await request.post()
            upload.fields.update({k: v.strip() for k, v in fields.items() if isinstance(v, str)})
            return
        if request.content_type != "multipart/form-data":
            raise invalid(f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data. "
                          "(HINT: If you're using curl, you can pass -F 'file=@path/to/file' to send a file.)")
        limit = self.standin.max_file_bytes
        try:
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None or part.name == "file":
                    chunks = bytearray()
                    while chunk := await part.read_chunk(65536):
                        chunks += chunk
                        if len(chunks) > limit:
                            upload.byte_count = len(chunks)
                            raise RequestError(413, error_body(
                                f"Maximum content size limit ({limit}) exceeded ({len(chunks)} bytes read)",
                                "server_error"))
                    if part.name == "file":
                        upload.audio, upload.byte_count = bytes(chunks), len(chunks)
                        upload.filename, upload.content_type = part.filename, part.headers.get("Content-Type")
                elif part.name:
                    value = await part.read_chunk(_FIELD_LIMIT)
                    upload.fields[part.name] = value.decode("utf-8", "replace").strip()
        except (ValueError, AssertionError) as exc:  # a broken multipart body
            raise invalid(f"Could not parse multipart form: {type(exc).__name__}") from None

    def _check(self, upload: _Upload) -> tuple[str, str | None]:
        """(response_format, language) of a valid request; RequestError otherwise."""
        fields = upload.fields
        if upload.audio is None:
            raise invalid("Missing required parameter: 'file'.", "file")
        model = fields.get("model")
        if not model:
            raise invalid("Missing required parameter: 'model'.", "model")
        if self.standin.models is not None and model not in self.standin.models:
            raise RequestError(404, error_body(
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error", "model", "model_not_found"))
        response_format = fields.get("response_format") or "json"
        if response_format not in RESPONSE_FORMATS:
            raise invalid(f"'{response_format}' is not one of {list(RESPONSE_FORMATS)} - 'response_format'",
                          "response_format")
        if response_format not in IMPLEMENTED_FORMATS:
            raise invalid(f"response_format '{response_format}' is not supported by this stand-in "
                          f"(only {list(IMPLEMENTED_FORMATS)})", "response_format")
        language = fields.get("language") or None
        if language is not None and not _ISO_639_1.fullmatch(language):
            raise invalid(f"Invalid language '{language}'. Language parameter must be specified in "
                          "ISO-639-1 format.", "language")
        temperature = fields.get("temperature")
        if temperature:
            try:
                value = float(temperature)
            except ValueError:
                value = math.nan
            if not 0.0 <= value <= 1.0:
                raise invalid(f"{temperature!r} is not a valid temperature (0 to 1).", "temperature")
        return response_format, language

    async def _transcribe(self, upload: _Upload) -> web.Response:
        response_format, language = self._check(upload)
        audio = upload.audio or b""
        upload.audio_format = sniff(audio)
        if upload.audio_format is None:
            raise invalid(f"Invalid file format. Supported formats: {list(SUPPORTED_FORMATS)}", "file",
                          "invalid_value")
        seconds, known = duration_seconds(audio, upload.audio_format)
        if known and seconds is not None and seconds < MIN_AUDIO_SECONDS:
            raise invalid(f"Audio file is too short. Minimum audio length is {MIN_AUDIO_SECONDS} seconds.",
                          "file", "audio_too_short")
        seconds = seconds or 0.0
        delay = self.standin.latency + self.standin.realtime_factor * seconds
        if await hold(delay, self.standin.stopping):
            raise _shutting_down()
        body, content_type = answer(hear(audio, upload.audio_format, seconds, language), response_format)
        return web.Response(body=body, status=200, content_type=content_type, charset="utf-8")

    def _record(self, upload: _Upload, authorised: bool, status: int) -> None:
        fields = upload.fields
        self.standin.record(ReceivedRequest(
            model=fields.get("model"), language=fields.get("language"), response_format=fields.get("response_format"),
            temperature=fields.get("temperature"), byte_count=upload.byte_count, filename=upload.filename,
            content_type=upload.content_type, audio_format=upload.audio_format, authorised=authorised,
            bearer=upload.bearer, status=status,
        ))
