"""The Arbeitsagentur provider against the loopback stand-in (standins/jobsuche/)."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests

from actions.jobs import (
    JobProvider,
    JobQuery,
    MalformedResponse,
    ProviderConfigError,
    ProviderRejected,
    ProviderUnavailable,
    get_provider,
)
from actions.jobs.arbeitsagentur import (
    DEFAULT_API_KEY,
    DEFAULT_BASE_URL,
    ArbeitsagenturProvider,
    RetryPolicy,
    encode_refnr,
)
from standins.jobsuche import API_KEY, JobsucheStandIn


class RecordingSleep:
    """Replaces time.sleep: records the delays the provider asks for, waits not at all."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def stand_in() -> Iterator[JobsucheStandIn]:
    with JobsucheStandIn() as server:
        yield server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def provider(stand_in: JobsucheStandIn, sleep: RecordingSleep) -> Iterator[ArbeitsagenturProvider]:
    client = ArbeitsagenturProvider(
        base_url=stand_in.base_url,
        timeout_s=0.5,
        retry=RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=1.0, max_retry_after_s=5.0),
        sleep=sleep,
    )
    yield client
    client.close()


def _search_requests(stand_in: JobsucheStandIn) -> list:
    return [r for r in stand_in.requests if r.path.endswith("/pc/v4/jobs")]


def test_is_a_job_provider(provider: ArbeitsagenturProvider) -> None:
    assert isinstance(provider, JobProvider)


def test_search_maps_results_and_sends_spec_parameters(provider, stand_in) -> None:
    result = provider.search(JobQuery(what="Koch", where="Berlin", radius_km=50))

    assert result.total == 3
    assert [p.id for p in result.postings] == ["10000-1000000001-S", "10000-1000000002-S", "10000-1000000003-S"]
    first = result.postings[0]
    assert first.title == "Koch/Köchin (m/w/d) für unser Restaurant"
    assert first.employer == "Gasthaus Lindenhof Beispiel GmbH"
    assert (first.city, first.postal_code) == ("Berlin", "10115")
    assert first.latitude == pytest.approx(52.5321) and first.longitude == pytest.approx(13.3849)
    assert first.start_date == date(2099, 1, 15)
    assert first.url == "https://www.arbeitsagentur.de/jobsuche/jobdetail/10000-1000000001-S"
    assert result.postings[1].start_date is None
    assert result.has_more is False

    (sent,) = _search_requests(stand_in)
    assert sent.path == "/jobboerse/jobsuche-service/pc/v4/jobs"
    assert sent.query == {"was": "Koch", "wo": "Berlin", "umkreis": "50", "page": "1", "size": "5"}
    assert sent.headers["X-API-Key"] == API_KEY


def test_default_radius_is_25_km_when_a_place_is_given(provider, stand_in) -> None:
    result = provider.search(JobQuery(what="Koch", where="Berlin"))
    assert {p.city for p in result.postings} == {"Berlin"}  # Potsdam is ~27 km away
    assert _search_requests(stand_in)[-1].query["umkreis"] == "25"


def test_no_place_sends_no_wo_and_no_umkreis(provider) -> None:
    params = provider.search_params(JobQuery(what="Koch"))
    assert params == {"was": "Koch", "page": "1", "size": "5"}


@pytest.mark.parametrize(
    ("working_time", "remote", "expected"),
    [("vollzeit", None, "vz"), ("teilzeit", None, "tz"), ("minijob", None, "mj"),
     (None, True, "ho"), ("vollzeit", True, "vz;ho"), (None, False, None)],
)
def test_working_time_and_remote_map_to_arbeitszeit(provider, working_time, remote, expected) -> None:
    params = provider.search_params(JobQuery(what="Koch", working_time=working_time, remote=remote))
    assert params.get("arbeitszeit") == expected


def test_filtered_search_marks_postings_with_the_filter(provider, stand_in) -> None:
    result = provider.search(JobQuery(what="Koch", where="Berlin", radius_km=50, working_time="teilzeit"))
    assert [p.id for p in result.postings] == ["10000-1000000002-S"]
    assert result.postings[0].working_time == "teilzeit"
    assert _search_requests(stand_in)[-1].query["arbeitszeit"] == "tz"

    remote = provider.search(JobQuery(what="", remote=True))
    assert [p.id for p in remote.postings] == ["10000-1000000007-S"]
    assert remote.postings[0].remote is True


def test_coordinates_without_place_use_the_nearest_city(stand_in, sleep) -> None:
    from actions.jobs.cities import default_city_index

    client = ArbeitsagenturProvider(base_url=stand_in.base_url, cities=default_city_index(), sleep=sleep)
    result = client.search(JobQuery(what="Koch", latitude=52.39, longitude=13.06, radius_km=5))
    assert [p.city for p in result.postings] == ["Potsdam"]
    assert _search_requests(stand_in)[-1].query["wo"] == "Potsdam"
    client.close()


