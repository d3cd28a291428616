"""rasa_compat.hot_path.cache_event_type_lookup against Rasa's own Event.resolve_by_type."""
from __future__ import annotations

from typing import Any

import pytest
import rasa
from rasa.shared.core import events as rasa_events
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses

import rasa_compat
from rasa_compat import RasaVersionError


@pytest.fixture()
def original(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own method, restored after the test (with Event's __init_subclass__)."""
    method = Event.__dict__["resolve_by_type"]
    function = method.__func__ if isinstance(method, staticmethod) else method
    while getattr(function, "_blaupause_cached_event_types", False):  # installed earlier in this process
        function = function.__closure__ and next(
            c.cell_contents for c in function.__closure__ if callable(getattr(c, "cell_contents", None))
            and getattr(c.cell_contents, "__name__", "") == "resolve_by_type")
    monkeypatch.setattr(Event, "resolve_by_type", staticmethod(function))
    if "__init_subclass__" in Event.__dict__:
        monkeypatch.delattr(Event, "__init_subclass__")
    return function


def _outcome(resolve: Any, name: str, default: Any = None) -> tuple[str, Any]:
    try:
        return "ok", resolve(name, default)
    except ValueError as error:
        return "ValueError", str(error)


def test_every_event_type_resolves_as_rasa_does(original: Any) -> None:
    names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic", "no_such_event", ""]
    expected = {name: _outcome(original, name) for name in names}
    expected_default = {name: _outcome(original, name, UserUttered) for name in names}
    assert rasa_compat.cache_event_type_lookup() is True
    assert Event.resolve_by_type is not original
    assert {name: _outcome(Event.resolve_by_type, name) for name in names} == expected
    assert {name: _outcome(Event.resolve_by_type, name, UserUttered) for name in names} == expected_default
    assert expected["no_such_event"] == ("ValueError", "Unknown event name 'no_such_event'.")


def test_deserialising_a_tracker_gives_the_same_events(original: Any) -> None:
    dumped = [UserUttered("hi", {"name": "greet"}).as_dict(),
              rasa_events.SlotSet("language", "de").as_dict(),
              rasa_events.ActionExecuted("utter_greet").as_dict(),
              rasa_events.SessionStarted().as_dict()]
    before = rasa_events.deserialise_events(dumped)
    rasa_compat.cache_event_type_lookup()
    assert rasa_events.deserialise_events(dumped) == before


def test_a_subclass_created_later_is_found(original: Any) -> None:
    rasa_compat.cache_event_type_lookup()
    assert _outcome(Event.resolve_by_type, "blaupause_test_event")[0] == "ValueError"  # the table is built now

    class LateEvent(rasa_events.SlotSet):
        type_name = "blaupause_test_event"

    assert Event.resolve_by_type("blaupause_test_event") is LateEvent
    assert Event.resolve_by_type("blaupause_test_event") is original("blaupause_test_event")


def test_installs_once(original: Any) -> None:
    assert rasa_compat.cache_event_type_lookup() is True
    installed = Event.resolve_by_type
    assert rasa_compat.cache_event_type_lookup() is True
    assert Event.resolve_by_type is installed


def test_refuses_another_rasa_version(original: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RasaVersionError, match="cache_event_type_lookup was written for rasa 3.6"):
        rasa_compat.cache_event_type_lookup()
    assert Event.resolve_by_type is original
