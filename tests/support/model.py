"""The trained model the end-to-end, integration and reliability tests drive."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import MODEL
from tests.support.servers import in_ci

__all__ = ["MODEL", "require_model"]


def require_model() -> Path:
    """The trained model for end-to-end tests: skip without one, but fail under CI=true."""
    if not MODEL.exists():
        message = f"no trained model at {MODEL}; run `make train` first"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return MODEL
