"""LLM metrics (actions/llm/metering.py): one count per call with its outcome, ``disabled`` without a call."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.llm import (
    ChatCompletionsClient,
    LLMBadResponse,
    LLMConfig,
    LLMError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRejected,
    LLMUnavailable,
    RetryPolicy,
)
from actions.llm.metering import llm_outcome
from actions.llm_fallback import ActionLLMFallback
from observability.metrics import LLM_OUTCOMES, REGISTRY
from standins.llm import FaultKind, LLMStandin

API_KEY = "test-key-not-secret"
FAST_RETRY = RetryPolicy(max_retries=1, backoff_base=0.0, max_wait=0.05)


def count(outcome: str) -> float:
    return REGISTRY.get_sample_value("blaupause_llm_requests_total", {"outcome": outcome}) or 0.0


def timed() -> float:
    return REGISTRY.get_sample_value("blaupause_llm_request_seconds_count", {}) or 0.0


class Delta:
    def __init__(self) -> None:
        self.before = {outcome: count(outcome) for outcome in LLM_OUTCOMES}
        self.timed_before = timed()

    def moved(self) -> dict[str, float]:
        return {outcome: count(outcome) - before for outcome, before in self.before.items() if count(outcome) != before}

    def timings(self) -> float:
        return timed() - self.timed_before


async def no_sleep(seconds: float) -> None:
    """Retries without waiting."""


@pytest.fixture
def standin() -> Iterator[LLMStandin]:
    with LLMStandin(api_key=API_KEY) as server:
        yield server


def client(server: LLMStandin, *, api_key: str = API_KEY, timeout: float = 5.0) -> ChatCompletionsClient:
    config = LLMConfig(base_url=server.base_url, model="test-model", api_key=api_key, timeout=timeout)
    return ChatCompletionsClient(config, retry=FAST_RETRY, sleep=no_sleep)


async def ask(llm: ChatCompletionsClient, text: str = "Wie schreibe ich eine Bewerbung als Koch in Berlin?") -> Any:
    return await llm.complete(system_prompt="Test.", user_text=text, max_tokens=50, temperature=0.0)


async def test_an_answer_is_ok_and_timed(standin: LLMStandin) -> None:
    delta = Delta()
    await ask(client(standin))
    assert delta.moved() == {"ok": 1}
    assert delta.timings() == 1


async def test_a_retried_answer_is_one_ok_call(standin: LLMStandin) -> None:
    standin.inject(FaultKind.SERVER_ERROR)
    delta = Delta()
    await ask(client(standin))
    assert delta.moved() == {"ok": 1}


@pytest.mark.parametrize(("kind", "times", "error", "outcome"), [
    (FaultKind.RATE_LIMIT, 2, LLMRateLimited, "rate_limited"),
    (FaultKind.INSUFFICIENT_QUOTA, 1, LLMRateLimited, "rate_limited"),
    (FaultKind.SERVER_ERROR, 2, LLMUnavailable, "error"),
    (FaultKind.MALFORMED_JSON, 1, LLMBadResponse, "bad_response"),
    (FaultKind.EMPTY_CHOICES, 1, LLMBadResponse, "bad_response"),
    (FaultKind.EMPTY_CONTENT, 1, LLMBadResponse, "bad_response"),
])
async def test_failures_count_with_their_outcome(standin: LLMStandin, kind: FaultKind, times: int,
                                                 error: type[LLMError], outcome: str) -> None:
    standin.inject(kind, times)
    delta = Delta()
    with pytest.raises(error):
        await ask(client(standin))
    assert delta.moved() == {outcome: 1}
    assert delta.timings() == 1


async def test_a_refused_request_is_refused(standin: LLMStandin) -> None:
    delta = Delta()
    with pytest.raises(LLMRejected):
        await ask(client(standin, api_key="wrong-key"))
    assert delta.moved() == {"refused": 1}


async def test_a_slow_server_is_a_timeout(standin: LLMStandin) -> None:
    standin.inject(FaultKind.SLOW, delay=2.0)
    delta = Delta()
    with pytest.raises(LLMUnavailable):
        await ask(client(standin, timeout=0.3))
    assert delta.moved() == {"timeout": 1}


async def test_an_unreachable_server_is_an_error() -> None:
    config = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", timeout=1.0)
    delta = Delta()
    with pytest.raises(LLMUnavailable):
        await ChatCompletionsClient(config, retry=RetryPolicy(max_retries=0)).complete(
            system_prompt="Test.", user_text="Hallo", max_tokens=5, temperature=0.0)
    assert delta.moved() == {"error": 1}


@pytest.mark.parametrize(("error", "outcome"), [
    (LLMRateLimited("slow down"), "rate_limited"),
    (LLMRejected("no", status=401), "refused"),
    (LLMBadResponse("empty"), "bad_response"),
    (LLMUnavailable("down", status=503), "error"),
    (TimeoutError(), "timeout"),
    (RuntimeError("bug"), "error"),
])
def test_outcome_mapping(error: Exception, outcome: str) -> None:
    assert llm_outcome(error) == outcome


def test_a_timeout_cause_is_a_timeout() -> None:
    try:
        raise LLMUnavailable("no answer") from httpx.ReadTimeout("slow")
    except LLMUnavailable as error:
        assert llm_outcome(error) == "timeout"


def _tracker(text: str) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "4915550000001",
        "slots": {"language": "de"},
        "latest_message": {"text": text, "intent": {"name": "nlu_fallback"}, "entities": []},
        "events": [],
    })


async def test_without_an_llm_the_fallback_counts_disabled_and_calls_nothing() -> None:
    delta = Delta()
    dispatcher = CollectingDispatcher()
    await ActionLLMFallback(environ={}).run(dispatcher, _tracker("Wie schreibe ich ein Anschreiben?"), {})
    assert [message["response"] for message in dispatcher.messages] == ["utter_fallback_canned"]
    assert delta.moved() == {"disabled": 1}
    assert delta.timings() == 0


async def test_the_fallback_counts_its_call_and_no_text_reaches_a_label(standin: LLMStandin) -> None:
    env = {"LLM_BASE_URL": standin.base_url, "LLM_MODEL": "test-model", "LLM_API_KEY": API_KEY}
    delta = Delta()
    await ActionLLMFallback(environ=env, retry=FAST_RETRY).run(
        CollectingDispatcher(), _tracker("Ich suche als Koch in Berlin"), {})
    assert delta.moved() == {"ok": 1}
    exposition = generate_latest(REGISTRY).decode()
    assert "Koch" not in exposition and "Berlin" not in exposition


def test_not_configured_is_not_a_call() -> None:
    with pytest.raises(LLMNotConfigured):
        LLMConfig.from_env({})
