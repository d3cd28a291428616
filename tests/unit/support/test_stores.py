"""Store helpers of the tests: backend URLs and the statement that drops a store's tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from privacy.backends import conversation_namespaces
from tests.support.stores import STORE_BACKENDS, drop_tables_sql, store_url_for


def test_every_backend_of_the_contract_is_listed() -> None:
    assert STORE_BACKENDS == ["sqlite", "postgresql", "redis"]


def test_sqlite_needs_no_server(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    assert store_url_for(request, "sqlite", tmp_path) == f"sqlite:///{tmp_path}/var/trackers.db"


def test_drop_statement_names_every_table_of_the_store() -> None:
    statement = drop_tables_sql("trackers_x")
    assert statement.startswith("DROP TABLE IF EXISTS ")
    for name in conversation_namespaces("trackers_x"):
        assert f'"{name}"' in statement
