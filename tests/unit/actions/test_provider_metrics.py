"""Job provider metrics (actions/jobs/metered.py): outcomes, provider labels, no query in any label."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.job_search import ActionSearchJobs
from actions.jobs import (
    JobPosting,
    JobQuery,
    MalformedResponse,
    ProviderConfigError,
    ProviderRejected,
    ProviderUnavailable,
    SearchResult,
    UnknownLocation,
)
from actions.jobs.arbeitsagentur import ArbeitsagenturProvider, RetryPolicy
from actions.jobs.local import LocalJobProvider
from actions.jobs.metered import MeteredProvider, metered, provider_label, provider_outcome
from actions.search.provider_access import reset_shared_provider, shared_provider
from actions.search.slots import search_slots
from observability.metrics import PROVIDER_OUTCOMES, REGISTRY
from standins.jobsuche import JobsucheStandIn

REQUESTS = "blaupause_job_provider_requests_total"
DURATION = "blaupause_job_provider_request_seconds_count"


def count(provider: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(REQUESTS, {"provider": provider, "outcome": outcome}) or 0.0


def timed(provider: str) -> float:
    return REGISTRY.get_sample_value(DURATION, {"provider": provider}) or 0.0


class Delta:
    """Counter deltas around a block (the registry is process-global)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.before = {outcome: count(provider, outcome) for outcome in PROVIDER_OUTCOMES}
        self.timed_before = timed(provider)

    def moved(self) -> dict[str, float]:
        return {outcome: count(self.provider, outcome) - before
                for outcome, before in self.before.items() if count(self.provider, outcome) != before}

    def timings(self) -> float:
        return timed(self.provider) - self.timed_before


class NoSleep:
    def __call__(self, seconds: float) -> None:
        """Retries without waiting."""


@pytest.fixture
def stand_in() -> Iterator[JobsucheStandIn]:
    with JobsucheStandIn() as server:
        yield server


@pytest.fixture
def api(stand_in: JobsucheStandIn) -> Iterator[MeteredProvider]:
    client = ArbeitsagenturProvider(base_url=stand_in.base_url, timeout_s=0.3,
                                    retry=RetryPolicy(attempts=2, backoff_s=0.0), sleep=NoSleep())
    yield MeteredProvider(client)
    client.close()


class Raising:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, query: JobQuery) -> SearchResult:
        raise self.error

    def details(self, job_id: str) -> JobPosting | None:
        raise self.error


# --- the Arbeitsagentur client against the stand-in -----------------------------------------

def test_a_search_with_results_is_ok_and_timed(api: MeteredProvider) -> None:
    delta = Delta("arbeitsagentur")
    assert api.search(JobQuery(what="Koch", where="Berlin")).postings
    assert delta.moved() == {"ok": 1}
    assert delta.timings() == 1


def test_a_search_without_results_is_empty(api: MeteredProvider) -> None:
    delta = Delta("arbeitsagentur")
    assert not api.search(JobQuery(what="Astronautin", where="Berlin")).postings
    assert delta.moved() == {"empty": 1}


def test_details_ok_and_unknown_is_empty(api: MeteredProvider) -> None:
    delta = Delta("arbeitsagentur")
    (posting,) = api.search(JobQuery(what="Koch", where="Berlin", size=1)).postings
    assert api.details(posting.id) is not None
    assert api.details("99999-0000000000-S") is None
    assert delta.moved() == {"ok": 2, "empty": 1}


def test_persistent_5xx_is_error(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.fail_next(503, count=2)
    delta = Delta("arbeitsagentur")
    with pytest.raises(ProviderUnavailable):
        api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"error": 1}  # one call, however many attempts


def test_persistent_429_is_rate_limited(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.fail_next(429, count=2, retry_after="0")
    delta = Delta("arbeitsagentur")
    with pytest.raises(ProviderUnavailable):
        api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"rate_limited": 1}


def test_429_then_success_is_ok(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.fail_next(429, retry_after="0")
    delta = Delta("arbeitsagentur")
    api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"ok": 1}


def test_timeout_is_timeout(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.delay_next(1.0, count=2)
    delta = Delta("arbeitsagentur")
    with pytest.raises(ProviderUnavailable):
        api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"timeout": 1}