def test_empty_result(provider, stand_in) -> None:
    result = provider.search(JobQuery(what="Astronaut", where="Berlin"))
    assert result.postings == () and result.total == 0 and result.has_more is False

    # The stand-in leaves out "stellenangebote" like the live service; the provider copes.
    raw = requests.get(stand_in.base_url + "/pc/v4/jobs", params={"was": "Astronaut"},
                       headers={"X-API-Key": API_KEY}, timeout=2).json()
    assert "stellenangebote" not in raw and raw["maxErgebnisse"] == "0"


def test_paging_returns_disjoint_pages_and_the_true_total(provider, stand_in) -> None:
    pages = [provider.search(JobQuery(what="Koch", page=page, size=2)) for page in (1, 2, 3)]
    assert [r.total for r in pages] == [5, 5, 5]
    assert [len(r.postings) for r in pages] == [2, 2, 1]
    assert [r.has_more for r in pages] == [True, True, False]
    ids = [p.id for r in pages for p in r.postings]
    assert len(set(ids)) == 5
    assert [r.query["page"] for r in _search_requests(stand_in)] == ["1", "2", "3"]
    assert provider.search(JobQuery(what="Koch", page=4, size=2)).postings == ()


def test_integer_postal_codes_keep_their_leading_zero(provider) -> None:
    result = provider.search(JobQuery(what="Kantine", where="Dresden"))
    assert result.postings[0].postal_code == "01067"


def test_external_url_is_used_when_present(provider) -> None:
    result = provider.search(JobQuery(what="Koch", where="Hamburg"))
    assert result.postings[0].url == "https://jobs.example.org/extern/koch-hamburg"


def test_refnr_is_base64_encoded_as_the_spec_example() -> None:
    assert encode_refnr("10001-1002716922-S") == "MTAwMDEtMTAwMjcxNjkyMi1T"


def test_details(provider, stand_in) -> None:
    posting = provider.details("10000-1000000007-S")

    assert posting is not None
    assert stand_in.requests[-1].path == (
        "/jobboerse/jobsuche-service/pc/v4/jobdetails/" + encode_refnr("10000-1000000007-S")
    )
    assert posting.id == "10000-1000000007-S"
    assert posting.title == "Softwareentwickler/in Python (m/w/d)"
    assert posting.employer == "Kranich Software Beispiel GmbH"
    assert (posting.postal_code, posting.city) == ("10178", "Berlin")
    assert posting.working_time == "vollzeit"
    assert posting.remote is True
    assert posting.description == "Python, Tests, CI."

    hamburg = provider.details("10000-1000000004-S")
    assert hamburg is not None and hamburg.start_date == date(2020, 2, 1) and hamburg.remote is False


def test_unknown_refnr_is_none(provider, stand_in) -> None:
    assert provider.details("10000-9999999999-S") is None
    assert stand_in.requests[-1].path.endswith(encode_refnr("10000-9999999999-S"))


def test_empty_refnr_is_none_without_a_request(provider, stand_in) -> None:
    assert provider.details("  ") is None
    assert stand_in.requests == []


def test_429_then_success_honours_retry_after(provider, stand_in, sleep) -> None:
    stand_in.fail_next(429, retry_after="1")
    result = provider.search(JobQuery(what="Koch", where="Berlin"))
    assert result.total == 2
    assert sleep.delays == [1.0]
    assert len(_search_requests(stand_in)) == 2


