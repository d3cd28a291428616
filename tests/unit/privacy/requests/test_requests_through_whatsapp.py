"""Erasure and export through WhatsApp: the channel performs the requests the actions ask for.

The dialogue is a scripted stand-in for Rasa's agent, but every part the feature relies on is
real: the encrypted tracker store (SQLite in tmp_path and the real Redis) behind Rasa's
``FailSafeTrackerStore``, Rasa's templated NLG and in-memory lock store, the rasa-sdk actions
whose markers go through Rasa's own action-response path (``RemoteAction._utter_responses``,
``BotUttered.message()``) into the channel's collecting output, the webhook core with the
dedup store and outbox, a real GraphClient and the Meta Graph stand-in.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.sanic_server import stop_sanic
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import UserMessage, register
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis
from sanic import Sanic

import actions.privacy_actions as privacy_actions
from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.redis_map import RedisPayloadIdMap
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.core import WebhookCore
from privacy.context import UserKeys, keys_for_user, user_context
from privacy.keyring import Keyring, Secret
from privacy.owner_tags import owner_tags
from privacy.requests.export import export_variables, format_slots, format_time
from privacy.requests.hook import PrivacyRequests
from privacy.requests.markers import (
    PRIVACY_REQUEST_KEY,
    RESPONSE_ERASED,
    RESPONSE_EXPORT,
    RESPONSE_EXPORT_EMPTY,
    RESPONSE_FAILED,
    privacy_request_of,
)
from privacy.store.encrypted import EncryptedTrackerStore
from harness import meta_payloads
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, Fault, MetaGraphStandIn
from harness.webhook_sender import WebhookSender
from tests.support.paths import DOMAIN_FILE

WA_ID = "4915550000301"
OTHER_WA_ID = "4915550000302"
APP_SECRET = "privacy-requests-app-secret"
SETTINGS = WhatsAppSettings(
    verify_token="privacy-verify-token",
    app_secret=APP_SECRET,
    access_token=DEFAULT_ACCESS_TOKEN,
    phone_number_id=DEFAULT_PHONE_NUMBER_ID,
    max_body_bytes=64 * 1024,
)
BERLIN = ZoneInfo("Europe/Berlin")
EN = [{"type": "slot", "name": "language", "value": "en"}]



def _slot(kind: str, **extra: Any) -> dict[str, Any]:
    """A fresh slot definition (Domain.from_dict consumes the dicts it gets)."""
    return {"type": kind, "influence_conversation": False, "mappings": [{"type": "custom"}], **extra}


DOMAIN = Domain.from_dict(
    {
        "version": "3.1",
        "intents": ["search_job", "confirm_delete", "export_data", "switch_language"],
        "slots": {
            "job_title": _slot("text"),
            "location": _slot("text"),
            "radius_km": _slot("float", max_value=200.0),
            "remote": _slot("bool"),
            "latitude": _slot("float", min_value=-90.0, max_value=90.0),
            "longitude": _slot("float", min_value=-180.0, max_value=180.0),
            "search_page": _slot("float", max_value=100.0),
            "language": _slot("categorical", values=["de", "en"], initial_value="de"),
        },
        "responses": {
            RESPONSE_ERASED: [{"condition": EN, "text": "ERASED en"}, {"text": "ERASED de"}],
            RESPONSE_EXPORT: [
                {"condition": EN, "text": "EXPORT en|{sessions}|{messages}|{first_activity}|{last_activity}|{retained_until}\n{slots}"},
                {"text": "EXPORT de|{sessions}|{messages}|{first_activity}|{last_activity}|{retained_until}\n{slots}"},
            ],
            RESPONSE_EXPORT_EMPTY: [{"condition": EN, "text": "EMPTY en"}, {"text": "EMPTY de"}],
            RESPONSE_FAILED: [{"condition": EN, "text": "FAILED en"}, {"text": "FAILED de"}],
        },
        "actions": ["action_erase_data", "action_export_data"],
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
)
SEARCH_SLOTS = {
    "job_title": "Koch", "location": "Berlin", "radius_km": 25.0, "remote": True,
    "latitude": 52.520008, "longitude": 13.404954, "search_page": 2.0,
}


class FakeRasa:
    """Rasa's ``Agent`` as the channel sees it: ``handle_message``, ``tracker_store``, ``nlg``,
    ``domain`` and ``lock_store``. The turns are scripted; the privacy actions run through rasa-sdk
    and Rasa's own response path, and the tracker is saved at the end of the turn, like Rasa does.
    """

    def __init__(self, store: TrackerStore, domain: Domain = DOMAIN) -> None:
        self.domain = domain
        self.tracker_store = FailSafeTrackerStore(store)
        self.nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        self.lock_store = InMemoryLockStore()
        self.received: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        async with self.lock_store.lock(message.sender_id):
            tracker = await self.tracker_store.retrieve(message.sender_id)
            if tracker is None:
                tracker = DialogueStateTracker(message.sender_id, self.domain.slots)
                for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
                    tracker.update(event)
            if message.text == "/confirm_delete":
                # the tap answers the confirmation question; action_erase_data erases nothing otherwise
                for event in (ActionExecuted("utter_confirm_delete"), ActionExecuted("action_listen")):
                    tracker.update(event)
            tracker.update(UserUttered(message.text, intent={"name": "x", "confidence": 1.0}, message_id=message.message_id))
            await self._turn(message, tracker)
            tracker.update(ActionExecuted("action_listen"))
            await self.tracker_store.save(tracker)

    async def _turn(self, message: UserMessage, tracker: DialogueStateTracker) -> None:
        output = message.output_channel
        if message.text in ("/confirm_delete", "/export_data"):
            action = privacy_actions.ActionEraseData() if message.text == "/confirm_delete" else privacy_actions.ActionExportData()
            dispatcher = CollectingDispatcher()
            sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.AFTER_RESTART))
            assert await action.run(dispatcher, sdk_tracker, self.domain.as_dict()) == []
            tracker.update(ActionExecuted(action.name()))
            # What Rasa does with an action server's "responses" (rasa/core/actions/action.py).
            bots = await RemoteAction._utter_responses(dispatcher.messages, output, self.nlg, tracker)
        elif message.text == "Liste":  # a long result list: "more" pages and long payloads in the id map
            buttons = [{"title": f"Stelle {i}", "payload": f'/select_job{{"job_id":"{i}{"x" * 250}"}}'} for i in range(12)]
            bots = [BotUttered("12 Treffer", data={"buttons": buttons})]
        elif message.text == "/switch_language_en":
            tracker.update(SlotSet("language", "en"))
            bots = [BotUttered("Okay, English.")]
        else:
            for name, value in SEARCH_SLOTS.items():
                tracker.update(SlotSet(name, value))
            bots = [BotUttered(f"Ich suche {SEARCH_SLOTS['job_title']} in {SEARCH_SLOTS['location']}.")]
        for bot in bots:
            tracker.update(bot)
            await output.send_response(tracker.sender_id, bot.message())


class EraseSpy:
    """Counts calls of the store's erase (the side effect a redelivery must not repeat)."""

    def __init__(self, store: EncryptedTrackerStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = store.erase

        async def erase(user_keys: UserKeys) -> int:
            self.calls += 1
            return await original(user_keys)

        monkeypatch.setattr(store, "erase", erase)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": compute_signature(APP_SECRET, body)}


def text(wa_id: str, body: str) -> tuple[bytes, dict[str, str]]:
    return signed(meta_payloads.payload(meta_payloads.text(wa_id, body), profile_name="Erika Mustermann"))


def tap(wa_id: str, payload: str, title: str) -> tuple[bytes, dict[str, str]]:
    message = meta_payloads.button_reply(wa_id, payload, title, reply_to=meta_payloads.fake_wamid())
    return signed(meta_payloads.payload(message, profile_name="Erika Mustermann"))


def bodies(standin: MetaGraphStandIn, to: str = WA_ID) -> list[str]:
    return [m.message["text"]["body"] for m in standin.messages if m.to == to]


async def records_of(store: EncryptedTrackerStore, user_keys: UserKeys) -> list[str]:
    found = []
    for pseudonym in user_keys.pseudonyms():
        for kind, backend in (("live", store.backends.live), ("archive", store.backends.archive)):
            if await backend.get(pseudonym) is not None:
                found.append(f"{kind}:{pseudonym[:8]}")
    return found


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def secrets_() -> tuple[Secret, Secret]:
    return Secret.generate(), Secret.generate()


@pytest.fixture
def keyring(secrets_: tuple[Secret, Secret]) -> Keyring:
    """The current keyring: a new secret, the old one retired (a rotation happened)."""
    old, new = secrets_
    return Keyring(current=new, retired=(old,))


@pytest.fixture(params=["sqlite", "redis"])
async def backing(request: pytest.FixtureRequest, tmp_path: Path, unique_name: str) -> AsyncIterator[tuple[EncryptedTrackerStore, Any]]:
    """(encrypted tracker store, dedup store) on SQLite + in-process dedup, or both on the real Redis."""
    if request.param == "sqlite":
        store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={})
        dedup: Any = InMemoryDedupStore()
    else:
        url = request.getfixturevalue("redis_url")
        store = EncryptedTrackerStore(DOMAIN, host=url, key_prefix=f"test:{unique_name}:", environ={})
        dedup = RedisDedupStore.from_url(url, namespace=f"test:{unique_name}:dedup")
    yield store, dedup
    for backend in (store.backends.live, store.backends.archive):
        for pseudonym in await backend.list_pseudonyms():
            await backend.delete(pseudonym)
    await store.close()
    await dedup.close()
    if request.param == "redis":
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        try:
            async for key in client.scan_iter(match=f"test:{unique_name}:*"):
                await client.delete(key)
        finally:
            await client.close(close_connection_pool=True)


