"""One lane per person: a POST's messages grouped by who sent them, run with bounded concurrency.

Why: one signed POST may carry messages of several people, and of one person under several
identifiers (a message with the phone number and one with only the BSUID, issue 9). A
person's messages must run in payload order and never race on the same conversation; people
are independent and run concurrently, at most ``max_concurrent`` at once, so a signed batch
cannot start unbounded work. When one of a person's messages must be retried (503) or failed
(500), the person's later messages of this POST are not handled: they come back with Meta's
redelivery, in order.

Each lane runs inside its own :func:`privacy.log_redaction.sensitive.sensitive_scope` and
:func:`privacy.personal_values.personal_values_scope`, so what is registered as sensitive for
one person's messages is forgotten when the lane ends.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from connectors.whatsapp.identities import identifiers_of
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.updates.messages import InboundMessage
from privacy.log_redaction.sensitive import sensitive_scope
from privacy.personal_values import personal_values_scope

__all__ = ["Lanes", "group_by_person"]

Context = TypeVar("Context")


class Lanes:
    """Runs each person's messages in order, people concurrently (at most ``max_concurrent``)."""

    def __init__(self, max_concurrent: int) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent_lanes must be at least 1")
        self.max_concurrent = max_concurrent

    async def run(
        self,
        messages: Sequence[InboundMessage],
        handle: Callable[[InboundMessage, Context], Awaitable[Outcome]],
        context: Context,
    ) -> list[Outcome]:
        """``handle(message, context)`` for every message that is reached; their outcomes."""
        bound = asyncio.Semaphore(self.max_concurrent)
        results = await asyncio.gather(
            *(self._lane(lane, bound, handle, context) for lane in group_by_person(messages))
        )
        return [outcome for lane in results for outcome in lane]

    @staticmethod
    async def _lane(
        lane: Iterable[InboundMessage],
        bound: asyncio.Semaphore,
        handle: Callable[[InboundMessage, Context], Awaitable[Outcome]],
        context: Context,
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with bound:
            with sensitive_scope(), personal_values_scope():
                for message in lane:
                    outcome = await handle(message, context)
                    outcomes.append(outcome)
                    if outcome in (Outcome.RETRY, Outcome.FAILED):
                        break  # later messages of this person come back with Meta's redelivery
        return outcomes


def group_by_person(messages: Sequence[InboundMessage]) -> list[list[InboundMessage]]:
    """Group messages by person, keeping payload order within each group.

    Two messages belong to one person when they share any identifier (phone number, BSUID,
    parent BSUID; compared case-insensitively), so one person's messages with and without a
    number in one POST run in one lane (union-find over identifiers).
    """
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    keys: list[str] = []
    for index, message in enumerate(messages):
        own = [f"id:{identifier.casefold()}" for identifier in identifiers_of(message)] or [f"message:{index}"]
        root = find(own[0])
        for other in own[1:]:
            other_root = find(other)
            if other_root != root:
                parent[other_root] = root
        keys.append(own[0])
    lanes: dict[str, list[InboundMessage]] = {}
    for key, message in zip(keys, messages):
        lanes.setdefault(find(key), []).append(message)
    return list(lanes.values())
