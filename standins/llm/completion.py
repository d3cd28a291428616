"""The stand-in's answer: a deterministic ``chat.completion`` object with OpenAI's fields.

Why deterministic: tests assert on the reply, so it is one of two canned texts, chosen by the
language of the last user message (a crude word count, enough for test sentences), or a fixed
text set by the test. Token counts use OpenAI's rule of thumb (four characters a token), which
also decides the context-length error and a ``finish_reason`` of ``length``.
"""
from __future__ import annotations

import math
import re
import time
from typing import Any

from standins.llm.faults import Fault, FaultKind
from standins.llm.request_checks import ChatRequest
from standins.openai_errors import invalid

__all__ = ["GERMAN_REPLY", "ENGLISH_REPLY", "estimate_tokens", "canned_reply", "prompt_tokens", "completion"]

GERMAN_REPLY = (
    "Ich helfe dir gern bei der Jobsuche in Deutschland. "
    "Schreib z. B. 'Ich suche einen Job als Koch in Berlin'."
)
ENGLISH_REPLY = (
    "I am happy to help you find a job in Germany. "
    "Write e.g. 'I am looking for a job as a cook in Berlin'."
)
_GERMAN_WORDS = frozenset(
    "ich du der die das und nicht wie was wo ein eine ist bitte suche kann ich mir dir "
    "mein meine wir sie es hallo danke warum welche stelle arbeit bewerbung".split()
)
_ENGLISH_WORDS = frozenset(
    "i you the and not how what where a an is please search can my me we they it hello "
    "thanks why which job work application looking".split()
)
_WORD = re.compile(r"[^\W\d_]+")
_DEFAULT_COMPLETION_BUDGET = 256


def estimate_tokens(text: str) -> int:
    """Roughly four characters per token, as OpenAI's own rule of thumb."""
    return math.ceil(len(text) / 4)


def canned_reply(text: str) -> str:
    """The English canned reply when ``text`` reads more English than German, else the German."""
    words = [word.lower() for word in _WORD.findall(text)]
    german = sum(word in _GERMAN_WORDS for word in words) + sum(ch in "äöüßÄÖÜ" for ch in text)
    english = sum(word in _ENGLISH_WORDS for word in words)
    return ENGLISH_REPLY if english > german else GERMAN_REPLY


def prompt_tokens(request: ChatRequest, context_tokens: int) -> tuple[int, int]:
    """(prompt tokens, completion budget), or OpenAI's ``context_length_exceeded`` error."""
    prompt = sum(estimate_tokens(text) + 4 for _, text in request.texts)
    budget = request.max_tokens if request.max_tokens is not None else _DEFAULT_COMPLETION_BUDGET
    if prompt + budget > context_tokens:
        raise invalid(
            f"This model's maximum context length is {context_tokens} tokens. However, you requested "
            f"{prompt + budget} tokens ({prompt} in the messages, "
            f"{budget} in the completion). Please reduce the length of the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        )
    return prompt, budget


def completion(
    request: ChatRequest, tokens: tuple[int, int], *, number: int, fixed_reply: str | None, fault: Fault | None
) -> dict[str, Any]:
    """The ``chat.completion`` answer for ``tokens`` from :func:`prompt_tokens`, numbered
    ``number``; EMPTY_CHOICES / EMPTY_CONTENT faults shape it here."""
    prompt, budget = tokens
    last_user = next((text for role, text in reversed(request.texts) if role == "user"), "")
    reply = fixed_reply if fixed_reply is not None else canned_reply(last_user)
    finish_reason = "stop"
    if estimate_tokens(reply) > budget:
        reply = reply[: budget * 4]
        finish_reason = "length"
    choices: list[dict[str, Any]] = [
        {
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason,
        }
    ]
    if fault is not None and fault.kind is FaultKind.EMPTY_CHOICES:
        choices = []
    elif fault is not None and fault.kind is FaultKind.EMPTY_CONTENT:
        choices[0]["message"]["content"] = ""
    completion_tokens = estimate_tokens(reply)
    return {
        "id": f"chatcmpl-standin{number:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
        "system_fingerprint": "fp_standin",
    }
