"""The turn for Rasa's current agent, built once per agent instead of once per request.

Why: Rasa's agent (``request.app.ctx.agent``) is only known once the server runs, and Rasa
may replace it (loading another model). What the turn needs from it (the label-language
lookup on its tracker store, the privacy requests on its store, NLG and lock store, and its
tracker store made fail-closed) is built the first time a POST sees an agent, and again only
when the agent (or its tracker store) is another object.

Fail-closed: Rasa 3.6 wraps every tracker store in ``FailSafeTrackerStore``, which hides
storage errors; :func:`rasa_compat.make_fail_closed` lets them reach the webhook
(503, Meta redelivers) instead.
"""
from __future__ import annotations

from typing import Any

from connectors.whatsapp.core import WebhookCore
from privacy.requests.hook import PrivacyRequests
from connectors.whatsapp.turn import OnNewMessage, Turn
from privacy.store.encrypted import EncryptedTrackerStore
from privacy.store.saving import tracker_saved_in_this_request
from rasa_compat import make_fail_closed

__all__ = ["AgentTurns", "TrackerLanguage"]


class TrackerLanguage:
    """The user's ``language`` slot as the turn left it (called inside the user's key context).

    The tracker the encrypted store saved in this request answers it; reading it back from
    the store (retrieve, decrypt, rebuild) is only the fallback for another store or a turn
    that saved nothing.
    """

    def __init__(self, tracker_store: Any) -> None:
        self.tracker_store = tracker_store

    async def __call__(self, pseudonym: str) -> str | None:
        tracker = tracker_saved_in_this_request(pseudonym)
        if tracker is None:
            tracker = await self.tracker_store.retrieve(pseudonym)
        value = tracker.get_slot("language") if tracker is not None else None
        return value if isinstance(value, str) else None


class AgentTurns:
    """Hands out the :class:`.turn.Turn` for an agent, rebuilding it only when the agent changes."""

    def __init__(self, core: WebhookCore, on_new_message: OnNewMessage) -> None:
        self._core = core
        self._on_new_message = on_new_message
        self._built_for: tuple[Any, Any] | None = None
        self._turn: Turn | None = None

    def for_agent(self, agent: Any) -> Turn:
        tracker_store = getattr(agent, "tracker_store", None)
        if self._turn is None or self._built_for is None or not _same(self._built_for, (agent, tracker_store)):
            self._turn = self._build(agent, tracker_store)
            self._built_for = (agent, tracker_store)
        return self._turn

    def _build(self, agent: Any, tracker_store: Any) -> Turn:
        if tracker_store is not None:
            make_fail_closed(tracker_store, EncryptedTrackerStore)
        privacy = PrivacyRequests.for_agent(agent, outboxes=self._core.store, payload_ids=self._core.id_map)
        language = TrackerLanguage(tracker_store) if tracker_store is not None else None
        return self._core.turn(
            self._on_new_message, language_lookup=language, privacy=privacy, tracker_store=tracker_store,
            lock_store=getattr(agent, "lock_store", None),
        )


def _same(built_for: tuple[Any, Any], now: tuple[Any, Any]) -> bool:
    return all(a is b for a, b in zip(built_for, now))
