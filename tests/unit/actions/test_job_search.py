"""The job-search actions with a CollectingDispatcher and Tracker.from_dict (no Rasa server)."""
from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions.job_search as job_search
from actions.job_search import (
    ActionMoreResults,
    ActionResetSearch,
    ActionSearchJobs,
    ActionShowJob,
    select_job_payload,
)
from actions.search.provider_access import reset_shared_provider, shared_provider
from actions.search.query import PAGE_SIZE
from actions.search.result_text import format_start_date
from actions.search.slot_values import parse_radius_km, parse_remote, parse_working_time
from actions.search.slots import search_slots
from actions.search_form import ValidateJobSearchForm
from actions.jobs import (
    JobPosting,
    JobQuery,
    ProviderRejected,
    ProviderUnavailable,
    SearchResult,
)
from actions.jobs.local import LocalJobProvider

SENDER = "4915550000001"  # obviously fake
FORM_DOMAIN: dict[str, Any] = {"forms": {"job_search_form": {"required_slots": ["job_title", "location"]}}}
FUTURE = date.today() + timedelta(days=400)
PAST = date(2020, 1, 1)


# --- helpers ---------------------------------------------------------------------------------

def tracker(slots: dict[str, Any] | None = None, *, entities: list[dict[str, Any]] | None = None,
            slot_events: dict[str, Any] | None = None, text: str = "", intent: str = "x") -> Tracker:
    """A tracker whose last events are SlotSet candidates (as Rasa's form sends them)."""
    all_slots = {name: None for name in (*search_slots(), "language", "requested_slot")}
    all_slots.update(slots or {})
    all_slots.update(slot_events or {})
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"entities": entities or []}},
    ]
    events += [{"event": "slot", "name": k, "value": v, "timestamp": None} for k, v in (slot_events or {}).items()]
    return Tracker.from_dict({
        "sender_id": SENDER,
        "slots": all_slots,
        "latest_message": {"text": text, "intent": {"name": intent}, "entities": entities or []},
        "events": events,
        "active_loop": {"name": "job_search_form"},
    })


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message["response"] for message in dispatcher.messages]


async def run(action: Action, state: Tracker, domain: dict[str, Any] | None = None) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, state, domain or {})
    return events, dispatcher


