"""Tests for privacy.sealing: AES-256-GCM blobs bound to pseudonym and key version."""
from __future__ import annotations

import json
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.errors import DecryptionError, PrivacyError
from privacy.sealing import (
    FORMAT_VERSION,
    NONCE_BYTES,
    OVERHEAD,
    TAG_BYTES,
    associated_data,
    seal,
    seal_json,
    unseal,
    unseal_json,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
PSEUDONYM = "u_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
OTHER_PSEUDONYM = "u_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
VERSION = "1a2b3c4d"
OTHER_VERSION = "5e6f7a8b"
CONTEXT = {"pseudonym": PSEUDONYM, "key_version": VERSION}


def _assert_safe(error: DecryptionError, plaintext: bytes = b"") -> None:
    text = str(error) + error.reason
    for secret in (KEY, OTHER_KEY):
        assert secret.hex() not in text and repr(secret) not in text
    if plaintext:
        assert plaintext.decode(errors="ignore") not in text


def test_round_trip_and_layout() -> None:
    plaintext = b"Ich suche eine Stelle als Koch"
    blob = seal(KEY, plaintext, **CONTEXT)
    assert blob[0] == FORMAT_VERSION == 1
    assert len(blob) == 1 + NONCE_BYTES + len(plaintext) + TAG_BYTES == OVERHEAD + len(plaintext)
    assert plaintext not in blob
    assert unseal(KEY, blob, **CONTEXT) == plaintext


def test_empty_plaintext_round_trips() -> None:
    assert unseal(KEY, seal(KEY, b"", **CONTEXT), **CONTEXT) == b""


def test_fresh_nonce_per_call() -> None:
    blobs = [seal(KEY, b"same", **CONTEXT) for _ in range(50)]
    nonces = {blob[1 : 1 + NONCE_BYTES] for blob in blobs}
    assert len(nonces) == 50
    assert len(set(blobs)) == 50


def test_blob_is_plain_aes_gcm_with_documented_associated_data() -> None:
    blob = seal(KEY, b"payload", **CONTEXT)
    aad = (
        b"blaupause/v1\x01"
        + len(VERSION).to_bytes(2, "big")
        + VERSION.encode()
        + len(PSEUDONYM).to_bytes(2, "big")
        + PSEUDONYM.encode()
    )
    assert associated_data(pseudonym=PSEUDONYM, key_version=VERSION) == aad
    assert AESGCM(KEY).decrypt(blob[1:13], blob[13:], aad) == b"payload"


def test_associated_data_is_injective() -> None:
    assert associated_data(pseudonym="bc", key_version="a") != associated_data(pseudonym="c", key_version="ab")


@pytest.mark.parametrize("length", [0, 1, 12, OVERHEAD - 1])
def test_truncated_blob(length: int) -> None:
    blob = seal(KEY, b"", **CONTEXT)[:length]
    with pytest.raises(DecryptionError) as info:
        unseal(KEY, blob, **CONTEXT)
    assert info.value.reason == "truncated blob"


def test_truncated_ciphertext_fails_authentication() -> None:
    blob = seal(KEY, b"a longer message", **CONTEXT)
    with pytest.raises(DecryptionError):
        unseal(KEY, blob[:-1], **CONTEXT)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_format_version(version: int) -> None:
    blob = bytearray(seal(KEY, b"x", **CONTEXT))
    blob[0] = version
    with pytest.raises(DecryptionError) as info:
        unseal(KEY, bytes(blob), **CONTEXT)
    assert info.value.reason == f"unknown format version {version}"


def test_wrong_key() -> None:
    blob = seal(KEY, b"secret text", **CONTEXT)
    with pytest.raises(DecryptionError) as info:
        unseal(OTHER_KEY, blob, **CONTEXT)
    _assert_safe(info.value, b"secret text")
    assert isinstance(info.value.__cause__, Exception)  # the InvalidTag is kept as cause
    assert isinstance(info.value, PrivacyError)


def test_blob_moved_to_another_pseudonym_fails() -> None:
    blob = seal(KEY, b"secret text", **CONTEXT)
    with pytest.raises(DecryptionError) as info:
        unseal(KEY, blob, pseudonym=OTHER_PSEUDONYM, key_version=VERSION)
    _assert_safe(info.value, b"secret text")


def test_blob_relabelled_with_another_key_version_fails() -> None:
    blob = seal(KEY, b"secret text", **CONTEXT)
    with pytest.raises(DecryptionError):
        unseal(KEY, blob, pseudonym=PSEUDONYM, key_version=OTHER_VERSION)


def test_every_single_byte_tamper_fails() -> None:
    blob = seal(KEY, b"hello", **CONTEXT)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError) as info:
            unseal(KEY, bytes(tampered), **CONTEXT)
        _assert_safe(info.value, b"hello")


