"""The fuzz bodies: every kind is produced, envelopes stay Meta-shaped enough to reach the
channel's checks, oversized cases land around MAX_BODY, and a seed replays the same bodies."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.support.fuzz import inputs
from tests.support.fuzz.bodies import body_strategy, oversized_cases
from tests.support.fuzz.inputs import MAX_BODY, POOL, STALE_AGE_S, new_wamid, stale_by

KINDS = {"envelope", "envelope-utf8", "invalid-utf8", "truncated", "random-bytes", "non-object", "deep", "numbers", "wrapped",
         "minimal"}
FEW = settings(max_examples=200, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
               suppress_health_check=list(HealthCheck))


def _collect(strategy: Any, at: int) -> list:
    seen: list = []

    @seed(at)
    @FEW
    @given(strategy)
    def run(case: Any) -> None:
        seen.append(case)

    run()
    return seen


def test_bodies_are_bytes_of_the_known_kinds_and_most_are_envelopes() -> None:
    cases = _collect(body_strategy(["/help"]), 7)
    kinds = Counter(kind for kind, _ in cases)
    assert set(kinds) <= KINDS and len(kinds) >= 6
    assert all(isinstance(body, bytes) for _, body in cases)
    assert kinds["envelope"] >= len(cases) // 4
    envelopes = [body for kind, body in cases if kind == "envelope"]
    assert all(body.isascii() for body in envelopes)  # Meta's \\uXXXX escaping
    assert any(b"whatsapp_business_account" in body for body in envelopes)


def test_deep_bodies_fit_the_limit_so_they_reach_the_parser() -> None:
    deep = [body for kind, body in _collect(body_strategy([]), 11) if kind == "deep"]
    assert all(len(body) <= MAX_BODY for body in deep)


def test_envelopes_mostly_parse_and_carry_pool_numbers() -> None:
    parsed = []
    for kind, body in _collect(body_strategy(["/help"]), 3):
        if kind == "envelope":
            try:
                parsed.append(json.loads(body))
            except ValueError:
                pass
    assert parsed
    assert any(number in json.dumps(p) for p in parsed for number in POOL)


def test_a_seed_replays_the_same_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 1764400000.0)  # timestamps are relative to now

    def run() -> list:
        inputs._counter, inputs._RUN = itertools.count(1), "SAME"
        return _collect(body_strategy(["/help"]), 5)

    assert run() == run()


def test_oversized_cases_are_around_and_above_the_limit_and_exactly_that_long() -> None:
    cases = _collect(oversized_cases(), 13)
    sizes = [len(case["body"]) for case in cases]
    assert min(sizes) >= MAX_BODY - 64 and max(sizes) <= 3 * MAX_BODY
    assert any(size <= MAX_BODY for size in sizes) and any(size > MAX_BODY for size in sizes)
    assert {case["framing"] for case in cases} <= {"content-length", "chunked", "expect-100"}
    assert all(json.loads(case["body"])["object"] == "whatsapp_business_account" for case in cases)


def test_ids_are_unique_and_stale_timestamps_are_older_than_the_channel_accepts() -> None:
    ids = {new_wamid() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("wamid.FUZZ") for i in ids)
    assert int(inputs.fresh()) - stale_by(0) > STALE_AGE_S
