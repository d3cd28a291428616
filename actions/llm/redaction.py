"""Remove personal data from the user's text before it is sent to an LLM.

Why here and not in the prompt: the LLM may be a third-party service. Whatever we send
can be stored and read there, so anything that identifies a person (phone numbers, e-mail
addresses, IBANs, customer or tax numbers) is replaced by a placeholder on this machine.
When in doubt we redact: a lost salary range in a fallback answer is cheaper than a leaked
phone number (GDPR Art. 5(1)(c), data minimisation).

Order matters: values known to be personal for this request (``known``: e.g. the
profile name or username, when the caller has them) go first, then e-mail addresses
(also spelled ``erika (at) example (dot) de`` / ``erika[at]example.de``) and IBANs,
which contain digits; then street addresses (``Hauptstraße 12, 10115 Berlin``, ``Am
Markt 3 06484 Quedlinburg``, ``Lindenweg 5a``); then names the user introduces
(``ich heiße Erika Mustermann``, ``my name is ...``, ``Viele Grüße, Erika``) and
``@usernames``; finally every run of digits (joined by spaces, ``-``, ``/``, ``.``,
``,``, middle dots, brackets) that holds at least seven digits becomes ``[phone]`` (it
starts like a phone number: ``+``, ``0`` or the German country code ``49``) or
``[number]``. Dates (``01.12.2025``), year ranges (``2019-2024``) and year lists
(``2019, 2020, 2021``) are kept because they carry no identity and help the answer; a
postcode with its city alone (``10115 Berlin``) is kept because a job search needs it.

Why names generically: the action server does not receive the WhatsApp profile name or
username (they must not be stored in the tracker, and the tracker is all Rasa sends), so
it cannot mask them by value; introductions and sign-offs are where people put their
names. A caller that does hold them passes ``known=``.

IBAN structure and check digits (ISO 13616, mod 97):
https://www.iban.com/structure
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ADDRESS_PLACEHOLDER",
    "NAME_PLACEHOLDER",
    "USERNAME_PLACEHOLDER",
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
ADDRESS_PLACEHOLDER = "[address]"
NAME_PLACEHOLDER = "[name]"
USERNAME_PLACEHOLDER = "[username]"

#: Minimum digits in a run before it is treated as identifying. German phone numbers
#: including the area code have at least seven digits; postcodes have five.
MIN_IDENTIFYING_DIGITS = 7

_AT = r"(?:@|\s*[(\[{<]\s*(?:at|ät)\s*[)\]}>]\s*)"
_DOT = r"(?:\.|\s*[(\[{<]\s*(?:dot|punkt)\s*[)\]}>]\s*)"
_EMAIL = re.compile(rf"[\w.+%-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)+", re.IGNORECASE)

_UPPER = "A-ZÄÖÜ"
_WORD = rf"[{_UPPER}][\wäöüß'-]{{0,40}}"  # bounded: the match time stays linear on long tokens
_NAME_WORDS = rf"{_WORD}\.?(?:[ \t]+{_WORD}\.?){{0,2}}"
# Street + house number (+ optional postcode and city). A street is 1-4 words, the first
# capitalised ("Am Markt", "Straße des 17. Juni" is out of reach), or one word ending in a
# street suffix ("Lindenweg"); a house number is 1-4 digits with an optional letter/range.
_STREET_SUFFIX = r"(?i:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|stieg|markt|kamp)"
_HOUSE_NUMBER = r"\d{1,4}\s?[a-zA-Z]?(?:\s?[-/]\s?\d{1,4}[a-zA-Z]?)?"
_ADDRESS_WITH_POSTCODE = re.compile(
    rf"(?<![\w]){_WORD}(?:[ \t]+(?:{_WORD}|an|am|im|in|der|den|dem|des|zum|zur|von|vom|auf|bei|unter)){{0,3}}"
    rf"[ \t]+{_HOUSE_NUMBER}\s*,?\s*(?:D-)?\d{{5}}[ \t]+{_WORD}(?:[ \t]*[-/][ \t]*{_WORD})?"
)
# Up to three words, the last ending in a street suffix ("Berliner Straße", "Lindenweg",
# "hauptstr."). Words are separated by blanks only (a hyphen is part of a word), and the
# word count is bounded: no nested repetition, so the match time stays linear.
_STREET = re.compile(
    rf"(?<![\w])(?:{_WORD}[ \t]+){{0,2}}[\wäöüß'-]{{0,40}}{_STREET_SUFFIX}[ \t]+{_HOUSE_NUMBER}(?![\w])"
)
# Introductions and sign-offs that carry the user's name.
_INTRODUCTION = re.compile(
    rf"(?P<lead>\b(?i:ich\s+hei(?:ß|ss)e|mein\s+name\s+ist|mein\s+name\s*:|name\s*:|my\s+name\s+is|"
    rf"my\s+name's|i\s+am\s+called|i'?m\s+called|call\s+me|hier\s+(?:ist|spricht|schreibt)|this\s+is|"
    rf"ich\s+bin\s+(?:der|die|frau|herr)|i\s+am\s+(?:mr|mrs|ms)\.?)\s+)(?P<name>{_NAME_WORDS})"
)
_SIGN_OFF = re.compile(
    r"(?P<lead>(?i:\b(?:viele|liebe|beste|freundliche|herzliche|schöne)\s+grüße|\bmit\s+freundlichen\s+grüßen"
    r"|\bgruß|\bgrüße|\blg|\bvg|\bmfg|\bbest\s+regards|\bkind\s+regards|\bregards|\bcheers|\bbest))"
    rf"(?P<sep>\s*[,!.]?\s*)(?P<name>{_NAME_WORDS})\s*[.!]?\s*$"
)
_USERNAME = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,34}(?<!\.)(?![\w@])")
_YEAR_LIST = re.compile(r"(?:19|20)\d{2}(?:\s?[,;/-]\s?(?:19|20)\d{2})+")

# A candidate IBAN: country code, two check digits, then 11..34 more characters of
# letters, digits and single spaces. The exact length is found by the checksum below.
_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){11,32}")

# Digits joined by up to three separator characters: "+49 (0)155 5000-0042", "0155/50000042".
# A comma joins digit groups only without spaces ("0151,2345,6789"); ", " separates a list.
_DIGIT_RUN = re.compile(r"(?:\+|\()?\d+(?:(?:[ \t\-./()·•∙‧]{1,3}|,)\d+)*\)?")
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
    if _DATE.fullmatch(core) or _YEAR_RANGE.fullmatch(core) or _YEAR_LIST.fullmatch(core):
        return run
    if run.startswith(("+", "0", "(0", "(+", "49")):
        counts["phone"] += 1
        return PHONE_PLACEHOLDER
    counts["number"] += 1
    return NUMBER_PLACEHOLDER


def _known_pattern(known: Iterable[str]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive alternatives: each value and each of its words (3+ chars)."""
    parts: set[str] = set()
    for value in known:
        if not isinstance(value, str):
            continue
        value = value.strip().lstrip("@")
        if len(value) >= 2:
            parts.add(value)
        parts.update(word for word in re.split(r"[\s,._-]+", value) if len(word) >= 3)
    if not parts:
        return None
    alternatives = sorted((re.escape(part) for part in parts), key=len, reverse=True)
    return re.compile(r"(?<![\w])@?(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


def redact_detailed(text: str, known: Iterable[str] = ()) -> Redaction:
    """Replace known personal values, e-mail addresses, IBANs, street addresses, introduced
    names, usernames, phone numbers and long digit runs in ``text``.

    ``known``: values known to be personal for this request (profile name, username);
    each value and each of its words of 3+ characters is masked as ``[name]``.
    """
    counts: Counter[str] = Counter()

    def replace(kind: str, placeholder: str) -> Callable[[re.Match[str]], str]:
        def substitute(match: re.Match[str]) -> str:
            counts[kind] += 1
            return placeholder

        return substitute

    def named(kind: str, placeholder: str) -> Callable[[re.Match[str]], str]:
        def substitute(match: re.Match[str]) -> str:
            counts[kind] += 1
            return match.group(0)[: match.start("name") - match.start()] + placeholder + match.group(0)[
                match.end("name") - match.start():
            ]

        return substitute

    result = text
    known_pattern = _known_pattern(known)
    if known_pattern is not None:
        result = known_pattern.sub(replace("name", NAME_PLACEHOLDER), result)
    result = _EMAIL.sub(replace("email", EMAIL_PLACEHOLDER), result)
    result = _replace_ibans(result, counts)
    result = _ADDRESS_WITH_POSTCODE.sub(replace("address", ADDRESS_PLACEHOLDER), result)
    result = _STREET.sub(replace("address", ADDRESS_PLACEHOLDER), result)
    result = _INTRODUCTION.sub(named("name", NAME_PLACEHOLDER), result)
    result = _SIGN_OFF.sub(named("name", NAME_PLACEHOLDER), result)
    # Digit runs before handles: "@0049151 00000" is a phone number after an "@", and a handle
    # match first would leave "00000" (too short alone) of it behind.
    result = _DIGIT_RUN.sub(lambda match: _replace_digit_run(match, counts), result)
    result = _USERNAME.sub(replace("username", USERNAME_PLACEHOLDER), result)
    return Redaction(text=result, counts=MappingProxyType(dict(counts)))


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Shorthand for ``redact_detailed(text, known).text``."""
    return redact_detailed(text, known).text
