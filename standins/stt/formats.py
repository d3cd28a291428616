"""Which audio format a file is, from its first bytes, and how long it is when that is cheap.

Why sniff instead of trusting the file name: OpenAI's endpoint decodes what it gets and answers
"Invalid file format" for anything it cannot, whatever the name says; the client must be
tested against that. Durations: Ogg from the last granule position (speech/ogg.py), WAV from
its header; for the other formats the stand-in estimates 16 kbit/s (it has no decoder).
"""
from __future__ import annotations

import struct

from speech.ogg import read_ogg

__all__ = ["SUPPORTED_FORMATS", "sniff", "duration_seconds"]

#: OpenAI's list plus AAC and AMR, which WhatsApp sends and ffmpeg-based servers decode.
SUPPORTED_FORMATS = ("aac", "amr", "flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


def sniff(audio: bytes) -> str | None:
    """"ogg", "mp3", "wav", "flac", "m4a", "webm", "amr", "aac", or None when none of them."""
    if audio.startswith(b"OggS"):
        return "ogg"
    if audio.startswith(b"RIFF") and audio[8:12] == b"WAVE":
        return "wav"
    if audio.startswith(b"fLaC"):
        return "flac"
    if audio[4:8] == b"ftyp":
        return "m4a"
    if audio.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if audio.startswith(b"#!AMR"):
        return "amr"
    if audio.startswith(b"ID3"):
        return "mp3"
    if len(audio) >= 2 and audio[0] == 0xFF:
        if audio[1] in (0xF1, 0xF9):  # ADTS: sync, MPEG-4/2, layer 0, no CRC
            return "aac"
        if audio[1] & 0xE0 == 0xE0 and audio[1] & 0x06:  # MPEG audio frame sync, layer I-III
            return "mp3"
    return None


def _wav_seconds(audio: bytes) -> float | None:
    position, byte_rate = 12, None
    while position + 8 <= len(audio):
        chunk, size = audio[position:position + 4], struct.unpack_from("<I", audio, position + 4)[0]
        if chunk == b"fmt " and size >= 16 and position + 20 <= len(audio):
            byte_rate = struct.unpack_from("<I", audio, position + 16)[0]
        elif chunk == b"data" and byte_rate:
            return min(size, len(audio) - position - 8) / byte_rate
        position += 8 + size + (size & 1)
    return None


def duration_seconds(audio: bytes, audio_format: str) -> tuple[float | None, bool]:
    """(seconds, known): known is False for an estimate or when there is nothing to go on."""
    if audio_format == "ogg":
        info = read_ogg(audio)
        if info is not None and info.duration_seconds is not None:
            return info.duration_seconds, True
        return None, False
    if audio_format == "wav":
        seconds = _wav_seconds(audio)
        if seconds is not None:
            return seconds, True
    return len(audio) * 8 / 16_000, False
