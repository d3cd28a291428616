"""actions/jobs/jobsuche_answers.py: the Jobsuche API's answers read into postings, leniently."""
from __future__ import annotations

from datetime import date

from actions.jobs import JobQuery
from actions.jobs.jobsuche_answers import PUBLIC_DETAIL_URL, posting_from_details, posting_from_search


def test_a_search_entry() -> None:
    item = {"refnr": "10000-1-S", "titel": "Koch (m/w/d)", "arbeitgeber": "Gasthaus",
            "arbeitsort": {"ort": "Berlin", "plz": 1067, "koordinaten": {"lat": 52.5, "lon": True}},
            "eintrittsdatum": "2026-03-01T00:00:00"}
    posting = posting_from_search(item, JobQuery(what="Koch", working_time="teilzeit"))
    assert posting is not None
    assert (posting.id, posting.title, posting.employer, posting.city, posting.postal_code) == (
        "10000-1-S", "Koch (m/w/d)", "Gasthaus", "Berlin", "01067")
    assert (posting.latitude, posting.longitude, posting.working_time, posting.remote) == (52.5, None, "teilzeit", None)
    assert posting.start_date == date(2026, 3, 1)
    assert posting.url == PUBLIC_DETAIL_URL.format(refnr="10000-1-S")


def test_entries_without_refnr_are_skipped() -> None:
    assert posting_from_search({"titel": "Koch"}, JobQuery()) is None
    assert posting_from_search("nonsense", JobQuery()) is None


def test_details_read_working_time_and_home_office_from_the_models() -> None:
    body = {"stellenangebotsTitel": "Koch", "arbeitszeitmodelle": ["teilzeit", "HEIM_TELEARBEIT"],
            "arbeitsorte": [{"ort": "Köln"}], "externeUrl": "https://example.org/job", "eintrittsdatum": "bald"}
    posting = posting_from_details(body, "10000-2-S")
    assert (posting.id, posting.working_time, posting.remote, posting.city) == ("10000-2-S", "teilzeit", True, "Köln")
    assert posting.url == "https://example.org/job" and posting.start_date is None