def test_retry_after_as_http_date_in_the_past_means_no_wait(provider, stand_in, sleep) -> None:
    stand_in.fail_next(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    assert provider.search(JobQuery(what="Koch")).total == 5
    assert sleep.delays == [0.0]


def test_429_with_a_long_retry_after_gives_up_at_once(provider, stand_in, sleep) -> None:
    stand_in.fail_next(429, count=3, retry_after="120")
    with pytest.raises(ProviderUnavailable) as caught:
        provider.search(JobQuery(what="Koch"))
    assert caught.value.status == 429
    assert sleep.delays == []
    assert len(_search_requests(stand_in)) == 1


def test_503_twice_then_success_with_exponential_backoff(provider, stand_in, sleep) -> None:
    stand_in.fail_next(503, count=2)
    assert provider.search(JobQuery(what="Koch")).total == 5
    assert sleep.delays == [0.01, 0.02]


def test_persistent_500_is_unavailable_after_all_attempts(provider, stand_in, sleep) -> None:
    stand_in.fail_next(500, count=10)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.search(JobQuery(what="Koch"))
    assert caught.value.status == 500
    assert caught.value.attempts == 3
    assert len(_search_requests(stand_in)) == 3
    assert sleep.delays == [0.01, 0.02]
    assert stand_in.pending_faults == 7


def test_persistent_500_on_details_is_unavailable(provider, stand_in) -> None:
    stand_in.fail_next(500, count=3)
    with pytest.raises(ProviderUnavailable):
        provider.details("10000-1000000001-S")


def test_timeout_is_unavailable(stand_in, sleep) -> None:
    client = ArbeitsagenturProvider(
        base_url=stand_in.base_url, timeout_s=0.2, retry=RetryPolicy(attempts=2, backoff_s=0.0), sleep=sleep
    )
    stand_in.delay_next(1.5, count=2)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        client.search(JobQuery(what="Koch"))
    assert time.monotonic() - started < 1.4  # gave up on the timeout, did not wait for the answers
    assert isinstance(caught.value.__cause__, requests.Timeout)
    assert caught.value.status is None
    client.close()


def test_slow_once_then_fast_succeeds(provider, stand_in) -> None:
    stand_in.delay_next(1.5)
    assert provider.search(JobQuery(what="Koch")).total == 5


def test_connection_refused_is_unavailable(sleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ArbeitsagenturProvider(base_url=f"http://127.0.0.1:{port}/x", timeout_s=0.5,
                                    retry=RetryPolicy(attempts=2, backoff_s=0.0), sleep=sleep)
    with pytest.raises(ProviderUnavailable) as caught:
        client.search(JobQuery(what="Koch"))
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert caught.value.attempts == 2


def test_missing_api_key_is_rejected_without_retry(stand_in, sleep) -> None:
    client = ArbeitsagenturProvider(base_url=stand_in.base_url, api_key=None, sleep=sleep)
    with pytest.raises(ProviderRejected) as caught:
        client.search(JobQuery(what="Koch"))
    assert caught.value.status == 401
    assert "X-API-Key" not in stand_in.requests[-1].headers
    assert len(stand_in.requests) == 1 and sleep.delays == []


def test_wrong_api_key_is_rejected(stand_in, sleep) -> None:
    client = ArbeitsagenturProvider(base_url=stand_in.base_url, api_key="falsch", sleep=sleep)
    with pytest.raises(ProviderRejected) as caught:
        client.details("10000-1000000001-S")
    assert caught.value.status == 403


def test_other_4xx_is_rejected(provider, stand_in) -> None:
    stand_in.fail_next(400)
    with pytest.raises(ProviderRejected) as caught:
        provider.search(JobQuery(what="Koch"))
    assert caught.value.status == 400


def test_html_instead_of_json_is_a_malformed_response(provider, stand_in) -> None:
    stand_in.garble_next()
    with pytest.raises(MalformedResponse) as caught:
        provider.search(JobQuery(what="Koch"))
    assert isinstance(caught.value, ProviderUnavailable)
    assert isinstance(caught.value.__cause__, ValueError)


def test_concurrent_searches_from_threads(provider) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        totals = list(pool.map(lambda page: provider.search(JobQuery(what="Koch", page=page, size=1)).total,
                               range(1, 13)))
    assert totals == [5] * 12


def test_get_provider_reads_the_environment(stand_in) -> None:
    client = get_provider({"JOBS_PROVIDER": "Arbeitsagentur", "JOBS_API_BASE_URL": stand_in.base_url,
                           "JOBS_API_TIMEOUT": "2"})
    assert isinstance(client, ArbeitsagenturProvider)
    assert client.base_url == stand_in.base_url
    assert client.search(JobQuery(what="Koch")).total == 5
    assert stand_in.requests[-1].headers["X-API-Key"] == DEFAULT_API_KEY
    client.close()

    default = get_provider({"JOBS_PROVIDER": "arbeitsagentur"})
    assert isinstance(default, ArbeitsagenturProvider) and default.base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize("environ", [
    {"JOBS_PROVIDER": "arbeitsagentur", "JOBS_API_TIMEOUT": "fünf"},
    {"JOBS_PROVIDER": "arbeitsagentur", "JOBS_API_TIMEOUT": "-1"},
    {"JOBS_PROVIDER": "arbeitsagentur", "JOBS_API_BASE_URL": "ftp://example.org"},
])
def test_bad_configuration_is_a_config_error(environ) -> None:
    with pytest.raises(ProviderConfigError):
        get_provider(environ)


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ProviderConfigError):
        RetryPolicy(attempts=0)
    assert RetryPolicy(backoff_s=0.5, max_backoff_s=1.5).backoff(4) == 1.5


def test_stand_in_refuses_bad_parameters_and_methods(stand_in) -> None:
    headers = {"X-API-Key": API_KEY}
    base = stand_in.base_url
    assert requests.get(base + "/pc/v4/jobs", params={"size": "101"}, headers=headers, timeout=2).status_code == 400
    assert requests.get(base + "/pc/v4/jobs", params={"arbeitszeit": "xx"}, headers=headers,
                        timeout=2).status_code == 400
    assert requests.post(base + "/pc/v4/jobs", headers=headers, timeout=2).status_code == 405
    assert requests.get(base + "/pc/v9/unknown", headers=headers, timeout=2).status_code == 404


def test_an_employer_filter_becomes_the_arbeitgeber_parameter_and_others_are_dropped(provider) -> None:
    params = provider.search_params(JobQuery(what="Koch", filters=(("employer", "Gasthaus Sonne"), ("salary", "x"))))
    assert params == {"was": "Koch", "arbeitgeber": "Gasthaus Sonne", "page": "1", "size": "5"}
