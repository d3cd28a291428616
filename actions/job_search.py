"""The job-search actions of the assistant (rasa-sdk 3.6 custom actions).

Names, slots and responses are fixed in domain.yml; the wording of the responses lives
only there, so these actions send response names with variables, never text; the words
they put into those variables come from labels.yml (actions/search/result_text.py).
Rasa-sdk reference: https://rasa.com/docs/rasa/3.x/action-server/sdk-actions. The form's
validation is actions/search_form.py.

Which slots make up a search is YAML too (actions/search/slots.py): action_reset_search
clears them, the search sends them to the provider and ``{criteria}`` summarises them. No
failure of a provider ever escapes an action: the user gets ``utter_jobs_unavailable``
instead (actions/search/provider_access.py).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import wording

from actions.jobs import JobProviderError, SearchResult, UnknownLocation
from actions.search.provider_access import UsesProvider, filled_fields, log_failure
from actions.search.query import build_query
from actions.search.result_text import (
    format_start_date,
    language_of,
    result_line,
    search_criteria,
    working_time_word,
)
from actions.search.query import PAGE_SIZE
from actions.search.refinement import (
    MORE_OFFER,
    OFFER_SLOT,
    TOTAL_SLOT,
    changes_between,
    describe_changes,
    encode_offer,
    offer_text,
    only_narrowed,
    previous_search,
    undo,
    widening,
)
from actions.search.slot_values import as_float, as_text
from actions.search.slots import search_slots

__all__ = [
    "ActionSearchJobs",
    "ActionMoreResults",
    "ActionShowJob",
    "ActionResetSearch",
    "select_job_payload",
    "has_more_results",
    "REFINING_INTENTS",
]

#: A message with one of these intents after results refines the search (compared with the
#: search before); one of the first two that changes nothing is answered as such.
REFINING_INTENTS = ("inform", "share_location", "search_job")
_UNCHANGED_INTENTS = ("inform", "share_location")

logger = logging.getLogger(__name__)


def select_job_payload(job_id: str) -> str:
    """The button payload of a result: ``/select_job{"job_id":"<id>"}`` (intent select_job, domain.yml)."""
    return "/select_job" + json.dumps({"job_id": job_id}, ensure_ascii=False, separators=(",", ":"))


def _search_variables(tracker: Tracker, language: str) -> dict[str, Any]:
    """The variables every search answer gets: what and where, and the summary of all criteria."""
    return {
        "job_title": as_text(tracker.get_slot("job_title")) or "",
        "location": as_text(tracker.get_slot("location")) or "",
        "criteria": search_criteria(tracker, language),
    }


def has_more_results(tracker: Tracker) -> bool:
    """True when the shown pages (``search_page``) do not yet cover ``search_total`` postings."""
    page, total = as_float(tracker.get_slot("search_page")), as_float(tracker.get_slot(TOTAL_SLOT))
    return page is not None and total is not None and page >= 1 and page * PAGE_SIZE < total


def _utter_results(
    dispatcher: CollectingDispatcher, tracker: Tracker, result: SearchResult, changed: str = ""
) -> list[EventType]:
    """The result list and what comes next; offers "more" (a yes/no question) only when there is more.

    ``changed``: the line saying what a refinement changed, first in the same message.
    """
    language = language_of(tracker)
    first = (result.page - 1) * result.size + 1
    last = first + len(result.postings) - 1
    lines = [result_line(first + i, posting, language) for i, posting in enumerate(result.postings)]
    dispatcher.utter_message(
        response="utter_job_results",
        # The numbered line as the title: unique even for equal job titles, and on WhatsApp the
        # row shows its start while the description carries employer and place.
        buttons=[
            {"title": line, "payload": select_job_payload(posting.id)}
            for line, posting in zip(lines, result.postings)
        ],
        total=result.total,
        first=first,
        last=last,
        results="\n".join(lines),
        changed=changed,
        **_search_variables(tracker, language),
    )
    dispatcher.utter_message(response="utter_results_nav_more" if result.has_more else "utter_results_nav_last")
    return [
        SlotSet("search_page", float(result.page)),
        SlotSet(TOTAL_SLOT, float(result.total)),
        SlotSet(OFFER_SLOT, MORE_OFFER if result.has_more else None),
    ]


class _SearchBase(UsesProvider):
    """Shared search steps of action_search_jobs, action_more_results and action_accept_offer."""

    async def _search(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, page: int, action: str
    ) -> SearchResult | UnknownLocation | None:
        """The result page, the UnknownLocation raised, or None after uttering unavailability."""
        try:
            query = build_query(tracker, page, self.cities())
            # Field names and the page only: the values are what the user asked for (issue 16, finding 2).
            logger.debug("%s: query page %d with %s", action, page, filled_fields(query))
            return await self._call(lambda provider: provider.search(query))
        except UnknownLocation as exc:
            return exc
        except JobProviderError as exc:
            log_failure(action, exc)
        except Exception as exc:  # noqa: BLE001 - an action must answer, whatever the provider did
            log_failure(action, exc)
        dispatcher.utter_message(response="utter_jobs_unavailable")
        return None

    async def _search_and_report(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, *, compare: bool, unchanged_is_news: bool,
        slot_events: list[EventType],
    ) -> list[EventType]:
        """Search page 1; after an earlier search say what changed, or that nothing did.

        ``compare``: compare with the search before (refinements); ``unchanged_is_news``: a
        message that changes nothing is answered with utter_refinement_unchanged instead of the
        same list again.
        """
        language = language_of(tracker)
        before = previous_search(tracker) if compare else None
        current = {slot: tracker.get_slot(slot) for slot in search_slots()}
        changes = changes_between(before.criteria, current) if before is not None else []
        if before is not None and not changes and unchanged_is_news:
            dispatcher.utter_message(response="utter_refinement_unchanged", **_search_variables(tracker, language))
            return slot_events
        result = await self._search(dispatcher, tracker, 1, self.name())
        if result is None:
            return slot_events + [SlotSet(OFFER_SLOT, None)]
        if isinstance(result, UnknownLocation) or not result.postings:
            return slot_events + self._nothing_found(dispatcher, tracker, result, changes, current, language)
        logger.info("%s: %d postings shown of %d", self.name(), len(result.postings), result.total)
        changed = ""
        if changes and before is not None:
            changed = wording.current().text(
                "actions.refinement.narrowed" if only_narrowed(changes) else "actions.refinement.changed",
                language, changes=describe_changes(changes, language), total=result.total, before=before.total,
            )
        return slot_events + _utter_results(dispatcher, tracker, result, changed)

    def _nothing_found(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, result: SearchResult | UnknownLocation,
        changes: list, current: dict[str, Any], language: str,
    ) -> list[EventType]:
        """Say so, and offer a wider search (yes/no) when there is one: undo the refinement's
        filters, else a bigger radius or one filter less. An unknown place has no such offer."""
        offer = None
        if not isinstance(result, UnknownLocation):
            offer = (undo(changes) if changes else None) or widening(current)
        variables = _search_variables(tracker, language)
        if changes:
            response = "utter_refinement_no_results_offer" if offer else "utter_refinement_no_results"
            variables["changes"] = describe_changes(changes, language)
        else:
            response = "utter_no_results_offer" if offer else "utter_no_results"
        if offer:
            variables["offer"] = offer_text(offer, current, language)
        dispatcher.utter_message(response=response, **variables)
        # Forget the paging of an earlier search, so "more" does not page this one.
        return [
            SlotSet("search_page", None),
            SlotSet(TOTAL_SLOT, 0.0),
            SlotSet(OFFER_SLOT, encode_offer(offer) if offer else None),
        ]

    async def _more(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """The page after ``search_page``, or utter_no_more_results when all were shown."""
        current = as_float(tracker.get_slot("search_page"))
        total = as_float(tracker.get_slot(TOTAL_SLOT))
        if current is None or current < 1 or (total is not None and not has_more_results(tracker)):
            dispatcher.utter_message(response="utter_no_more_results")
            return [SlotSet(OFFER_SLOT, None)]
        page = int(current) + 1
        result = await self._search(dispatcher, tracker, page, self.name())
        if result is None:
            return []
        if isinstance(result, UnknownLocation) or not result.postings:
            dispatcher.utter_message(response="utter_no_more_results")
            return [SlotSet(OFFER_SLOT, None)]
        return _utter_results(dispatcher, tracker, result)


class ActionSearchJobs(_SearchBase, Action):
    """First page of results for the slots of the job search form; after results, a refinement."""

    def name(self) -> str:
        return "action_search_jobs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        return await self._search_and_report(
            dispatcher, tracker, compare=intent in REFINING_INTENTS,
            unchanged_is_news=intent in _UNCHANGED_INTENTS, slot_events=[],
        )


class ActionMoreResults(_SearchBase, Action):
    """The page after ``search_page`` for the same slots."""

    def name(self) -> str:
        return "action_more_results"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await self._more(dispatcher, tracker)


class ActionShowJob(UsesProvider, Action):
    """Details of the job whose button the user pressed (entity ``job_id``)."""

    def name(self) -> str:
        return "action_show_job"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        raw = next(tracker.get_latest_entity_values("job_id"), None)
        job_id = str(raw).strip() if raw is not None else ""
        if not job_id:
            dispatcher.utter_message(response="utter_job_not_found")
            return []
        try:
            posting = await self._call(lambda provider: provider.details(job_id))
        except JobProviderError as exc:
            log_failure(self.name(), exc)
            dispatcher.utter_message(response="utter_jobs_unavailable")
            return []
        except Exception as exc:  # noqa: BLE001 - an action must answer, whatever the provider did
            log_failure(self.name(), exc)
            dispatcher.utter_message(response="utter_jobs_unavailable")
            return []
        if posting is None:
            dispatcher.utter_message(response="utter_job_not_found")
            return []
        language = language_of(tracker)
        dispatcher.utter_message(
            # "More results" only while there are more (utter_job_details_last has no such button)
            response="utter_job_details" if has_more_results(tracker) else "utter_job_details_last",
            title=posting.title,
            employer=posting.employer,
            place=" ".join(part for part in (posting.postal_code, posting.city) if part),
            start_date=format_start_date(posting.start_date, language),
            working_time=working_time_word(posting.working_time, language),
            url=posting.url,
        )
        return []


class ActionResetSearch(Action):
    """Forget the current search (every slot labels.yml lists for it) so the form asks again."""

    def name(self) -> str:
        return "action_reset_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [SlotSet(slot, None) for slot in search_slots()] + [SlotSet(TOTAL_SLOT, None), SlotSet(OFFER_SLOT, None)]
