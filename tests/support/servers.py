"""Gate for the real PostgreSQL and Redis test servers on loopback.

In CI (``CI=true``) a missing server fails the run, because the scale-out path must be tested
for real there. On a developer machine without the servers the tests skip with a message that
says how to start them. The fixtures ``postgres_url``/``redis_url`` (tests/conftest.py) use it.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def in_ci() -> bool:
    """CI must run server and model tests, not skip them."""
    return os.environ.get("CI", "").lower() == "true"


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> str:
    """``url`` when the server answers; otherwise skip (fail under CI=true) saying how to start it."""
    if reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}; start it with: {HOW_TO_START[name]}"
    if in_ci():
        pytest.fail(message + " (CI must run these tests, not skip them)")
    pytest.skip(message)
