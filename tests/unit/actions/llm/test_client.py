"""ChatCompletionsClient against the loopback OpenAI stand-in (standins/llm/)."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from actions.llm import (
    ChatCompletionsClient,
    LLMBadResponse,
    LLMConfig,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRejected,
    LLMUnavailable,
    RetryPolicy,
)
from standins.llm import ENGLISH_REPLY, GERMAN_REPLY, FaultKind, LLMStandin

API_KEY = "test-key-not-secret"
SYSTEM = "You are a test assistant."


@pytest.fixture
def standin() -> Iterator[LLMStandin]:
    with LLMStandin(api_key=API_KEY) as server:
        yield server


class RecordingSleep:
    """Records the waits the client asks for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(
    base_url: str,
    *,
    api_key: str | None = API_KEY,
    timeout: float = 5.0,
    retry: RetryPolicy | None = None,
    sleep: RecordingSleep | None = None,
) -> ChatCompletionsClient:
    config = LLMConfig(base_url=base_url, model="test-model", api_key=api_key, timeout=timeout)
    if sleep is None:
        return ChatCompletionsClient(config, retry=retry)
    return ChatCompletionsClient(config, retry=retry, sleep=sleep)


async def ask(client: ChatCompletionsClient, text: str = "What can this bot do?", max_tokens: int = 200):
    return await client.complete(system_prompt=SYSTEM, user_text=text, max_tokens=max_tokens, temperature=0.3)


# -- success and request shape ----------------------------------------------------------
async def test_success_returns_first_choice_and_usage(standin: LLMStandin) -> None:
    completion = await ask(make_client(standin.base_url))
    assert completion.text == ENGLISH_REPLY
    assert completion.finish_reason == "stop"
    assert completion.model == "test-model"
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.attempts == 1


async def test_request_carries_only_model_two_messages_and_settings(standin: LLMStandin) -> None:
    await ask(make_client(standin.base_url), text="Wie schreibe ich eine Bewerbung?")
    (request,) = standin.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert set(request.body) == {"model", "messages", "max_tokens", "temperature", "stream"}
    assert request.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Wie schreibe ich eine Bewerbung?"},
    ]
    assert request.body["max_tokens"] == 200
    assert request.body["temperature"] == 0.3
    assert request.body["stream"] is False


async def test_reply_language_follows_the_user_message(standin: LLMStandin) -> None:
    client = make_client(standin.base_url)
    assert (await ask(client, "Ich suche eine Stelle, kannst du mir helfen?")).text == GERMAN_REPLY
    assert (await ask(client, "I am looking for work, can you help me?")).text == ENGLISH_REPLY


async def test_user_text_is_redacted_before_sending(standin: LLMStandin) -> None:
    await ask(make_client(standin.base_url), text="Ruf mich an: +49 155 50000001 oder max@example.org")
    raw = standin.requests[0].raw.decode("utf-8")
    assert "50000001" not in raw and "example.org" not in raw
    assert standin.requests[0].body["messages"][1]["content"] == "Ruf mich an: [phone] oder [email]"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1/chat/completions"])
async def test_base_url_with_or_without_v1(standin: LLMStandin, suffix: str) -> None:
    completion = await ask(make_client(standin.base_url + suffix))
    assert completion.text == ENGLISH_REPLY
    assert standin.requests[-1].path == "/v1/chat/completions"


def test_chat_completions_url_keeps_a_path_prefix() -> None:
    config = LLMConfig(base_url="https://llm.example.invalid/openai", model="m")
    assert config.chat_completions_url == "https://llm.example.invalid/openai/v1/chat/completions"


async def test_local_server_without_api_key() -> None:
    with LLMStandin() as open_server:
        completion = await ask(make_client(open_server.base_url, api_key=None))
        assert completion.text == ENGLISH_REPLY
        assert "authorization" not in open_server.requests[0].headers


# -- errors -----------------------------------------------------------------------------
async def test_wrong_api_key_is_rejected_with_status_and_message(standin: LLMStandin) -> None:
    with pytest.raises(LLMRejected) as caught:
        await ask(make_client(standin.base_url, api_key="wrong-key-123"))
    assert caught.value.status == 401
    assert caught.value.code == "invalid_api_key"
    assert "Incorrect API key" in caught.value.message
    assert len(standin.requests) == 1  # a 4xx is never retried


async def test_missing_api_key_is_rejected(standin: LLMStandin) -> None:
    with pytest.raises(LLMRejected) as caught:
        await ask(make_client(standin.base_url, api_key=None))
    assert caught.value.status == 401
    assert "didn't provide an API key" in caught.value.message


