"""Tests for privacy.identity: normalisation, pseudonyms and data keys."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from privacy.errors import InvalidIdentifierError, PrivacyError
from privacy.identity import data_key, is_bsuid, normalize_wa_id, pseudonym
from privacy.keyring import Secret, parse_secret

NUMBER = "4915550000001"
OTHER_NUMBER = "4915550000002"
SECRET = parse_secret("a1" * 32)
OTHER_SECRET = parse_secret("b2" * 32)


@pytest.mark.parametrize(
    "raw",
    [
        "4915550000001",
        "+4915550000001",
        "+49 155 5000-0001",
        "0049 155 50000001",
        "004915550000001",
        "+49 (155) 5000 0001",
        "(+49) 155/5000-0001",
        "49.155.5000.0001",
        "  4915550000001\n",
        "+49\t155\u00a05000 0001",
    ],
)
def test_phone_formats_normalise_to_wa_id(raw: str) -> None:
    assert normalize_wa_id(raw) == NUMBER


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("+", "empty"),
        ("--", "empty"),
        ("491555", "6 digits"),
        ("4915550000001234", "16 digits"),
        ("0155 50000001", "international"),
        ("00 0155 50000001", "international"),
        ("+0049 155 50000001", "international"),
        ("4915*550000001", "characters other than digits"),
        ("49155+50000001", "characters other than digits"),
        ("\u0664\u0669\u0661\u0665\u0665\u0665\u0660\u0660\u0660\u0660\u0660\u0660\u0661", "characters other"),
    ],
)
def test_invalid_phone_numbers_are_rejected_without_echo(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        normalize_wa_id(raw)
    message = str(info.value)
    assert fragment in message
    assert not re.search(r"\d{3,}", message)  # counts at most, never the number
    assert isinstance(info.value, PrivacyError)


@pytest.mark.parametrize("raw", [None, 4915550000001, b"4915550000001"])
def test_non_string_identifier_is_rejected(raw: object) -> None:
    with pytest.raises(InvalidIdentifierError, match="must be a str"):
        normalize_wa_id(raw)  # type: ignore[arg-type]


def test_bsuid_is_stripped_and_casefolded() -> None:
    assert normalize_wa_id("  US.AbC123xyz ") == "us.abc123xyz"
    assert is_bsuid("US.13491208655302741918")
    assert not is_bsuid(NUMBER)
    assert pseudonym(SECRET, "US.ABC123") == pseudonym(SECRET, "us.abc123")


@pytest.mark.parametrize("raw", ["US.ab c", "US.ab\x00c", "a" * 257])
def test_invalid_bsuid_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        normalize_wa_id(raw)


def _hmac(secret: Secret, message: bytes) -> bytes:
    return hmac.new(secret.value, message, hashlib.sha256).digest()


def test_pseudonym_follows_documented_construction() -> None:
    mac = _hmac(SECRET, b"blaupause/pseudonym\x00tel:" + NUMBER.encode())
    expected = "u_" + base64.b32encode(mac[:20]).decode().lower()
    assert pseudonym(SECRET, "+49 155 5000-0001") == expected
    assert re.fullmatch(r"u_[a-z2-7]{32}", expected)


def test_bsuid_lives_in_its_own_namespace() -> None:
    bsuid_mac = _hmac(SECRET, b"blaupause/pseudonym\x00bsuid:us.123")
    assert pseudonym(SECRET, "US.123") == "u_" + base64.b32encode(bsuid_mac[:20]).decode().lower()
    # the same characters without the namespace would be a different derivation input
    unnamespaced = _hmac(SECRET, b"blaupause/pseudonym\x00us.123")
    assert pseudonym(SECRET, "US.123") != "u_" + base64.b32encode(unnamespaced[:20]).decode().lower()


def test_pseudonym_is_deterministic_and_distinct() -> None:
    assert pseudonym(SECRET, NUMBER) == pseudonym(SECRET, "0049 155 50000001")
    assert pseudonym(SECRET, NUMBER) != pseudonym(SECRET, OTHER_NUMBER)
    assert pseudonym(SECRET, NUMBER) != pseudonym(OTHER_SECRET, NUMBER)
    assert NUMBER not in pseudonym(SECRET, NUMBER)


def test_secret_object_and_raw_bytes_are_equivalent() -> None:
    assert pseudonym(SECRET, NUMBER) == pseudonym(SECRET.value, NUMBER)
    assert data_key(SECRET, NUMBER) == data_key(SECRET.value, NUMBER)


@pytest.mark.parametrize("bad", ["a1" * 32, b"short", None])
def test_bad_secret_type_is_rejected(bad: object) -> None:
    with pytest.raises(TypeError):
        pseudonym(bad, NUMBER)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        data_key(bad, NUMBER)  # type: ignore[arg-type]


def test_derivations_reject_invalid_identifiers() -> None:
    with pytest.raises(InvalidIdentifierError):
        pseudonym(SECRET, "123")
    with pytest.raises(InvalidIdentifierError):
        data_key(SECRET, "")


def test_data_key_follows_documented_construction() -> None:
    ikm = _hmac(SECRET, b"blaupause/data-key\x00tel:" + NUMBER.encode())
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"blaupause/data-key/v1").derive(ikm)
    assert data_key(SECRET, "+49 155 5000-0001") == expected
    assert len(expected) == 32


def test_data_key_is_deterministic_and_distinct() -> None:
    key = data_key(SECRET, NUMBER)
    assert key == data_key(SECRET, "+49 155 5000 0001")
    assert key != data_key(SECRET, OTHER_NUMBER)
    assert key != data_key(OTHER_SECRET, NUMBER)
    assert data_key(SECRET, "US.abc") != data_key(SECRET, NUMBER)


def _pseudonym_bytes(value: str) -> bytes:
    body = value.removeprefix("u_").upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def _hkdf(ikm: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"blaupause/data-key/v1").derive(ikm)


def test_data_key_is_not_derivable_from_pseudonym_or_stored_values() -> None:
    """Everything the store holds (pseudonym, key version) must not yield the key."""
    name = pseudonym(SECRET, NUMBER)
    raw = _pseudonym_bytes(name)
    key = data_key(SECRET, NUMBER)
    stored = [raw, name.encode(), SECRET.version.encode(), name.encode() + SECRET.version.encode()]
    candidates = {
        *stored,
        *(_hkdf(value) for value in stored),
        *(hashlib.sha256(value).digest() for value in stored),
        _hmac(SECRET, b"blaupause/pseudonym\x00tel:" + NUMBER.encode()),
    }
    assert key not in candidates
    assert raw not in key and key[:20] != raw


def test_data_key_bits_are_uncorrelated_with_pseudonym_bits() -> None:
    """Across many users the two outputs agree on ~50% of bits, as independent PRF outputs do."""
    agree = total = 0
    for index in range(300):
        wa_id = f"49155500{index:05d}"
        raw = _pseudonym_bytes(pseudonym(SECRET, wa_id))
        key = data_key(SECRET, wa_id)[:20]
        for a, b in zip(raw, key):
            agree += 8 - bin(a ^ b).count("1")
            total += 8
    assert 0.47 < agree / total < 0.53


# ---------------------------------------------------------------- property tests

_national_digits = st.text(alphabet="0123456789", min_size=6, max_size=14)
_numbers = st.builds(lambda first, rest: first + rest, st.sampled_from("123456789"), _national_digits)
_separators = st.sampled_from(["", "", "", " ", "-", "/", ".", "  ", " - "])


@st.composite
def _formatted(draw: st.DrawFn, number: str) -> str:
    parts: list[str] = []
    for index, digit in enumerate(number):
        if index:
            parts.append(draw(_separators))
        parts.append(digit)
    body = "".join(parts)
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=1, max_value=min(3, len(number) - 1)))
        # wrap the leading digits (country code) in parentheses: "(49) 155..."
        digits_seen = 0
        for position, char in enumerate(body):
            if char.isdigit():
                digits_seen += 1
            if digits_seen == cut:
                body = "(" + body[: position + 1] + ")" + body[position + 1 :]
                break
    prefix = draw(st.sampled_from(["", "+", "+ ", "00", "00 ", "+(", "("]))
    if prefix.endswith("("):
        body = body + ")"
    return draw(st.sampled_from(["", " ", "\t"])) + prefix + body + draw(st.sampled_from(["", " ", "\n"]))


@given(number=_numbers, data=st.data())
def test_normalisation_is_format_insensitive(number: str, data: st.DataObject) -> None:
    formatted = data.draw(_formatted(number))
    assert normalize_wa_id(formatted) == number


@given(number=_numbers, data=st.data())
def test_normalisation_is_idempotent(number: str, data: st.DataObject) -> None:
    once = normalize_wa_id(data.draw(_formatted(number)))
    assert normalize_wa_id(once) == once


@given(
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd"), codec="ascii"), min_size=1, max_size=40).filter(
        lambda text: any(ch.isalpha() for ch in text)
    )
)
def test_bsuid_normalisation_is_idempotent_and_case_insensitive(raw: str) -> None:
    once = normalize_wa_id(raw)
    assert normalize_wa_id(once) == once
    assert normalize_wa_id(raw.swapcase()) == once
    assert pseudonym(SECRET, raw.swapcase()) == pseudonym(SECRET, raw)


# --------------------------------------------------------------- identity anchor (issue 9)

from privacy.identity import BSUID_SHAPE, UserIdentifiers  # noqa: E402

BSUID = "DE.1000000000000000001"
PARENT = "DE.ENT.2000000000000000001"


@pytest.mark.parametrize("value", ["US.13491208655302741918", PARENT, "DE." + "a1" * 64, "de.ent.X9"])
def test_bsuid_shape_accepts_meta_formats(value: str) -> None:
    assert BSUID_SHAPE.fullmatch(value)
    assert is_bsuid(value)


@pytest.mark.parametrize("value", [NUMBER, "DE.", "D.123", "DE.ENT.", "DE." + "1" * 129])
def test_bsuid_shape_rejects_other_strings(value: str) -> None:
    assert not BSUID_SHAPE.fullmatch(value)


def test_the_bsuid_is_the_anchor_and_the_number_an_alias() -> None:
    ids = UserIdentifiers(phone="+49 155 5000-0001", user_id=BSUID, parent_user_id=PARENT)
    assert ids.anchor() == BSUID.casefold()
    assert ids.aliases() == (NUMBER, PARENT.casefold())
    assert ids.anchor(use_parent=True) == PARENT.casefold()
    assert ids.aliases(use_parent=True) == (NUMBER, BSUID.casefold())


def test_without_a_bsuid_the_number_is_the_anchor_also_with_use_parent() -> None:
    assert UserIdentifiers(phone=NUMBER).anchor() == NUMBER
    assert UserIdentifiers(phone=NUMBER).anchor(use_parent=True) == NUMBER
    assert UserIdentifiers(phone=NUMBER).aliases() == ()
    assert UserIdentifiers(phone=NUMBER, user_id=BSUID).anchor(use_parent=True) == BSUID.casefold()


def test_pseudonym_of_the_anchor_is_the_existing_bsuid_pseudonym() -> None:
    """Conversations already keyed on a BSUID keep their pseudonym (``bsuid:`` namespace unchanged)."""
    assert pseudonym(SECRET, UserIdentifiers(user_id=BSUID).anchor()) == pseudonym(SECRET, BSUID)
    mac = _hmac(SECRET, b"blaupause/pseudonym\x00bsuid:" + BSUID.casefold().encode())
    assert pseudonym(SECRET, BSUID) == "u_" + base64.b32encode(mac[:20]).decode().lower()


def test_duplicates_and_unusable_fields_are_skipped() -> None:
    assert UserIdentifiers(user_id=BSUID, parent_user_id=BSUID.lower()).aliases() == ()
    # a BSUID in the phone field or a number in the BSUID field is not used (tolerant parser)
    assert UserIdentifiers(phone=BSUID, user_id=BSUID).aliases() == ()
    assert UserIdentifiers(phone="not a number", user_id=BSUID).anchor() == BSUID.casefold()
    assert UserIdentifiers(phone=NUMBER, user_id="   ").anchor() == NUMBER


@pytest.mark.parametrize(
    "ids",
    [UserIdentifiers(), UserIdentifiers(phone="", user_id=None), UserIdentifiers(phone="0151 5550000", user_id=NUMBER)],
)
def test_no_usable_identifier_raises_without_echo(ids: UserIdentifiers) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        ids.anchor()
    assert "0151" not in str(caught.value) and NUMBER not in str(caught.value)
    with pytest.raises(InvalidIdentifierError):
        ids.aliases()


def test_repr_and_str_show_no_identifier() -> None:
    ids = UserIdentifiers(phone=NUMBER, user_id=BSUID, parent_user_id=PARENT)
    for text in (repr(ids), str(ids)):
        assert NUMBER not in text and "1000000000000000001" not in text and "2000000000000000001" not in text
    with pytest.raises(AttributeError):
        ids.phone = OTHER_NUMBER  # type: ignore[misc]
