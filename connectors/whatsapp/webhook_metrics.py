"""The webhook's own metrics: what became of each request, how long a POST and a turn took.

Why a module of its own: the adapter (refusals before and while the body is read), the core
(its answers) and the message flow (one turn per message) count into the same metrics of
:mod:`observability.metrics`, and the status-to-outcome rule belongs in one place. Label
values come only from the closed vocabularies there (``WEBHOOK_OUTCOMES``, ``TURN_OUTCOMES``,
``MESSAGE_TYPES``) through :mod:`observability.labels`: never a sender, a wamid or a text.

The labelled children are cached in dicts, so the hot path costs a dict lookup, not a label
resolution. Times are ``time.monotonic()`` seconds; a POST's arrival is taken in the adapter's
route and passed down (docs/operations.md lists the metrics).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from connectors.whatsapp.outcome import Outcome, WebhookResponse
from observability.labels import one_of, status_label
from observability.metrics import (
    MESSAGE_TYPES,
    TURN_OUTCOMES,
    WEBHOOK_METHODS,
    WEBHOOK_OUTCOMES,
    inbound_messages,
    turn_duration,
    webhook_duration,
    webhook_requests,
)

__all__ = ["now", "count_get", "count_refusal", "count_bad_framing", "count_answer", "count_inbound", "observe_turn"]

now = time.monotonic

#: A POST refused before any message was handled, by status.
_REFUSALS = {400: "bad_request", 401: "unsigned", 403: "bad_signature", 413: "too_large", 500: "error", 503: "busy"}
#: A POST whose messages were handled, by status (503: some message must be redelivered).
_ANSWERS = {500: "error", 503: "retry"}

_requests: dict[tuple[str, str, int], Any] = {}
_durations = {kind: webhook_duration.labels(kind) for kind in ("messages", "statuses", "refused")}
_turns = {outcome: turn_duration.labels(outcome) for outcome in TURN_OUTCOMES}
_types: dict[str, Any] = {}


def _request(method: str, outcome: str, status: int) -> Any:
    key = (method, outcome, status)
    child = _requests.get(key)
    if child is None:
        child = _requests[key] = webhook_requests.labels(
            one_of(method, WEBHOOK_METHODS), one_of(outcome, WEBHOOK_OUTCOMES), status_label(status)
        )
    return child


def count_get(answer: WebhookResponse) -> WebhookResponse:
    """The subscription handshake: verified (200) or refused."""
    _request("GET", "verified" if answer.status == 200 else "verify_refused", answer.status).inc()
    return answer


def count_refusal(answer: WebhookResponse, arrived: float) -> WebhookResponse:
    """A POST refused before any message was handled (413, 401, 403, 400, 503 busy)."""
    _request("POST", _REFUSALS.get(answer.status, "error"), answer.status).inc()
    _durations["refused"].observe(now() - arrived)
    return answer


def count_bad_framing(method: object) -> None:
    """A request refused with 400 for malformed framing before any route ran (:mod:`.framing`).

    Not timed: it never reached the route that takes the arrival time. ``method`` is what Sanic
    reports (``NONE`` for a head it could not finish parsing), so it is ``other`` in practice.
    """
    _request(one_of(method, WEBHOOK_METHODS), "bad_framing", 400).inc()


def count_answer(answer: WebhookResponse, outcomes: Iterable[Outcome], *, messages: bool, arrived: float) -> WebhookResponse:
    """A POST whose update was read: every message handled, all duplicates, retry or error."""
    if answer.status == 200:
        seen = set(outcomes)
        outcome = "duplicate" if seen == {Outcome.DUPLICATE} else "handled"
    else:
        outcome = _ANSWERS.get(answer.status, "error")
    _request("POST", outcome, answer.status).inc()
    _durations["messages" if messages else "statuses"].observe(now() - arrived)
    return answer


def count_inbound(message_type: str) -> None:
    """One parsed inbound message, by its WhatsApp type (before dedup)."""
    child = _types.get(message_type)
    if child is None:
        label = one_of(message_type, MESSAGE_TYPES)
        child = inbound_messages.labels(label)
        if label != "other":
            _types[message_type] = child
    child.inc()


def observe_turn(outcome: str, arrived: float, ended: float | None = None) -> None:
    """One inbound message from the webhook's arrival to ``ended`` (default: now)."""
    child = _turns.get(outcome)
    if child is None:
        child = turn_duration.labels(one_of(outcome, TURN_OUTCOMES))
    child.observe((ended if ended is not None else now()) - arrived)
