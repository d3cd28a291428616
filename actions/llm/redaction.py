"""Remove personal data from the user's text before it is sent to an LLM.

Why here and not in the prompt: the LLM may be a third-party service. Whatever we send
can be stored and read there, so anything that identifies a person (phone numbers, e-mail
addresses, IBANs, customer or tax numbers) is replaced by a placeholder on this machine.
When in doubt we redact: a lost salary range in a fallback answer is cheaper than a leaked
phone number (GDPR Art. 5(1)(c), data minimisation).

Order matters: e-mail addresses and IBANs contain digits, so they are replaced first;
then every run of digits (joined by spaces, ``-``, ``/``, ``.``, brackets) that holds at
least seven digits becomes ``[phone]`` (it starts like a phone number: ``+``, ``0`` or the
German country code ``49``) or ``[number]``. Dates (``01.12.2025``) and year ranges
(``2019-2024``) are kept because they carry no identity and help the answer.

IBAN structure and check digits (ISO 13616, mod 97):
https://www.iban.com/structure
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "EMAIL_PLACEHOLDER",
    "IBAN_PLACEHOLDER",
    "PHONE_PLACEHOLDER",
    "NUMBER_PLACEHOLDER",
    "Redaction",
    "redact",
    "redact_detailed",
    "is_valid_iban",
]

EMAIL_PLACEHOLDER = "[email]"
IBAN_PLACEHOLDER = "[iban]"
PHONE_PLACEHOLDER = "[phone]"
NUMBER_PLACEHOLDER = "[number]"

#: Minimum digits in a run before it is treated as identifying. German phone numbers
#: including the area code have at least seven digits; postcodes have five.
MIN_IDENTIFYING_DIGITS = 7

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")

# A candidate IBAN: country code, two check digits, then 11..34 more characters of
# letters, digits and single spaces. The exact length is found by the checksum below.
_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){11,32}")

# Digits joined by up to three separator characters: "+49 (0)155 5000-0042", "0155/50000042".
_DIGIT_RUN = re.compile(r"(?:\+|\()?\d+(?:[ \t\-./()]{1,3}\d+)*\)?")
_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.(?:\d{2}|\d{4})")
_YEAR_RANGE = re.compile(r"(?:19|20)\d{2}\s?[-/]\s?(?:19|20)\d{2}")


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and how many items of each kind were replaced.

    The counts are safe to log (they say nothing about the content); the text is not.
    """

    text: str
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def changed(self) -> bool:
        return bool(self.counts)


def is_valid_iban(candidate: str) -> bool:
    """True when ``candidate`` (spaces allowed) passes the ISO 13616 mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _longest_iban_prefix(candidate: str) -> str | None:
    """The longest prefix of ``candidate`` that is a valid IBAN ending at an alnum char."""
    for end in range(len(candidate), 0, -1):
        prefix = candidate[:end]
        if prefix.endswith(" "):
            continue
        if is_valid_iban(prefix):
            return prefix
    return None


def _replace_ibans(text: str, counts: Counter[str]) -> str:
    parts: list[str] = []
    position = 0
    for match in _IBAN_CANDIDATE.finditer(text):
        if match.start() < position:
            continue
        iban = _longest_iban_prefix(match.group(0))
        if iban is None:
            continue
        parts.append(text[position : match.start()])
        parts.append(IBAN_PLACEHOLDER)
        counts["iban"] += 1
        position = match.start() + len(iban)
    parts.append(text[position:])
    return "".join(parts)


def _replace_digit_run(match: re.Match[str], counts: Counter[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < MIN_IDENTIFYING_DIGITS:
        return run
    core = run.strip("()")
    if _DATE.fullmatch(core) or _YEAR_RANGE.fullmatch(core):
        return run
    if run.startswith(("+", "0", "(0", "(+", "49")):
        counts["phone"] += 1
        return PHONE_PLACEHOLDER
    counts["number"] += 1
    return NUMBER_PLACEHOLDER


def redact_detailed(text: str) -> Redaction:
    """Replace e-mail addresses, IBANs, phone numbers and long digit runs in ``text``."""
    counts: Counter[str] = Counter()

    def email(match: re.Match[str]) -> str:
        counts["email"] += 1
        return EMAIL_PLACEHOLDER

    result = _EMAIL.sub(email, text)
    result = _replace_ibans(result, counts)
    result = _DIGIT_RUN.sub(lambda match: _replace_digit_run(match, counts), result)
    return Redaction(text=result, counts=MappingProxyType(dict(counts)))


def redact(text: str) -> str:
    """Shorthand for ``redact_detailed(text).text``."""
    return redact_detailed(text).text