def make_core(graph: GraphClient, keyring: Keyring, dedup: Any, id_map: Any = None) -> WebhookCore:
    return WebhookCore(
        settings=SETTINGS, store=dedup, graph=graph, keyring=keyring,
        id_map=id_map if id_map is not None else InMemoryPayloadIdMap(keyring=keyring), output_factory=WhatsAppOutput,
    )


async def receive(core: WebhookCore, agent: FakeRasa, request: tuple[bytes, dict[str, str]]) -> int:
    """One POST the way channel.py makes it: the requests are built from the agent per request."""
    requests = PrivacyRequests.for_agent(agent, outboxes=core.store, payload_ids=core.id_map)
    answer = await core.receive(*request, agent.handle_message, privacy_requests=requests)
    await core.drain()
    return answer.status


# --------------------------------------------------------------------------- the marker's way through Rasa


def test_action_and_channel_spell_the_marker_the_same() -> None:
    assert privacy_actions.PRIVACY_REQUEST_KEY == PRIVACY_REQUEST_KEY
    assert privacy_actions.ERASE == "erase" and privacy_actions.EXPORT == "export"


@pytest.mark.parametrize(("action", "kind"), [(privacy_actions.ActionEraseData(), "erase"), (privacy_actions.ActionExportData(), "export")])
async def test_json_message_reaches_the_output_channel_as_a_custom_marker(action: Any, kind: str) -> None:
    """rasa-sdk json_message -> action server response -> Rasa BotUttered -> WhatsAppOutput."""
    # the user answers the confirmation question (action_erase_data refuses otherwise)
    answer = [ActionExecuted("utter_confirm_delete"), ActionExecuted("action_listen"), UserUttered("/confirm_delete")]
    tracker = DialogueStateTracker.from_events("p" * 64, [SlotSet("language", "en"), *answer], slots=DOMAIN.slots)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, Tracker.from_dict(tracker.current_state(EventVerbosity.AFTER_RESTART)), {})
    # The action server sends exactly this JSON to Rasa.
    response = json.loads(json.dumps({"events": [], "responses": dispatcher.messages}))
    output = WhatsAppOutput()
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    for bot in await RemoteAction._utter_responses(response["responses"], output, nlg, tracker):
        await output.send_response(tracker.sender_id, bot.message())
    [collected] = output.messages
    assert collected["custom"] == {PRIVACY_REQUEST_KEY: kind, "language": "en"}
    assert "text" not in collected and "buttons" not in collected
    request = privacy_request_of(collected)
    assert request is not None and request.kind is not None and request.kind.value == kind and request.language == "en"


