"""``action_llm_fallback``: answer a message the bot did not understand.

Why: a job-search bot meets many questions outside its stories ("Wie schreibe ich ein
Anschreiben?"). When an LLM is configured, it gives a short on-topic answer; when it is
not configured or fails in any way, the user gets ``utter_fallback_canned`` with the main
menu, so the bot never goes silent. Button payloads ("/search_job") never go to the LLM.

Privacy: only the system prompt and the redacted last user message are sent (see
actions/llm/client.py). Logs above DEBUG carry the outcome and latency, never the text.

Contracts: responses ``utter_fallback_canned`` and ``utter_llm_answer`` (var ``answer``),
slot ``language`` (a code of labels.yml's ``languages``) -- domain.yml, docs/architecture.md.
rasa-sdk actions: https://rasa.com/docs/rasa/custom-actions
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.llm import (
    ChatCompletionsClient,
    LLMConfig,
    LLMError,
    LLMNotConfigured,
    RetryPolicy,
    clip_user_text,
    load_prompt,
    prompt_path_from_env,
    shorten_answer,
)
from actions.llm.metering import count_disabled
from privacy.personal_values import personal_values

__all__ = ["ActionLLMFallback", "ACTION_NAME", "CANNED_RESPONSE", "ANSWER_RESPONSE"]

logger = logging.getLogger(__name__)

ACTION_NAME = "action_llm_fallback"
CANNED_RESPONSE = "utter_fallback_canned"
ANSWER_RESPONSE = "utter_llm_answer"


class ActionLLMFallback(Action):
    """Ask the LLM, or answer with the canned fallback.

    The constructor arguments exist for tests and embedding; the action server creates
    the action without arguments and then reads ``os.environ`` on every run, so a changed
    configuration applies without a code change.
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        prompt_path: Path | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._environ = environ
        self._prompt_path = prompt_path
        self._retry = retry

    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[dict[str, Any]]:
        started = time.monotonic()
        text = (tracker.latest_message or {}).get("text") or ""
        if not isinstance(text, str) or not text.strip():
            return self._canned(dispatcher, started, "skipped_empty")
        if text.lstrip().startswith("/"):
            return self._canned(dispatcher, started, "skipped_payload")

        environ = os.environ if self._environ is None else self._environ
        try:
            config = LLMConfig.from_env(environ)
            prompt = load_prompt(self._prompt_path or prompt_path_from_env(environ))
            client = ChatCompletionsClient(config, retry=self._retry)
            completion = await client.complete(
                system_prompt=prompt.system_message(tracker.get_slot("language")),
                user_text=clip_user_text(text, prompt.max_user_chars),
                max_tokens=prompt.max_tokens,
                temperature=prompt.temperature,
                # The profile name and username the webhook carried, sent by the channel beside
                # the tracker (never in it): masked by value (privacy/personal_values.py).
                known_values=personal_values(),
            )
        except LLMNotConfigured:
            count_disabled()  # blaupause_llm_requests{outcome="disabled"} (actions/llm/metering.py)
            return self._canned(dispatcher, started, "not_configured")
        except LLMError as error:
            logger.warning(
                "llm_fallback outcome=error error=%s status=%s code=%s latency_ms=%d",
                type(error).__name__,
                error.status,
                error.code,
                _elapsed_ms(started),
            )
            logger.debug("llm_fallback error detail: %s", error.message)
            dispatcher.utter_message(response=CANNED_RESPONSE)
            return []

        answer = shorten_answer(
            completion.text, prompt.answer_max_chars, truncated=completion.finish_reason == "length"
        )
        logger.info(
            "llm_fallback outcome=ok finish_reason=%s attempts=%d latency_ms=%d",
            completion.finish_reason,
            completion.attempts,
            _elapsed_ms(started),
        )
        dispatcher.utter_message(response=ANSWER_RESPONSE, answer=answer)
        return []

    @staticmethod
    def _canned(dispatcher: CollectingDispatcher, started: float, outcome: str) -> list[dict[str, Any]]:
        logger.info("llm_fallback outcome=%s latency_ms=%d", outcome, _elapsed_ms(started))
        dispatcher.utter_message(response=CANNED_RESPONSE)
        return []


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
