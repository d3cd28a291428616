"""The privacy actions only ask the channel to act: one marker message, no events, no storage.

Why that matters: the action server has no user keys; an action that tried to touch the
store (or set slots, or say anything itself) would either fail closed or leak. How the
marker travels through Rasa to the channel is tested in tests/unit/privacy/requests/test_requests_through_whatsapp.py.
"""
from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.privacy_actions import (
    PRIVACY_REQUEST_KEY,
    ActionEraseData,
    confirmation_was_asked,
    ActionExportData,
    privacy_request_marker,
)


def asked(question: str = "utter_confirm_delete", intent: str = "confirm_delete") -> list[dict[str, Any]]:
    """The events of a turn: the assistant's last action, then the user's answer."""
    return [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "Lösche meine Daten", "parse_data": {"intent": {"name": "delete_data"}}},
        {"event": "action", "name": question},
        {"event": "bot", "text": "Soll ich wirklich alles löschen?"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "ja", "parse_data": {"intent": {"name": intent}}},
    ]


def tracker(language: Any = "de", events: list[dict[str, Any]] | None = None) -> Tracker:
    slots = {"language": language, "job_title": "Koch", "location": "Berlin"}
    return Tracker(
        sender_id="a" * 64,
        slots=slots,
        latest_message={"text": "/confirm_delete", "intent": {"name": "confirm_delete"}, "entities": []},
        events=asked() if events is None else events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.mark.parametrize(("action", "kind"), [(ActionEraseData(), "erase"), (ActionExportData(), "export")])
@pytest.mark.parametrize("language", ["de", "en"])
async def test_action_dispatches_only_the_marker(action: Any, kind: str, language: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker(language), {})
    assert events == []
    [message] = dispatcher.messages
    assert message["custom"] == {PRIVACY_REQUEST_KEY: kind, "language": language}
    # Nothing the user could see, and no response name the action server would render.
    assert {key for key, value in message.items() if value} == {"custom"}


@pytest.mark.parametrize("language", [None, "fr", 3])
async def test_unknown_language_is_left_out_of_the_marker(language: Any) -> None:
    dispatcher = CollectingDispatcher()
    await ActionExportData().run(dispatcher, tracker(language), {})
    assert dispatcher.messages[0]["custom"] == {PRIVACY_REQUEST_KEY: "export"}


def test_marker_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError):
        privacy_request_marker("forget", "de")


def test_action_server_registers_both_actions_by_their_domain_names() -> None:
    executor = ActionExecutor()
    executor.register_package("actions.privacy_actions")
    assert {"action_erase_data", "action_export_data"} <= set(executor.actions)


@pytest.mark.parametrize("events", [
    [],                                                       # a conversation's first message
    asked(question="utter_greet", intent="affirm"),           # a stray "ja" after something else
    asked()[:2],                                               # "delete my data" without the question
    asked() + [{"event": "action", "name": "action_erase_data"}, {"event": "action", "name": "action_listen"},
               {"event": "user", "text": "ja"}],              # a second "ja" after the erasure
])
async def test_erasure_without_its_question_asks_it_and_erases_nothing(events: list[dict[str, Any]]) -> None:
    dispatcher = CollectingDispatcher()
    result = await ActionEraseData().run(dispatcher, tracker("de", events), {})
    assert result == [FollowupAction("utter_confirm_delete")]
    assert dispatcher.messages == []  # no marker: the channel erases nothing


@pytest.mark.parametrize("intent", ["confirm_delete", "affirm"])
def test_an_answer_right_after_the_question_confirms(intent: str) -> None:
    assert confirmation_was_asked(tracker("en", asked(intent=intent)))
