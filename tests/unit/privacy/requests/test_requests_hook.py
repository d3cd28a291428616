"""privacy.requests.hook: one hook built once, the agent looked up per turn."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret
from privacy.requests.hook import MissingResponseError, PrivacyRequests
from privacy.requests.markers import PRIVACY_REQUEST_KEY, RESPONSE_FAILED

WA_ID = "4915550000311"


class FakeNLG:
    async def generate(self, name: str, tracker: Any, channel: str, **variables: Any) -> Mapping[str, Any] | None:
        return {"text": f"{name}|{channel}"} if name == RESPONSE_FAILED else None


class FakeAgent:
    def __init__(self) -> None:
        self.nlg = FakeNLG()
        self.domain = None
        self.tracker_store = None  # no encrypted store: every request fails politely
        self.lock_store = None


@pytest.fixture
def user() -> Any:
    return keys_for_user(Keyring(current=Secret.generate()), WA_ID)


async def test_a_hook_built_before_the_agent_exists_uses_it_once_it_does(user: Any) -> None:
    app_ctx: dict[str, Any] = {}
    hook = PrivacyRequests.for_agent(lambda: app_ctx.get("agent"))
    marker = {"custom": {PRIVACY_REQUEST_KEY: "export", "language": "en"}}
    assert await hook.after_turn([{"text": "a"}, marker], user, "ref") == [{"text": "a"}]  # no agent yet: dropped
    app_ctx["agent"] = FakeAgent()
    assert await hook.after_turn([{"text": "a"}, marker], user, "ref") == [
        {"text": "a"},
        {"text": f"{RESPONSE_FAILED}|whatsapp", "language": "en"},
    ]
    assert await hook.move_conversation(user, user, "ref") is False  # no encrypted store: nothing to move


async def test_a_missing_response_is_an_error_not_a_silent_reply(user: Any) -> None:
    hook = PrivacyRequests.for_agent(FakeAgent())
    with pytest.raises(MissingResponseError):
        await hook.reply("utter_data_erased", "de", {})
