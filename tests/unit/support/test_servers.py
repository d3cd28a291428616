"""The server gate: skip on a developer machine, fail under CI=true, say how to start the server."""
from __future__ import annotations

import socket

import pytest

from tests.support import servers


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_reachable_only_when_something_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        assert servers.reachable(f"redis://127.0.0.1:{listening.getsockname()[1]}/0", 6379)
    assert not servers.reachable(f"redis://127.0.0.1:{_closed_port()}/0", 6379)


def test_an_unreachable_server_skips_with_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server --daemonize yes"):
        servers.require("Redis", f"redis://127.0.0.1:{_closed_port()}/0", 6379)


def test_an_unreachable_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        servers.require("PostgreSQL", f"postgresql://postgres@127.0.0.1:{_closed_port()}/test", 5432)


def test_a_reachable_server_gives_its_url() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        url = f"postgresql://postgres@127.0.0.1:{listening.getsockname()[1]}/test"
        assert servers.require("PostgreSQL", url, 5432) == url