def test_appended_byte_fails() -> None:
    with pytest.raises(DecryptionError):
        unseal(KEY, seal(KEY, b"hello", **CONTEXT) + b"\x00", **CONTEXT)


def test_accepts_bytes_like_inputs() -> None:
    blob = seal(KEY, bytearray(b"abc"), **CONTEXT)
    assert unseal(KEY, memoryview(blob), **CONTEXT) == b"abc"


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(31), bytes(33), "k" * 32])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError):
        seal(key, b"x", **CONTEXT)
    with pytest.raises(ValueError):
        unseal(key, bytes(40), **CONTEXT)


def test_argument_validation() -> None:
    with pytest.raises(TypeError):
        seal(KEY, "text", **CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        unseal(KEY, "blob", **CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        seal(KEY, b"x", pseudonym="", key_version=VERSION)
    with pytest.raises(ValueError):
        seal(KEY, b"x", pseudonym=PSEUDONYM, key_version="")
    with pytest.raises(ValueError):
        seal(KEY, b"x", pseudonym="p" * 70000, key_version=VERSION)


def test_json_is_compact_utf8() -> None:
    value = {"slots": {"job_title": "Bäcker"}, "page": 2}
    blob = seal_json(KEY, value, **CONTEXT)
    assert unseal(KEY, blob, **CONTEXT) == '{"slots":{"job_title":"Bäcker"},"page":2}'.encode()
    assert unseal_json(KEY, blob, **CONTEXT) == value


def test_json_rejects_nan_and_unserialisable() -> None:
    with pytest.raises(ValueError):
        seal_json(KEY, {"x": float("nan")}, **CONTEXT)
    with pytest.raises(TypeError):
        seal_json(KEY, {"x": object()}, **CONTEXT)


@pytest.mark.parametrize("payload", [b"not json", b"\xff\xfe", b'{"open": '])
def test_unseal_json_rejects_non_json_payload(payload: bytes) -> None:
    blob = seal(KEY, payload, **CONTEXT)
    with pytest.raises(DecryptionError) as info:
        unseal_json(KEY, blob, **CONTEXT)
    assert info.value.reason == "sealed payload is not UTF-8 JSON"
    assert isinstance(info.value.__cause__, ValueError)


def test_unseal_json_propagates_authentication_failure() -> None:
    blob = seal_json(KEY, [1, 2], **CONTEXT)
    with pytest.raises(DecryptionError):
        unseal_json(KEY, blob, pseudonym=OTHER_PSEUDONYM, key_version=VERSION)


# ---------------------------------------------------------------- property tests

_keys = st.binary(min_size=32, max_size=32)
_contexts = st.fixed_dictionaries(
    {
        "pseudonym": st.text(min_size=1, max_size=40),
        "key_version": st.text(min_size=1, max_size=12),
    }
)


@given(key=_keys, plaintext=st.binary(max_size=2048), context=_contexts)
def test_round_trip_arbitrary_bytes(key: bytes, plaintext: bytes, context: dict[str, str]) -> None:
    assert unseal(key, seal(key, plaintext, **context), **context) == plaintext


@given(key=_keys, plaintext=st.binary(max_size=256), data=st.data())
def test_any_single_byte_change_fails(key: bytes, plaintext: bytes, data: st.DataObject) -> None:
    blob = bytearray(seal(key, plaintext, **CONTEXT))
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    blob[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(DecryptionError):
        unseal(key, bytes(blob), **CONTEXT)


@settings(max_examples=50)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
))
def test_json_round_trip(value: object) -> None:
    key = secrets.token_bytes(32)
    assert unseal_json(key, seal_json(key, value, **CONTEXT), **CONTEXT) == json.loads(json.dumps(value))


def test_a_purpose_is_bound_into_the_associated_data() -> None:
    """Issue 16 item 2: a wrapped conversation key never opens as a record, nor a record as a key."""
    wrapped = seal(KEY, b"k" * 32, pseudonym="u_a", key_version="v1", purpose="conversation-key")
    assert unseal(KEY, wrapped, pseudonym="u_a", key_version="v1", purpose="conversation-key") == b"k" * 32
    for purpose in (None, "live", "conversation-keys"):
        with pytest.raises(DecryptionError):
            unseal(KEY, wrapped, pseudonym="u_a", key_version="v1", purpose=purpose)
    record = seal(KEY, b"record", pseudonym="u_a", key_version="v1")
    with pytest.raises(DecryptionError):
        unseal(KEY, record, pseudonym="u_a", key_version="v1", purpose="conversation-key")
    # Without a purpose the associated data is byte for byte that of earlier releases.
    assert associated_data(pseudonym="u_a", key_version="v1") == b"blaupause/v1\x01\x00\x02v1\x00\x03u_a"
    assert associated_data(pseudonym="u_a", key_version="v1", purpose="p").endswith(b"\x00\x03u_a\x00\x01p")
