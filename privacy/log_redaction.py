"""A logging filter that masks phone numbers, message fields and registered names.

Why a filter and not discipline alone: our own code logs pseudonyms only, but Rasa,
Sanic and HTTP clients log payloads, sender ids and message text at DEBUG level. The
filter rewrites each ``LogRecord`` in place (message, arguments, exception text,
stack text and string ``extra`` fields) before any handler formats it, so every
handler, formatter and log shipper downstream sees the masked version.

What is masked:

* phone-number-like sequences: 7-15 digits, optionally starting with ``+`` or ``(``
  and joined by spaces, dashes, slashes or parentheses (``+49 155 5000-0001``,
  ``0049 (155) 50000001``), also inside URLs, JSON and Python reprs. Several numbers
  joined into one run of more than 15 digits are masked as a whole. Not masked:
  digits glued to letters or underscores (pseudonyms such as ``u_k2x...`` stay
  readable), decimal numbers and dotted values (``0.9876543``, IP addresses,
  versions), dates (``2025-11-21``, ``21/11/2025``), times, ports, short numbers,
  single unbroken runs of more than 15 digits (numeric ids), and dash-joined
  references ending in letters (``10000-1190587234-S``, a job reference);
* the values of JSON / ``repr`` keys that carry identifiers or message text in
  WhatsApp webhooks and Rasa events (``wa_id``, ``from``, ``to``, ``recipient_id``,
  ``phone_number``, ``input``, ``body``, ``caption``, ``text``, ``address``), the
  ``latitude``/``longitude`` of a shared location, and the ``name`` of a ``profile``
  object;
* strings registered for the current request with :func:`register_sensitive` (the
  WhatsApp profile name, the message text). Registration is scoped by a
  ``contextvars.ContextVar``: it follows the request's task and never leaks into
  concurrent requests.

Masks are ``[phone]`` and ``[redacted]``; they contain no digits, so filtering an
already filtered record changes nothing.
"""
from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "DEFAULT_LOGGER_NAMES",
    "PHONE_MASK",
    "SENSITIVE_MASK",
    "RedactingFilter",
    "redact",
    "register_sensitive",
    "sensitive_scope",
    "sensitive_values",
    "install_redaction",
    "uninstall_redaction",
]

DEFAULT_LOGGER_NAMES: tuple[str, ...] = ("", "rasa", "sanic", "rasa_sdk", "aiohttp", "urllib3", "httpx")
PHONE_MASK = "[phone]"
SENSITIVE_MASK = "[redacted]"

_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15
_MIN_SENSITIVE_CHARS = 2
_MAX_SENSITIVE_VALUES = 32

# Digit groups are possessive (\d++) so the engine never splits a group while
# backtracking; a match therefore starts and ends at group boundaries, and the
# number of groups is capped to keep the worst case linear.
_PHONE_CANDIDATE = re.compile(
    r"""
    (?<![\w+.])                                   # not glued to a word, a '+' or a decimal point
    (?<!\d[-/])                                   # not the tail of a dash/slash-joined number
    (?!\d{4}[-/]\d{1,2}[-/]\d{1,2}(?!\d))         # ISO-style date 2025-11-21, 2025/11/21
    (?!\d{1,2}[-/]\d{1,2}[-/]\d{2,4}(?!\d))       # day-first date 21/11/2025, 21-11-25
    \+?\(?\+?\d++
    (?:[ ()/-]{1,3}\d++){0,24}
    \)?
    (?![\w+]|-\w|\.\d)                            # not followed by a word, '-S' suffix or decimals
    """,
    re.VERBOSE,
)
_DIGIT = re.compile(r"\d")

_SENSITIVE_KEYS = (
    "wa_id", "from", "to", "recipient_id", "phone_number", "input", "body", "caption", "text", "address",
)
_LOCATION_KEYS = ("latitude", "longitude")
_KEYED_VALUE = re.compile(
    r"""
    (?P<head>(?P<kq>["'])(?:"""
    + "|".join(re.escape(key) for key in _SENSITIVE_KEYS)
    + r""")(?P=kq)\s*:\s*)
    (?P<q>["'])(?:\\.|(?!(?P=q))[^\\])*+(?P=q)
    """,
    re.VERBOSE | re.DOTALL,
)
_KEYED_COORDINATE = re.compile(
    r"""
    (?P<head>(?P<kq>["'])(?:"""
    + "|".join(_LOCATION_KEYS)
    + r""")(?P=kq)\s*:\s*)
    (?P<q>["']?)-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?P=q)
    """,
    re.VERBOSE,
)
_PROFILE_NAME = re.compile(
    r"""
    (?P<head>(?P<kq>["'])profile(?P=kq)\s*:\s*\{\s*(?P<nq>["'])name(?P=nq)\s*:\s*)
    (?P<q>["'])(?:\\.|(?!(?P=q))[^\\])*+(?P=q)
    """,
    re.VERBOSE | re.DOTALL,
)

_SENSITIVE: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "blaupause_privacy_sensitive_values", default=()
)

_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime"}


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


