"""The request's known personal values (profile name, username), carried to the action server in memory only.

Why (issue 16, finding 8): the LLM fallback masks what looks like a phone number, an e-mail
address or an address before a message leaves for the LLM, but a user who writes
"... ich heiße Erika Mustermann ..." (or just signs with their name) gave it away, while the
webhook told us that very name a moment earlier (``contacts[].profile.name``, and
``profile.username`` since 2026). Those values can be masked reliably, by value, but only
the Rasa process sees the webhook, and the action server sees only the tracker, which must
never hold them.

So the values travel beside the tracker, never inside it:

* the WhatsApp channel calls :func:`remember_personal_values` for each message it hands to
  Rasa, inside :func:`personal_values_scope` (a ``contextvars`` scope: the value follows the
  request's ``await`` chain into Rasa's processor and nowhere else, PEP 567);
* :func:`send_personal_values_with_action_calls` wraps Rasa 3.6's
  ``rasa.utils.endpoints.EndpointConfig.request`` (:func:`rasa_compat.patch_action_call_headers`) so that a call to the action server
  (its JSON body names a ``next_action``) made inside such a scope carries the values in the
  ``X-Blaupause-Personal-Values`` header (base64url of a JSON list), on the same loopback or
  private-network connection that already carries the decrypted tracker;
* in the action server, :func:`receive_personal_values` (a Sanic request middleware installed
  by :mod:`privacy.action_errors`) puts the header's values into the same context variable
  for that one call; :func:`personal_values` is what the LLM fallback passes to the client's
  ``known_values``. The values are also registered with the log redaction for the call.

Nothing here writes anywhere: no store, no log line (only counts), no cache; the context
variable is reset when the scope or the call ends.
"""
from __future__ import annotations

import base64
import contextvars
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rasa_compat import patch_action_call_headers

__all__ = [
    "HEADER",
    "MAX_VALUES",
    "remember_personal_values",
    "personal_values",
    "personal_values_scope",
    "encode_header",
    "decode_header",
    "send_personal_values_with_action_calls",
    "receive_personal_values",
]

logger = logging.getLogger(__name__)

HEADER = "X-Blaupause-Personal-Values"
MAX_VALUES = 8
_MAX_VALUE_CHARS = 200
_MAX_HEADER_CHARS = 4096
_MIN_VALUE_CHARS = 2

_VALUES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "blaupause_privacy_personal_values", default=()
)


def _clean(values: Iterable[Any]) -> tuple[str, ...]:
    kept: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        value = value.strip()
        if _MIN_VALUE_CHARS <= len(value) <= _MAX_VALUE_CHARS:
            kept[value] = None
    return tuple(kept)[-MAX_VALUES:]


def remember_personal_values(*values: str | None) -> None:
    """Add this request's profile name, username (...) to the current scope; None and blanks are skipped."""
    _VALUES.set(_clean((*_VALUES.get(), *values)))


def personal_values() -> tuple[str, ...]:
    """The personal values known in the current context (empty outside a scope)."""
    return _VALUES.get()


@contextmanager
def personal_values_scope() -> Iterator[None]:
    """Start with no values and forget those remembered inside on exit."""
    token = _VALUES.set(())
    try:
        yield
    finally:
        _VALUES.reset(token)


def encode_header(values: Iterable[str]) -> str | None:
    """The header value for ``values`` (base64url of a JSON list), None when there is nothing to send."""
    cleaned = _clean(values)
    if not cleaned:
        return None
    raw = json.dumps(list(cleaned), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_header(header: str | None) -> tuple[str, ...]:
    """The values of a header written by :func:`encode_header`; anything malformed gives ()."""
    if not header or len(header) > _MAX_HEADER_CHARS:
        return ()
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError):
        return ()
    return _clean(decoded) if isinstance(decoded, list) else ()


def _header() -> dict[str, str] | None:
    header = encode_header(personal_values())
    return {HEADER: header} if header is not None else None


def send_personal_values_with_action_calls() -> bool:
    """Add the header to Rasa's action calls (:func:`rasa_compat.patch_action_call_headers`); idempotent.

    Returns False when Rasa is not importable (e.g. inside the action server).
    """
    return patch_action_call_headers(_header)


def receive_personal_values(request: Any) -> tuple[str, ...]:
    """Action server side: take the values of this call's header into the current context.

    Called from a Sanic request middleware; the response middleware (or the next call on a
    kept-alive task) resets them. Returns the values (for the log redaction's registration).
    """
    values = decode_header(request.headers.get(HEADER))
    _VALUES.set(values)
    if values:
        logger.debug("action call carries %d known personal value(s) to mask", len(values))
    return values


def forget_personal_values() -> None:
    """Action server side: the call is answered, its values are gone."""
    _VALUES.set(())