def test_not_json_is_bad_response(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.garble_next()
    delta = Delta("arbeitsagentur")
    with pytest.raises(MalformedResponse):
        api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"bad_response": 1}


def test_4xx_is_error(api: MeteredProvider, stand_in: JobsucheStandIn) -> None:
    stand_in.fail_next(400)
    delta = Delta("arbeitsagentur")
    with pytest.raises(ProviderRejected):
        api.search(JobQuery(what="Koch"))
    assert delta.moved() == {"error": 1}


# --- the mapping and the labels ----------------------------------------------------------

@pytest.mark.parametrize(("error", "outcome"), [
    (ProviderUnavailable("down", status=503), "error"),
    (ProviderUnavailable("slow down", status=429), "rate_limited"),
    (MalformedResponse("html", status=200), "bad_response"),
    (ProviderRejected("no", status=403), "error"),
    (UnknownLocation("Atlantis"), "empty"),
    (ProviderConfigError("bad"), "error"),
    (TimeoutError(), "timeout"),
    (RuntimeError("bug"), "error"),
])
def test_every_error_type_has_its_outcome(error: Exception, outcome: str) -> None:
    assert provider_outcome(error) == outcome
    delta = Delta("other")
    with pytest.raises(type(error)):
        MeteredProvider(Raising(error)).search(JobQuery(what="Koch"))
    assert delta.moved() == {outcome: 1}


def test_timeout_cause_is_timeout() -> None:
    import requests

    try:
        raise ProviderUnavailable("gave up") from requests.ReadTimeout()
    except ProviderUnavailable as error:
        assert provider_outcome(error) == "timeout"


def test_provider_labels_are_fixed_names(tmp_path: Path) -> None:
    assert provider_label(LocalJobProvider()) == "local"
    assert provider_label(ArbeitsagenturProvider()) == "arbeitsagentur"
    assert provider_label(Raising(RuntimeError())) == "other"
    assert MeteredProvider(Raising(RuntimeError()), name="Koch in Berlin").label == "other"


def test_metered_wraps_once_and_passes_everything_else_through() -> None:
    local = LocalJobProvider()
    wrapped = metered(local)
    assert metered(wrapped) is wrapped
    assert len(wrapped) == len(local)  # type: ignore[arg-type]
    assert wrapped.search_terms("Koch") == local.search_terms("Koch")  # type: ignore[attr-defined]


def test_the_shared_provider_is_metered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_PROVIDER", "local")
    reset_shared_provider()
    try:
        provider = shared_provider()
        assert isinstance(provider, MeteredProvider) and provider.label == "local"
        reset_shared_provider(Raising(RuntimeError()))
        assert isinstance(shared_provider(), MeteredProvider)
    finally:
        reset_shared_provider()


# --- through the action: no job title, no city in any label -------------------------------

def _tracker(job_title: str, location: str) -> Tracker:
    slots: dict[str, Any] = {name: None for name in (*search_slots(), "language", "requested_slot")}
    slots.update(job_title=job_title, location=location, language="de")
    return Tracker.from_dict({
        "sender_id": "4915550000001",
        "slots": slots,
        "latest_message": {"text": "", "intent": {"name": "x"}, "entities": []},
        "events": [],
    })


@pytest.mark.parametrize("source", ["local", "arbeitsagentur"])
async def test_search_action_counts_without_title_or_city_in_labels(source: str, stand_in: JobsucheStandIn) -> None:
    if source == "local":
        provider: Any = LocalJobProvider()
    else:
        provider = ArbeitsagenturProvider(base_url=stand_in.base_url, timeout_s=1.0, sleep=NoSleep())
    delta = Delta(source)
    dispatcher = CollectingDispatcher()
    await ActionSearchJobs(provider=provider).run(dispatcher, _tracker("Koch", "Berlin"), {})
    assert sum(delta.moved().values()) == 1
    assert set(delta.moved()) <= {"ok", "empty"}
    exposition = generate_latest(REGISTRY).decode()
    assert "blaupause_job_provider_requests_total{" in exposition
    for personal in ("Koch", "koch", "Berlin", "berlin"):
        assert personal not in exposition
