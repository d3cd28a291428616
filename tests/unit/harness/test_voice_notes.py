"""harness/voice_notes.py writes valid Ogg Opus (RFC 7845), checked by a strict reader of its own."""
from __future__ import annotations

import struct

import pytest

from harness.voice_notes import PRE_SKIP, VENDOR, voice_note
from speech.ogg import read_ogg


def crc(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte << 24
        for _ in range(8):
            value = ((value << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if value & 0x80000000 else (value << 1) & 0xFFFFFFFF
    return value


def strict_pages(data: bytes) -> list[dict]:
    """Every page, failing on a wrong CRC, a gap, a short read or trailing bytes."""
    pages, position = [], 0
    while position < len(data):
        capture, version, flags, granule, serial, seq, checksum, count = struct.unpack_from("<4sBBqIIIB", data, position)
        assert (capture, version) == (b"OggS", 0)
        lacing = data[position + 27:position + 27 + count]
        end = position + 27 + count + sum(lacing)
        assert len(lacing) == count and end <= len(data)
        raw = bytearray(data[position:end])
        raw[22:26] = bytes(4)
        assert crc(bytes(raw)) == checksum, f"CRC of page {seq}"
        packets, current, offset = [], b"", position + 27 + count
        for size in lacing:
            current += data[offset:offset + size]
            offset += size
            if size < 255:
                packets.append(current)
                current = b""
        assert current == b"", "no packet continues onto another page"
        pages.append({"flags": flags, "granule": granule, "serial": serial, "seq": seq, "packets": packets})
        position = end
    return pages


@pytest.mark.parametrize("seconds", [0.05, 1.0, 2.0, 2.345, 61.0])
def test_pages_are_valid_ogg_opus(seconds):
    pages = strict_pages(voice_note("Koch in Berlin", seconds=seconds, confidence=0.7, language="de"))

    assert len({p["serial"] for p in pages}) == 1
    assert [p["seq"] for p in pages] == list(range(len(pages)))
    assert [p["flags"] for p in pages] == [0x02] + [0] * (len(pages) - 2) + [0x04]
    [head], [tags] = pages[0]["packets"], pages[1]["packets"]
    version, channels, pre_skip, rate, gain, mapping = struct.unpack("<8xBBHIhB", head)
    assert (head[:8], version, channels, pre_skip, rate, gain, mapping) == (b"OpusHead", 1, 1, PRE_SKIP, 48000, 0, 0)
    assert len(head) == 19 and pages[0]["granule"] == pages[1]["granule"] == 0
    assert tags.startswith(b"OpusTags")
    (vendor_length,) = struct.unpack_from("<I", tags, 8)
    assert tags[12:12 + vendor_length].decode() == VENDOR

    audio = pages[2:]
    packets = [packet for page in audio for packet in page["packets"]]
    assert all(packet[0] == 0xF8 for packet in packets)  # TOC: CELT fullband, 20 ms, mono, one frame
    granules = [p["granule"] for p in audio]
    assert granules == sorted(granules)
    assert all(p["granule"] <= 960 * n for p, n in zip(audio, _cumulative(audio)))
    final = granules[-1]
    assert 960 * (len(packets) - 1) < final <= 960 * len(packets)
    assert (final - PRE_SKIP) / 48000 == pytest.approx(seconds, abs=0.02)


def _cumulative(pages: list[dict]) -> list[int]:
    total, out = 0, []
    for page in pages:
        total += len(page["packets"])
        out.append(total)
    return out


def test_tags_carry_transcript_confidence_and_language():
    data = voice_note("Ich bin Köchin – Vollzeit, bitte!", seconds=2.5, confidence=0.42, language="DE")
    info = read_ogg(data)
    assert info.codec == "opus"
    assert info.duration_seconds == pytest.approx(2.5, abs=0.02)
    assert dict(info.comments) == {
        "BLAUPAUSE_TRANSCRIPT": "Ich bin Köchin – Vollzeit, bitte!",
        "BLAUPAUSE_CONFIDENCE": "0.42",
        "BLAUPAUSE_LANGUAGE": "de",
    }


def test_no_transcript_no_tags_and_long_transcripts_span_lacing():
    assert dict(read_ogg(voice_note(None)).comments) == {}
    long_text = "Ich suche Arbeit. " * 40  # over 255 bytes: several lacing values
    strict_pages(voice_note(long_text))
    assert read_ogg(voice_note(long_text)).comments["BLAUPAUSE_TRANSCRIPT"] == long_text


def test_same_input_same_bytes():
    assert voice_note("a", seconds=1.0) == voice_note("a", seconds=1.0)
    assert voice_note("a", seconds=1.0) != voice_note("b", seconds=1.0)


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"seconds": float("nan")}, {"confidence": 1.5},
                                    {"confidence": -0.1}, {"language": "deu"}, {"language": "d1"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        voice_note("x", **kwargs)
