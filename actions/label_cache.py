"""Things the actions derive from labels.yml (word sets, slot lists), computed once per file.

Why: ``wording.current()`` returns one parsed :class:`wording.Labels` per labels file and
process, but that object holds plain dicts and so cannot be an ``lru_cache`` key. The
derived values are cached by the object's identity instead (the cache keeps the object
alive, so an identity is never reused); a test pointing ``BLAUPAUSE_LABELS_FILE`` at another
file gets another Labels object and so freshly derived values.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import wording

__all__ = ["derived"]

_T = TypeVar("_T")
_cache: dict[tuple[int, Callable[..., Any]], tuple[wording.Labels, Any]] = {}
_lock = threading.Lock()
_MAX_ENTRIES = 64


def derived(labels: wording.Labels, build: Callable[[wording.Labels], _T]) -> _T:
    """``build(labels)``, computed once per (labels object, build function)."""
    key = (id(labels), build)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is labels:
            return hit[1]
    value = build(labels)
    with _lock:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[key] = (labels, value)
    return value
