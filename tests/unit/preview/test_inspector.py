"""The inspector reads the session user's conversation from the encrypted store, as turns."""
from __future__ import annotations

import secrets
import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from preview.inspector import Inspector
from preview.sessions import default_sessions
from privacy.context import keys_for_user, user_context
from privacy.identity import UserIdentifiers
from privacy.keyring import Keyring
from privacy.store.encrypted import EncryptedTrackerStore
from standins.meta_graph import AcceptedMessage
from tests.support.paths import DOMAIN_FILE

KEY = secrets.token_hex(32)


def _reply(to: str, text: str, at: float) -> AcceptedMessage:
    message = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}}
    return AcceptedMessage(to=to, message=message, wamid=f"wamid.FAKE{at}", received_at=at)


@pytest.fixture
def keyring():
    return Keyring.from_env({"PRIVACY_KEY": KEY})


async def _store_conversation(url: str, keyring: Keyring, user, events) -> None:
    domain = Domain.load(str(DOMAIN_FILE))
    ids = UserIdentifiers(phone=user.phone, user_id=user.user_id)
    keys = keys_for_user(keyring, ids.anchor(), ids.aliases())
    store = EncryptedTrackerStore(domain, url=url, environ={})
    try:
        with user_context(keys):
            await store.save(DialogueStateTracker.from_events(keys.pseudonym, events, domain.slots))
    finally:
        await store.close()


async def test_turns_group_intent_entities_slots_actions_and_the_payloads_sent(tmp_path, keyring):
    url = f"sqlite:///{tmp_path}/trackers.db"
    session = default_sessions()["phone"]
    start = time.time()
    session.user_sent({"id": "wamid.FAKE1", "type": "text"}, at=start)
    session.user_sent({"id": "wamid.FAKE2", "type": "text"}, at=start + 10)
    session.received.extend(
        [_reply(session.user.phone, "Wo suchst du?", start + 1), _reply(session.user.phone, "Ich suche…", start + 11)]
    )
    events = [
        ActionExecuted("action_session_start", timestamp=start - 5),
        SlotSet("language", "de", timestamp=start - 5),
        ActionExecuted("action_listen", timestamp=start - 5),
        UserUttered(
            "Ich suche einen Job als Koch",
            intent={"name": "search_job", "confidence": 0.97},
            entities=[{"entity": "job_title", "value": "Koch", "start": 24, "end": 28}],
            timestamp=start + 0.2,
        ),
        SlotSet("job_title", "Koch", timestamp=start + 0.3),
        ActionExecuted("job_search_form", timestamp=start + 0.4),
        ActionExecuted("action_listen", timestamp=start + 0.5),
        UserUttered("Berlin", intent={"name": "inform", "confidence": 0.81}, timestamp=start + 10.2),
        SlotSet("location", "Berlin", timestamp=start + 10.3),
        ActionExecuted("action_search_jobs", timestamp=start + 10.4),
    ]
    await _store_conversation(url, keyring, session.user, events)
    inspector = Inspector(url, keyring, DOMAIN_FILE)
    try:
        turns = await inspector.turns(session)
    finally:
        await inspector.close()

    first, second = turns
    assert first["user"] == "Ich suche einen Job als Koch"
    assert first["intent"] == {"name": "search_job", "confidence": 0.97}
    assert first["entities"] == [{"entity": "job_title", "value": "Koch"}]
    assert first["slots"] == {"job_title": "Koch"}
    assert first["actions"] == ["job_search_form", "action_listen"]
    assert [p["text"]["body"] for p in first["payloads"]] == ["Wo suchst du?"]
    assert (second["intent"]["name"], second["slots"], second["actions"]) == ("inform", {"location": "Berlin"}, ["action_search_jobs"])
    assert [p["text"]["body"] for p in second["payloads"]] == ["Ich suche…"]


async def test_another_person_or_a_new_identity_sees_no_turns(tmp_path, keyring):
    url = f"sqlite:///{tmp_path}/trackers.db"
    sessions = default_sessions()
    phone = sessions["phone"]
    await _store_conversation(url, keyring, phone.user, [UserUttered("Hallo", intent={"name": "greet", "confidence": 1.0})])
    inspector = Inspector(url, keyring, DOMAIN_FILE)
    try:
        assert [t["user"] for t in await inspector.turns(phone)] == ["Hallo"]
        assert await inspector.turns(sessions["bsuid"]) == []
        phone.reset()
        assert await inspector.turns(phone) == []
    finally:
        await inspector.close()


async def test_the_inspect_route_answers_turns(preview, tmp_path, keyring):
    url = f"sqlite:///{tmp_path}/trackers.db"
    session = preview.api.sessions["bsuid"]
    await _store_conversation(url, keyring, session.user, [UserUttered("Hallo", intent={"name": "greet", "confidence": 0.9})])
    preview.api.inspector = Inspector(url, keyring, DOMAIN_FILE)
    try:
        response = await preview.http.get("/api/sessions/bsuid/inspect")
    finally:
        await preview.api.inspector.close()

    assert response.status_code == 200
    [turn] = response.json()["turns"]
    assert (turn["user"], turn["intent"], turn["payloads"]) == ("Hallo", {"name": "greet", "confidence": 0.9}, [])
