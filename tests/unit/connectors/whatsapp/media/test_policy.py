"""Media policy: which URLs may see the token, mime base types, Meta's sizes and hashes."""
from __future__ import annotations

import base64
import hashlib

import pytest

from connectors.whatsapp.media.policy import UrlPolicy, announced_size, base_type, sha256_matches

HOSTS = ("fbsbx.com", "facebook.com", "whatsapp.net")


@pytest.mark.parametrize(
    ("mime", "expected"),
    [("audio/ogg; codecs=opus", "audio/ogg"), ("Audio/OGG", "audio/ogg"), (" audio/mpeg ", "audio/mpeg"), ("", "")],
)
def test_base_type_drops_parameters_and_case(mime, expected):
    assert base_type(mime) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(12345, 12345), ("12345", 12345), (" 7 ", 7), (None, None), ("12kb", None), (-1, None), (True, None)]
)
def test_announced_size_reads_numbers_and_strings(value, expected):
    assert announced_size(value) == expected


def test_sha256_matches_hex_and_base64_but_not_other_content():
    content = b"OggS voice"
    digest = hashlib.sha256(content).digest()
    assert sha256_matches(digest.hex(), content)
    assert sha256_matches(digest.hex().upper(), content)
    assert sha256_matches(base64.b64encode(digest).decode(), content)
    assert sha256_matches(base64.urlsafe_b64encode(digest).decode().rstrip("="), content)
    assert not sha256_matches(digest.hex(), content + b"!")
    assert not sha256_matches("not a hash", content)


@pytest.mark.parametrize(
    "url",
    [
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3",
        "https://fbsbx.com/x",
        "https://scontent.whatsapp.net/v/t1",
        "https://LOOKASIDE.FBSBX.COM./x",
        "http://127.0.0.1:8765/_lookaside/whatsapp_business/attachments/?mid=1",
    ],
)
def test_meta_hosts_over_https_and_the_api_origin_are_allowed(url):
    assert UrlPolicy("http://127.0.0.1:8765", HOSTS).allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://lookaside.fbsbx.com/x",  # no TLS
        "https://evilfbsbx.com/x",  # suffix without a dot
        "https://fbsbx.com.evil.example/x",
        "https://fbsbx.com@evil.example/x",  # user info: the host is evil.example
        "https://user:pw@lookaside.fbsbx.com/x",
        "http://127.0.0.1:8766/x",  # the stand-in's host, another port
        "https://127.0.0.1:8765/x",  # another scheme
        "/relative/path",
        "",
        "not a url",
    ],
)
def test_other_hosts_schemes_and_shapes_are_refused(url):
    assert not UrlPolicy("http://127.0.0.1:8765", HOSTS).allows(url)
