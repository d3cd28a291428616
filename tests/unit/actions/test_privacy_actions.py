"""The privacy actions only ask the channel to act: one marker message, no events, no storage.

Why that matters: the action server has no user keys; an action that tried to touch the
store (or set slots, or say anything itself) would either fail closed or leak. How the
marker travels through Rasa to the channel is tested in tests/unit/privacy/requests/test_requests_through_whatsapp.py.
"""
from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.privacy_actions import (
    PRIVACY_REQUEST_KEY,
    ActionEraseData,
    ActionExportData,
    privacy_request_marker,
)


def tracker(language: Any = "de") -> Tracker:
    slots = {"language": language, "job_title": "Koch", "location": "Berlin"}
    return Tracker(
        sender_id="a" * 64,
        slots=slots,
        latest_message={"text": "/confirm_delete", "intent": {"name": "confirm_delete"}, "entities": []},
        events=[],
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
