"""Shared fixtures: real PostgreSQL and Redis servers on loopback.

In CI (``CI=true``) a missing server fails the run, because the scale-out path must be
tested for real there. On a developer machine without the servers the tests skip with a
message that says how to start them.
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from harness import meta_payloads as mp

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

_HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _require(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}; start it with: {_HOW_TO_START[name]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI must run these tests, not skip them)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL test database (trust auth on loopback)."""
    return _require("PostgreSQL", PG_URL, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server on loopback."""
    return _require("Redis", REDIS_URL, 6379)


@pytest.fixture
def unique_name() -> str:
    """A unique, SQL- and Redis-safe name so parallel runs never share tables or keys."""
    return "t" + uuid.uuid4().hex[:12]


STORE_BACKENDS = ["sqlite", "postgresql", "redis"]


def store_url_for(request: pytest.FixtureRequest, backend: str, tmp_path) -> str:
    """The URL of a real backend of the encrypted tracker store (PostgreSQL/Redis: fixtures)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/var/trackers.db"
    if backend == "postgresql":
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("redis_url")


async def drop_encrypted_store(opened, url: str, table: str) -> None:
    """Delete what a test's EncryptedTrackerStore wrote, close it, drop its SQL tables."""
    import sqlalchemy as sa

    for backend in opened.backends.all():
        for pseudonym in await backend.list_pseudonyms():
            await backend.delete(pseudonym)
    await opened.close()
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(_drop_tables_sql(table)))
        engine.dispose()


def _drop_tables_sql(table: str) -> str:
    from privacy.backends import conversation_namespaces

    return "DROP TABLE IF EXISTS " + ", ".join(f'"{name}"' for name in conversation_namespaces(table))


@pytest.fixture(autouse=True)
def _erasure_journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores built without an environment journal erasures to their default path under var/;
    tests keep theirs in a temporary directory instead of the working tree."""
    monkeypatch.setattr("privacy.store.config.DEFAULT_ERASURE_JOURNAL", str(tmp_path / "erasures.journal"))


MODEL = Path(__file__).resolve().parent.parent / "models" / "current.tar.gz"


def require_model() -> Path:
    """The trained model for end-to-end tests: skip without one, but fail under CI=true."""
    if not MODEL.exists():
        message = f"no trained model at {MODEL}; run `make train` first"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MODEL


def drop_postgres_tables(url: str, table: str) -> None:
    """Drop a test's encrypted-store tables (live, archive, keys, erased)."""
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(_drop_tables_sql(table))
    finally:
        connection.close()


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


async def serve_sanic(app: Any) -> tuple[Any, str]:
    """Start a Sanic app on a free loopback port (as `rasa run` would); (server, base URL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    return server, f"http://127.0.0.1:{port}"


async def stop_sanic(server: Any) -> None:
    """Stop a server started with :func:`serve_sanic` the way Sanic stops it."""
    await server.before_stop()
    closing = server.close()
    if closing is not None:
        await closing
    await server.after_stop()


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


async def stored_conversation(store_url: str, table: str, privacy_key: str, wa_id: str) -> list:
    """A user's whole stored conversation, read the way the bot reads it; its events in order.

    An EncryptedTrackerStore on the deployment's database, inside ``user_context`` with the keys
    derived from the deployment's secret and the user's number. Fails when there is no tracker
    or it cannot be decrypted, or when its events are out of order.
    """
    from rasa.shared.core.domain import Domain

    from privacy.context import keys_for_user, user_context
    from privacy.keyring import Keyring
    from privacy.store.encrypted import EncryptedTrackerStore

    keys = keys_for_user(Keyring.from_env({"PRIVACY_KEY": privacy_key}), wa_id)
    domain = Domain.load(str(Path(__file__).resolve().parent.parent / "domain.yml"))
    store = EncryptedTrackerStore(domain, url=store_url, table=table, environ={})
    try:
        with user_context(keys):
            tracker = await store.retrieve_full_tracker(keys.pseudonym)
    finally:
        await store.close()
    assert tracker is not None, f"no readable stored conversation for {wa_id}"
    stamps = [event.timestamp for event in tracker.events]
    assert stamps == sorted(stamps), f"stored events of {wa_id} are out of order"
    return list(tracker.events)


# ------------------------------------------------------- users of the username era (BSUIDs)
def as_user(message: dict[str, Any], *, phone: str | None, user_id: str | None,
            parent_user_id: str | None = None, username: str | None = None) -> dict[str, Any]:
    """A POST body for ``message`` (from any builder) re-addressed as Meta identifies the user today.

    ``phone`` None plays a username user, or one whose number Meta no longer shares: no
    ``from``, no ``wa_id``; the BSUID is in ``from_user_id`` and ``contacts[].user_id``.
    """
    user = mp.WhatsAppUser(phone=phone, user_id=user_id, parent_user_id=parent_user_id, username=username,
                           name="Erika Testfrau")
    addressed = {key: value for key, value in message.items() if key not in ("from", "from_user_id")}
    addressed.update({key: value for key, value in mp.text(user, "-").items() if key in ("from", "from_user_id")})
    return mp.payload(addressed, users=[user], contacts_=[user.contact()])


def system_change(previous_user_id: str, new_user_id: str) -> dict[str, Any]:
    """Meta's ``user_changed_user_id`` system message (no ``contacts`` array)."""
    return mp.payload(mp.user_changed_user_id(previous_user_id, new_user_id))
