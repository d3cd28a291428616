"""Masking one text or one JSON-like structure down to what the allowlist lets pass.

Why in this order: the request's registered values first (they may contain anything),
then whole structures (a JSON line, a structlog console line), then the patterns of
:mod:`privacy.log_redaction.patterns`, quoted literals last (they are judged by
:func:`~privacy.log_redaction.vocabulary.is_safe_value`). See :mod:`privacy.log_redaction`.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from privacy.log_redaction.patterns import (
    _ANSI,
    _BSUID,
    _CONSOLE_EVENT,
    _CONSOLE_KEY,
    _COORDINATE,
    _COORDINATE_PAIR,
    _DIGIT,
    _EMAIL,
    _IDENTIFIER_KEY,
    _KEY_FOLLOWS,
    _KEYED_COORDINATE,
    _KEYED_NUMBER,
    _KEYED_VALUE,
    _MAX_PHONE_DIGITS,
    _MIN_PHONE_DIGITS,
    _PAYLOAD_JSON,
    _PHONE_CANDIDATE,
    _PROFILE_NAME,
    _QUOTED,
    _RESPONSE_BODY,
    _USERNAME,
    BSUID_MASK,
    EMAIL_MASK,
    PHONE_MASK,
    SAFE_KEYS,
    SENSITIVE_MASK,
    USERNAME_MASK,
)
from privacy.log_redaction.sensitive import _SENSITIVE
from privacy.log_redaction.vocabulary import is_safe_value

__all__ = ["redact", "redact_structure", "safe_str", "record_message"]


def safe_str(obj: object) -> str:
    """``str(obj)``, or a placeholder when its ``__str__`` fails: a log filter or formatter must never raise."""
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - any __str__ may fail
        return f"<unprintable {type(obj).__name__}>"


def record_message(record: logging.LogRecord) -> str:
    """The record's formatted message; if its arguments cannot be formatted, the bare template
    (the raw arguments are never printed instead, as logging itself would)."""
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a broken argument must not break or leak the log line
        return safe_str(record.msg) + " [log arguments could not be formatted]"


def _mask_phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = len(_DIGIT.findall(candidate))
    if digits < _MIN_PHONE_DIGITS:
        return candidate
    if digits <= _MAX_PHONE_DIGITS:
        return PHONE_MASK
    if candidate.isdigit():
        return candidate  # one long unbroken number: an id, not a phone number
    return PHONE_MASK  # several numbers joined by separators: mask them all


def _mask_keyed(match: re.Match[str]) -> str:
    quote = match.group("q")
    return f"{match.group('head')}{quote}{SENSITIVE_MASK}{quote}"


def _mask_quoted(match: re.Match[str]) -> str:
    body = match.group("body")
    text = match.string
    if _KEY_FOLLOWS.match(text, match.end()) and _IDENTIFIER_KEY.fullmatch(body):
        return match.group(0)  # a key of a dict/JSON object: structure, not content
    if is_safe_value(body):
        return match.group(0)
    quote = match.group("q")
    return f"{match.group('prefix')}{quote}{SENSITIVE_MASK}{quote}"


def _mask_keyed_number(match: re.Match[str]) -> str:
    if match.group("key") in SAFE_KEYS:
        return match.group(0)
    return f"{match.group('head')}{SENSITIVE_MASK}"


def _redact_console_line(text: str) -> str | None:
    """A structlog console line reduced to its event name and key names, else None.

    Its values are unquoted and may hold spaces, so no value can be told apart from
    the next key reliably: every value is masked.
    """
    plain = _ANSI.sub("", text) if "\x1b[" in text else text
    match = _CONSOLE_EVENT.match(plain)
    if match is None:
        return None
    keys = _CONSOLE_KEY.findall(match.group("rest"))
    return match.group("head") + " " + " ".join(f"{key}={SENSITIVE_MASK}" for key in keys)


def _redact_json_line(text: str) -> str | None:
    """The allowlisted re-rendering of a log line that is one JSON object, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return json.dumps(redact_structure(data), ensure_ascii=False)


def redact_structure(value: Any, key: str | None = None) -> Any:
    """A copy of JSON-like data in which only allowlisted values remain.

    Mapping keys are kept (masked if they are not identifier-like); a string or number
    survives only under a key of :data:`SAFE_KEYS` and only if :func:`is_safe_value`
    accepts it; ``bool``/``None`` always survive. The ``name`` of a ``profile`` (the
    WhatsApp profile name) never does.
    """
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for index, (item_key, item) in enumerate(value.items()):
            name = str(item_key)
            safe_name = name if _IDENTIFIER_KEY.fullmatch(name) else f"{SENSITIVE_MASK}{index}"
            if key in ("profile", "contacts", "user", "metadata") and name in ("name", "username"):
                result[safe_name] = SENSITIVE_MASK
            else:
                result[safe_name] = redact_structure(item, name)
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_structure(item, key) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if key not in SAFE_KEYS:
        return SENSITIVE_MASK
    if isinstance(value, (int, float)):
        return value if is_safe_value(repr(value)) or key in ("timestamp", "confidence") else SENSITIVE_MASK
    return value if isinstance(value, str) and is_safe_value(value) else SENSITIVE_MASK


def redact(text: str) -> str:
    """Keep only allowlisted content of ``text`` (see the module docstring)."""
    state = _SENSITIVE.get()
    if state is not None and state.pattern is not None:
        text = state.pattern.sub(SENSITIVE_MASK, text)
    structured = _redact_json_line(text)
    if structured is None:
        structured = _redact_console_line(text)
    if structured is not None:
        text = structured
    text = _RESPONSE_BODY.sub(lambda m: f"{m.group('head')}'{SENSITIVE_MASK}'", text)
    text = _PAYLOAD_JSON.sub(lambda m: f"{m.group('head')}{{{SENSITIVE_MASK}}}", text)
    text = _PROFILE_NAME.sub(_mask_keyed, text)
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _KEYED_COORDINATE.sub(_mask_keyed, text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _BSUID.sub(BSUID_MASK, text)
    text = _USERNAME.sub(USERNAME_MASK, text)
    text = _COORDINATE_PAIR.sub(SENSITIVE_MASK, text)
    text = _COORDINATE.sub(SENSITIVE_MASK, text)
    text = _PHONE_CANDIDATE.sub(_mask_phone, text)
    text = _QUOTED.sub(_mask_quoted, text)
    return _KEYED_NUMBER.sub(_mask_keyed_number, text)
