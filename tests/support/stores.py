"""The encrypted tracker store in tests: its backends, reading it back, cleaning up after a test.

The store tests run one contract against real SQLite, PostgreSQL and Redis (STORE_BACKENDS);
PostgreSQL and Redis come from the gated fixtures of tests/conftest.py.
"""
from __future__ import annotations

import pytest

from tests.support.paths import DOMAIN_FILE

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
            connection.execute(sa.text(drop_tables_sql(table)))
        engine.dispose()


def drop_tables_sql(table: str) -> str:
    """One statement that drops every table of a store (live, archive, keys, erased)."""
    from privacy.backends import conversation_namespaces

    return "DROP TABLE IF EXISTS " + ", ".join(f'"{name}"' for name in conversation_namespaces(table))


def drop_postgres_tables(url: str, table: str) -> None:
    """Drop a test's encrypted-store tables (live, archive, keys, erased)."""
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(drop_tables_sql(table))
    finally:
        connection.close()


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
    domain = Domain.load(str(DOMAIN_FILE))
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
