"""Redaction of personal data before a message is sent to the LLM."""
from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actions.llm.redaction import is_valid_iban, redact, redact_detailed

_DIGIT = re.compile(r"\d")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Meine Nummer ist +49 155 50000042.", "Meine Nummer ist [phone]."),
        ("Meine Nummer ist +49 (0)155 50000042", "Meine Nummer ist [phone]"),
        ("Tel. 0049 155 50000042", "Tel. [phone]"),
        ("Tel.: 0155-50000042!", "Tel.: [phone]!"),
        ("ruf an 0155/50000042", "ruf an [phone]"),
        ("(0151) 2345 678", "[phone]"),
        ("WhatsApp 4915550000001 bitte", "WhatsApp [phone] bitte"),
        ("+4915550000001", "[phone]"),
        ("Festnetz 030 55500008", "Festnetz [phone]"),
        ("Nummer0155 50000042", "Nummer[phone]"),
        ("Call me at +1 (555) 010-9999", "Call me at [phone]"),
        ("Schreib an max.mustermann@example.org", "Schreib an [email]"),
        ("a.b+jobs@mail.example.co.uk, danke", "[email], danke"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [iban]"),
        ("IBAN: de89370400440532013000.", "IBAN: [iban]."),
        ("GB82 WEST 1234 5698 7654 32 is mine", "[iban] is mine"),
        ("Steuer-ID 12345678901", "Steuer-ID [number]"),
        ("Kundennummer 9876543", "Kundennummer [number]"),
    ],
)
def test_examples_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ich suche einen Job als Koch in Berlin",
        "Job in 10115 Berlin, Umkreis 25 km",
        "Teilzeit, 20 Stunden pro Woche, ab 01.12.2025",
        "Ich habe von 2019-2024 als Koch gearbeitet",
        "Gehalt 3.500 Euro brutto",
        "I have 3 years of B2B sales experience",
        "",
    ],
)
def test_ordinary_job_search_text_is_kept(text: str) -> None:
    result = redact_detailed(text)
    assert result.text == text
    assert not result.changed


def test_counts_say_what_was_replaced_without_the_content() -> None:
    result = redact_detailed("0155 50000042, 030 5550000, x@example.org, DE89 3704 0044 0532 0130 00, 12345678")
    assert result.counts == {"phone": 2, "email": 1, "iban": 1, "number": 1}
    assert not _DIGIT.search(result.text)


def test_invalid_iban_still_loses_its_digits() -> None:
    text = redact("IBAN DE00 3704 0044 0532 0130 00")
    assert "[iban]" not in text
    assert "3704 0044" not in text
    assert not re.search(r"\d{4}", text)


@pytest.mark.parametrize(
    "iban, valid",
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82WEST12345698765432", True),
        ("DE89 3704 0044 0532 0130 01", False),
        ("DE89", False),
        ("ÄÖ89 3704 0044 0532 0130 00", False),
    ],
)
def test_iban_checksum(iban: str, valid: bool) -> None:
    assert is_valid_iban(iban) is valid


# -- properties -------------------------------------------------------------------------
# Surrounding text: anything except digits (so every digit in the output would come from
# the generated personal data).
_NO_DIGITS = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "No", "Nl", "Cs")),
    max_size=30,
)
_GROUP_SEPARATORS = st.sampled_from([" ", "-", "/", " - ", ".", ""])


@st.composite
def german_phone_numbers(draw: st.DrawFn) -> str:
    """Phone numbers as people type them: +49, 0049, 49 or a national 0 prefix."""
    area = draw(st.sampled_from(["151", "152", "155", "157", "160", "170", "176", "30", "40", "89", "221", "3391"]))
    subscriber = draw(st.text(alphabet="0123456789", min_size=5, max_size=8))
    separator = draw(_GROUP_SEPARATORS)
    if draw(st.booleans()) and len(subscriber) > 4:
        split = draw(st.integers(min_value=2, max_value=len(subscriber) - 2))
        subscriber = subscriber[:split] + draw(st.sampled_from([" ", ""])) + subscriber[split:]
    prefix = draw(st.sampled_from(["+49 ", "+49", "0049 ", "0049", "49", "+49 (0)", "0", "(0"]))
    if prefix == "(0":
        return f"(0{area}) {subscriber}"
    return f"{prefix}{area}{separator}{subscriber}"


@st.composite
def german_ibans(draw: st.DrawFn) -> str:
    bban = draw(st.text(alphabet="0123456789", min_size=18, max_size=18))
    check = 98 - int(bban + "131400") % 97
    compact = f"DE{check:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


@given(before=_NO_DIGITS, phone=german_phone_numbers(), after=_NO_DIGITS)
@example(before="Meine Nummer: ", phone="+49 155 50000042", after=" danke")
@example(before="", phone="4915550000001", after="")
@settings(max_examples=400, deadline=None)
def test_generated_phone_numbers_never_survive(before: str, phone: str, after: str) -> None:
    redacted = redact(before + phone + after)
    assert not _DIGIT.search(redacted), (phone, redacted)


@given(before=_NO_DIGITS, iban=german_ibans(), after=_NO_DIGITS)
@settings(max_examples=200, deadline=None)
def test_generated_ibans_never_survive(before: str, iban: str, after: str) -> None:
    assert is_valid_iban(iban)
    redacted = redact(before + " " + iban + " " + after)
    assert not _DIGIT.search(redacted)


@given(
    local=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(de|com|org|eu)", fullmatch=True),
    before=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@"), max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_generated_email_addresses_never_survive(local: str, domain: str, before: str) -> None:
    redacted = redact(f"{before} {local}@{domain} ok")
    assert "@" not in redacted
    assert "[email]" in redacted


@given(text=st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(text=st.text(alphabet=st.characters(blacklist_categories=("Nd", "No", "Nl", "Cs"), blacklist_characters="@"), max_size=80))
@settings(max_examples=200, deadline=None)
def test_text_without_digits_or_at_sign_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_a_phone_number_after_an_at_sign_is_a_phone_number_not_a_handle() -> None:
    """Found by Hypothesis: the handle pattern took "@0049151" and left "00000" (too short alone)."""
    assert redact("@0049151 00000") == "@[phone]"
    assert "1234567" not in redact("@max_1234567 hi")
