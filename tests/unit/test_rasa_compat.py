"""rasa_compat: each adjustment refuses a Rasa version it was not written for, and works on 3.6."""
from __future__ import annotations

from typing import Any

import pytest
import rasa
import rasa_sdk
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore, InMemoryTrackerStore

import rasa_compat
from rasa_compat import RasaVersionError, require_rasa, require_rasa_sdk, unwrap_tracker_store


def test_the_installed_rasa_and_rasa_sdk_are_the_versions_the_adjustments_were_written_for() -> None:
    require_rasa(rasa_compat.WRITTEN_FOR, "test")
    require_rasa_sdk(rasa_compat.WRITTEN_FOR, "test")


@pytest.mark.parametrize("version", ["3.7.0", "4.0.0", "3.60.1", "unknown"])
def test_another_rasa_version_fails_loudly_naming_the_adjustment(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr(rasa, "__version__", version)
    with pytest.raises(RasaVersionError, match=r"make_fail_closed was written for rasa 3\.6\.x"):
        rasa_compat.make_fail_closed(FailSafeTrackerStore(InMemoryTrackerStore(None)), InMemoryTrackerStore)
    with pytest.raises(RasaVersionError, match="unwrap_tracker_store"):
        unwrap_tracker_store(InMemoryTrackerStore(None), InMemoryTrackerStore)


def test_another_rasa_sdk_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa_sdk, "__version__", "3.7.1")
    with pytest.raises(RasaVersionError, match="rasa_sdk 3.6.x"):
        require_rasa_sdk(rasa_compat.WRITTEN_FOR, "patch_sdk_create_app")


def test_unwrap_finds_the_store_inside_rasas_wrappers() -> None:
    inner = InMemoryTrackerStore(None)
    wrapped = FailSafeTrackerStore(AwaitableTrackerStore(inner))
    assert unwrap_tracker_store(wrapped, InMemoryTrackerStore) is inner
    with pytest.raises(TypeError, match="not an AwaitableTrackerStore"):
        unwrap_tracker_store(inner, AwaitableTrackerStore)


async def test_action_call_headers_go_only_to_action_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.endpoints import EndpointConfig

    seen: list[dict[str, Any]] = []

    async def fake_request(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    monkeypatch.setattr(EndpointConfig, "request", fake_request)
    assert rasa_compat.patch_action_call_headers(lambda: {"X-Test": "1"}) is True
    assert rasa_compat.patch_action_call_headers(lambda: {"X-Other": "2"}) is True  # idempotent: first one stays
    endpoint = EndpointConfig("http://127.0.0.1:9/webhook")
    await endpoint.request(json={"next_action": "action_x"}, method="post")
    await endpoint.request(json={"text": "no action call"}, method="post")
    assert seen[0]["headers"] == {"X-Test": "1"}
    assert "headers" not in seen[1]
