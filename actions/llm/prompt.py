"""The fallback prompt: loaded from prompts/llm_fallback.yml, turned into a system message,
and the answer shaped for WhatsApp.

Why a YAML file: conversation designers own the wording and must be able to change it
without touching Python (docs/architecture.md, "Where do I change X"). The file is read on
every fallback so an edit applies at once; it is small, so that costs nothing noticeable.

The language hint accepts only the languages the bot speaks (the ``language`` slot is
categorical ``de | en``); anything else is dropped, so a slot value can never inject text
into the system prompt.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import LLMPromptInvalid

__all__ = [
    "DEFAULT_PROMPT_PATH",
    "KNOWN_LANGUAGES",
    "PromptSettings",
    "load_prompt",
    "prompt_path_from_env",
    "shorten_answer",
    "clip_user_text",
]

DEFAULT_PROMPT_PATH = Path(__file__).resolve().parents[2] / "prompts" / "llm_fallback.yml"
KNOWN_LANGUAGES = frozenset({"de", "en"})

MAX_TOKENS_LIMIT = 4096
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”“»«)\]]*)(?=\s|$)")


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSettings:
    """The validated content of the prompt file."""

    system_prompt: str
    language_hint: str
    temperature: float
    max_tokens: int
    max_user_chars: int
    answer_max_chars: int

    def system_message(self, language: str | None) -> str:
        """The system prompt, with the language hint when the language is one we speak."""
        prompt = self.system_prompt.strip()
        code = (language or "").strip().lower()
        if code in KNOWN_LANGUAGES and self.language_hint:
            prompt = f"{prompt}\n\n{self.language_hint.replace('{language}', code)}"
        return prompt


def prompt_path_from_env(environ: Mapping[str, str] | None = None) -> Path:
    """``LLM_PROMPT_FILE`` when set (e.g. a mounted file in a container), else the default."""
    env = os.environ if environ is None else environ
    override = env.get("LLM_PROMPT_FILE", "").strip()
    return Path(override) if override else DEFAULT_PROMPT_PATH


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise LLMPromptInvalid(f"{where}: missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise LLMPromptInvalid(f"{where}: field {key!r} has the wrong type")
    return value


def load_prompt(path: Path | str | None = None) -> PromptSettings:
    """Read and validate the prompt file; raise LLMPromptInvalid with the reason."""
    file_path = Path(path) if path is not None else DEFAULT_PROMPT_PATH
    where = file_path.name
    try:
        raw = file_path.read_text(encoding="utf-8")
    except OSError as error:
        raise LLMPromptInvalid(f"{where}: cannot read the prompt file") from error
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise LLMPromptInvalid(f"{where}: not valid YAML") from error
    if not isinstance(data, dict):
        raise LLMPromptInvalid(f"{where}: expected a mapping at the top level")

    system_prompt = _require(data, "system_prompt", str, where)
    if not system_prompt.strip():
        raise LLMPromptInvalid(f"{where}: system_prompt is empty")
    language_hint = data.get("language_hint", "")
    if not isinstance(language_hint, str):
        raise LLMPromptInvalid(f"{where}: field 'language_hint' has the wrong type")

    generation = _require(data, "generation", dict, where)
    temperature = float(_require(generation, "temperature", (int, float), f"{where} generation"))
    if not 0.0 <= temperature <= 2.0:
        raise LLMPromptInvalid(f"{where}: generation.temperature must be between 0 and 2")
    max_tokens = _require(generation, "max_tokens", int, f"{where} generation")
    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise LLMPromptInvalid(f"{where}: generation.max_tokens must be between 1 and {MAX_TOKENS_LIMIT}")

    max_user_chars = _require(data, "max_user_chars", int, where)
    answer_max_chars = _require(data, "answer_max_chars", int, where)
    if max_user_chars < 1 or answer_max_chars < 20:
        raise LLMPromptInvalid(f"{where}: max_user_chars must be >= 1 and answer_max_chars >= 20")

    return PromptSettings(
        system_prompt=system_prompt,
        language_hint=language_hint,
        temperature=temperature,
        max_tokens=max_tokens,
        max_user_chars=max_user_chars,
        answer_max_chars=answer_max_chars,
    )


def clip_user_text(text: str, limit: int) -> str:
    """Cut an overly long user message at a word boundary so the request stays small."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def shorten_answer(text: str, limit: int, *, truncated: bool = False) -> str:
    """Strip the answer and, if longer than ``limit``, cut it after the last full sentence.

    A chat message that stops mid-word looks broken; one that stops after a sentence does
    not. ``truncated`` says the model stopped at max_tokens (finish_reason "length"), so
    the last sentence is probably unfinished and is dropped as well. Only when no sentence
    ends in the second half of the text do we cut at a word boundary and add an ellipsis.
    """
    text = text.strip()
    if len(text) <= limit:
        if not truncated or _SENTENCE_END.search(text[-3:]) is not None:
            return text
        limit = len(text)
    # Search the whole text so "3." in "3.5" at the cut is not taken for a sentence end.
    ends = [match.end() for match in _SENTENCE_END.finditer(text) if match.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]].rstrip()
    window = text[: limit - 1]
    space = window.rfind(" ")
    if space >= limit // 2:
        window = window[:space]
    return window.rstrip(" ,;:-") + "…"
