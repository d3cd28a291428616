"""Every word a user sees that is not a domain response, read from ``labels.yml``.

Why a file and not Python: conversation designers change wording and add languages by
editing YAML (domain.yml for responses, labels.yml for everything else: the channel's
button and list labels, the export's words, the job search's result words, the language
detection's word lists). Nothing in Python names a language; the supported languages are
the ``languages`` list of labels.yml, the first being the default.

Both processes read it: the Rasa process (the WhatsApp channel, privacy requests) and the
action server (job search, language detection). ``BLAUPAUSE_LABELS_FILE`` points both at
another file (a designer's copy, a test's temporary copy); by default it is the
``labels.yml`` next to ``domain.yml``.

Lookups are by dotted path and language, and fall back to the default language, so a new
language may start with only a few labels translated::

    labels = current()
    labels.text("channel.choose", "en")          # "Please choose:"
    labels.languages                             # ("de", "en")
    labels.normalize("en-GB")                    # "en"; unknown -> the default language
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Labels", "LabelsError", "current", "load", "LABELS_FILE_ENV", "DEFAULT_LABELS_FILE"]

LABELS_FILE_ENV = "BLAUPAUSE_LABELS_FILE"
DEFAULT_LABELS_FILE = Path(__file__).resolve().parent.parent / "labels.yml"


class LabelsError(ValueError):
    """labels.yml is missing, malformed, or lacks a label the code asks for."""


@dataclass(frozen=True)
class Labels:
    """The parsed labels file: the languages and a tree of sections whose leaves are per language."""

    languages: tuple[str, ...]
    tree: Mapping[str, Any]
    source: str = "labels.yml"

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def normalize(self, language: object) -> str:
        """A supported language for ``language`` ("en-GB" -> "en"); the default otherwise."""
        if isinstance(language, str) and language:
            lowered = language.strip().lower()
            if lowered in self.languages:
                return lowered
            primary = lowered.replace("_", "-").split("-", 1)[0]
            if primary in self.languages:
                return primary
        return self.default_language

    def is_supported(self, language: object) -> bool:
        return isinstance(language, str) and language in self.languages

    def section(self, path: str) -> Mapping[str, Any]:
        """The sub-tree at ``path`` ("channel", "actions.working_time"); LabelsError if absent."""
        node: Any = self.tree
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise LabelsError(f"{self.source}: no section {path!r}")
            node = node[part]
        if not isinstance(node, Mapping):
            raise LabelsError(f"{self.source}: {path!r} is not a section")
        return node

    def value(self, path: str, language: object) -> Any:
        """The value of the label at ``path`` in ``language``, else in the default language."""
        head, _, leaf = path.rpartition(".")
        parent = self.section(head) if head else self.tree
        entry = parent.get(leaf) if isinstance(parent, Mapping) else None
        if not isinstance(entry, Mapping):
            raise LabelsError(f"{self.source}: no label {path!r}")
        wanted = self.normalize(language)
        if wanted in entry:
            return entry[wanted]
        if self.default_language in entry:
            return entry[self.default_language]
        raise LabelsError(f"{self.source}: label {path!r} has no {self.default_language!r} text")

    def text(self, path: str, language: object, **fields: Any) -> str:
        """The label as text, with ``{name}`` fields filled in."""
        value = self.value(path, language)
        if not isinstance(value, str):
            raise LabelsError(f"{self.source}: label {path!r} is not a text")
        return value.format(**fields) if fields else value

    def per_language(self, path: str) -> dict[str, Any]:
        """``{language: value}`` for every supported language (default-language fallback)."""
        return {language: self.value(path, language) for language in self.languages}


def load(path: str | os.PathLike[str] | None = None) -> Labels:
    """Parse a labels file; :class:`LabelsError` says what is wrong with it."""
    file = Path(path) if path is not None else _configured_path()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise LabelsError(f"cannot read labels file {file}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise LabelsError(f"labels file {file} is not valid YAML: {error}") from None
    if not isinstance(raw, Mapping):
        raise LabelsError(f"labels file {file} must be a mapping")
    languages = raw.get("languages")
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(item, str) and item.strip() == item and item for item in languages)
        or len(set(languages)) != len(languages)
    ):
        raise LabelsError(f"labels file {file}: 'languages' must be a non-empty list of distinct codes")
    tree = {key: value for key, value in raw.items() if key != "languages"}
    return Labels(languages=tuple(item.lower() for item in languages), tree=tree, source=str(file))


def _configured_path() -> Path:
    configured = os.environ.get(LABELS_FILE_ENV, "").strip()
    return Path(configured) if configured else DEFAULT_LABELS_FILE


@lru_cache(maxsize=8)
def _cached(path: str) -> Labels:
    return load(path)


def current() -> Labels:
    """The labels of this process (cached per file; ``BLAUPAUSE_LABELS_FILE`` read each call)."""
    return _cached(str(_configured_path()))
