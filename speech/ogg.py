"""Just enough of Ogg to tell what a voice note is: its codec, its length and its comment tags.

Why: a WhatsApp voice note is Ogg Opus. Its length is in the last page's granule position, so
a note over ``STT_MAX_SECONDS`` can be turned away without decoding or sending it, and the
stand-in (standins/stt/) reads the test tags written by harness/voice_notes.py. No codec
library: pages and the two header packets are all we read.

Formats: Ogg pages, RFC 3533 (https://www.rfc-editor.org/rfc/rfc3533); Ogg Opus, RFC 7845
(https://www.rfc-editor.org/rfc/rfc7845): ``OpusHead`` (pre-skip), ``OpusTags`` (comments),
granule positions in 48 kHz samples including the pre-skip; Ogg Vorbis
(https://xiph.org/vorbis/doc/Vorbis_I_spec.html): identification header (sample rate) and
comment header, granule positions in samples.

The page checksum is Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0, no
final xor), computed with zlib's reflected CRC on bit-reversed bytes, so a 16 MB note is checked
at C speed. A page with a wrong checksum makes the stream invalid (None), as does anything that
is not Ogg Opus or Ogg Vorbis; :func:`read_ogg` never raises on garbage.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["OggAudioInfo", "read_ogg", "ogg_crc"]

_CAPTURE = b"OggS"
_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, sequence, crc, segments
_REVERSED_BITS = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))
_NO_GRANULE = -1
_OPUS_RATE = 48_000
_MAX_HEADER_PACKET = 1_000_000  # tags bigger than this (cover art...) are not read


@dataclass(frozen=True)
class OggAudioInfo:
    """The codec, the length (None when the stream has no audio page yet) and the comment tags."""

    codec: str
    duration_seconds: float | None
    comments: Mapping[str, str] = field(default_factory=dict)


def ogg_crc(data: bytes) -> int:
    """Ogg's page CRC-32 of ``data`` (the page with its CRC field set to zero)."""
    reflected = zlib.crc32(data.translate(_REVERSED_BITS), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


class _Stream:
    """One logical stream: its first two packets and its last granule position."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.partial = bytearray()
        self.granule: int | None = None
        self.audio_pages = 0

    def add_page(self, lacing: bytes, body: bytes, granule: int) -> None:
        if len(self.packets) >= 2:
            self.audio_pages += 1
        if granule != _NO_GRANULE:
            self.granule = granule
        offset = 0
        for size in lacing:
            if len(self.packets) < 2 and len(self.partial) + size <= _MAX_HEADER_PACKET:
                self.partial += body[offset:offset + size]
            offset += size
            if size < 255:
                if len(self.packets) < 2:
                    self.packets.append(bytes(self.partial))
                self.partial.clear()


def _pages(data: bytes):
    """(serial, flags, granule, lacing, body) of every complete page; raises ValueError on a bad one."""
    position = 0
    while position + _HEADER.size <= len(data):
        capture, version, flags, granule, serial, _, crc, count = _HEADER.unpack_from(data, position)
        if capture != _CAPTURE or version != 0:
            raise ValueError("not an Ogg page")
        lacing = data[position + _HEADER.size:position + _HEADER.size + count]
        end = position + _HEADER.size + count + sum(lacing)
        if len(lacing) < count or end > len(data):
            if data.find(_CAPTURE, position + 4) != -1:  # pages follow: a corrupt length, not a cut
                raise ValueError("Ogg page longer than the data before the next page")
            return  # a truncated last page: the stream so far still counts
        page = bytearray(data[position:end])
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(bytes(page)) != crc:
            raise ValueError("Ogg page checksum mismatch")
        yield serial, flags, granule, lacing, data[position + _HEADER.size + count:end]
        position = end


def _comments(packet: bytes, offset: int) -> dict[str, str]:
    """Vorbis-comment style tags from ``offset`` (vendor string, then ``KEY=value`` entries)."""
    comments: dict[str, str] = {}
    try:
        (vendor_length,) = struct.unpack_from("<I", packet, offset)
        offset += 4 + vendor_length
        (count,) = struct.unpack_from("<I", packet, offset)
        offset += 4
        for _ in range(min(count, 10_000)):
            (length,) = struct.unpack_from("<I", packet, offset)
            offset += 4
            if offset + length > len(packet):
                break
            key, sep, value = packet[offset:offset + length].decode("utf-8", "replace").partition("=")
            offset += length
            if sep and key:
                comments.setdefault(key.upper(), value)
    except struct.error:
        pass
    return comments


def _describe(stream: _Stream) -> OggAudioInfo | None:
    head = stream.packets[0] if stream.packets else b""
    tags = stream.packets[1] if len(stream.packets) > 1 else b""
    has_audio = stream.audio_pages > 0 and stream.granule is not None
    if head.startswith(b"OpusHead") and len(head) >= 19:
        (pre_skip,) = struct.unpack_from("<H", head, 10)
        duration = max(0, stream.granule - pre_skip) / _OPUS_RATE if has_audio else None
        comments = _comments(tags, 8) if tags.startswith(b"OpusTags") else {}
        return OggAudioInfo("opus", duration, MappingProxyType(comments))
    if head.startswith(b"\x01vorbis") and len(head) >= 30:
        (rate,) = struct.unpack_from("<I", head, 12)
        if rate == 0:
            return None
        duration = max(0, stream.granule) / rate if has_audio else None
        comments = _comments(tags, 7) if tags.startswith(b"\x03vorbis") else {}
        return OggAudioInfo("vorbis", duration, MappingProxyType(comments))
    return None


def read_ogg(data: bytes) -> OggAudioInfo | None:
    """What an Ogg Opus or Ogg Vorbis stream is; None for anything else (never raises).

    With several logical streams (e.g. an Ogg Skeleton next to the audio), the first one that
    begins with an Opus or Vorbis header is described.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return None
    data = bytes(data)
    if not data.startswith(_CAPTURE):
        return None
    streams: dict[int, _Stream] = {}
    try:
        for serial, flags, granule, lacing, body in _pages(data):
            stream = streams.get(serial)
            if stream is None:
                if not flags & 0x02:  # a stream must begin with a BOS page
                    continue
                stream = streams[serial] = _Stream()
            stream.add_page(lacing, body, granule)
    except (ValueError, struct.error):
        return None
    for stream in streams.values():
        try:
            info = _describe(stream)
        except (struct.error, ValueError, TypeError):
            info = None
        if info is not None:
            return info
    return None