# --------------------------------------------------------------------------- erase


async def test_confirmed_erase_deletes_every_record_and_replies_once(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient,
    secrets_: tuple[Secret, Secret], keyring: Keyring, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    store, dedup = backing
    agent = FakeRasa(store)
    old, _ = secrets_
    # Before the rotation the user wrote under the old secret; afterwards under the new one.
    assert await receive(make_core(graph, Keyring(current=old), dedup), agent, text(WA_ID, "Koch in Berlin")) == 200
    core = make_core(graph, keyring, dedup)
    assert await receive(core, agent, text(WA_ID, "Koch in Berlin, bitte")) == 200
    assert await receive(core, agent, text(OTHER_WA_ID, "Koch in Berlin")) == 200
    user, other = keys_for_user(keyring, WA_ID), keys_for_user(keyring, OTHER_WA_ID)
    assert await records_of(store, user)
    spy = EraseSpy(store, monkeypatch)
    standin.clear()
    caplog.set_level(logging.INFO)

    assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja, alles löschen")) == 200

    assert spy.calls == 1
    assert await records_of(store, user) == []
    with user_context(user):
        assert await store.retrieve(user.pseudonym) is None
        assert await store.retrieve_full_tracker(user.pseudonym) is None
    assert await records_of(store, other) == [f"live:{other.pseudonym[:8]}"]  # nobody else's data
    assert bodies(standin) == ["ERASED de"]
    assert all(PRIVACY_REQUEST_KEY not in json.dumps(m.message) for m in standin.messages)
    assert agent.lock_store.get_lock(user.pseudonym) is None
    assert WA_ID not in caplog.text and "Erika" not in caplog.text
    assert any("erasure of " + user.pseudonym in r.getMessage() for r in caplog.records)


async def test_erase_reply_uses_the_users_language(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    store, dedup = backing
    agent, core = FakeRasa(store), make_core(graph, keyring, dedup)
    assert await receive(core, agent, text(WA_ID, "/switch_language_en")) == 200
    standin.clear()
    assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Yes, delete all")) == 200
    assert bodies(standin) == ["ERASED en"]
    assert await records_of(store, keys_for_user(keyring, WA_ID)) == []


async def test_redelivered_confirmation_neither_erases_again_nor_replies_twice(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient,
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, dedup = backing
    agent, core = FakeRasa(store), make_core(graph, keyring, dedup)
    assert await receive(core, agent, text(WA_ID, "Koch in Berlin")) == 200
    spy = EraseSpy(store, monkeypatch)
    standin.clear()
    confirm = tap(WA_ID, "/confirm_delete", "Ja, alles löschen")
    assert [await receive(core, agent, confirm) for _ in range(3)] == [200, 200, 200]
    assert spy.calls == 1
    assert [m.text for m in agent.received].count("/confirm_delete") == 1
    assert bodies(standin) == ["ERASED de"]
    assert await records_of(store, keys_for_user(keyring, WA_ID)) == []


async def test_failed_send_of_the_confirmation_is_replayed_from_the_outbox(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient,
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, dedup = backing
    agent, core = FakeRasa(store), make_core(graph, keyring, dedup)
    assert await receive(core, agent, text(WA_ID, "Koch in Berlin")) == 200
    spy = EraseSpy(store, monkeypatch)
    standin.clear()
    confirm = tap(WA_ID, "/confirm_delete", "Ja, alles löschen")
    standin.inject_faults(Fault(status=500, code=131000), 2)  # both attempts of the client fail
    assert await receive(core, agent, confirm) == 503
    assert spy.calls == 1 and bodies(standin) == []
    assert await records_of(store, keys_for_user(keyring, WA_ID)) == []

    assert await receive(core, agent, confirm) == 200  # Meta's redelivery
    assert spy.calls == 1
    assert [m.text for m in agent.received].count("/confirm_delete") == 1
    assert bodies(standin) == ["ERASED de"]
    assert await records_of(store, keys_for_user(keyring, WA_ID)) == []  # not recreated


# --------------------------------------------------------------------------- export


async def test_export_shows_counts_times_and_slots_but_never_the_number(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    store, dedup = backing
    agent, core = FakeRasa(store), make_core(graph, keyring, dedup)
    before = time.time()
    assert await receive(core, agent, text(WA_ID, "Koch in Berlin")) == 200
    assert await receive(core, agent, text(WA_ID, "Und in der Nähe?")) == 200
    standin.clear()
    assert await receive(core, agent, tap(WA_ID, "/export_data", "Daten anzeigen")) == 200

    [body] = bodies(standin)
    head, *slot_lines = body.split("\n")
    label, sessions, messages, first, last, until = head.split("|")
    assert (label, sessions, messages) == ("EXPORT de", "1", "3")  # two texts and the export request
    pattern = re.compile(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}")
    assert pattern.fullmatch(first) and pattern.fullmatch(last) and pattern.fullmatch(until)
    first_at = datetime.strptime(first, "%d.%m.%Y %H:%M").replace(tzinfo=BERLIN)
    until_at = datetime.strptime(until, "%d.%m.%Y %H:%M").replace(tzinfo=BERLIN)
    assert abs(first_at.timestamp() - before) < 120
    assert abs((until_at - first_at) - timedelta(days=30)) < timedelta(minutes=2)
    assert slot_lines == [
        "• job_title: Koch", "• location: Berlin", "• radius_km: 25", "• remote: ja",
        "• latitude: 52,52", "• longitude: 13,40", "• language: de",
    ]
    user = keys_for_user(keyring, WA_ID)
    sent = json.dumps([{k: v for k, v in m.message.items() if k != "to"} for m in standin.messages], ensure_ascii=False)
    assert WA_ID not in sent and user.pseudonym not in sent and PRIVACY_REQUEST_KEY not in sent
    assert await records_of(store, user)  # export changes nothing


async def test_export_in_english(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    store, dedup = backing
    agent, core = FakeRasa(store), make_core(graph, keyring, dedup)
    assert await receive(core, agent, text(WA_ID, "Koch in Berlin")) == 200
    assert await receive(core, agent, text(WA_ID, "/switch_language_en")) == 200
    standin.clear()
    assert await receive(core, agent, tap(WA_ID, "/export_data", "Show my data")) == 200
    [body] = bodies(standin)
    head, *slot_lines = body.split("\n")
    label, _, _, first, _, _ = head.split("|")
    assert label == "EXPORT en" and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", first)
    assert "• remote: yes" in slot_lines and "• latitude: 52.52" in slot_lines and "• language: en" in slot_lines


async def test_export_with_nothing_stored_says_so(tmp_path: Path) -> None:
    """Only reachable when Rasa's save did not reach the store; the reply must not invent data."""
    keyring = Keyring(current=Secret.generate())
    user = keys_for_user(keyring, WA_ID)
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/empty.db", environ={})
    agent = FakeRasa(store)
    requests = PrivacyRequests.for_agent(agent)
    assert requests is not None
    marker = {"custom": {PRIVACY_REQUEST_KEY: "export", "language": "en"}}
    with user_context(user):
        [reply] = await requests.resolve([marker], user, "ref")
    assert reply["text"] == "EMPTY en" and reply["language"] == "en"  # the renderer's labels, without a lookup
    await store.close()


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("request_payload", "title"), [("/confirm_delete", "Ja"), ("/export_data", "Daten")])
async def test_store_down_answers_failed_with_200(
    request_payload: str, title: str, standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = EncryptedTrackerStore(DOMAIN, host=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    agent, core = FakeRasa(down), make_core(graph, keyring, InMemoryDedupStore())
    caplog.set_level(logging.INFO)
    try:
        assert await receive(core, agent, tap(WA_ID, request_payload, title)) == 200
    finally:
        await down.close()
    assert bodies(standin) == ["FAILED de"]
    user = keys_for_user(keyring, WA_ID)
    failures = [r.getMessage() for r in caplog.records if "privacy request" in r.getMessage()]
    assert len(failures) == 1 and user.pseudonym in failures[0] and "TrackerStorageUnavailable" in failures[0]
    assert WA_ID not in caplog.text


async def test_an_erasure_that_cannot_be_journalled_is_answered_failed_and_erases_nothing(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tmp_path: Path
) -> None:
    """The store refuses an erasure it cannot journal (ErasureJournalError): the user is told it
    failed (200, no redelivery loop) and the conversation is still there."""
    blocked = tmp_path / "journal-is-a-directory"
    blocked.mkdir()
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/t.db", environ={}, erasure_journal=str(blocked))
    agent, core = FakeRasa(store), make_core(graph, keyring, InMemoryDedupStore())
    user = keys_for_user(keyring, WA_ID)
    try:
        assert await receive(core, agent, text(WA_ID, "Ich suche einen Job als Koch")) == 200
        assert await records_of(store, user) != []
        assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja")) == 200
        assert bodies(standin)[-1] == "FAILED de"
        assert await records_of(store, user) != []
    finally:
        await store.close()


async def test_without_an_encrypted_store_the_request_fails_honestly(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    agent, core = FakeRasa(InMemoryTrackerStore(DOMAIN)), make_core(graph, keyring, InMemoryDedupStore())
    assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja")) == 200
    assert bodies(standin) == ["FAILED de"]


async def test_markers_are_never_rendered_without_a_handler(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/t.db", environ={})
    agent, core = FakeRasa(store), make_core(graph, keyring, InMemoryDedupStore())
    try:
        answer = await core.receive(*tap(WA_ID, "/confirm_delete", "Ja"), agent.handle_message)
    finally:
        await store.close()
    assert answer.status == 200 and standin.messages == ()
    assert any("privacy request dropped" in r.getMessage() for r in caplog.records)


async def test_missing_response_is_an_internal_error_not_a_false_confirmation(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tmp_path: Path
) -> None:
    without = Domain.from_dict({**DOMAIN.as_dict(), "responses": {RESPONSE_FAILED: [{"text": "FAILED de"}]}})
    store = EncryptedTrackerStore(without, host=f"sqlite:///{tmp_path}/t.db", environ={})
    agent, core = FakeRasa(store, without), make_core(graph, keyring, InMemoryDedupStore())
    try:
        assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja")) == 500
    finally:
        await store.close()
    assert standin.messages == ()


async def test_without_a_handler_markers_are_removed_and_the_rest_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    user = keys_for_user(Keyring(current=Secret.generate()), WA_ID)
    messages = [{"text": "Vorher"}, {"custom": {PRIVACY_REQUEST_KEY: "erase"}}, {"custom": {"whatsapp": {"type": "text"}}}]
    without_agent = PrivacyRequests.for_agent(None)
    assert await without_agent.after_turn(messages, user, "ref") == [messages[0], messages[2]]
    assert any("privacy request dropped" in r.getMessage() for r in caplog.records)
    assert await without_agent.after_turn(messages[:1], user, "ref") == messages[:1]


async def test_erase_drops_the_users_unsent_replies_but_nobody_elses(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    """Issue 9 item 8: replies still waiting for Meta's redelivery are erased with the conversation."""
    store, dedup = backing
    agent = FakeRasa(store)
    core = make_core(graph, keyring, dedup)
    pending, others_pending = text(WA_ID, "Koch in Berlin"), text(OTHER_WA_ID, "Koch in Berlin")
    for request in (pending, others_pending):
        standin.inject_faults(Fault(status=500, code=131000), 2)  # every attempt fails: 503, outbox kept
        assert await receive(core, agent, request) == 503
    assert not standin.messages and len(agent.received) == 2

    assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja, alles löschen")) == 200
    assert bodies(standin) == ["ERASED de"]
    standin.clear()

    assert await receive(core, agent, pending) == 200  # Meta's redelivery: acknowledged, nothing sent
    assert not standin.messages
    assert await receive(core, agent, others_pending) == 200  # the other user's reply still arrives
    assert bodies(standin, OTHER_WA_ID) and not bodies(standin, WA_ID)
    assert len(agent.received) == 3  # no dialogue ran again


def row_ids(standin: MetaGraphStandIn, to: str) -> list[str]:
    return [
        row["id"]
        for m in standin.messages
        if m.to == to and m.message.get("type") == "interactive" and m.message["interactive"]["type"] == "list"
        for section in m.message["interactive"]["action"]["sections"]
        for row in section["rows"]
    ]


def choose(wa_id: str, row_id: str) -> tuple[bytes, dict[str, str]]:
    message = meta_payloads.list_reply(wa_id, row_id, "Stelle", reply_to=meta_payloads.fake_wamid())
    return signed(meta_payloads.payload(message, profile_name="Erika Mustermann"))


async def test_erase_removes_the_users_payload_ids_but_nobody_elses(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring,
    request: pytest.FixtureRequest, unique_name: str,
) -> None:
    """Issue 16 item 6: long payloads and "more" pages (job results of the person's search) are the
    person's own: different tokens per person, and an erasure leaves no entry and no index in Redis."""
    store, dedup = backing
    redis_url = request.getfixturevalue("redis_url") if isinstance(dedup, RedisDedupStore) else None
    namespace = f"test:{unique_name}:pid"
    id_map: Any = (
        RedisPayloadIdMap.from_url(redis_url, keyring=keyring, namespace=namespace, ttl_seconds=600)
        if redis_url else InMemoryPayloadIdMap(keyring=keyring)
    )
    agent = FakeRasa(store)
    core = make_core(graph, keyring, dedup, id_map)
    try:
        for wa_id in (WA_ID, OTHER_WA_ID):
            assert await receive(core, agent, text(wa_id, "Liste")) == 200
        mine, theirs = row_ids(standin, WA_ID), row_ids(standin, OTHER_WA_ID)
        assert len(mine) == 10 and mine[-1].startswith("~more:") and all(i.startswith("~") for i in mine)
        assert not set(mine) & set(theirs)  # the same list, different tokens per person
        standin.clear()
        assert await receive(core, agent, choose(WA_ID, mine[-1])) == 200  # the "more" page
        mine += row_ids(standin, WA_ID)
        assert len(mine) == 13
        turns = len(agent.received)

        user = keys_for_user(keyring, WA_ID)
        if redis_url:
            client = Redis.from_url(redis_url)
            try:
                before = {key.decode() async for key in client.scan_iter(match=f"{namespace}:*")}
            finally:
                await client.close(close_connection_pool=True)
            assert {f"{namespace}:owner:{tag}" for tag in owner_tags(user)} & before

        assert await receive(core, agent, tap(WA_ID, "/confirm_delete", "Ja, alles löschen")) == 200
        assert [await id_map.resolve(token) for token in mine] == [None] * 13
        assert None not in [await id_map.resolve(token) for token in theirs]  # nobody else's
        if redis_url:
            client = Redis.from_url(redis_url)
            try:
                after = {key.decode() async for key in client.scan_iter(match=f"{namespace}:*")}
            finally:
                await client.close(close_connection_pool=True)
            assert not any(tag in key for key in after for tag in owner_tags(user))  # no index of the person
            assert not {f"{namespace}:{token}" for token in mine} & after  # no entry of the person
            assert {f"{namespace}:{token}" for token in theirs} <= after
            assert len(after) == len(theirs) + 1  # the other person's entries and their index
        else:
            assert set(id_map._owners) == set(owner_tags(keys_for_user(keyring, OTHER_WA_ID))[:1])

        standin.clear()  # the other person still pages through their list
        assert await receive(core, agent, choose(OTHER_WA_ID, theirs[-1])) == 200
        assert len(row_ids(standin, OTHER_WA_ID)) == 3
        assert len(agent.received) == turns + 1  # the erasure ran a dialogue; pages never do
    finally:
        if redis_url:
            await id_map.close()


async def test_export_and_erase_cover_the_conversation_begun_under_the_phone_number(
    backing: tuple[EncryptedTrackerStore, Any], standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    """Issue 9 item 7: one person, every pseudonym: a phone-only past, then BSUID webhooks."""
    store, dedup = backing
    agent = FakeRasa(store)
    core = make_core(graph, keyring, dedup)
    erika = meta_payloads.WhatsAppUser(phone=WA_ID, user_id="DE.1000000000000000301", username="@erika_test")

    def from_(user: meta_payloads.WhatsAppUser, payload: str, title: str) -> tuple[bytes, dict[str, str]]:
        message = meta_payloads.button_reply(user, payload, title, reply_to=meta_payloads.fake_wamid())
        return signed(meta_payloads.payload(message, profile_name="Erika Mustermann", users=[user]))

    assert await receive(core, agent, text(WA_ID, "Koch in Berlin")) == 200  # an old payload: number only
    phone_only = keys_for_user(keyring, WA_ID)
    assert await records_of(store, phone_only) == [f"live:{phone_only.pseudonym[:8]}"]
    standin.clear()

    assert await receive(core, agent, from_(erika, "/export_data", "Export")) == 200
    [export] = [m.message["text"]["body"] for m in standin.messages]
    assert export.startswith("EXPORT de|1|2|")  # the phone-era message is in the export
    assert "Koch" in export

    standin.clear()
    without_number = erika.without_phone()
    assert await receive(core, agent, from_(without_number, "/confirm_delete", "Ja, alles löschen")) == 200
    assert [(m.address_field, m.message["text"]["body"]) for m in standin.messages] == [("recipient", "ERASED de")]
    everyone = keys_for_user(keyring, erika.user_id, [WA_ID])
    assert await records_of(store, everyone) == []


async def test_erase_with_the_lock_store_down_changes_nothing_and_says_so(tmp_path: Path) -> None:
    from rasa.core.lock_store import LockError

    class DownLockStore(InMemoryLockStore):
        def issue_ticket(self, conversation_id: str, lock_lifetime: float = 60) -> int:
            raise LockError("lock store unreachable")

    keyring = Keyring(current=Secret.generate())
    user = keys_for_user(keyring, WA_ID)
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/down.db", environ={})
    agent = FakeRasa(store)
    try:
        with user_context(user):
            await agent.handle_message(UserMessage("Koch", output_channel=WhatsAppOutput(), sender_id=user.pseudonym))
        assert await records_of(store, user)
        agent.lock_store = DownLockStore()
        requests = PrivacyRequests.for_agent(agent)
        assert requests is not None
        with user_context(user):
            [reply] = await requests.resolve([{"custom": {PRIVACY_REQUEST_KEY: "erase"}}], user, "ref")
        assert reply["text"] == "FAILED de"
        assert await records_of(store, user)  # nothing was erased behind the lock's back
    finally:
        await store.close()


async def test_erase_drops_a_stale_lock_but_keeps_one_a_concurrent_turn_holds(tmp_path: Path) -> None:
    user = keys_for_user(Keyring(current=Secret.generate(), retired=(Secret.generate(),)), WA_ID)
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/locks.db", environ={})
    agent = FakeRasa(store)
    requests = PrivacyRequests.for_agent(agent)
    assert requests is not None
    crashed = TicketLock(user.pseudonym)
    crashed.tickets.append(Ticket(1, time.time() - 1))  # a turn that died holding the lock
    agent.lock_store.save_lock(crashed)
    agent.lock_store.save_lock(TicketLock(user.retired[0].pseudonym))
    marker = {"custom": {PRIVACY_REQUEST_KEY: "erase"}}
    try:
        await requests.resolve([marker], user, "ref")
        assert agent.lock_store.get_lock(user.pseudonym) is None
        assert agent.lock_store.get_lock(user.retired[0].pseudonym) is None
        busy = TicketLock(user.retired[0].pseudonym)
        busy.tickets.append(Ticket(2, time.time() + 60))  # another message (old pseudonym) is running
        agent.lock_store.save_lock(busy)
        [reply] = await requests.resolve([marker], user, "ref")
        assert reply["text"] == "ERASED de"
        assert agent.lock_store.get_lock(user.retired[0].pseudonym) is not None
    finally:
        await store.close()


async def test_erase_waits_for_a_concurrent_turn_of_the_same_user(tmp_path: Path) -> None:
    """Issue 16 item 4: a turn that read the tracker before the erasure must not save it back after it."""
    keyring = Keyring(current=Secret.generate())
    user = keys_for_user(keyring, WA_ID)
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/race.db", environ={})
    agent = FakeRasa(store)
    requests = PrivacyRequests.for_agent(agent)
    assert requests is not None
    in_turn = asyncio.Event()
    order: list[str] = []

    async def concurrent_turn() -> None:
        # What Rasa does for a second message of the user: lock, read, (think), save.
        async with agent.lock_store.lock(user.pseudonym):
            with user_context(user):
                tracker = DialogueStateTracker(user.pseudonym, DOMAIN.slots)
                tracker.update(SlotSet("job_title", "Koch"))
                in_turn.set()
                await asyncio.sleep(0.3)
                await agent.tracker_store.save(tracker)
                order.append("turn saved")

    try:
        turn = asyncio.create_task(concurrent_turn())
        await in_turn.wait()
        [reply] = await requests.resolve([{"custom": {PRIVACY_REQUEST_KEY: "erase"}}], user, "ref")
        order.append("erased")
        await turn
        assert reply["text"] == "ERASED de"
        assert order == ["turn saved", "erased"]
        assert await records_of(store, user) == []  # the turn's save did not outlive the erasure
    finally:
        await store.close()


# --------------------------------------------------------------------------- through the Sanic channel


async def test_erase_over_http_builds_the_requests_from_the_apps_agent(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)
    store = EncryptedTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path}/trackers.db", environ={})
    agent = FakeRasa(store)
    channel = WhatsAppInput(SETTINGS, keyring, graph=graph, store=InMemoryDedupStore(), id_map=InMemoryPayloadIdMap())
    app = Sanic("wa_privacy_" + uuid.uuid4().hex[:10], configure_logging=False)
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/whatsapp/webhook"
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with WebhookSender(url, APP_SECRET, retry_delays=()) as sender:
            first = await sender.send(meta_payloads.payload(meta_payloads.text(WA_ID, "Koch in Berlin")))
            standin.clear()
            confirm = meta_payloads.button_reply(WA_ID, "/confirm_delete", "Ja", reply_to=meta_payloads.fake_wamid())
            second = await sender.send(meta_payloads.payload(confirm))
        await channel.core.drain()
        assert (first.status, second.status) == (200, 200)
        assert bodies(standin) == ["ERASED de"]
        assert await records_of(store, keys_for_user(keyring, WA_ID)) == []
    finally:
        await stop_sanic(server)
        await store.close()


# --------------------------------------------------------------------------- the real domain and formatting


@pytest.mark.parametrize("language", ["de", "en"])
async def test_domain_yml_defines_every_reply_with_the_variables_the_channel_supplies(language: str) -> None:
    domain = Domain.load(str(DOMAIN_FILE))
    agent = FakeRasa(InMemoryTrackerStore(domain), domain)
    requests = PrivacyRequests.for_agent(agent)
    assert requests is not None
    summary = {"sessions": 2, "user_messages": 7, "slots": {"job_title": "Koch", "language": language}}
    variables = export_variables(summary, first=1.7e9, last=1.7e9 + 60, retained_until=1.7e9 + 86400, language=language, tz=BERLIN)
    texts = {}
    for name in (RESPONSE_ERASED, RESPONSE_EXPORT, RESPONSE_EXPORT_EMPTY, RESPONSE_FAILED):
        reply = await requests.reply(name, language, variables if name == RESPONSE_EXPORT else {})
        texts[name] = reply["text"]
        assert not re.search(r"\{[a-z_]+\}", reply["text"]), f"{name} has a variable the channel does not fill"
    assert "• job_title: Koch" in texts[RESPONSE_EXPORT] and "7" in texts[RESPONSE_EXPORT]
    assert format_time(1.7e9, language, BERLIN) in texts[RESPONSE_EXPORT]


def test_slot_lines_skip_internal_slots_and_read_well() -> None:
    slots = {
        "requested_slot": "location", "search_page": 3.0, "session_started_metadata": {"channel": "whatsapp"},
        "job_title": "Koch\n  am Meer", "radius_km": 12.5, "remote": False, "latitude": 48.137154,
        "working_time": None, "tags": ["a", "b"],
    }
    assert format_slots(slots, "de").split("\n") == [
        "• job_title: Koch am Meer", "• radius_km: 12,5", "• remote: nein", "• latitude: 48,14", "• tags: a, b",
    ]
    assert format_slots(slots, "en").split("\n")[1:4] == ["• radius_km: 12.5", "• remote: no", "• latitude: 48.14"]
    assert format_slots({"requested_slot": "x"}, "de") == "– keine"
    assert format_slots({}, "en") == "– none"


def test_times_are_local_and_localised() -> None:
    winter = datetime(2025, 1, 15, 8, 5, tzinfo=timezone.utc).timestamp()
    assert format_time(winter, "de", BERLIN) == "15.01.2025 09:05"
    assert format_time(winter, "en", BERLIN) == "2025-01-15 09:05"
    assert format_time(None, "de", BERLIN) == "–"