async def test_unknown_model_is_rejected() -> None:
    with LLMStandin(models={"other-model"}) as server:
        with pytest.raises(LLMRejected) as caught:
            await ask(make_client(server.base_url, api_key=None))
    assert caught.value.status == 404
    assert caught.value.code == "model_not_found"


async def test_context_too_long_is_rejected() -> None:
    with LLMStandin(context_tokens=300) as server:
        with pytest.raises(LLMRejected) as caught:
            await ask(make_client(server.base_url, api_key=None), text="Bewerbung " * 200)
    assert caught.value.status == 400
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.error_type == "invalid_request_error"
    assert "maximum context length is 300 tokens" in caught.value.message


async def test_max_tokens_above_the_server_limit_is_rejected() -> None:
    with LLMStandin(max_tokens_limit=100) as server:
        with pytest.raises(LLMRejected) as caught:
            await ask(make_client(server.base_url, api_key=None), max_tokens=200)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_value"


async def test_rate_limit_then_success_honours_retry_after(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.RATE_LIMIT, retry_after=1)
    completion = await ask(make_client(standin.base_url, sleep=sleep))
    assert completion.text == ENGLISH_REPLY
    assert completion.attempts == 2
    assert sleep.waits == [1.0]
    assert [request.status for request in standin.requests] == [429, 200]


async def test_rate_limit_then_success_with_real_sleep(standin: LLMStandin) -> None:
    standin.inject(FaultKind.RATE_LIMIT, retry_after=0)
    completion = await ask(make_client(standin.base_url))
    assert completion.attempts == 2


async def test_rate_limit_without_retry_after_uses_backoff(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.RATE_LIMIT, times=2)
    retry = RetryPolicy(max_retries=2, backoff_base=0.25, max_wait=2.0)
    completion = await ask(make_client(standin.base_url, retry=retry, sleep=sleep))
    assert completion.attempts == 3
    assert sleep.waits == [0.25, 0.5]


async def test_persistent_rate_limit_raises_rate_limited(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.RATE_LIMIT, times=5, retry_after=0)
    with pytest.raises(LLMRateLimited) as caught:
        await ask(make_client(standin.base_url, sleep=sleep))
    assert caught.value.status == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.retry_after == 0
    assert len(standin.requests) == 3  # one attempt plus max_retries=2


async def test_retry_after_beyond_the_cap_gives_up_at_once(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.RATE_LIMIT, retry_after=30)
    with pytest.raises(LLMRateLimited) as caught:
        await ask(make_client(standin.base_url, sleep=sleep))
    assert caught.value.retry_after == 30
    assert sleep.waits == []
    assert len(standin.requests) == 1


async def test_insufficient_quota_is_not_retried(standin: LLMStandin) -> None:
    standin.inject(FaultKind.INSUFFICIENT_QUOTA, times=3)
    with pytest.raises(LLMRateLimited) as caught:
        await ask(make_client(standin.base_url, sleep=RecordingSleep()))
    assert caught.value.code == "insufficient_quota"
    assert len(standin.requests) == 1


async def test_persistent_server_error_is_unavailable_after_retries(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.SERVER_ERROR, times=3)
    with pytest.raises(LLMUnavailable) as caught:
        await ask(make_client(standin.base_url, sleep=sleep))
    assert caught.value.status == 500
    assert caught.value.error_type == "server_error"
    assert sleep.waits == [0.5, 1.0]
    assert [request.status for request in standin.requests] == [500, 500, 500]


async def test_overloaded_then_success(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.OVERLOADED, retry_after=1.5)
    completion = await ask(make_client(standin.base_url, sleep=sleep))
    assert completion.attempts == 2
    assert sleep.waits == [1.5]


async def test_retries_stop_when_the_time_budget_is_spent(standin: LLMStandin) -> None:
    sleep = RecordingSleep()
    standin.inject(FaultKind.SERVER_ERROR, times=3)
    retry = RetryPolicy(max_retries=2, backoff_base=2.0, max_wait=5.0)
    with pytest.raises(LLMUnavailable):
        await ask(make_client(standin.base_url, timeout=1.0, retry=retry, sleep=sleep))
    assert sleep.waits == []
    assert len(standin.requests) == 1


async def test_slow_server_times_out_as_unavailable(standin: LLMStandin) -> None:
    standin.inject(FaultKind.SLOW, delay=3.0)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as caught:
        await ask(make_client(standin.base_url, timeout=0.5))
    assert time.monotonic() - started < 2.0
    assert "0.5" in caught.value.message
    assert caught.value.__cause__ is not None


