"""Voice notes on the local stack: media on the Graph stand-in, the transcription stand-in's controls.

Why apart from harness/local_stack.py: the stack starts processes; these are what a test or the
chat does with two of them once they run (put a recording where Meta would hold it, make the
download or the transcription fail), over HTTP because the stand-ins are other processes.
Meta's media upload: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import httpx

__all__ = ["GRAPH_VERSION", "STT_VARIABLES", "VoiceNoteControls"]

GRAPH_VERSION = "v26.0"
#: The transcription settings (speech/settings.py): the stack sets STT_BASE_URL itself (``stt=True``).
STT_VARIABLES = ("STT_BASE_URL", "STT_MODEL", "STT_API_KEY", "STT_TIMEOUT_S", "STT_MAX_BYTES", "STT_MAX_SECONDS",
                 "STT_CONFIRM_BELOW", "STT_RESPONSE_FORMAT")


class VoiceNoteControls:
    """Mixed into :class:`harness.local_stack.LocalStack`: it provides ``graph_url``,
    ``access_token``, ``phone_number_id`` and ``stt_url`` (None without the transcription stand-in)."""

    graph_url: str
    access_token: str
    phone_number_id: str
    stt_url: Optional[str]

    def upload_media(self, content: bytes, mime_type: str = "audio/ogg; codecs=opus") -> str:
        """Put a recording on the Graph stand-in as Meta holds a user's media; returns its media id."""
        answer = httpx.post(
            f"{self.graph_url}/{GRAPH_VERSION}/{self.phone_number_id}/media",
            headers={"Authorization": f"Bearer {self.access_token}"},
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": ("voice.ogg", content, mime_type)}, timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])

    def inject_media_faults(self, **fault: Any) -> None:
        """Queue media faults, e.g. ``inject_media_faults(stage="download", status=500, count=5)``."""
        httpx.post(f"{self.graph_url}/_standin/media/faults", json=fault, timeout=5).raise_for_status()

    def expire_media(self) -> None:
        """Every media URL issued so far answers 404, as Meta's do after five minutes."""
        httpx.post(f"{self.graph_url}/_standin/media/expire", timeout=5).raise_for_status()

    def inject_stt_faults(self, **fault: Any) -> None:
        """Queue transcription faults, e.g. ``inject_stt_faults(status=500, count=2)`` (needs ``stt=True``)."""
        if not self.stt_url:
            raise RuntimeError("no transcription stand-in: start the stack with stt=True")
        httpx.post(f"{self.stt_url}/_standin/faults", json=fault, timeout=5).raise_for_status()

    def stt_requests(self) -> List[Dict[str, Any]]:
        """What the transcription stand-in received (model, language, sizes; never the audio)."""
        if not self.stt_url:
            return []
        return httpx.get(f"{self.stt_url}/_standin/requests", timeout=10).json()["requests"]
