"""The only values a metric label may take: fixed vocabularies, never data of a person.

Why: a label value is stored by every Prometheus that scrapes us, for weeks, outside our
encryption. A sender, pseudonym, BSUID, message text, job title or city in a label would be
personal data at rest in clear (docs/privacy.md). Every label therefore goes through one of
these functions, which map anything outside a closed set to ``"other"``; numbers (Meta's
error codes, HTTP statuses) are accepted only as small integers.

Exemplars (trace ids attached to samples) are never set: an exemplar is free text.
"""
from __future__ import annotations

from collections.abc import Collection

__all__ = ["OTHER", "NONE", "one_of", "code_label", "status_label"]

OTHER = "other"
NONE = "none"


def one_of(value: object, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``"other"``."""
    return value if isinstance(value, str) and value in allowed else OTHER


def code_label(code: object) -> str:
    """A Meta error code (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
    as a label: its digits if it is an integer of at most 7 digits, ``"none"`` for no code."""
    if code is None:
        return NONE
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < 10_000_000:
        return OTHER
    return str(code)


def status_label(status: object) -> str:
    """An HTTP status (100-599) as a label, else ``"other"``."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return OTHER
    return str(status)
