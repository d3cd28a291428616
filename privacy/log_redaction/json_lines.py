"""The log line format of both processes: text (default) or JSON lines, both with the correlation id.

Why (issue 11, item 4): a log shipper should not have to parse Rasa's, Sanic's, rasa-sdk's and
our text lines; with ``BLAUPAUSE_LOG_FORMAT=json`` every line of the process is one JSON object
(https://jsonlines.org): ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
``correlation_id`` (inside a turn, :mod:`observability.correlation`), ``role`` (``rasa`` or
``actions``), and, when a record carries one, ``exception_type`` and the ``exception`` text;
``extra`` holds a record's ``extra=`` fields, ``fields`` the keys of a structlog JSON line of
Rasa's (``message`` is then its event name). The text format keeps each handler's own format
and puts ``[c=<id>]`` before the message when a correlation id is current, so the two
processes' lines of one turn can be tied together in either format.

Redaction on every field: the :class:`~privacy.log_redaction.install.RedactingFilter` has
already rewritten the record (message, arguments, exception text, ``extra`` strings and
containers); this formatter redacts the final values once more, including what the filter
does not touch (numbers and objects in ``extra``, an exception still attached because the
record reached a handler without the filter). Only the fields it computes itself (``time``,
``level``, ``role``, a well-formed ``correlation_id``) are written as they are.

Installed once per process by :func:`privacy.log_redaction.install.install_redaction`, on the
handlers that exist at that moment (Rasa and rasa-sdk configure the root logger's handlers
before either process loads our code; Sanic's loggers propagate to them, as both create their
app with ``configure_logging=False``); in both formats Python warnings are routed into logging
(``logging.captureWarnings``) so they are redacted (and in JSON mode become JSON lines too). What a process writes before our code
is loaded (rasa-sdk's first "Starting action endpoint server..." line, warnings raised while
importing) keeps the library's format. The standard library only: ``logging`` and ``json``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from observability.correlation import current_correlation_id
from privacy.log_redaction.masking import record_message, redact, redact_structure, safe_str
from privacy.log_redaction.patterns import SENSITIVE_MASK

__all__ = [
    "CORRELATION_ATTR",
    "EXCEPTION_TYPE_ATTR",
    "LOG_FORMAT_ENV",
    "ROLES",
    "CorrelationPrefixFormatter",
    "JsonLinesFormatter",
    "LogFormatError",
    "install_log_format",
    "log_format",
    "uninstall_log_format",
]

LOG_FORMAT_ENV = "BLAUPAUSE_LOG_FORMAT"
FORMATS = ("text", "json")
ROLES = ("rasa", "actions")
#: Record attributes the redaction filter sets (the formatters read them; not ``extra`` fields).
CORRELATION_ATTR = "correlation_id"
EXCEPTION_TYPE_ATTR = "exception_type"
_OWN_ATTRS = frozenset({CORRELATION_ATTR, EXCEPTION_TYPE_ATTR})
_CORRELATION_SHAPE = re.compile(r"[0-9a-f]{8,64}")
_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


class LogFormatError(ValueError):
    """``BLAUPAUSE_LOG_FORMAT`` (or a role) has a value this module does not know."""


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """``text`` (unset or empty) or ``json``; :class:`LogFormatError` for anything else."""
    env = os.environ if environ is None else environ
    value = env.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if value not in FORMATS:
        raise LogFormatError(f"{LOG_FORMAT_ENV}={value!r} is not one of: {', '.join(FORMATS)}")
    return value


def record_correlation_id(record: logging.LogRecord) -> str | None:
    """The record's correlation id (set by the filter where it was created), else the current one."""
    value = getattr(record, CORRELATION_ATTR, None) or current_correlation_id()
    return value if isinstance(value, str) and _CORRELATION_SHAPE.fullmatch(value) else None


