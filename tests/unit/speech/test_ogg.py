"""speech/ogg.py: Ogg Opus and Vorbis streams as encoders write them, and garbage.

The streams here are built by an independent writer with a bit-by-bit CRC (no table, no zlib),
shaped like opusenc's and libvorbis's output: a padded OpusTags packet spanning pages, packets
of varying sizes, a packet continued on the next page, a Skeleton stream first.
"""
from __future__ import annotations

import random
import struct

import pytest

from harness.voice_notes import voice_note
from speech.ogg import OggAudioInfo, ogg_crc, read_ogg


def bitwise_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def page(segments: bytes, body: bytes, *, granule: int, serial: int, seq: int, flags: int = 0) -> bytes:
    raw = bytearray(struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seq, 0, len(segments)) + segments + body)
    raw[22:26] = struct.pack("<I", bitwise_crc(bytes(raw)))
    return bytes(raw)


def lacing(size: int) -> bytes:
    return b"\xff" * (size // 255) + bytes([size % 255])


def comments(prefix: bytes, vendor: bytes, entries: list[bytes]) -> bytes:
    out = prefix + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(entries))
    for entry in entries:
        out += struct.pack("<I", len(entry)) + entry
    return out


def opusenc_like(seconds: float, serial: int = 0x1234ABCD) -> bytes:
    """Stereo, pre-skip 312, a 600-byte-padded OpusTags split over two pages, 20 ms packets of
    random sizes, one audio packet continued across a page boundary, EOS with end trimming."""
    rng = random.Random(7)
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 44100, 0, 0)
    tags = comments(b"OpusTags", b"libopus 1.3.1", [b"ENCODER=opusenc from opus-tools 0.2", b"title=Sprachnachricht",
                                                    b"ARTIST=Niemand"]) + b"\0" * 600
    out = [page(lacing(len(head)), head, granule=0, serial=serial, seq=0, flags=0x02)]
    first, rest = tags[:255 * 2], tags[255 * 2:]  # two full lacing values: the packet continues
    out.append(page(b"\xff\xff", first, granule=-1, serial=serial, seq=1))
    out.append(page(lacing(len(rest)), rest, granule=0, serial=serial, seq=2, flags=0x01))
    end = 312 + round(seconds * 48000)
    packets = [bytes([0xFC]) + bytes(rng.randrange(256) for _ in range(rng.randrange(20, 120)))
               for _ in range(-(-end // 960))]
    packets[30] = packets[30] + bytes(300)  # a big packet to split across pages
    done, seq = 0, 3
    carry = b""
    while done < len(packets):
        chunk = packets[done:done + 31]
        done += len(chunk)
        last = done == len(packets)
        if carry:
            chunk = [carry] + chunk
        segs, body = b"".join(lacing(len(p)) for p in chunk), b"".join(chunk)
        flags = (0x01 if carry else 0) | (0x04 if last else 0)
        carry = b""
        if not last and len(chunk[-1]) > 300:  # end the page inside the big packet
            big = chunk[-1]
            segs = b"".join(lacing(len(p)) for p in chunk[:-1]) + b"\xff"
            body = b"".join(chunk[:-1]) + big[:255]
            carry = big[255:]
            granule = -1 if len(chunk) == 1 else (done - 1) * 960
        else:
            granule = end if last else done * 960
        out.append(page(segs, body, granule=granule, serial=serial, seq=seq, flags=flags))
        seq += 1
    return b"".join(out)


def test_an_opusenc_like_file():
    info = read_ogg(opusenc_like(3.27))
    assert info is not None
    assert info.codec == "opus"
    assert info.duration_seconds == pytest.approx(3.27, abs=1 / 48000)
    assert info.comments == {"ENCODER": "opusenc from opus-tools 0.2", "TITLE": "Sprachnachricht", "ARTIST": "Niemand"}


def test_vorbis_behind_a_skeleton_stream():
    skeleton = b"fishead\0" + bytes(56)
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 1, 16000, 0, 32000, 0, 0xB8, 1)
    comment = comments(b"\x03vorbis", b"Xiph.Org libVorbis I 20200704", [b"Language=de"]) + b"\x01"
    setup = b"\x05vorbis" + bytes(40)
    data = b"".join([
        page(lacing(len(skeleton)), skeleton, granule=0, serial=1, seq=0, flags=0x02),
        page(lacing(len(ident)), ident, granule=0, serial=2, seq=0, flags=0x02),
        page(lacing(len(comment)) + lacing(len(setup)), comment + setup, granule=0, serial=2, seq=1),
        page(b"", b"", granule=0, serial=1, seq=1, flags=0x04),
        page(lacing(30) * 3, bytes(90), granule=16000, serial=2, seq=2),
        page(lacing(30), bytes(30), granule=40000, serial=2, seq=3, flags=0x04),
    ])
    assert read_ogg(data) == OggAudioInfo("vorbis", 2.5, {"LANGUAGE": "de"})


def test_headers_only_has_no_duration():
    data = voice_note("x", seconds=1.0)
    headers_only = data[:data.index(b"OggS", data.index(b"OpusTags"))]
    info = read_ogg(headers_only)
    assert info is not None and info.duration_seconds is None and info.comments["BLAUPAUSE_TRANSCRIPT"] == "x"


def test_crc_is_ogg_s():
    for sample in (b"", b"OggS", bytes(range(256)) * 3, voice_note("abc")):
        assert ogg_crc(sample) == bitwise_crc(sample)


def test_a_corrupt_page_or_another_codec_is_none():
    original = voice_note("Koch", seconds=1.0)
    first_audio = original.index(b"OggS", original.index(b"OpusTags"))
    second_audio = original.index(b"OggS", first_audio + 4)
    for where in (second_audio - 1, first_audio + 30, first_audio + 6):  # body, a lacing value, the granule
        data = bytearray(original)
        data[where] ^= 0x40
        assert read_ogg(bytes(data)) is None, where
    speex = b"Speex   " + bytes(72)
    assert read_ogg(page(lacing(len(speex)), speex, granule=0, serial=5, seq=0, flags=0x02)) is None


def test_a_truncated_file_keeps_what_it_has():
    data = voice_note("Koch", seconds=3.0)
    info = read_ogg(data[:-10])
    # the last page (one packet) is cut: the length is that of the 150 packets before it
    assert info is not None and info.duration_seconds == pytest.approx((150 * 960 - 312) / 48000, abs=1e-9)


@pytest.mark.parametrize("garbage", [b"", b"OggS", b"OggS" + bytes(40), b"ID3\x04" + bytes(100), b"\xff" * 64,
                                     "OggS", None, b"RIFF\0\0\0\0WAVEfmt "])
def test_garbage_is_none(garbage):
    assert read_ogg(garbage) is None


def test_random_mutations_never_raise():
    rng = random.Random(14)
    original = voice_note("Ich suche Arbeit", seconds=1.0, confidence=0.5)
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data) + 1)
        result = read_ogg(bytes(data[:cut]))
        assert result is None or isinstance(result, OggAudioInfo)
