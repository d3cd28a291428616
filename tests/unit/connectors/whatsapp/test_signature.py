"""X-Hub-Signature-256 verification over the raw body (constant-time compare)."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.whatsapp.signature import (
    InvalidSignatureError,
    MalformedSignatureError,
    MissingSignatureError,
    compute_signature,
    verify_signature,
)

SECRET = "app-secret-value"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_compute_matches_a_reference_hmac() -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, BODY) == expected
    assert compute_signature(SECRET.encode(), BODY) == expected


def test_valid_signature_passes_in_either_case() -> None:
    verify_signature(SECRET, BODY, compute_signature(SECRET, BODY))
    verify_signature(SECRET, BODY, "sha256=" + compute_signature(SECRET, BODY)[7:].upper())
    verify_signature(SECRET, BODY, "  " + compute_signature(SECRET, BODY) + " ")


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(MissingSignatureError):
        verify_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    "header",
    ["sha1=" + "0" * 40, "sha256=", "sha256=xyz", "sha256=" + "0" * 63, "sha256=" + "0" * 65, "0" * 64, "sha256=" + "g" * 64],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(MalformedSignatureError):
        verify_signature(SECRET, BODY, header)


def test_wrong_secret_or_changed_body_is_invalid() -> None:
    with pytest.raises(InvalidSignatureError):
        verify_signature("another-secret", BODY, compute_signature(SECRET, BODY))
    with pytest.raises(InvalidSignatureError):
        verify_signature(SECRET, BODY + b" ", compute_signature(SECRET, BODY))


@given(body=st.binary(max_size=512), flip=st.integers(min_value=0, max_value=63))
def test_any_changed_hex_digit_is_rejected(body: bytes, flip: int) -> None:
    header = compute_signature(SECRET, body)
    digits = list(header[7:])
    digits[flip] = "0" if digits[flip] != "0" else "1"
    with pytest.raises(InvalidSignatureError):
        verify_signature(SECRET, body, "sha256=" + "".join(digits))
    verify_signature(SECRET, body, header)
