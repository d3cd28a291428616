"""What the speech-to-text stand-in received, without the audio: what an e2e test may check.

Why no audio and no text: a test asks "was the language hint sent, how big was the upload,
which model", never "what was said"; keeping less keeps the stand-in out of the at-rest scans.
In memory only.
"""
from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["ReceivedRequest"]


@dataclasses.dataclass(frozen=True)
class ReceivedRequest:
    """One ``POST /v1/audio/transcriptions`` as received, and the status it was answered with."""

    model: str | None
    language: str | None
    response_format: str | None
    temperature: str | None
    byte_count: int
    filename: str | None
    content_type: str | None
    audio_format: str | None
    authorised: bool
    bearer: bool  # an Authorization header came (never its value)
    status: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
