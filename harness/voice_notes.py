"""Valid voice-note files for tests and the local chat: Ogg Opus, like WhatsApp's, with the
transcript the speech-to-text stand-in (standins/stt/) will "hear" written into the comments.

Why generated and not recorded: a test states what the user said (and how sure the server is,
and in which language) next to the assertion, no binary fixture drifts from it, and no voice of
a real person is kept in the repository. The audio itself is silence.

Format (RFC 7845, https://www.rfc-editor.org/rfc/rfc7845; pages RFC 3533): page 0 (BOS) holds
``OpusHead`` (mono, pre-skip 312, 48 kHz input), page 1 ``OpusTags`` (vendor string and the
``BLAUPAUSE_TRANSCRIPT`` / ``BLAUPAUSE_CONFIDENCE`` / ``BLAUPAUSE_LANGUAGE`` comments), then
audio pages of 20 ms packets, 50 to a page (one second). Each packet is the 3-byte CELT
fullband 20 ms silence frame (TOC 0xF8, then 0xFF 0xFE, what libopus emits for digital silence).
Granule positions count 48 kHz samples including the pre-skip; the last page (EOS) ends at
``pre-skip + seconds * 48000`` (end trimming), so the length read back (speech/ogg.py) is
``seconds`` to the sample. Checksums: Ogg's CRC-32 (speech.ogg.ogg_crc).
"""
from __future__ import annotations

import math
import random
import struct

from speech.ogg import ogg_crc
from standins.stt.hearing import CONFIDENCE_TAG, LANGUAGE_TAG, TRANSCRIPT_TAG

__all__ = ["voice_note", "VENDOR", "PRE_SKIP"]

VENDOR = "blaupause voice-note generator"
PRE_SKIP = 312
_RATE = 48_000
_FRAME_SAMPLES = 960  # 20 ms at 48 kHz
_PACKETS_PER_PAGE = 50
_SILENT_FRAME = b"\xf8\xff\xfe"


def _page(packets: list[bytes], *, granule: int, serial: int, sequence: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    if len(lacing) > 255:
        raise ValueError("an Ogg page holds at most 255 lacing values; the transcript is too long")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + bytes(lacing) + b"".join(packets))
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def _opus_tags(comments: dict[str, str]) -> bytes:
    vendor = VENDOR.encode("utf-8")
    out = bytearray(b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments)))
    for key, value in comments.items():
        entry = f"{key}={value}".encode("utf-8")
        out += struct.pack("<I", len(entry)) + entry
    return bytes(out)


def voice_note(
    transcript: str | None, *, seconds: float = 2.0, confidence: float | None = None, language: str | None = None
) -> bytes:
    """An Ogg Opus voice note of ``seconds`` of silence that the stand-in transcribes as
    ``transcript`` (None: it hears nothing), with ``confidence`` (0..1; the stand-in's default
    when None) and ``language`` (ISO 639-1; the stand-in uses the request's hint first)."""
    if not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise ValueError("seconds must be > 0 and at most an hour")
    if confidence is not None and not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
        raise ValueError("confidence must be between 0 and 1")
    if language is not None and not (len(language) == 2 and language.isascii() and language.isalpha()):
        raise ValueError("language must be an ISO 639-1 code such as 'de'")
    comments: dict[str, str] = {}
    if transcript is not None:
        comments[TRANSCRIPT_TAG] = transcript
    if confidence is not None:
        comments[CONFIDENCE_TAG] = f"{confidence:.6g}"
    if language is not None:
        comments[LANGUAGE_TAG] = language.lower()
    serial = random.Random(f"{transcript}|{seconds}|{confidence}|{language}").getrandbits(32)
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, PRE_SKIP, _RATE, 0, 0)
    pages = [
        _page([head], granule=0, serial=serial, sequence=0, flags=0x02),
        _page([_opus_tags(comments)], granule=0, serial=serial, sequence=1, flags=0),
    ]
    end = PRE_SKIP + round(seconds * _RATE)
    total_packets = math.ceil(end / _FRAME_SAMPLES)
    done = 0
    while done < total_packets:
        count = min(_PACKETS_PER_PAGE, total_packets - done)
        done += count
        last = done == total_packets
        pages.append(_page([_SILENT_FRAME] * count, granule=end if last else done * _FRAME_SAMPLES,
                           serial=serial, sequence=len(pages), flags=0x04 if last else 0))
    return b"".join(pages)