def _json_value(value: Any) -> Any:
    """One ``extra`` value as it may appear in the JSON line (masked by the allowlist)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        text = repr(value)
        return value if redact(text) == text else SENSITIVE_MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return redact_structure(value)
    return redact(safe_str(value))


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record, every value from the record redacted (module docstring)."""

    def __init__(self, role: str = "rasa") -> None:
        super().__init__()
        if role not in ROLES:
            raise LogFormatError(f"log role {role!r} is not one of: {', '.join(ROLES)}")
        self.role = role
        self.replaced: logging.Formatter | None = None  # the handler's formatter before (uninstall)

    def format(self, record: logging.LogRecord) -> str:
        message = record_message(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": redact(record.name),
            "message": redact(message),
        }
        self._structured(entry)
        correlation_id = record_correlation_id(record)
        if correlation_id:
            entry["correlation_id"] = correlation_id
        entry["role"] = self.role
        self._exception(record, entry)
        extra = {
            name: _json_value(value)
            for name, value in record.__dict__.items()
            if name not in _STANDARD_RECORD_ATTRS and name not in _OWN_ATTRS
        }
        if extra:
            entry["extra"] = extra
        return json.dumps(entry, ensure_ascii=False, default=safe_str)

    @staticmethod
    def _structured(entry: dict[str, Any]) -> None:
        """A structlog JSON line of Rasa's (already redacted) as ``fields``, its event as the message."""
        text = entry["message"]
        if not (text.startswith("{") and text.endswith("}")):
            return
        try:
            data = json.loads(text)
        except ValueError:
            return
        if isinstance(data, dict):
            event = data.get("event")
            entry["message"] = event if isinstance(event, str) else ""
            entry["fields"] = data

    @staticmethod
    def _exception(record: logging.LogRecord, entry: dict[str, Any]) -> None:
        exc_type = getattr(record, EXCEPTION_TYPE_ATTR, None)
        exc_text = record.exc_text
        if record.exc_info and record.exc_info[0] is not None:
            exc_type = exc_type or record.exc_info[0].__qualname__
            if not exc_text:
                exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if exc_type:
            entry["exception_type"] = redact(safe_str(exc_type))
        if exc_text:
            entry["exception"] = redact(exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)


class CorrelationPrefixFormatter(logging.Formatter):
    """The text format: the handler's own formatter, with ``[c=<id>] `` before the message."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.replaced = inner
        self.inner = inner if inner is not None else logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        correlation_id = record_correlation_id(record)
        if not correlation_id:
            return self.inner.format(record)
        original = record.msg
        record.msg = f"[c={correlation_id}] {safe_str(original)}"
        try:
            return self.inner.format(record)
        finally:
            record.msg = original


_OURS = (JsonLinesFormatter, CorrelationPrefixFormatter)
_CAPTURED_WARNINGS = False  # whether install_log_format turned on logging.captureWarnings


def _handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers.extend(
        logger for logger in list(logging.Logger.manager.loggerDict.values()) if isinstance(logger, logging.Logger)
    )
    unique: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in logger.handlers:
            unique[id(handler)] = handler
    return list(unique.values())


def install_log_format(role: str = "rasa", environ: Mapping[str, str] | None = None) -> str:
    """Give every handler of the process the configured format; returns ``text`` or ``json``.

    Idempotent (a handler that already has one of our formatters keeps it), so several calls
    in one process change nothing; :func:`uninstall_log_format` puts the replaced formatters back.
    """
    chosen = log_format(environ)
    if role not in ROLES:
        raise LogFormatError(f"log role {role!r} is not one of: {', '.join(ROLES)}")
    global _CAPTURED_WARNINGS
    if not _CAPTURED_WARNINGS:
        # Python warnings go through logging (and so through the redaction) in both formats: Rasa
        # warns with the user's text in it (e.g. "Failed to parse arguments in line '/intent{...}'"),
        # which as plain stderr would bypass every filter.
        logging.captureWarnings(True)
        _CAPTURED_WARNINGS = True
    for handler in _handlers():
        if isinstance(handler.formatter, _OURS):
            continue
        if chosen == "json":
            formatter: logging.Formatter = JsonLinesFormatter(role)
            formatter.replaced = handler.formatter  # type: ignore[attr-defined]
        else:
            formatter = CorrelationPrefixFormatter(handler.formatter)
        handler.setFormatter(formatter)
    return chosen


def uninstall_log_format() -> None:
    """Give every handler the formatter it had before :func:`install_log_format` (tests, reloads)."""
    global _CAPTURED_WARNINGS
    if _CAPTURED_WARNINGS:
        logging.captureWarnings(False)
        _CAPTURED_WARNINGS = False
    for handler in _handlers():
        formatter = handler.formatter
        if isinstance(formatter, _OURS):
            handler.setFormatter(formatter.replaced)
