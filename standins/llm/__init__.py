"""Loopback stand-in for an OpenAI-compatible chat completions server.

Why: tests and local runs must never reach a real LLM (no network, no cost, no data
leaving the machine), yet the client has to be tested against the real protocol: request
validation, bearer auth, OpenAI-shaped errors, context limits, rate limits and outages.
This server implements ``POST /v1/chat/completions`` with that behaviour, answers
deterministically, records every request so tests can assert what was sent, and injects
faults on demand.

Modelled on: https://platform.openai.com/docs/api-reference/chat/create and
https://platform.openai.com/docs/guides/error-codes/api-errors

Use from tests::

    with LLMStandin(api_key="test-key") as llm:
        llm.inject(FaultKind.RATE_LIMIT, times=1, retry_after=0)
        ... LLM_BASE_URL=llm.base_url ...
        assert llm.requests[-1].body["messages"][0]["role"] == "system"

Local use: ``python -m standins.llm --port 8099 [--api-key KEY] [--model NAME]``.

Modules, by what they do: ``server`` (HTTP, auth, recording), ``request_checks`` (what a valid
request is), ``completion`` (the answer), ``faults`` (OpenAI's failures, in the error shape of
standins/openai_errors.py, shared with standins/stt/), ``cli``. This package is their one import point.
"""
from __future__ import annotations

from standins.llm.cli import main
from standins.llm.completion import ENGLISH_REPLY, GERMAN_REPLY, estimate_tokens
from standins.llm.faults import Fault, FaultKind
from standins.llm.server import CHAT_COMPLETIONS_PATH, LLMStandin, RecordedRequest

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "GERMAN_REPLY",
    "ENGLISH_REPLY",
    "FaultKind",
    "Fault",
    "RecordedRequest",
    "LLMStandin",
    "estimate_tokens",
    "main",
]
