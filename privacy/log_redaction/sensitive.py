"""Values registered for the current request (profile name, username, identifiers, message text).

Why a context variable (issue 16, finding 6): registered values live in a
``contextvars.ContextVar`` (one request's task, never a concurrent one) together with
the pattern compiled from them; nothing is cached at module level (not even in ``re``'s
cache: the pattern is built with the uncached compiler), so no identifier or text
outlives its request.
"""
from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

try:  # the uncached compiler: re.compile would keep the pattern (and the values in it) in re's module cache
    from re import _compiler as _sre_compiler  # Python 3.11+
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_compile as _sre_compiler  # type: ignore[no-redef]

__all__ = ["register_sensitive", "register_sensitive_values", "clear_sensitive", "sensitive_scope", "sensitive_values"]

_MIN_SENSITIVE_CHARS = 2
_MAX_SENSITIVE_VALUES = 32


class _RequestState:
    """The values registered in one request context and the pattern compiled from them."""

    __slots__ = ("values", "pattern")

    def __init__(self, values: tuple[str, ...] = ()) -> None:
        self.values = values
        self.pattern = _compile_sensitive(values)


_SENSITIVE: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "blaupause_privacy_sensitive_values", default=None
)


def _variants(value: str) -> Iterator[str]:
    """The value as it may appear in logs: raw, JSON-escaped and repr-escaped."""
    yield value
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value)[1:-1]


def _compile_sensitive(values: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives: set[str] = set()
    for value in values:
        for variant in _variants(value):
            start = r"(?<!\w)" if re.match(r"\w", variant) else ""
            end = r"(?!\w)" if re.search(r"\w\Z", variant) else ""
            alternatives.add(start + re.escape(variant) + end)
    if not alternatives:
        return None
    ordered = sorted(alternatives, key=len, reverse=True)  # longest first: mask whole values
    # Not re.compile: its module-level cache would keep the identifiers after the request.
    return _sre_compiler.compile("|".join(ordered), re.IGNORECASE)


def register_sensitive(value: str) -> None:
    """Mask ``value`` (case-insensitively, as a whole word) in logs of this context.

    Meant for the WhatsApp profile name, the username, identifiers and the message text
    of the request being handled. Values shorter than 2 characters after stripping are
    ignored (masking them would destroy every log line); at most the 32 most recent
    values are kept. The values and their compiled pattern live in the request's
    context only (no module-level cache).
    """
    if not isinstance(value, str):
        raise TypeError("register_sensitive expects a str")
    value = value.strip()
    if len(value) < _MIN_SENSITIVE_CHARS:
        return
    state = _SENSITIVE.get()
    current = state.values if state is not None else ()
    if value in current:
        return
    _SENSITIVE.set(_RequestState((*current, value)[-_MAX_SENSITIVE_VALUES:]))


def sensitive_values() -> tuple[str, ...]:
    """The values registered in the current context (for diagnostics and tests)."""
    state = _SENSITIVE.get()
    return state.values if state is not None else ()


def register_sensitive_values(values: Iterable[str], *, limit: int = 256) -> None:
    """Replace this context's registrations by ``values`` (deduplicated, the last ``limit``).

    For the action server, which registers every text and value of the tracker it was
    sent for the duration of one action call (:mod:`privacy.action_errors`).
    """
    unique: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= _MIN_SENSITIVE_CHARS:
            unique[value.strip()] = None
    kept = tuple(unique)[-limit:] if limit > 0 else ()
    _SENSITIVE.set(_RequestState(kept) if kept else None)


def clear_sensitive() -> None:
    """Forget every value registered in this context (end of a request on a kept-alive task)."""
    _SENSITIVE.set(None)


@contextmanager
def sensitive_scope() -> Iterator[None]:
    """Start with no registered values and forget those registered inside on exit.

    Sanic runs each request in its own task, which already isolates registrations;
    this is for long-lived tasks that handle several users one after another.
    """
    token = _SENSITIVE.set(None)
    try:
        yield
    finally:
        _SENSITIVE.reset(token)