def _variants(value: str) -> Iterator[str]:
    """The value as it may appear in logs: raw, JSON-escaped and repr-escaped."""
    yield value
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value)[1:-1]


@functools.lru_cache(maxsize=256)
def _sensitive_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives: set[str] = set()
    for value in values:
        for variant in _variants(value):
            start = r"(?<!\w)" if re.match(r"\w", variant) else ""
            end = r"(?!\w)" if re.search(r"\w\Z", variant) else ""
            alternatives.add(start + re.escape(variant) + end)
    if not alternatives:
        return None
    ordered = sorted(alternatives, key=len, reverse=True)  # longest first: mask whole values
    return re.compile("|".join(ordered), re.IGNORECASE)


def register_sensitive(value: str) -> None:
    """Mask ``value`` (case-insensitively, as a whole word) in logs of this context.

    Meant for the WhatsApp profile name and the message text of the request being
    handled. Values shorter than 2 characters after stripping are ignored (masking
    them would destroy every log line); at most the 32 most recent values are kept.
    """
    if not isinstance(value, str):
        raise TypeError("register_sensitive expects a str")
    value = value.strip()
    if len(value) < _MIN_SENSITIVE_CHARS:
        return
    current = _SENSITIVE.get()
    if value in current:
        return
    _SENSITIVE.set((*current, value)[-_MAX_SENSITIVE_VALUES:])


def sensitive_values() -> tuple[str, ...]:
    """The values registered in the current context (for diagnostics and tests)."""
    return _SENSITIVE.get()


@contextmanager
def sensitive_scope() -> Iterator[None]:
    """Start with no registered values and forget those registered inside on exit.

    Sanic runs each request in its own task, which already isolates registrations;
    this is for long-lived tasks that handle several users one after another.
    """
    token = _SENSITIVE.set(())
    try:
        yield
    finally:
        _SENSITIVE.reset(token)


def redact(text: str) -> str:
    """Mask registered values, sensitive JSON fields and phone numbers in ``text``."""
    pattern = _sensitive_pattern(_SENSITIVE.get())
    if pattern is not None:
        text = pattern.sub(SENSITIVE_MASK, text)
    text = _PROFILE_NAME.sub(_mask_keyed, text)
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _KEYED_COORDINATE.sub(_mask_keyed, text)
    return _PHONE_CANDIDATE.sub(_mask_phone, text)


def _safe_str(obj: object) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - a log filter must never raise; any __str__ may fail
        return f"<unprintable {type(obj).__name__}>"


class RedactingFilter(logging.Filter):
    """Rewrites records in place so that no handler ever sees the unmasked text.

    Always returns True (it masks, it never drops). The message is formatted once
    with its arguments and the arguments are cleared, because masking a number split
    across format string and arguments is otherwise impossible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - if formatting fails, logging would print the raw args
            message = _safe_str(record.msg) + " [log arguments could not be formatted]"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if isinstance(value, str) and (name not in _STANDARD_RECORD_ATTRS or name == "message"):
                setattr(record, name, redact(value))
        return True


def _targets(logger_names: Iterable[str]) -> list[logging.Logger]:
    names = tuple(logger_names)
    loggers: list[logging.Logger] = []
    for name in names:
        loggers.append(logging.getLogger(name) if name else logging.getLogger())
    for existing_name, existing in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(existing, logging.Logger):
            continue  # a PlaceHolder: no logger object, no handlers yet
        if any(name == "" or existing_name.startswith(name + ".") for name in names):
            loggers.append(existing)
    unique: dict[int, logging.Logger] = {id(logger): logger for logger in loggers}
    return list(unique.values())


def _attach(filterer: logging.Filterer, redacting: RedactingFilter) -> None:
    if not any(isinstance(existing, RedactingFilter) for existing in filterer.filters):
        filterer.addFilter(redacting)


def install_redaction(logger_names: Iterable[str] = DEFAULT_LOGGER_NAMES) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to the given loggers, their existing
    descendants, and all their handlers (including the root logger's handlers).

    Logger filters mask a record where it is created, before propagation, so handlers
    added later still receive masked records; handler filters cover records from
    loggers created after this call that propagate to those handlers. Call it after
    logging is configured (Rasa configures logging before loading channels).
    Idempotent: a logger or handler that already has a ``RedactingFilter`` is skipped.
    Returns the filter instance that was attached.
    """
    names = tuple(logger_names)
    redacting = RedactingFilter()
    targets = _targets(names)
    root = logging.getLogger()
    if root not in targets:
        targets.append(root)
    for logger in targets:
        if logger is not root or "" in names:
            _attach(logger, redacting)
        for handler in logger.handlers:
            _attach(handler, redacting)
    return redacting


def uninstall_redaction() -> None:
    """Remove every ``RedactingFilter`` from all loggers and their handlers (tests, reloads)."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers.extend(
        logger for logger in list(logging.Logger.manager.loggerDict.values()) if isinstance(logger, logging.Logger)
    )
    for logger in loggers:
        for filterer in (logger, *logger.handlers):
            for existing in list(filterer.filters):
                if isinstance(existing, RedactingFilter):
                    filterer.removeFilter(existing)
