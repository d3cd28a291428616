"""JSON text with the tricks ``json.dumps`` cannot write: raw numbers, NaN, duplicate keys.

Meta sends ASCII-escaped JSON (``\\uXXXX``); ``ascii_only=False`` writes raw UTF-8, and a lone
surrogate then becomes invalid UTF-8 on purpose. Used by the fuzz bodies of
tests/reliability/test_fuzz.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Tuple


@dataclass(frozen=True)
class Raw:
    """JSON text written as is: numbers json.dumps cannot write, NaN, Infinity."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written pair by pair, duplicate keys included (Python's json keeps the last)."""

    items: Tuple[Tuple[str, Any], ...]


MISSING = object()  # a field left out


def to_json(value: Any, ascii_only: bool = True) -> str:
    """Serialise a tree of Raw/Pairs/dict/list/scalars; ``ascii_only`` like Meta (``\\uXXXX``)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, (Pairs, dict)):
        items = value.items if isinstance(value, Pairs) else tuple(value.items())
        return "{" + ",".join(json.dumps(k, ensure_ascii=ascii_only) + ":" + to_json(v, ascii_only) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def to_body(value: Any, ascii_only: bool = True) -> bytes:
    # surrogatepass: a lone surrogate in a non-ASCII body becomes invalid UTF-8 on purpose
    return to_json(value, ascii_only).encode("utf-8", "surrogatepass")

