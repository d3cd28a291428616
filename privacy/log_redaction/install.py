"""The logging filter, its installation on every relevant logger, and the DEBUG refusal.

Why a filter on loggers *and* handlers: the filter rewrites each ``LogRecord`` in place
(message, arguments, exception text, stack text and ``extra`` fields) before any
handler formats it, so every handler, formatter and log shipper downstream sees the
masked version. It runs in both processes: the WhatsApp channel installs it in Rasa,
``actions/__init__.py`` in the action server. See :mod:`privacy.log_redaction`.
"""
from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterable, Mapping

from observability.correlation import current_correlation_id
from privacy.log_redaction.json_lines import (
    CORRELATION_ATTR,
    EXCEPTION_TYPE_ATTR,
    install_log_format,
    uninstall_log_format,
)
from privacy.log_redaction.masking import record_message, redact, redact_structure

__all__ = [
    "ALLOW_DEBUG_LOGS_ENV",
    "DEFAULT_LOGGER_NAMES",
    "PER_REQUEST_LOGGERS",
    "DebugLoggingRefusedError",
    "RedactingFilter",
    "check_log_level",
    "install_redaction",
    "quiet_per_request_loggers",
    "uninstall_redaction",
]

DEFAULT_LOGGER_NAMES: tuple[str, ...] = (
    "", "rasa", "sanic", "rasa_sdk", "aiohttp", "urllib3", "httpx", "structlog", "connectors", "actions", "privacy",
)
ALLOW_DEBUG_LOGS_ENV = "BLAUPAUSE_ALLOW_DEBUG_LOGS"
#: Third-party loggers that write one INFO line per HTTP request (httpx: each Graph API call).
PER_REQUEST_LOGGERS: tuple[str, ...] = ("httpx", "httpcore")
#: The loggers :func:`quiet_per_request_loggers` set to WARNING (reset by :func:`uninstall_redaction`).
_QUIETED: set[str] = set()

_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Rewrites records in place so that no handler ever sees the unmasked text.

    Always returns True (it masks, it never drops). The message is formatted once
    with its arguments and the arguments are cleared, because masking a number split
    across format string and arguments is otherwise impossible. It also notes on the
    record the correlation id current where the record was created and the type of its
    exception (the formatters of :mod:`privacy.log_redaction.json_lines` read both).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record_message(record))
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            if not hasattr(record, EXCEPTION_TYPE_ATTR):
                setattr(record, EXCEPTION_TYPE_ATTR, record.exc_info[0].__qualname__)
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the formatted (masked) text stands in; the raw exception would re-render
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD_RECORD_ATTRS and name != "message":
                continue
            if isinstance(value, str):
                setattr(record, name, redact(value))
            elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
                setattr(record, name, redact_structure(value))
        if getattr(record, CORRELATION_ATTR, None) is None:
            setattr(record, CORRELATION_ATTR, current_correlation_id())
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


class DebugLoggingRefusedError(RuntimeError):
    """DEBUG logging was configured in production without the documented override."""


def _debug_enabled_loggers(logger_names: Iterable[str]) -> list[str]:
    enabled = []
    for name in logger_names:
        logger = logging.getLogger(name) if name else logging.getLogger()
        if logger.isEnabledFor(logging.DEBUG):
            enabled.append(name or "root")
    return enabled


def check_log_level(
    environ: Mapping[str, str] | None = None, logger_names: Iterable[str] = DEFAULT_LOGGER_NAMES
) -> None:
    """Refuse DEBUG logging in production (issue 16, finding 2).

    DEBUG lines of Rasa, rasa-sdk and Sanic carry parse data, slot values and payloads;
    the filter masks what it recognises, but a production process should not produce
    them at all. Allowed when ``BLAUPAUSE_ENV=local`` or when the operator sets
    ``BLAUPAUSE_ALLOW_DEBUG_LOGS=1`` (documented override, e.g. for a short, supervised
    debugging session). Raises :class:`DebugLoggingRefusedError` naming the loggers.
    """
    env = os.environ if environ is None else environ
    if env.get("BLAUPAUSE_ENV", "").strip().lower() == "local":
        return
    if env.get(ALLOW_DEBUG_LOGS_ENV, "").strip().lower() in ("1", "true", "yes"):
        return
    enabled = _debug_enabled_loggers(logger_names)
    if enabled:
        raise DebugLoggingRefusedError(
            f"DEBUG logging is refused in production (enabled for: {', '.join(enabled)}): DEBUG lines carry "
            f"dialogue content. Use the default level (INFO), run locally with BLAUPAUSE_ENV=local, or set "
            f"{ALLOW_DEBUG_LOGS_ENV}=1 to allow it deliberately (the redaction filter still applies)."
        )