class RaisingProvider:
    """A provider that is down (or broken in some other way)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, query: JobQuery) -> SearchResult:
        raise self.error

    def details(self, job_id: str) -> JobPosting | None:
        raise self.error


class RecordingProvider:
    """Answers one fixed posting and remembers the queries (and the thread) it got."""

    def __init__(self) -> None:
        self.queries: list[JobQuery] = []
        self.threads: list[str] = []

    def search(self, query: JobQuery) -> SearchResult:
        self.queries.append(query)
        self.threads.append(threading.current_thread().name)
        posting = JobPosting(id="r1", title="Koch (m/w/d)", employer="Beispiel", city="Köln")
        return SearchResult(postings=(posting,), total=1, page=query.page, size=query.size)

    def details(self, job_id: str) -> JobPosting | None:
        return None


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs") / "jobs.jsonl"
    records = [
        {"id": f"k{n}", "title": f"Koch {n} (m/w/d)", "employer": f"Gasthaus {n}", "city": "Berlin",
         "postal_code": "10115", "latitude": 52.52, "longitude": 13.40, "working_time": "vollzeit",
         "remote": False, "start_date": None, "url": f"https://jobs.example.org/k{n}", "description": ""}
        for n in range(1, 8)
    ]
    records.append({"id": "p1", "title": "Pflegefachkraft (m/w/d)", "employer": "Klinikum Beispiel",
                    "city": "Potsdam", "postal_code": "14467", "working_time": "teilzeit", "remote": True,
                    "start_date": FUTURE.isoformat(), "url": "https://jobs.example.org/p1",
                    "description": "Pflege"})
    records.append({"id": "m1", "title": "Reinigungskraft (m/w/d)", "employer": "", "city": "Hamburg",
                    "postal_code": None, "working_time": None, "remote": False,
                    "start_date": PAST.isoformat(), "url": "https://jobs.example.org/m1"})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def provider(data_file: Path) -> LocalJobProvider:
    return LocalJobProvider(data_file)


# --- action_search_jobs -------------------------------------------------------------------------

async def test_search_shows_the_first_page_with_buttons(provider) -> None:
    events, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Koch", "location": "Berlin"}))

    # more remain: "ja" to utter_results_nav_more shows them (pending_offer "more")
    assert events == [SlotSet("search_page", 1.0), SlotSet("search_total", 7.0), SlotSet("pending_offer", "more")]
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_more"]
    results = dispatcher.messages[0]
    assert results["total"] == 7
    assert (results["job_title"], results["location"]) == ("Koch", "Berlin")
    assert (results["first"], results["last"]) == (1, PAGE_SIZE)
    assert results["results"].splitlines()[0] == "1. Koch 1 (m/w/d) – Gasthaus 1, Berlin"
    assert len(results["results"].splitlines()) == 5
    assert results["buttons"][0] == {"title": "1. Koch 1 (m/w/d) – Gasthaus 1, Berlin", "payload": '/select_job{"job_id":"k1"}'}
    assert len(results["buttons"]) == 5


async def test_search_with_a_single_page_offers_only_a_new_search(provider) -> None:
    events, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Pflege", "location": "Potsdam"}))
    assert events == [SlotSet("search_page", 1.0), SlotSet("search_total", 1.0), SlotSet("pending_offer", None)]
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_last"]
    assert dispatcher.messages[0]["results"] == "1. Pflegefachkraft (m/w/d) – Klinikum Beispiel, Potsdam"
    assert (dispatcher.messages[0]["first"], dispatcher.messages[0]["last"], dispatcher.messages[0]["total"]) == (1, 1, 1)


async def test_search_line_without_employer(provider) -> None:
    _, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Reinigung"}))
    assert dispatcher.messages[0]["results"] == "1. Reinigungskraft (m/w/d) – Hamburg"
    assert dispatcher.messages[0]["location"] == ""


async def test_no_results(provider) -> None:
    events, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Astronaut", "location": "Berlin"}))
    # nothing found: the wider search is offered as a yes/no question (default radius 25 km -> 50 km)
    assert responses(dispatcher) == ["utter_no_results_offer"]
    assert dispatcher.messages[0]["job_title"] == "Astronaut" and dispatcher.messages[0]["location"] == "Berlin"
    assert dispatcher.messages[0]["offer"] == "im Umkreis von 50 km suchen"
    assert events == [SlotSet("search_page", None), SlotSet("search_total", 0.0),
                      SlotSet("pending_offer", '{"radius_km": 50.0}')]


async def test_unknown_location_is_no_results(provider) -> None:
    events, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Koch", "location": "Atlantis"}))
    # a wider radius around an unknown place helps nothing: no offer
    assert responses(dispatcher) == ["utter_no_results"]
    assert dispatcher.messages[0]["location"] == "Atlantis"
    assert events == [SlotSet("search_page", None), SlotSet("search_total", 0.0), SlotSet("pending_offer", None)]


@pytest.mark.parametrize("error", [
    ProviderUnavailable("down", status=503), ProviderRejected("key", status=403), RuntimeError("bug"),
])
async def test_provider_failures_never_crash(error: Exception) -> None:
    state = tracker({"job_title": "Koch", "location": "Berlin", "search_page": 1.0},
                    entities=[{"entity": "job_id", "value": "k1"}])
    for action in (ActionSearchJobs(RaisingProvider(error)), ActionMoreResults(RaisingProvider(error)),
                   ActionShowJob(RaisingProvider(error))):
        events, dispatcher = await run(action, state)
        # a failed search forgets the offer of the search before ("ja" must not apply it)
        assert events == ([SlotSet("pending_offer", None)] if isinstance(action, ActionSearchJobs) else [])
        assert responses(dispatcher) == ["utter_jobs_unavailable"]


async def test_misconfigured_shared_provider_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_PROVIDER", "monster")
    reset_shared_provider()
    try:
        events, dispatcher = await run(ActionSearchJobs(), tracker({"job_title": "Koch"}))
    finally:
        reset_shared_provider()
    assert events == [SlotSet("pending_offer", None)] and responses(dispatcher) == ["utter_jobs_unavailable"]


async def test_shared_provider_is_created_once(monkeypatch: pytest.MonkeyPatch, data_file: Path) -> None:
    monkeypatch.setenv("JOBS_PROVIDER", "local")
    monkeypatch.setenv("JOBS_DATA_FILE", str(data_file))
    reset_shared_provider()
    try:
        first = shared_provider()
        assert shared_provider() is first
        events, _ = await run(ActionSearchJobs(), tracker({"job_title": "Koch", "location": "Berlin"}))
        assert events[0] == SlotSet("search_page", 1.0)
    finally:
        reset_shared_provider()


async def test_query_is_built_from_normalised_slots() -> None:
    recorder = RecordingProvider()
    await run(ActionSearchJobs(recorder), tracker({
        "job_title": "  Koch  ", "location": "koeln", "radius_km": "50 km", "working_time": "Teilzeit",
        "remote": "ja", "latitude": None, "longitude": None,
    }))
    (query,) = recorder.queries
    assert query == JobQuery(what="Koch", where="koeln", radius_km=50, working_time="teilzeit", remote=True,
                             page=1, size=PAGE_SIZE)
    assert recorder.threads != [threading.current_thread().name]  # blocking call ran in a worker thread


@pytest.mark.parametrize(("location", "uses_coordinates"), [(None, True), ("Potsdam", True), ("Hamburg", False)])
async def test_shared_location_is_used_only_when_it_fits_the_place(location, uses_coordinates) -> None:
    recorder = RecordingProvider()
    await run(ActionSearchJobs(recorder), tracker({"job_title": "Koch", "location": location,
                                                   "latitude": 52.39, "longitude": 13.07}))
    (query,) = recorder.queries
    assert query.has_coordinates is uses_coordinates
    assert query.where == location


async def test_shared_location_alone_finds_nearby_jobs(provider) -> None:
    events, dispatcher = await run(ActionSearchJobs(provider), tracker({"job_title": "Pflege", "latitude": 52.39,
                                                                        "longitude": 13.07, "radius_km": 5.0}))
    assert events[0] == SlotSet("search_page", 1.0)
    assert dispatcher.messages[0]["results"].endswith("Potsdam")


# --- action_more_results -----------------------------------------------------------------------

async def test_more_results_shows_the_next_page(provider) -> None:
    events, dispatcher = await run(ActionMoreResults(provider),
                                   tracker({"job_title": "Koch", "location": "Berlin", "search_page": 1.0}))
    assert events == [SlotSet("search_page", 2.0), SlotSet("search_total", 7.0), SlotSet("pending_offer", None)]
    assert responses(dispatcher) == ["utter_job_results", "utter_results_nav_last"]
    message = dispatcher.messages[0]
    assert (message["first"], message["last"], message["total"]) == (6, 7, 7)
    assert message["results"].splitlines() == ["6. Koch 6 (m/w/d) – Gasthaus 6, Berlin",
                                               "7. Koch 7 (m/w/d) – Gasthaus 7, Berlin"]
    assert [b["payload"] for b in message["buttons"]] == [select_job_payload("k6"), select_job_payload("k7")]


async def test_more_results_after_the_last_page(provider) -> None:
    events, dispatcher = await run(ActionMoreResults(provider),
                                   tracker({"job_title": "Koch", "location": "Berlin", "search_page": 2.0}))
    assert events == [SlotSet("pending_offer", None)] and responses(dispatcher) == ["utter_no_more_results"]


async def test_more_results_when_all_were_shown_asks_no_provider() -> None:
    recorder = RecordingProvider()
    events, dispatcher = await run(ActionMoreResults(recorder), tracker(
        {"job_title": "Koch", "location": "Berlin", "search_page": 2.0, "search_total": 7.0}))
    assert recorder.queries == []
    assert events == [SlotSet("pending_offer", None)] and responses(dispatcher) == ["utter_no_more_results"]


async def test_more_results_without_a_search(provider) -> None:
    events, dispatcher = await run(ActionMoreResults(provider), tracker({"job_title": "Koch"}))
    assert events == [SlotSet("pending_offer", None)] and responses(dispatcher) == ["utter_no_more_results"]


# --- action_show_job -------------------------------------------------------------------------------

async def test_show_job_in_german(provider) -> None:
    state = tracker({"language": "de"}, entities=[{"entity": "job_id", "value": "p1"}])
    events, dispatcher = await run(ActionShowJob(provider), state)
    assert events == []
    # no search before: nothing more to show, so the variant without "More results"
    assert dispatcher.messages[0]["response"] == "utter_job_details_last"
    details = {k: dispatcher.messages[0][k] for k in ("title", "employer", "place", "start_date", "working_time", "url")}
    assert details == {"title": "Pflegefachkraft (m/w/d)", "employer": "Klinikum Beispiel", "place": "14467 Potsdam",
                       "start_date": FUTURE.strftime("%d.%m.%Y"), "working_time": "Teilzeit",
                       "url": "https://jobs.example.org/p1"}


async def test_show_job_in_english_with_immediate_start(provider) -> None:
    state = tracker({"language": "en"}, entities=[{"entity": "job_id", "value": "k1"}])
    _, dispatcher = await run(ActionShowJob(provider), state)
    message = dispatcher.messages[0]
    assert (message["start_date"], message["working_time"], message["place"]) == ("immediately", "full-time",
                                                                                  "10115 Berlin")


async def test_show_job_with_past_start_and_unknown_working_time(provider) -> None:
    _, dispatcher = await run(ActionShowJob(provider), tracker(entities=[{"entity": "job_id", "value": "m1"}]))
    message = dispatcher.messages[0]
    assert (message["start_date"], message["working_time"], message["place"]) == ("ab sofort", "keine Angabe",
                                                                                  "Hamburg")


@pytest.mark.parametrize("entities", [[{"entity": "job_id", "value": "nope"}], [], [{"entity": "job_id", "value": " "}]])
async def test_show_unknown_job(provider, entities) -> None:
    events, dispatcher = await run(ActionShowJob(provider), tracker(entities=entities))
    assert events == [] and responses(dispatcher) == ["utter_job_not_found"]


def test_format_start_date() -> None:
    today = date(2025, 6, 1)
    assert format_start_date(date(2025, 7, 1), "de", today) == "01.07.2025"
    assert format_start_date(date(2025, 7, 1), "en", today) == "01.07.2025"
    assert format_start_date(today, "de", today) == "ab sofort"
    assert format_start_date(None, "en", today) == "immediately"
    assert format_start_date(None, "fr", today) == "ab sofort"


# --- action_reset_search ----------------------------------------------------------------------------

async def test_reset_clears_every_search_slot() -> None:
    events, dispatcher = await run(ActionResetSearch(), tracker({"job_title": "Koch", "search_page": 3.0}))
    assert events == [SlotSet(name, None) for name in (
        "job_title", "location", "radius_km", "working_time", "remote", "search_page", "latitude", "longitude",
        "search_total", "pending_offer")]
    assert dispatcher.messages == []


# --- validate_job_search_form -------------------------------------------------------------------------

def _slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize(("typed", "stored"), [("  Koch  ", "Koch"), ("Pflege\n fachkraft", "Pflege fachkraft"),
                                                ("   ", None), (42, None), ("x" * 300, "x" * 100)])
async def test_validate_job_title(typed, stored) -> None:
    events, _ = await run(ValidateJobSearchForm(), tracker(slot_events={"job_title": typed}), FORM_DOMAIN)
    assert _slot_events(events) == {"job_title": stored}


@pytest.mark.parametrize(("typed", "stored"), [
    ("koeln", "Köln"), ("Munich", "München"), ("frankfurt a.M.", "Frankfurt am Main"),
    ("Kleinhausen an der Au", "Kleinhausen an der Au"), ("  ", None),
])
async def test_validate_location(typed, stored) -> None:
    events, _ = await run(ValidateJobSearchForm(), tracker({"job_title": "Koch"}, slot_events={"location": typed}),
                          FORM_DOMAIN)
    assert _slot_events(events) == {"location": stored}


async def test_shared_location_fills_an_empty_location() -> None:
    state = tracker({"job_title": "Koch"}, slot_events={"latitude": 52.39, "longitude": 13.07})
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert _slot_events(events)["location"] == "Potsdam"
    assert state.slots["location"] == "Potsdam"


async def test_shared_location_far_from_every_city_fills_nothing() -> None:
    events, _ = await run(ValidateJobSearchForm(), tracker(slot_events={"latitude": 40.4, "longitude": -3.7}),
                          FORM_DOMAIN)
    assert "location" not in _slot_events(events)


async def test_shared_location_does_not_overwrite_a_typed_location() -> None:
    state = tracker({"location": "Köln"}, slot_events={"latitude": 52.39, "longitude": 13.07})
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert "location" not in _slot_events(events)


async def test_a_location_shared_now_replaces_an_earlier_place() -> None:
    state = tracker({"location": "Köln"}, slot_events={"latitude": 52.39, "longitude": 13.07}, intent="share_location")
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert _slot_events(events)["location"] == "Potsdam"
    assert "latitude" not in _slot_events(events), "coordinates that match the new place are kept"


async def test_typed_city_replaces_an_older_shared_location() -> None:
    state = tracker({"latitude": 52.39, "longitude": 13.07}, slot_events={"location": "Hamburg"})
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert _slot_events(events) == {"location": "Hamburg", "latitude": None, "longitude": None}


async def test_typed_city_matching_the_shared_location_keeps_it() -> None:
    state = tracker({"latitude": 52.39, "longitude": 13.07}, slot_events={"location": "potsdam"})
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert _slot_events(events) == {"location": "Potsdam"}


async def test_optional_slots_are_normalised_during_the_form() -> None:
    state = tracker({"job_title": "Koch", "location": "Köln"},
                    slot_events={"radius_km": "50 km", "working_time": "part-time", "remote": "Homeoffice"})
    events, _ = await run(ValidateJobSearchForm(), state, FORM_DOMAIN)
    assert _slot_events(events) == {"radius_km": 50.0, "working_time": "teilzeit", "remote": True}


async def test_without_form_in_the_domain_the_next_slot_is_requested() -> None:
    events, _ = await run(ValidateJobSearchForm(), tracker(slot_events={"job_title": "Koch"}), {})
    assert _slot_events(events) == {"job_title": "Koch", "requested_slot": "location"}
    events, _ = await run(ValidateJobSearchForm(),
                          tracker({"job_title": "Koch"}, slot_events={"location": "koeln"}), {})
    assert _slot_events(events) == {"location": "Köln", "requested_slot": None}


@pytest.mark.parametrize(("value", "expected"), [
    ("50 km", 50.0), ("50km", 50.0), ("50", 50.0), (30, 30.0), (12.5, 12.5), ("7,5 Kilometer", 7.5),
    ("ca. 20 km", 20.0), ("10 miles", 16.1), ("1000 km", 200.0), ("0", None), (-5, None), ("weit", None),
    (None, None), (True, None),
])
def test_parse_radius_km(value, expected) -> None:
    assert parse_radius_km(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Teilzeit", "teilzeit"), ("part-time", "teilzeit"), ("part time", "teilzeit"), ("Parttime", "teilzeit"),
    ("Vollzeit", "vollzeit"), ("full-time", "vollzeit"), ("Full time", "vollzeit"),
    ("Minijob", "minijob"), ("mini-job", "minijob"), ("450-Euro-Job", "minijob"), ("520-Euro-Job", "minijob"),
    ("520 € Job", "minijob"), ("geringfügig", "minijob"),
    ("Schichtarbeit", None), ("", None), (None, None), (3, None),
])
def test_parse_working_time(value, expected) -> None:
    assert parse_working_time(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("ja", True), ("Home Office", True), ("remote", True), ("nein", False),
    ("vor Ort", False), ("vielleicht", None), (None, None),
])
def test_parse_remote(value, expected) -> None:
    assert parse_remote(value) is expected


def test_action_names_match_the_contract() -> None:
    names = {action().name() for action in (ActionSearchJobs, ActionMoreResults, ActionShowJob, ActionResetSearch,
                                            ValidateJobSearchForm)}
    assert names == {"action_search_jobs", "action_more_results", "action_show_job", "action_reset_search",
                     "validate_job_search_form"}


def test_the_action_server_registers_these_actions() -> None:
    executor = ActionExecutor()
    executor.register_package(job_search)
    assert {"action_search_jobs", "action_more_results", "action_show_job", "action_reset_search",
            "validate_job_search_form"} <= set(executor.actions)
