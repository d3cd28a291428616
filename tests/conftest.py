"""Shared fixtures: real PostgreSQL and Redis servers on loopback, the Meta Graph stand-in.

In CI (``CI=true``) a missing server fails the run, because the scale-out path must be
tested for real there. On a developer machine without the servers the tests skip with a
message that says how to start them (tests/support/servers.py).

Helpers that are not fixtures live in ``tests/support/`` and are imported from there.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

# Plain asserts in the harness explain themselves like those in tests.
pytest.register_assert_rewrite("tests.support")

from tests.support.servers import PG_URL, REDIS_URL, require  # noqa: E402

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL test database (trust auth on loopback)."""
    return require("PostgreSQL", PG_URL, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server on loopback."""
    return require("Redis", REDIS_URL, 6379)


@pytest.fixture
def unique_name() -> str:
    """A unique, SQL- and Redis-safe name so parallel runs never share tables or keys."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def _erasure_journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores built without an environment journal erasures to their default path under var/;
    tests keep theirs in a temporary directory instead of the working tree."""
    monkeypatch.setattr("privacy.store.config.DEFAULT_ERASURE_JOURNAL", str(tmp_path / "erasures.journal"))


@pytest.fixture
async def standin():
    """The Meta Graph API stand-in on a free loopback port (LLM tests define their own)."""
    from standins.meta_graph import MetaGraphStandIn

    async with MetaGraphStandIn() as server:
        yield server


@pytest.fixture
async def http(standin):
    """An HTTP client for the stand-in's Graph API, with the stand-in's access token."""
    import httpx

    headers = {"Authorization": f"Bearer {standin.access_token}"}
    async with httpx.AsyncClient(base_url=standin.base_url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
async def graph(standin):
    """A GraphClient pointed at the stand-in, with two attempts and no backoff."""
    from connectors.whatsapp.graph.client import GraphClient
    from connectors.whatsapp.graph.config import GraphSettings
    from connectors.whatsapp.graph.retry import RetryPolicy
    from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID

    client = GraphClient(
        GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID, api_base_url=standin.base_url),
        retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0),
    )
    yield client
    await client.aclose()
