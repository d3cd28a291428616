"""The names the assistant defines, and whether a value may appear in a log line.

Why a vocabulary: an allowlist needs to know our own names (domain intents, entities,
slots, actions, responses, forms; Rasa's event and action names) to let them pass while
masking anything a user said. It is the only module-level cache of the log redaction:
these are names we wrote, never user data (``BLAUPAUSE_DOMAIN_FILE`` points at another
domain file).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from privacy.log_redaction.patterns import _BSUID, _BUILTIN_NAMES, _EMAIL, _MASK_ONLY, _SAFE_SHAPES

__all__ = ["DOMAIN_FILE_ENV", "is_known_name", "is_safe_value"]

DOMAIN_FILE_ENV = "BLAUPAUSE_DOMAIN_FILE"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
_MAX_SAFE_STRING = 160


def _domain_path() -> Path:
    configured = os.environ.get(DOMAIN_FILE_ENV, "").strip()
    return Path(configured) if configured else _PROJECT_ROOT / "domain.yml"


def _names_in(domain: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for section in ("intents", "entities", "actions", "forms", "responses", "slots"):
        value = domain.get(section) or ()
        items = value.keys() if isinstance(value, Mapping) else value
        for item in items:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, Mapping):
                names.update(key for key in item if isinstance(key, str))
    for slot in (domain.get("slots") or {}).values():
        if isinstance(slot, Mapping):
            names.update(str(value) for value in slot.get("values") or () if isinstance(value, (str, int)))
    return names


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Names the assistant defines (domain.yml) plus Rasa's built-in names.

    Cached for the process: these are names we wrote, not anything a user said.
    """
    names = set(_BUILTIN_NAMES)
    try:
        import yaml  # rasa and rasa-sdk both depend on PyYAML

        domain = yaml.safe_load(_domain_path().read_text(encoding="utf-8")) or {}
        if isinstance(domain, Mapping):
            names |= _names_in(domain)
    except Exception:  # noqa: BLE001 - without a domain file only built-in names and shapes pass
        pass
    return frozenset(names)


def is_known_name(value: str) -> bool:
    """True if ``value`` is a name the assistant or Rasa defines (intent, slot, action, ...)."""
    return value in _vocabulary()


def is_safe_value(value: str) -> bool:
    """True if ``value`` may appear in a log line: a name we define or a machine shape."""
    if len(value) > _MAX_SAFE_STRING:
        return False
    if value in _vocabulary() or _MASK_ONLY.fullmatch(value):
        return True
    if _BSUID.search(value) or _EMAIL.search(value):
        return False
    return _SAFE_SHAPES.fullmatch(value) is not None
