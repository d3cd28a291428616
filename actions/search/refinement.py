"""What a refinement changed, and how a search that found nothing could be widened.

Why: a user who writes "nur Teilzeit" after a result list must see that the search changed
("Nur Teilzeit: 2 von 4 Stellen"), and a message that changes nothing must not re-list the
same jobs as if it had (issue 13). The search before this one is read from the tracker's
events, not stored in a slot of its own: each successful search action sets
``search_total`` right after it ran, so replaying the slot events up to that point gives
the criteria and the number of postings that search had.

The words (what changed, what is offered) are the ``actions.refinement`` and
``actions.offer`` sections of labels.yml; the responses are in domain.yml.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rasa_sdk import Tracker

import wording
from actions.jobs import DEFAULT_RADIUS_KM
from actions.search.result_text import shown_value
from actions.search.slot_values import as_float, as_text, parse_radius_km, parse_remote, parse_working_time
from actions.search.slots import search_slots, summary_slots

__all__ = [
    "SEARCH_ACTIONS",
    "TOTAL_SLOT",
    "OFFER_SLOT",
    "MORE_OFFER",
    "WIDER_RADII_KM",
    "Change",
    "PreviousSearch",
    "previous_search",
    "changes_between",
    "describe_changes",
    "only_narrowed",
    "widening",
    "undo",
    "offer_text",
    "encode_offer",
    "decode_offer",
]

#: Actions that run a search and then set ``search_total`` (0 when nothing was found).
SEARCH_ACTIONS: Final[frozenset[str]] = frozenset({"action_search_jobs", "action_accept_offer"})
TOTAL_SLOT: Final[str] = "search_total"
#: The offer the assistant made with its last question: "more", or JSON slot changes.
OFFER_SLOT: Final[str] = "pending_offer"
MORE_OFFER: Final[str] = "more"
#: The radii a search that found nothing is widened to, smallest first.
WIDER_RADII_KM: Final[tuple[float, ...]] = (50.0, 100.0)
#: Filters a widening may drop, in the order they are tried.
_DROPPABLE: Final[tuple[str, ...]] = ("working_time", "remote")
_NARROWING: Final[frozenset[str]] = frozenset({"working_time", "remote", "radius_km"})


@dataclass(frozen=True)
class Change:
    """One search slot that differs from the search before: its old and new value."""

    slot: str
    old: Any
    new: Any


@dataclass(frozen=True)
class PreviousSearch:
    """The criteria (search slots) of the last search that answered, and its number of postings."""

    criteria: Mapping[str, Any]
    total: int


def previous_search(tracker: Tracker) -> PreviousSearch | None:
    """The last search of this search (not before a reset), or None if there was none."""
    slots: dict[str, Any] = {}
    found: PreviousSearch | None = None
    after_search = False
    for event in tracker.events:
        kind = event.get("event")
        if kind == "action":
            name = event.get("name")
            after_search = name in SEARCH_ACTIONS
            if name == "action_reset_search":
                found = None
        elif kind == "slot":
            slots[event.get("name")] = event.get("value")
            if after_search and event.get("name") == TOTAL_SLOT:
                total = as_float(event.get("value"))
                if total is not None:
                    found = PreviousSearch({slot: slots.get(slot) for slot in search_slots()}, int(total))
        elif kind in ("restart", "session_started"):
            found, after_search = None, False
    return found


def _comparable(slot: str, value: Any) -> Any:
    if slot == "radius_km":
        return parse_radius_km(value)
    if slot == "working_time":
        return parse_working_time(value)
    if slot == "remote":
        return parse_remote(value)
    text = as_text(value) if isinstance(value, str) else value
    return text.casefold() if isinstance(text, str) else text


def changes_between(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    """The summary slots (job, place, radius, working time, remote, ...) that differ."""
    return [
        Change(slot, before.get(slot), now.get(slot))
        for slot in summary_slots()
        if _comparable(slot, before.get(slot)) != _comparable(slot, now.get(slot))
    ]


def only_narrowed(changes: Sequence[Change]) -> bool:
    """True when only filters were set or tightened: "2 of 4" then makes sense."""
    for change in changes:
        if change.slot not in _NARROWING:
            return False
        if change.slot == "radius_km":
            old, new = parse_radius_km(change.old), parse_radius_km(change.new)
            if new is None or new >= (old if old is not None else DEFAULT_RADIUS_KM):
                return False
        elif _comparable(change.slot, change.new) is None:
            return False
    return True


def _part(slot: str, new: Any, old: Any, language: str) -> str:
    """One changed slot in words: "nur Teilzeit", "in Köln statt Berlin", "Umkreis egal"."""
    labels = wording.current()
    name = labels.text(f"actions.search.slots.{slot}", language)
    value = shown_value(slot, new, language)
    old_shown = shown_value(slot, old, language) or ""
    if value is None:
        return labels.text("actions.refinement.removed", language, name=name, old=old_shown)
    key = slot if slot in labels.section("actions.refinement") else "other"
    return labels.text(f"actions.refinement.{key}", language, name=name, value=value, old=old_shown)


def describe_changes(changes: Sequence[Change], language: str) -> str:
    """"Nur Teilzeit", "Im Umkreis von 50 km, in Hamburg statt Berlin": what changed."""
    parts = [_part(change.slot, change.new, change.old, language) for change in changes]
    text = wording.current().text("actions.refinement.separator", language).join(parts)
    return text[:1].upper() + text[1:]


def widening(slots: Mapping[str, Any]) -> dict[str, Any] | None:
    """The slot changes that widen this search: a bigger radius, else one filter less."""
    radius = parse_radius_km(slots.get("radius_km"))
    current = radius if radius is not None else float(DEFAULT_RADIUS_KM)
    for wider in WIDER_RADII_KM:
        if wider > current:
            return {"radius_km": wider}
    for slot in _DROPPABLE:
        if _comparable(slot, slots.get(slot)) is not None:
            return {slot: None}
    return None


def undo(changes: Sequence[Change]) -> dict[str, Any] | None:
    """The slot changes that take back the filters a refinement set (None if it set none)."""
    reverted = {change.slot: change.old for change in changes if change.slot in _NARROWING}
    return reverted or None


def offer_text(offer: Mapping[str, Any], slots: Mapping[str, Any], language: str) -> str:
    """"im Umkreis von 50 km suchen", "ohne „nur Teilzeit“ suchen": the question's {offer}."""
    labels = wording.current()
    parts = []
    for slot, value in offer.items():
        if slot == "radius_km" and value is not None:
            parts.append(labels.text("actions.offer.radius", language, km=f"{float(value):g}"))
        elif value is None:
            current = _part(slot, slots.get(slot), None, language)
            parts.append(labels.text("actions.offer.without", language, value=current))
        else:
            name = labels.text(f"actions.search.slots.{slot}", language)
            shown = shown_value(slot, value, language) or str(value)
            criterion = labels.text("actions.search.criterion", language, name=name, value=shown)
            parts.append(labels.text("actions.offer.with", language, value=criterion))
    return labels.text("actions.offer.separator", language).join(parts)


def encode_offer(offer: Mapping[str, Any]) -> str:
    """The ``pending_offer`` slot's value for slot changes (JSON, keys sorted)."""
    return json.dumps(dict(offer), ensure_ascii=False, sort_keys=True)


def decode_offer(value: Any) -> dict[str, Any] | None:
    """Slot changes of a ``pending_offer`` value, limited to search slots; None if it is none."""
    if not isinstance(value, str) or value == MORE_OFFER:
        return None
    try:
        offer = json.loads(value)
    except ValueError:
        return None
    if not isinstance(offer, dict):
        return None
    allowed = set(search_slots())
    return {slot: offer[slot] for slot in offer if slot in allowed} or None
