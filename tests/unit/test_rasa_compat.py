"""rasa_compat: each adjustment refuses a Rasa version it was not written for, and works on 3.6."""
from __future__ import annotations

import copy
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


def test_wrap_once_keeps_a_classmethod_a_classmethod_and_wraps_once() -> None:
    class Base:
        @classmethod
        def make(cls, value: int) -> tuple[type, int]:
            return cls, value

    class Child(Base):
        pass

    def wrap(original: Any) -> Any:
        def make(cls: type, value: int) -> tuple[type, int]:
            made_by, made = original(cls, value)
            return made_by, made + 1
        return make

    rasa_compat._wrap_once(Base, "make", "_test_mark", wrap)
    rasa_compat._wrap_once(Base, "make", "_test_mark", wrap)  # already ours: no second wrapper
    assert isinstance(Base.__dict__["make"], classmethod)
    assert Base.make(1) == (Base, 2)
    assert Child.make(1) == (Child, 2)  # bound to the class it is called on, as before
    assert Base.make.__name__ == "make"


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


# ----------------------------------------------------------------------------- action result validation

_GOOD_RESULTS: list[Any] = [
    {},
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "language", "value": "de"}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "action", "name": "action_listen"}, {"event": "followup", "name": "utter_x"}]},
    {"responses": [{"response": "utter_greet", "buttons": []}]},
    {"events": [], "responses": [], "extra": {"anything": 1}},  # extra keys: the schema allows them
    {"events": [{"event": "slot", "name": "s", "value": None, "timestamp": 1.5}]},
]

_BAD_RESULTS: list[Any] = [
    [],  # not an object
    "events",
    None,
    {"events": {"event": "slot"}},  # events not an array
    {"events": "slot"},
    {"events": [{"name": "language", "value": "de"}]},  # event without its "event" key
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": 3, "value": "de"}]},  # nested: wrong type
    {"events": [{"event": "slot", "value": "de"}]},  # nested: missing key
    {"events": [{"event": "user", "text": 5}]},
    {"events": [{"event": "action", "name": "a"}, "not an event"]},
    {"events": [], "responses": {"text": "hi"}},  # responses not an array
    {"responses": ["hi"]},  # responses items not objects
    {"responses": [{"text": "ok"}, 3]},
]


def _original_validation() -> Any:
    from rasa.core.actions.action import RemoteAction

    method = RemoteAction._validate_action_result
    return getattr(method, "__wrapped__", method) if getattr(method, "_blaupause_compiled_validator", False) else method


def _outcome(validate: Any, result: Any) -> tuple[str, Any]:
    from rasa.core.actions.action import RemoteAction

    try:
        return "ok", validate(RemoteAction("action_x", None), copy.deepcopy(result))
    except Exception as error:  # noqa: BLE001 - the type and text are what is compared
        return type(error).__qualname__, (
            type(error).__module__, str(error), getattr(error, "message", None), list(getattr(error, "path", []))
        )


@pytest.fixture()
def patched(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from rasa.core.actions.action import RemoteAction

    original = _original_validation()
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)  # restored after the test
    assert rasa_compat.compile_action_result_validation() is True
    return original, RemoteAction._validate_action_result


@pytest.mark.parametrize("result", _GOOD_RESULTS + _BAD_RESULTS)
def test_compiled_validation_accepts_and_rejects_exactly_what_rasa_does(patched: tuple[Any, Any], result: Any) -> None:
    original, compiled = patched
    assert compiled is not original
    assert _outcome(compiled, result) == _outcome(original, result)


def test_the_table_holds_good_and_bad_results_for_rasa_itself() -> None:
    original = _original_validation()
    assert all(_outcome(original, result) == ("ok", True) for result in _GOOD_RESULTS)
    outcomes = [_outcome(original, result) for result in _BAD_RESULTS]
    assert all(kind == "ValidationError" for kind, _ in outcomes)
    assert all("Failed to validate Action server response" in detail[1] for _, detail in outcomes)


def test_compiled_validation_applies_once(patched: tuple[Any, Any]) -> None:
    from rasa.core.actions.action import RemoteAction

    _, compiled = patched
    assert rasa_compat.install_hot_path() is True
    assert rasa_compat.compile_action_result_validation() is True
    assert RemoteAction._validate_action_result is compiled  # not wrapped twice


def test_compiled_validation_refuses_another_rasa_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import RemoteAction

    original = _original_validation()
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RasaVersionError, match="compile_action_result_validation was written for rasa 3.6"):
        rasa_compat.install_hot_path()
    assert RemoteAction._validate_action_result is original  # nothing patched


def test_hot_path_can_be_switched_off_for_profiling(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import RemoteAction

    original = _original_validation()
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    assert rasa_compat.install_hot_path({"BLAUPAUSE_RASA_HOT_PATH": "off"}) is False
    assert RemoteAction._validate_action_result is original  # Rasa's own code unchanged
    assert rasa_compat.install_hot_path({"BLAUPAUSE_RASA_HOT_PATH": "on"}) is True
    assert RemoteAction._validate_action_result is not original
