"""Refinements that refine, a general yes/no in context, "more" only while there is more (issue 13).

The Rasa test conversations (tests/test_dialogue.yml) run no custom action, so what the
actions say is checked here: with a scripted provider and trackers whose events are what
Rasa would send (the search before, the assistant's last question, the user's answer).
"""
from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.job_search import ActionMoreResults, ActionSearchJobs, ActionShowJob, has_more_results
from actions.jobs import JobPosting, JobQuery, SearchResult
from actions.offers import ActionAcceptOffer, ActionDeclineOffer
from actions.search.refinement import changes_between, describe_changes, previous_search, widening
from actions.search.slots import search_slots

SENDER = "4915550000002"  # obviously fake


class ScriptedProvider:
    """Four cooks in Berlin (two part-time, one remote) and two more within 50 km; nothing else."""

    def __init__(self) -> None:
        self.queries: list[JobQuery] = []

    def search(self, query: JobQuery) -> SearchResult:
        self.queries.append(query)
        jobs = [("k1", "teilzeit", False, 5), ("k2", "teilzeit", True, 5), ("k3", "vollzeit", False, 5),
                ("k4", "vollzeit", False, 5), ("k5", "vollzeit", False, 40), ("k6", "teilzeit", False, 40)]
        radius = query.radius_km or 25
        hits = [
            JobPosting(id=job_id, title="Koch (m/w/d)", employer="Gasthaus", city="Berlin", working_time=working)
            for job_id, working, remote, km in jobs
            if query.what == "Koch" and query.where == "Berlin" and km <= radius
            and (query.working_time is None or query.working_time == working)
            and (query.remote is None or query.remote == remote)
        ]
        start = (query.page - 1) * query.size
        return SearchResult(postings=tuple(hits[start:start + query.size]), total=len(hits), page=query.page,
                            size=query.size)

    def details(self, job_id: str) -> JobPosting | None:
        return JobPosting(id=job_id, title="Koch (m/w/d)", employer="Gasthaus", city="Berlin")


def slot_events(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"event": "slot", "name": name, "value": value} for name, value in values.items()]


def searched(criteria: dict[str, Any], total: int, offer: str | None = None) -> list[dict[str, Any]]:
    """Events of an earlier turn: the criteria set, the search run, and what it left behind."""
    return [
        *slot_events(criteria),
        {"event": "action", "name": "action_search_jobs"},
        *slot_events({"search_page": 1.0 if total else None, "search_total": float(total), "pending_offer": offer}),
        {"event": "action", "name": "action_listen"},
    ]


def make_tracker(slots: dict[str, Any], events: list[dict[str, Any]], *, intent: str = "inform",
                 text: str = "", language: str = "de", entities: list[dict[str, Any]] | None = None) -> Tracker:
    """A tracker at the moment an action runs: earlier events, the user's message, new slot values."""
    all_slots: dict[str, Any] = {name: None for name in search_slots()}
    for event in events:
        if event["event"] == "slot":
            all_slots[event["name"]] = event["value"]
    all_slots.update(slots, language=language)
    user = {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}
    now = [user, *slot_events(slots)]
    return Tracker.from_dict({
        "sender_id": SENDER, "slots": all_slots, "events": events + now,
        "latest_message": {"text": text, "intent": {"name": intent}, "entities": entities or []},
    })


async def run(action: Action, state: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, state, {}), dispatcher


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message["response"] for message in dispatcher.messages]


BERLIN = {"job_title": "Koch", "location": "Berlin"}


# --- refinements -------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "said"), [("de", "Nur Teilzeit: 2 von 4 Stellen.\n"),
                                                ("en", "Part-time only: 2 of 4 jobs.\n")])
async def test_working_time_refinement_says_what_changed(language: str, said: str) -> None:
    state = make_tracker({"working_time": "teilzeit"}, searched(BERLIN, 4), language=language)
    events, dispatcher = await run(ActionSearchJobs(ScriptedProvider()), state)
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_last"]
    assert dispatcher.messages[0]["changed"] == said  # the first line of the result message
    assert SlotSet("search_total", 2.0) in events


async def test_a_first_search_has_no_change_line() -> None:
    _, dispatcher = await run(ActionSearchJobs(ScriptedProvider()), make_tracker(BERLIN, [], intent="search_job"))
    assert dispatcher.messages[0]["changed"] == ""


async def test_radius_and_city_changes_are_named() -> None:
    state = make_tracker({"radius_km": 50.0}, searched(BERLIN, 4), text="im Umkreis von 50 km")
    _, dispatcher = await run(ActionSearchJobs(ScriptedProvider()), state)
    # a wider radius is no narrowing: "6 (vorher 4)"
    assert dispatcher.messages[0]["changed"] == "Im Umkreis von 50 km: 6 Stellen (vorher 4).\n"

    moved = changes_between({"job_title": "Koch", "location": "Berlin"}, {"job_title": "Koch", "location": "Köln"})
    assert describe_changes(moved, "de") == "In Köln statt Berlin"
    assert describe_changes(moved, "en") == "In Köln instead of Berlin"


@pytest.mark.parametrize("slots", [{}, {"working_time": "Teilzeit"}])
async def test_a_refinement_that_changes_nothing_does_not_relist(slots: dict[str, Any]) -> None:
    before = {**BERLIN, "working_time": "teilzeit"}
    provider = ScriptedProvider()
    events, dispatcher = await run(ActionSearchJobs(provider), make_tracker(slots, searched(before, 2)))
    assert responses(dispatcher) == ["utter_refinement_unchanged"]
    assert provider.queries == [] and events == []  # page and offer of the list shown stay


