"""httpkit/retry_after.py: ``Retry-After`` as seconds or an HTTP-date, ``retry-after-ms``, the cap.

The callers' own rules (wait, or give up when the hint is too long) are tested with them:
tests/unit/actions/jobs/test_arbeitsagentur.py, tests/unit/actions/llm/test_client.py and
tests/unit/speech/test_client.py; here: that all three read the header through this module.
"""
from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
from multidict import CIMultiDict

from httpkit.retry_after import MAX_RETRY_AFTER_SECONDS, retry_after_from_headers, retry_after_seconds

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc).timestamp()


def _now() -> float:
    return NOW


@pytest.mark.parametrize("value, seconds", [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 7 ", 7.0), ("0.5", 0.5)])
def test_delay_seconds(value: str, seconds: float) -> None:
    assert retry_after_seconds(value) == seconds


def test_http_date_in_the_future_is_the_seconds_until_then() -> None:
    assert retry_after_seconds("Mon, 30 Nov 2026 12:01:30 GMT", now=_now) == 90.0


def test_http_date_without_a_zone_counts_as_gmt() -> None:
    assert retry_after_seconds("Mon, 30 Nov 2026 12:00:10 -0000", now=_now) == 10.0


def test_http_date_in_the_past_means_no_wait() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("Mon, 30 Nov 2026 11:59:59 GMT", now=_now) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "1s", "1e3", "inf", "nan", "Infinity", "0x10", "1,5",
                                   "Mon, 30 Nov 2026 25:00:00 GMT", "Mon, 30 Foo 2026 12:00:00 GMT"])
def test_missing_or_garbage_is_none(value: str | None) -> None:
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("value", ["-1", "-0.5", "- 1"])
def test_negative_is_none(value: str) -> None:
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("value", ["86401", "9" * 400, "99999999999999999999.5"])
def test_huge_delay_is_capped(value: str) -> None:
    assert retry_after_seconds(value) == MAX_RETRY_AFTER_SECONDS


def test_far_http_date_is_capped() -> None:
    assert retry_after_seconds("Fri, 31 Dec 9999 23:59:59 GMT", now=_now) == MAX_RETRY_AFTER_SECONDS


def test_milliseconds_header_wins_when_valid() -> None:
    headers = httpx.Headers({"retry-after-ms": "250", "Retry-After": "3"})
    assert retry_after_from_headers(headers) == 0.25


@pytest.mark.parametrize("raw_ms", ["", "soon", "-5", "inf"])
def test_invalid_milliseconds_fall_back_to_retry_after(raw_ms: str) -> None:
    assert retry_after_from_headers({"retry-after-ms": raw_ms, "Retry-After": "3"}) == 3.0


def test_huge_milliseconds_are_capped() -> None:
    assert retry_after_from_headers({"retry-after-ms": "9" * 400}) == MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize("headers", [
    httpx.Headers({"Retry-After": "2"}), CIMultiDict({"RETRY-AFTER": "2"}), {"retry-after": "2"}, {"Retry-After": "2"},
])
def test_headers_are_read_without_regard_to_case(headers) -> None:
    assert retry_after_from_headers(headers) == 2.0


def test_no_hint_is_none() -> None:
    assert retry_after_from_headers({}) is None
    assert retry_after_from_headers({"Content-Type": "application/json"}) is None


def test_http_date_through_the_headers() -> None:
    when = datetime.fromtimestamp(NOW + 30, tz=timezone.utc)
    assert retry_after_from_headers({"Retry-After": format_datetime(when, usegmt=True)}, now=_now) == 30.0


def test_the_three_clients_read_the_header_here() -> None:
    from actions.jobs import arbeitsagentur
    from actions.llm import client as llm_client
    from speech import client as speech_client

    assert arbeitsagentur.retry_after_seconds is retry_after_seconds
    assert llm_client.retry_after_from_headers is retry_after_from_headers
    assert speech_client.retry_after_from_headers is retry_after_from_headers
    for module in (arbeitsagentur, llm_client, speech_client):
        assert "parsedate" not in inspect.getsource(module)


def test_the_module_pulls_in_nothing_but_the_standard_library() -> None:
    probe = ("import sys, httpkit.retry_after; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'rasa', 'rasa_sdk', 'sanic', 'httpx', 'aiohttp', 'requests', 'actions', 'speech'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
