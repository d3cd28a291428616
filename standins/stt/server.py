"""The speech-to-text stand-in server: an OpenAI-compatible transcription endpoint on loopback.

Endpoints (OpenAI's, https://platform.openai.com/docs/api-reference/audio/createTranscription):
``POST /v1/audio/transcriptions`` and ``GET /v1/models``; what they check and answer:
standins/stt/endpoint.py. The control endpoints (``/_standin/...``): standins/stt/control.py.
This class holds the state both share: the key, the model list, the latency, the fault plan
(standins/stt/faults.py) and what was received (standins/stt/records.py), in memory only.
"""
from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from standins.lifecycle import AppStandIn
from standins.stt.control import ControlEndpoints
from standins.stt.endpoint import TranscriptionsEndpoint
from standins.stt.faults import Fault, FaultPlan
from standins.stt.records import ReceivedRequest

__all__ = ["STTStandIn", "TRANSCRIPTIONS_PATH", "MAX_FILE_BYTES"]

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
MAX_FILE_BYTES = 25 * 1024 * 1024  # OpenAI's upload limit


class STTStandIn(AppStandIn):
    """The stand-in: build it, ``await start()`` (port 0 picks a free port), use ``base_url`` as
    ``STT_BASE_URL``, and ``await stop()``; or use it as an async context manager
    (standins/lifecycle.py).

    Args:
        api_key: the only bearer token accepted; None accepts requests without one.
        models: accepted model names; None accepts any.
        latency, realtime_factor: each answer waits ``latency + realtime_factor * duration``.
        max_file_bytes: uploads above it are answered 413 (OpenAI: 25 MB).
    """

    NAME = "speech-to-text stand-in"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        latency: float = 0.05,
        realtime_factor: float = 0.02,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        if latency < 0 or realtime_factor < 0:
            raise ValueError("latency and realtime_factor must not be negative")
        self.api_key = api_key
        self.models = frozenset(models) if models is not None else None
        self.latency = latency
        self.realtime_factor = realtime_factor
        self.max_file_bytes = max_file_bytes
        super().__init__(web.Application())
        self.faults = FaultPlan()
        self._requests: list[ReceivedRequest] = []
        endpoint = TranscriptionsEndpoint(self)
        self.app.router.add_post(TRANSCRIPTIONS_PATH, endpoint.transcriptions)
        self.app.router.add_get("/v1/models", endpoint.models)
        ControlEndpoints(self).add_routes(self.app)

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: what ``STT_BASE_URL`` should be."""
        return f"{self.root_url}/v1"

    # -- what was received -----------------------------------------------------------------
    @property
    def requests(self) -> tuple[ReceivedRequest, ...]:
        """Transcription requests, oldest first (never the audio)."""
        return tuple(self._requests)

    def record(self, request: ReceivedRequest) -> None:
        self._requests.append(request)

    def clear_requests(self) -> None:
        self._requests.clear()
        self.faults.forget_served()

    # -- faults (standins/stt/faults.py) ---------------------------------------------------
    def inject_faults(
        self,
        status: int | None = None,
        *,
        count: int = 1,
        timeout: float | None = None,
        retry_after: float | None = None,
        malformed: bool = False,
    ) -> None:
        """Answer the next ``count`` transcriptions with a fault (queued after earlier ones):
        ``status`` (OpenAI's body for it, ``Retry-After`` from ``retry_after``), a hold of
        ``timeout`` seconds first, or a truncated JSON body (``malformed``); none of them: 500."""
        self.faults.inject(Fault(status=status, timeout=timeout, retry_after=retry_after, malformed=malformed), count)

    def clear_faults(self) -> None:
        self.faults.clear()