async def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(LLMUnavailable) as caught:
        await ask(make_client(f"http://127.0.0.1:{free_port}", timeout=2.0))
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    "fault, reason",
    [
        (FaultKind.MALFORMED_JSON, "not JSON"),
        (FaultKind.EMPTY_CHOICES, "no choices"),
        (FaultKind.EMPTY_CONTENT, "no text content"),
    ],
)
async def test_unusable_answers_are_bad_responses(standin: LLMStandin, fault: FaultKind, reason: str) -> None:
    standin.inject(fault)
    with pytest.raises(LLMBadResponse) as caught:
        await ask(make_client(standin.base_url))
    assert reason in caught.value.message
    assert len(standin.requests) == 1


async def test_answer_cut_by_max_tokens_reports_length() -> None:
    with LLMStandin(reply="word " * 100) as server:
        completion = await ask(make_client(server.base_url, api_key=None), max_tokens=5)
    assert completion.finish_reason == "length"
    assert len(completion.text) <= 20


# -- configuration ----------------------------------------------------------------------
def test_config_from_env_reads_all_settings() -> None:
    environ = {
        "LLM_BASE_URL": " http://127.0.0.1:8099 ",
        "LLM_MODEL": "m",
        "LLM_API_KEY": "sk-not-a-real-key",
        "LLM_TIMEOUT": "2.5",
    }
    config = LLMConfig.from_env(environ)
    assert (config.base_url, config.model, config.api_key, config.timeout) == (
        "http://127.0.0.1:8099",
        "m",
        "sk-not-a-real-key",
        2.5,
    )
    assert "sk-not-a-real-key" not in repr(config)  # the key never shows up in logs of a repr


def test_config_defaults() -> None:
    config = LLMConfig.from_env({"LLM_BASE_URL": "http://127.0.0.1:8099", "LLM_MODEL": "m", "LLM_API_KEY": ""})
    assert config.timeout == 8.0
    assert config.api_key is None


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"LLM_BASE_URL": "http://127.0.0.1:8099"},
        {"LLM_MODEL": "m"},
        {"LLM_BASE_URL": "ftp://127.0.0.1", "LLM_MODEL": "m"},
        {"LLM_BASE_URL": "127.0.0.1:8099", "LLM_MODEL": "m"},
        {"LLM_BASE_URL": "http://127.0.0.1:8099?x=1", "LLM_MODEL": "m"},
        {"LLM_BASE_URL": "http://127.0.0.1:8099", "LLM_MODEL": "m", "LLM_TIMEOUT": "soon"},
        {"LLM_BASE_URL": "http://127.0.0.1:8099", "LLM_MODEL": "m", "LLM_TIMEOUT": "0"},
        {"LLM_BASE_URL": "http://127.0.0.1:8099", "LLM_MODEL": "m", "LLM_TIMEOUT": "nan"},
    ],
)
def test_missing_or_malformed_config_is_not_configured(environ: dict[str, str]) -> None:
    with pytest.raises(LLMNotConfigured):
        LLMConfig.from_env(environ)


# -- the stand-in validates requests like the real API ----------------------------------
def _valid_body() -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


@pytest.mark.parametrize(
    "change, param",
    [
        (lambda body: body.pop("model"), "model"),
        (lambda body: body.update(messages=[]), "messages"),
        (lambda body: body.update(messages="hi"), "messages"),
        (lambda body: body.update(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role"),
        (lambda body: body.update(messages=[{"role": "user"}]), "messages[0].content"),
        (lambda body: body.update(max_tokens="10"), "max_tokens"),
        (lambda body: body.update(max_tokens=0), "max_tokens"),
        (lambda body: body.update(temperature=3), "temperature"),
        (lambda body: body.update(sender_id="4915550000001"), "sender_id"),
    ],
)
def test_standin_rejects_invalid_requests(change, param: str) -> None:
    body = _valid_body()
    change(body)
    with LLMStandin() as server:
        response = httpx.post(server.base_url + "/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_standin_rejects_unparseable_body_and_unknown_path() -> None:
    with LLMStandin() as server:
        bad = httpx.post(server.base_url + "/v1/chat/completions", content=b"{nope", headers={"Content-Type": "application/json"})
        unknown = httpx.post(server.base_url + "/v1/completions", json=_valid_body())
    assert bad.status_code == 400 and "could not parse the JSON body" in bad.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "invalid_request_error"


def test_standin_answers_in_openai_shape() -> None:
    with LLMStandin() as server:
        response = httpx.post(server.base_url + "/v1/chat/completions", json=_valid_body())
    data = json.loads(response.content)
    assert response.status_code == 200
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["role"] == "assistant"
    assert data["choices"][0]["finish_reason"] in {"stop", "length"}
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
