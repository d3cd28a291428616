"""LLM fallback: answer messages the bot did not understand with an OpenAI-compatible LLM.

Public surface (the LLM boundary in docs/architecture.md): the client and its config, the
redaction, the prompt file loader and the typed errors. The rasa-sdk action lives in
actions/llm_fallback.py and uses only what is exported here.
"""
from __future__ import annotations

from .client import (
    DEFAULT_TIMEOUT_SECONDS,
    ChatCompletionsClient,
    Completion,
    LLMConfig,
    RetryPolicy,
    Usage,
    build_request_body,
)
from .errors import (
    LLMBadResponse,
    LLMError,
    LLMNotConfigured,
    LLMPromptInvalid,
    LLMRateLimited,
    LLMRejected,
    LLMUnavailable,
)
from .prompt import (
    DEFAULT_PROMPT_PATH,
    PromptSettings,
    clip_user_text,
    load_prompt,
    prompt_path_from_env,
    shorten_answer,
)
from .redaction import Redaction, redact, redact_detailed

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ChatCompletionsClient",
    "Completion",
    "LLMConfig",
    "RetryPolicy",
    "Usage",
    "build_request_body",
    "LLMBadResponse",
    "LLMError",
    "LLMNotConfigured",
    "LLMPromptInvalid",
    "LLMRateLimited",
    "LLMRejected",
    "LLMUnavailable",
    "DEFAULT_PROMPT_PATH",
    "PromptSettings",
    "clip_user_text",
    "load_prompt",
    "prompt_path_from_env",
    "shorten_answer",
    "Redaction",
    "redact",
    "redact_detailed",
]
