"""The header cases expect what the channel answers: checked against the channel's own verifier.

A wrong expectation here would make the fuzz suite report a correct 401 as a bug, or miss a
wrong 403; so every signature kind is run through connectors/whatsapp/signature.py the way the
channel reads the header (Sanic decodes header bytes as UTF-8 with surrogateescape and strips).
"""
from __future__ import annotations

from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings

from connectors.whatsapp.signature import InvalidSignatureError, SignatureError, verify_signature
from harness.webhook_sender import SIGNATURE_HEADER, sign
from tests.support.fuzz.headers import (
    FRAMING_KINDS,
    LOOKALIKES,
    PREFIXES,
    RESERVED,
    SIGNATURE_KINDS,
    accepted_by_design,
    header_cases,
    signature_headers,
)
from tests.support.fuzz.inputs import MAX_BODY

SECRET = "fuzz-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def channel_answer(headers: list[tuple[bytes, bytes]], body: bytes, secret: str = SECRET) -> int:
    """401/403 as the channel decides them, or 200 for a right signature (the first header counts)."""
    value: Optional[str] = None
    for name, raw in headers:
        if name.decode("latin-1").lower() == SIGNATURE_HEADER.lower():
            value = raw.decode("utf-8", "surrogateescape").strip()
            break
    try:
        verify_signature(secret, body, value)
    except InvalidSignatureError:
        return 403
    except SignatureError:
        return 401
    return 200


def params(**overrides: Any) -> dict[str, Any]:
    base = {"prefix": "sha1=", "cut": 10, "at": 5, "char": "g", "lookalike": LOOKALIKES[0], "garbage": b"zz",
            "flip": False, "tail": b" ", "length": 0}
    return {**base, **overrides}


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
@pytest.mark.parametrize("flip", [False, True])
def test_each_kind_expects_what_the_channel_answers(kind: str, flip: bool) -> None:
    headers, expected = signature_headers(kind, params(flip=flip), BODY, SECRET)
    assert expected in (401, 403)
    assert channel_answer(headers, BODY) == expected


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_prefix_is_wrong_and_expected_right(prefix: str) -> None:
    headers, expected = signature_headers("wrong-prefix", params(prefix=prefix), BODY, SECRET)
    assert channel_answer(headers, BODY) == expected


def test_a_value_the_channel_accepts_by_design_is_replaced_by_a_wrong_one() -> None:
    right = sign(SECRET, BODY)
    assert accepted_by_design(b"  " + right.upper().encode() + b" ", right)
    headers, expected = signature_headers("garbage", params(garbage=right.upper().encode()), BODY, SECRET)
    assert expected == 403 and channel_answer(headers, BODY) == 403


@settings(max_examples=150, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(header_cases(SECRET))
def test_generated_cases_never_carry_the_right_signature_and_expect_the_channels_answer(case: dict[str, Any]) -> None:
    assert case["kind"] in SIGNATURE_KINDS
    assert case["framing"] in (None, *FRAMING_KINDS)
    assert channel_answer(case["headers"], case["body"]) == case["expected"]
    names = {name.decode("latin-1").lower() for name, _ in case["headers"]}
    framing = RESERVED - {"content-type", SIGNATURE_HEADER.lower(), "x-hub-signature"}  # a lookalike name may be one
    assert not names & framing  # no random header may change the framing
    assert MAX_BODY < case["over"] and 0 <= case["cut"] < len(case["body"])