async def test_a_new_search_request_with_the_same_criteria_lists_again() -> None:
    _, dispatcher = await run(ActionSearchJobs(ScriptedProvider()),
                              make_tracker({}, searched(BERLIN, 4), intent="search_job"))
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_last"]


async def test_a_refinement_that_finds_nothing_offers_to_take_it_back() -> None:
    before = {**BERLIN, "working_time": "teilzeit"}
    events, dispatcher = await run(ActionSearchJobs(ScriptedProvider()), make_tracker(
        {"working_time": "vollzeit", "remote": True}, searched(before, 2)))
    assert responses(dispatcher) == ["utter_refinement_no_results_offer"]
    assert dispatcher.messages[0]["offer"] == "wieder mit „Arbeitszeit: Teilzeit“ suchen und ohne „Homeoffice: ja“ suchen"
    assert dispatcher.messages[0]["changes"] == "Nur Vollzeit, Homeoffice: ja"

    _, dispatcher = await run(ActionSearchJobs(ScriptedProvider()), make_tracker(
        {"working_time": "minijob"}, searched(BERLIN, 4), language="en"))
    assert responses(dispatcher) == ["utter_refinement_no_results_offer"]
    assert dispatcher.messages[0]["offer"] == "search without “mini-job only”"
    assert SlotSet("search_total", 0.0) in events


# --- yes and no in context ---------------------------------------------------------------------

async def test_yes_to_the_wider_search_widens_and_says_so() -> None:
    earlier = searched(BERLIN | {"working_time": "vollzeit", "radius_km": 1.0}, 0, '{"radius_km": 50.0}')
    events, dispatcher = await run(ActionAcceptOffer(ScriptedProvider()), make_tracker({}, earlier, intent="affirm"))
    assert events[0] == SlotSet("radius_km", 50.0)
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_last"]
    assert dispatcher.messages[0]["changed"] == "Im Umkreis von 50 km: 3 Stellen (vorher 0).\n"


async def test_yes_to_more_results_shows_the_next_page() -> None:
    provider = ScriptedProvider()
    earlier = searched(BERLIN | {"radius_km": 50.0}, 6, "more")
    events, dispatcher = await run(ActionAcceptOffer(provider), make_tracker({}, earlier, intent="affirm"))
    assert [query.page for query in provider.queries] == [2]
    assert SlotSet("search_page", 2.0) in events and SlotSet("pending_offer", None) in events


async def test_a_stray_yes_applies_no_old_offer() -> None:
    earlier = searched(BERLIN, 0, '{"radius_km": 50.0}') + [
        {"event": "action", "name": "utter_help"}, {"event": "action", "name": "action_listen"}]
    provider = ScriptedProvider()
    events, dispatcher = await run(ActionAcceptOffer(provider), make_tracker({}, earlier, intent="affirm"))
    assert responses(dispatcher) == ["utter_nothing_to_confirm"] and provider.queries == []
    assert events == [SlotSet("pending_offer", None)]


async def test_no_to_an_offer_ends_politely_and_forgets_it() -> None:
    earlier = searched(BERLIN, 0, '{"radius_km": 50.0}')
    events, dispatcher = await run(ActionDeclineOffer(), make_tracker({}, earlier, intent="deny"))
    assert responses(dispatcher) == ["utter_offer_declined"] and events == [SlotSet("pending_offer", None)]
    _, dispatcher = await run(ActionDeclineOffer(), make_tracker({}, [], intent="deny"))
    assert responses(dispatcher) == ["utter_nothing_to_decline"]


# --- "more" only while there is more ---------------------------------------------------------------

@pytest.mark.parametrize(("page", "total", "more"), [(1.0, 6.0, True), (1.0, 5.0, False), (2.0, 6.0, False),
                                                      (None, 6.0, False), (1.0, None, False)])
async def test_job_details_offer_more_only_when_more_remain(page: float | None, total: float | None,
                                                            more: bool) -> None:
    state = make_tracker({"search_page": page, "search_total": total}, [], intent="select_job",
                         entities=[{"entity": "job_id", "value": "k1"}])
    assert has_more_results(state) is more
    _, dispatcher = await run(ActionShowJob(ScriptedProvider()), state)
    assert responses(dispatcher) == ["utter_job_details" if more else "utter_job_details_last"]


async def test_more_results_after_everything_was_shown_asks_no_provider() -> None:
    provider = ScriptedProvider()
    _, dispatcher = await run(ActionMoreResults(provider),
                              make_tracker({"search_page": 1.0, "search_total": 4.0}, [], intent="more_results"))
    assert responses(dispatcher) == ["utter_no_more_results"] and provider.queries == []


# --- the parts ---------------------------------------------------------------------------------------

def test_previous_search_is_forgotten_by_a_reset_and_needs_a_result() -> None:
    assert previous_search(make_tracker({}, searched(BERLIN, 4))).total == 4
    reset = searched(BERLIN, 4) + [{"event": "action", "name": "action_reset_search"}]
    assert previous_search(make_tracker({}, reset)) is None
    failed = [*slot_events(BERLIN), {"event": "action", "name": "action_search_jobs"}]
    assert previous_search(make_tracker({}, failed)) is None


def test_widening_tries_a_bigger_radius_then_fewer_filters() -> None:
    assert widening({}) == {"radius_km": 50.0}
    assert widening({"radius_km": 50.0}) == {"radius_km": 100.0}
    assert widening({"radius_km": 100.0, "working_time": "teilzeit"}) == {"working_time": None}
    assert widening({"radius_km": 200.0}) is None


def test_the_action_server_registers_the_offer_actions() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert {"action_accept_offer", "action_decline_offer"} <= set(executor.actions)
