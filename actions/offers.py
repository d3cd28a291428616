"""``action_accept_offer`` and ``action_decline_offer``: a general "ja"/"nein" in context.

Why in Python: a yes means something only together with the question it answers. The search
actions remember the offer of their last question in the ``pending_offer`` slot ("more", or
the slot changes of a wider search such as ``{"radius_km": 50}``); a yes applies it only while
that question is still the assistant's last message, so a stray "ja" later does nothing. The
erasure question is no offer: rules send affirm/deny after utter_confirm_delete to
action_erase_data / utter_delete_cancelled (data/rules.yml), never here.
"""
from __future__ import annotations

from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.job_search import _SearchBase
from actions.dialogue_events import last_action_before_user
from actions.search.refinement import MORE_OFFER, OFFER_SLOT, decode_offer

__all__ = ["ActionAcceptOffer", "ActionDeclineOffer", "OFFERING_ACTIONS", "open_offer"]

#: The actions whose last question may be an offer (they set ``pending_offer``).
OFFERING_ACTIONS: Final[frozenset[str]] = frozenset(
    {"action_search_jobs", "action_more_results", "action_accept_offer"}
)


def open_offer(tracker: Tracker) -> str | None:
    """The offer the user's message answers: ``pending_offer`` if its question came last."""
    offer = tracker.get_slot(OFFER_SLOT)
    if not isinstance(offer, str) or not offer:
        return None
    return offer if last_action_before_user(tracker) in OFFERING_ACTIONS else None


class ActionAcceptOffer(_SearchBase, Action):
    """"ja" to the last offer: show more results, or search wider and say what changed."""

    def name(self) -> str:
        return "action_accept_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offer = open_offer(tracker)
        if offer == MORE_OFFER:
            return await self._more(dispatcher, tracker)
        changes = decode_offer(offer)
        if not changes:
            dispatcher.utter_message(response="utter_nothing_to_confirm")
            return [SlotSet(OFFER_SLOT, None)]
        tracker.slots.update(changes)
        return await self._search_and_report(
            dispatcher, tracker, compare=True, unchanged_is_news=False,
            slot_events=[SlotSet(slot, value) for slot, value in changes.items()],
        )


class ActionDeclineOffer(Action):
    """"nein" to the last offer (or to nothing): end politely and forget the offer."""

    def name(self) -> str:
        return "action_decline_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_offer_declined" if open_offer(tracker) else "utter_nothing_to_decline")
        return [SlotSet(OFFER_SLOT, None)]
