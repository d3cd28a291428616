"""Rasa's session semantics for the store's two records, and small time helpers.

Layout (follows Rasa's session semantics, see
https://rasa.com/docs/rasa/3.x/domain#session-configuration): the *live* record holds
the current session, from the last ``action_session_start`` on, exactly what
``retrieve`` returns (like ``SQLTrackerStore``). Closed sessions move into one
*archive* record per user, also sealed, rewritten only when a session closes and
pruned to the retention period, so reading and writing a message never costs more
for a long-time user. ``retrieve_full_tracker`` joins both.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Awaitable, Iterable, Optional, Sequence, TypeVar

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Event, split_events

__all__: list[str] = []  # helpers of the store package only

_A = TypeVar("_A")
_B = TypeVar("_B")


def _split_sessions(events: Iterable[Event]) -> list[list[Event]]:
    """Rasa's own session split (as in ``get_trackers_for_conversation_sessions``)."""
    return split_events(
        events, ActionExecuted, {"action_name": ACTION_SESSION_START_NAME}, include_splitting_event=True
    )


def _session_start(session: Sequence[dict[str, Any]]) -> float:
    return float(session[0].get("timestamp") or 0.0) if session else 0.0


def _session_end(session: Sequence[dict[str, Any]]) -> float:
    return max((float(event.get("timestamp") or 0.0) for event in session), default=0.0)


def _only_listening(session: Sequence[dict[str, Any]]) -> bool:
    """True for the ``action_listen``-only stub Rasa creates before the first session starts."""
    return all(e.get("event") == ActionExecuted.type_name and e.get("name") == ACTION_LISTEN_NAME for e in session)


def _any_event_until(events: Iterable[Event], moment: datetime) -> bool:
    """True if any event happened at or before ``moment`` (Rasa stamps every event when it is created)."""
    limit = moment.timestamp()
    return any(float(event.timestamp or 0.0) <= limit for event in events)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _date(timestamp: Optional[float]) -> Optional[str]:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()


def _merge_sessions(
    existing: list[list[dict[str, Any]]], new: list[list[dict[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """Sessions of both lists in start order, one per start time (existing ones win).

    Start times identify sessions: a full tracker saved again (Rasa's HTTP API does
    that) carries sessions the archive already holds, and they must not double.
    """
    by_start: dict[float, list[dict[str, Any]]] = {}
    for session in [*existing, *new]:
        if session:
            by_start.setdefault(_session_start(session), session)
    return [by_start[start] for start in sorted(by_start)]


async def _both(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """Run two reads at once (one round trip's wait instead of two on Redis and PostgreSQL);
    the first error is raised after both have ended, so none is left unretrieved."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]  # type: ignore[return-value]
