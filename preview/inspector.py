"""What Rasa understood and did, turn by turn, read from the encrypted tracker store.

Why from the store: it is what the assistant really remembers, sealed under the user's keys
(docs/privacy.md). The preview plays the user, so it knows the identifiers and can derive the
keys the channel derives (privacy/context.py ``keys_for_user``, anchor and aliases as
privacy/identity.py ``UserIdentifiers`` picks them) and read the conversation inside
``user_context`` exactly as the bot does (tests/support/stores.py ``stored_conversation``).

A turn starts at a ``UserUttered`` (its text or payload, intent with confidence, entities) and
collects the names of the ``ActionExecuted`` events and the ``SlotSet`` values until the next
``UserUttered``; events before the first one (session start) are left out. Each turn also gets the
Graph API messages the stand-in accepted for this person between the webhook of that turn and
the next one: turns are matched to the preview's sends by time (the last send before Rasa
stored the ``UserUttered``), so turns from before this process started get none.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from privacy.context import keys_for_user, user_context
from privacy.identity import UserIdentifiers
from privacy.keyring import Keyring
from preview.sessions import PreviewSession
from standins.meta_graph import AcceptedMessage

__all__ = ["Inspector", "turns_of", "attach_payloads"]

logger = logging.getLogger(__name__)

#: How much earlier than our send Rasa's clock may stamp the turn (same machine: clocks agree).
_CLOCK_SLACK = 0.5


def turns_of(events: Iterable[Any]) -> list[dict[str, Any]]:
    """Rasa events grouped into turns (see the module docstring); each with its ``timestamp``."""
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

    turns: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, UserUttered):
            intent = event.intent or {}
            turns.append(
                {
                    "user": event.text,
                    "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")}
                    if intent.get("name")
                    else None,
                    "entities": [_entity(entity) for entity in event.entities or []],
                    "slots": {},
                    "actions": [],
                    "payloads": [],
                    "timestamp": event.timestamp,
                }
            )
        elif not turns:
            continue
        elif isinstance(event, ActionExecuted):
            turns[-1]["actions"].append(event.action_name or event.action_text)
        elif isinstance(event, SlotSet):
            turns[-1]["slots"][event.key] = event.value
    return turns


def _entity(entity: dict[str, Any]) -> dict[str, Any]:
    shown = {"entity": entity.get("entity"), "value": entity.get("value")}
    for key in ("role", "group", "confidence_entity", "extractor"):
        if entity.get(key) is not None:
            shown[key] = entity[key]
    return shown


def attach_payloads(
    turns: list[dict[str, Any]], send_times: Sequence[float], received: Sequence[AcceptedMessage]
) -> list[dict[str, Any]]:
    """Give each turn the messages received between its send and the next turn's send."""
    starts: list[float | None] = []
    for turn in turns:
        index = bisect.bisect_right(send_times, turn["timestamp"] + _CLOCK_SLACK) - 1
        starts.append(send_times[index] if index >= 0 else None)
    for position, (turn, start) in enumerate(zip(turns, starts)):
        if start is None or start in starts[position + 1:]:  # no send of ours, or a later turn's
            continue
        later = [s for s in starts[position + 1:] if s is not None and s > start]
        end = min(later) if later else float("inf")
        turn["payloads"] = [dict(m.message) for m in received if start <= m.received_at < end]
    for turn in turns:
        del turn["timestamp"]
    return turns


class Inspector:
    """Reads a session's stored conversation as turns; one store, opened on first use."""

    def __init__(self, store_url: str, keyring: Keyring, domain_path: Path, *, table: str | None = None) -> None:
        self.store_url = store_url
        self.keyring = keyring
        self.domain_path = domain_path
        self.table = table
        self._store: Any = None
        self._lock = asyncio.Lock()

    async def _open(self) -> Any:
        async with self._lock:
            if self._store is None:
                from rasa.shared.core.domain import Domain

                from privacy.store.encrypted import EncryptedTrackerStore

                domain = await asyncio.get_running_loop().run_in_executor(None, Domain.load, str(self.domain_path))
                options = {"table": self.table} if self.table else {}
                self._store = EncryptedTrackerStore(domain, url=self.store_url, environ={}, **options)
            return self._store

    async def events(self, session: PreviewSession) -> list[Any]:
        """The session user's stored events, oldest first ([] when there is no conversation yet)."""
        store = await self._open()
        identifiers = UserIdentifiers(phone=session.user.phone, user_id=session.user.user_id)
        keys = keys_for_user(self.keyring, identifiers.anchor(), identifiers.aliases())
        with user_context(keys):
            tracker = await store.retrieve_full_tracker(keys.pseudonym)
        return [] if tracker is None else list(tracker.events)

    async def turns(self, session: PreviewSession) -> list[dict[str, Any]]:
        """The contract's turns for ``session`` (preview/server.py, ``/inspect``)."""
        turns = turns_of(await self.events(session))
        return attach_payloads(turns, [sent.time for sent in session.sent], list(session.received))

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None
