"""Tolerant readers of one JSON field of a webhook payload.

Why: Meta adds fields over time and leaves optional ones out, so a field of the wrong JSON type
is read as absent instead of failing the whole batch (the parser, :mod:`.parser`, decides which
containers must have the right type).
"""
from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "as_str"]


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str:
    """``value`` when it is a JSON string, else ``""``."""
    return value if isinstance(value, str) else ""
