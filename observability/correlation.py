"""One correlation id per webhook message, the same in the channel and in the action server.

Why derived from the message and not from the sender (issue 11, item 4): a log line may carry
an id that ties the Rasa process's lines of one turn to the action server's, but that id must
not link the turns of one person (a pseudonym would) nor be computable from anything Meta or a
proxy holds (a wamid would). The channel's Rasa message id is already a keyed HMAC of the wamid
(:meth:`connectors.whatsapp.references.References.rasa_message_id`, key derived from the server
secret); the correlation id is the first 16 hex digits of ``sha256("corr" || rasa_message_id)``.
The action server reads the same Rasa message id from the tracker it is sent
(``latest_message.message_id``) and derives the same id without any shared state.

The id lives in a :class:`contextvars.ContextVar`: one message's task (or one action call),
never a concurrent one. :func:`correlation_scope` sets it for a block;
:func:`bind_correlation_id` / :func:`clear_correlation_id` are for hooks that only have a
"before" and an "after" (the action server's executor wrap, :mod:`privacy.action_errors`).
The log formatters read it through the redaction filter (:mod:`privacy.log_redaction.json_lines`).
"""
from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "CORRELATION_ID_HEX_DIGITS",
    "bind_correlation_id",
    "clear_correlation_id",
    "correlation_id_for",
    "correlation_id_of_action_call",
    "correlation_scope",
    "current_correlation_id",
]

#: Length of a correlation id (hex digits of the SHA-256 digest kept).
CORRELATION_ID_HEX_DIGITS = 16
_PURPOSE = b"corr"

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("blaupause_correlation_id", default=None)


def correlation_id_for(rasa_message_id: str) -> str:
    """The correlation id of the message Rasa knows as ``rasa_message_id`` (16 hex digits)."""
    data = rasa_message_id.encode("utf-8", "surrogatepass")
    return hashlib.sha256(_PURPOSE + data).hexdigest()[:CORRELATION_ID_HEX_DIGITS]


def _message_id_of(tracker: Mapping[str, Any]) -> str | None:
    latest = tracker.get("latest_message")
    if isinstance(latest, Mapping) and isinstance(latest.get("message_id"), str) and latest["message_id"]:
        return latest["message_id"]
    for event in reversed(tracker.get("events") or ()):  # fallback: the last user event
        if isinstance(event, Mapping) and event.get("event") == "user":
            message_id = event.get("message_id")
            return message_id if isinstance(message_id, str) and message_id else None
    return None


def correlation_id_of_action_call(action_call: Any) -> str | None:
    """The correlation id of the turn a rasa-sdk action call belongs to, or None.

    ``action_call`` is the JSON body Rasa posts to the action server; its ``tracker`` holds
    the Rasa message id of the user message the turn answers.
    """
    if not isinstance(action_call, Mapping):
        return None
    tracker = action_call.get("tracker")
    if not isinstance(tracker, Mapping):
        return None
    message_id = _message_id_of(tracker)
    return correlation_id_for(message_id) if message_id else None


def current_correlation_id() -> str | None:
    """The correlation id of the message being handled in this context, or None."""
    return _CURRENT.get()


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str | None]:
    """Make ``correlation_id`` current for the block (None: no id inside); restores the previous one."""
    token = _CURRENT.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _CURRENT.reset(token)


def bind_correlation_id(correlation_id: str | None) -> None:
    """Set the current id until :func:`clear_correlation_id` (hooks without a block around the work)."""
    _CURRENT.set(correlation_id)


def clear_correlation_id() -> None:
    """Forget the current id (end of an action call on a kept-alive connection's task)."""
    _CURRENT.set(None)