def quiet_per_request_loggers(logger_names: Iterable[str] = PER_REQUEST_LOGGERS) -> list[str]:
    """Set the per-request loggers of third-party HTTP clients (httpx, httpcore) to WARNING by default.

    Why: httpx logs one INFO line per request, i.e. per Graph API call, which is load on the
    hot path and noise in the log (Rasa's ``LOG_LEVEL_LIBRARIES`` does not cover httpx).
    A level an operator configured explicitly is respected: only a logger whose level is
    unset (``NOTSET``, inheriting from the root) is changed. To see the lines again, give
    the logger a level in Rasa's logging configuration, e.g. ``rasa run --logging-config-file
    logging.yml`` with::

        version: 1
        disable_existing_loggers: false
        loggers:
          httpx: {level: INFO}

    Called by :func:`install_redaction` (the channel's and the action server's logging set-up
    at start). Returns the names it changed; :func:`uninstall_redaction` resets them.
    """
    changed = []
    for name in logger_names:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
            _QUIETED.add(name)
            changed.append(name)
    return changed


def install_redaction(
    logger_names: Iterable[str] = DEFAULT_LOGGER_NAMES,
    *,
    enforce_level: bool = True,
    environ: Mapping[str, str] | None = None,
    role: str = "rasa",
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to the given loggers, their existing
    descendants, and all their handlers (including the root logger's handlers).

    Logger filters mask a record where it is created, before propagation, so handlers
    added later still receive masked records; handler filters cover records from
    loggers created after this call that propagate to those handlers. Call it after
    logging is configured (Rasa configures logging before loading channels).
    Idempotent: a logger or handler that already has a ``RedactingFilter`` is skipped.
    Returns the filter instance that was attached.

    ``enforce_level`` first applies :func:`check_log_level` (DEBUG refused in
    production). In a process where Rasa is loaded it also strips tracker bodies from
    Rasa's ``ClientResponseError`` (:mod:`privacy.action_errors`). It also turns off the
    third-party INFO line per HTTP request (:func:`quiet_per_request_loggers`: httpx and
    httpcore at WARNING unless a level was configured for them explicitly).

    Last, it gives every handler the line format of ``BLAUPAUSE_LOG_FORMAT`` (text or JSON
    lines, both with the correlation id; ``role`` is ``rasa`` or ``actions``, see
    :func:`privacy.log_redaction.json_lines.install_log_format`): logging is set up here only.
    """
    names = tuple(logger_names)
    if enforce_level:
        check_log_level(environ, names)
    quiet_per_request_loggers()
    from privacy import action_errors  # here: action_errors imports this module
    from privacy.personal_values import send_personal_values_with_action_calls

    action_errors.strip_rasa_client_error_bodies()
    send_personal_values_with_action_calls()
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
    install_log_format(role, environ)
    return redacting


def uninstall_redaction() -> None:
    """Remove every ``RedactingFilter`` from all loggers and their handlers (tests, reloads).

    Also gives the loggers :func:`quiet_per_request_loggers` changed their unset level back
    (unless their level was changed since), and the handlers their formatters of before.
    """
    uninstall_log_format()
    for name in sorted(_QUIETED):
        logger = logging.getLogger(name)
        if logger.level == logging.WARNING:
            logger.setLevel(logging.NOTSET)
    _QUIETED.clear()
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers.extend(
        logger for logger in list(logging.Logger.manager.loggerDict.values()) if isinstance(logger, logging.Logger)
    )
    for logger in loggers:
        for filterer in (logger, *logger.handlers):
            for existing in list(filterer.filters):
                if isinstance(existing, RedactingFilter):
                    filterer.removeFilter(existing)
