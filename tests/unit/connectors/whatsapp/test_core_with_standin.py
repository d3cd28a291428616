"""The framework-free webhook core against the Meta stand-in (real GraphClient over loopback HTTP).

The dialogue is a fake ``on_new_message`` that answers through the output channel it gets, like
Rasa does; it records what it received so the privacy properties can be checked.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from redis.asyncio import Redis

from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.dedup.claims import ClaimStatus, DedupUnavailableError, message_key
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.outbox import Outbox, deliver, open_outbox, seal_outbox
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from privacy.context import keys_for_user
from privacy.errors import DecryptionError
from privacy.identity import pseudonym
from privacy.keyring import Keyring, Secret
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, Fault, MetaGraphStandIn
from tests.support.paths import UPDATES_DATA

DATA = UPDATES_DATA
WA_ID = "4915550000001"
WA_ID_2 = "4915550000002"
PROFILE_NAME = "Erika Mustermann"
APP_SECRET = "test-app-secret"
SETTINGS = WhatsAppSettings(
    verify_token="verify-token-1",
    app_secret=APP_SECRET,
    access_token=DEFAULT_ACCESS_TOKEN,
    phone_number_id=DEFAULT_PHONE_NUMBER_ID,
    max_body_bytes=64 * 1024,
)


def load(name: str, *, fresh: bool = True) -> dict[str, Any]:
    """A fixture payload; ``fresh`` sets message timestamps to now (old ones are replay-protected)."""
    payload = json.loads((DATA / name).read_text(encoding="utf-8"))
    if fresh:
        for entry in payload["entry"]:
            for change in entry["changes"]:
                for message in change["value"].get("messages", []):
                    message["timestamp"] = str(int(time.time()))
    return payload


def signed(payload: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": compute_signature(APP_SECRET, body)}


class FakeDialogue:
    """Answers like Rasa: through ``message.output_channel``; records every UserMessage."""

    def __init__(self, *, delay: float = 0.0, replies: int = 1, buttons: int = 0, fail: bool = False) -> None:
        self.received: list[UserMessage] = []
        self.delay = delay
        self.replies = replies
        self.buttons = buttons
        self.fail = fail

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.fail:
            raise RuntimeError("dialogue crashed")
        if self.delay:
            await asyncio.sleep(self.delay)
        for n in range(1, self.replies + 1):
            bot: dict[str, Any] = {"text": f"Antwort {n} auf: {message.text}"}
            if self.buttons and n == self.replies:
                bot["buttons"] = [{"title": f"Option {b}", "payload": f"/option_{b}"} for b in range(1, self.buttons + 1)]
            await message.output_channel.send_response(message.sender_id, bot)


class FaultAfter:
    """Wraps the GraphClient: after ``after`` successful sends, queue ``count`` faults in the stand-in."""

    def __init__(self, client: GraphClient, standin: MetaGraphStandIn, after: int, fault: Fault, count: int) -> None:
        self.client, self.standin, self.after, self.fault, self.count = client, standin, after, fault, count
        self.sent = 0

    async def send(self, to: str, message: Any) -> str:
        wamid = await self.client.send(to, message)
        self.sent += 1
        if self.sent == self.after:
            self.standin.inject_faults(self.fault, self.count)
        return wamid

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        await self.client.mark_read(message_id, typing=typing)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


def make_core(graph: Any, keyring: Keyring, store: Any = None, **options: Any) -> WebhookCore:
    return WebhookCore(
        settings=SETTINGS,
        store=store if store is not None else InMemoryDedupStore(),
        graph=graph,
        keyring=keyring,
        id_map=InMemoryPayloadIdMap(),
        output_factory=WhatsAppOutput,
        options=DeliveryOptions(**options),
    )


# --------------------------------------------------------------------------- verification


def test_verification_handshake(graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    ok = core.verify({"hub.mode": "subscribe", "hub.verify_token": "verify-token-1", "hub.challenge": "1158201444"})
    assert (ok.status, ok.body) == (200, "1158201444")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "verify-token-1", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "verify-token-1"},
        {},
    ):
        refused = core.verify(params)
        assert refused.status == 403 and refused.body != params.get("hub.challenge")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"object":"whatsapp_business_account"}', {}, 401),
        (b'{"object":"whatsapp_business_account"}', {"X-Hub-Signature-256": "sha1=abc"}, 401),
        (b'{"object":"whatsapp_business_account"}', {"x-hub-signature-256": "sha256=" + "0" * 64}, 403),
        (b"x" * 10, {"Content-Length": str(64 * 1024 + 1)}, 413),
        (b"x" * (64 * 1024 + 1), {}, 413),
        (b"{}", {"Content-Length": "ten"}, 400),
    ],
)
async def test_refused_before_parsing(graph: GraphClient, keyring: Keyring, body: bytes, headers: dict[str, str], status: int) -> None:
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(body, headers, dialogue)
    assert answer.status == status
    assert not dialogue.received


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1,2]", b'{"object":"page","entry":[]}', b'{"object":"whatsapp_business_account","entry":"x"}',
     b'{"object":"whatsapp_business_account","entry":[{"changes":{"value":1}}]}', b"\xff"],
)
async def test_signed_but_malformed_payload_is_400(graph: GraphClient, keyring: Keyring, body: bytes) -> None:
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(*signed(body), dialogue)
    assert answer.status == 400 and not dialogue.received


@pytest.mark.parametrize(
    "body", [b'{"object":"whatsapp_business_account"}', b'{"object":"whatsapp_business_account","entry":[{"id":"1"}]}',
             b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages"}]}]}'],
)
async def test_missing_entry_or_changes_is_acknowledged(graph: GraphClient, keyring: Keyring, body: bytes) -> None:
    dialogue = FakeDialogue()
    assert (await make_core(graph, keyring).receive(*signed(body), dialogue)).status == 200
    assert not dialogue.received


# --------------------------------------------------------------------------- messages


async def test_text_message_runs_the_dialogue_once_and_replies(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue(buttons=2)
    answer = await core.receive(*signed(load("text.json")), dialogue)
    await core.drain()
    assert answer.status == 200
    assert len(dialogue.received) == 1
    message = dialogue.received[0]
    assert message.sender_id == pseudonym(keyring.current, WA_ID)
    assert message.input_channel == "whatsapp"
    assert message.metadata == {"channel": "whatsapp", "message_type": "text"}
    assert message.text == "Hallo, ich suche einen Job als Koch in Berlin"
    wamid = load("text.json")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert message.message_id != wamid and wamid not in message.message_id
    sent = standin.messages
    assert [m.to for m in sent] == [WA_ID]
    assert sent[0].message["type"] == "interactive"
    assert sent[0].message["interactive"]["type"] == "button"
    assert [(r.message_id, r.typing) for r in standin.reads] == [(wamid, True)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("interactive_button_reply.json", '/select_job{"job_id":"10000-1190587234-S"}'),
        ("interactive_list_reply.json", "/more_results"),
        ("button.json", "/new_search"),
        ("location.json", '/share_location{"latitude":52.520008,"longitude":13.404954}'),
        ("image.json", '/unsupported_message{"message_type":"image"}'),
        ("audio_voice.json", "/voice_unavailable"),
        ("video.json", '/unsupported_message{"message_type":"video"}'),
        ("document.json", '/unsupported_message{"message_type":"document"}'),
        ("sticker.json", '/unsupported_message{"message_type":"sticker"}'),
        ("contacts.json", '/unsupported_message{"message_type":"contacts"}'),
        ("reaction.json", '/unsupported_message{"message_type":"reaction"}'),
        ("order.json", '/unsupported_message{"message_type":"order"}'),
        ("unsupported.json", '/unsupported_message{"message_type":"unsupported"}'),
        ("unknown_type.json", '/unsupported_message{"message_type":"unsupported"}'),
    ],
)
async def test_every_inbound_type_reaches_the_dialogue(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, name: str, text: str
) -> None:
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(*signed(load(name)), dialogue)
    assert answer.status == 200
    assert [m.text for m in dialogue.received] == [text]
    assert len(standin.messages) == 1


async def test_statuses_are_acknowledged_without_the_dialogue(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(*signed(load("statuses.json")), dialogue)
    assert answer.status == 200 and not dialogue.received and not standin.messages
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 1 and "code=131047" in failed[0]
    assert WA_ID not in caplog.text and "wamid." not in caplog.text


async def test_batch_handles_every_message_in_order_per_user(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(*signed(load("batch.json")), dialogue)
    assert answer.status == 200
    by_user: dict[str, list[str]] = {}
    for message in dialogue.received:
        by_user.setdefault(message.sender_id, []).append(message.text)
    assert by_user == {
        pseudonym(keyring.current, WA_ID): ["erste Nachricht", "dritte Nachricht"],
        pseudonym(keyring.current, WA_ID_2): ["zweite", '/share_location{"latitude":48.137154,"longitude":11.576124}'],
    }
    replies = {}
    for sent in standin.messages:
        replies.setdefault(sent.to, []).append(sent.message["text"]["body"])
    assert replies[WA_ID] == ["Antwort 1 auf: erste Nachricht", "Antwort 1 auf: dritte Nachricht"]
    assert len(replies[WA_ID_2]) == 2


async def test_stale_messages_are_acknowledged_without_handling(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring).receive(*signed(load("text.json", fresh=False)), dialogue)
    assert answer.status == 200 and not dialogue.received and not standin.messages


async def test_more_row_sends_the_next_page_without_the_dialogue(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue(replies=1, buttons=25)
    assert (await core.receive(*signed(load("text.json")), dialogue)).status == 200
    rows = [row for m in standin.messages if m.message["type"] == "interactive"
            for section in m.message["interactive"]["action"].get("sections", []) for row in section["rows"]]
    more = next(row for row in rows if row["id"].startswith("~more:"))
    tap = load("interactive_list_reply.json")
    reply = tap["entry"][0]["changes"][0]["value"]["messages"][0]
    reply["interactive"]["list_reply"] = {"id": more["id"], "title": more["title"]}
    standin.clear()
    assert (await core.receive(*signed(tap), dialogue)).status == 200
    assert len(dialogue.received) == 1
    assert len(standin.messages) == 1 and standin.messages[0].message["interactive"]["type"] == "list"


# --------------------------------------------------------------------------- exactly once


async def test_sequential_redelivery_is_acknowledged_without_a_second_reply(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue()
    body, headers = signed(load("text.json"))
    assert [(await core.receive(body, headers, dialogue)).status for _ in range(3)] == [200, 200, 200]
    assert len(dialogue.received) == 1 and len(standin.messages) == 1


async def test_five_concurrent_deliveries_give_one_dialogue_run_and_one_reply(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue(delay=0.3)
    body, headers = signed(load("text.json"))
    answers = await asyncio.gather(*(core.receive(body, headers, dialogue) for _ in range(5)))
    assert [a.status for a in answers] == [200] * 5
    assert len(dialogue.received) == 1 and len(standin.messages) == 1


async def test_duplicate_of_a_slow_turn_gets_503_then_200(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring, duplicate_wait_seconds=0.1)
    dialogue = FakeDialogue(delay=0.5)
    body, headers = signed(load("text.json"))
    first = asyncio.create_task(core.receive(body, headers, dialogue))
    await asyncio.sleep(0.05)
    assert (await core.receive(body, headers, dialogue)).status == 503
    assert (await first).status == 200
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert len(dialogue.received) == 1 and len(standin.messages) == 1


async def test_graph_fault_gives_503_and_redelivery_sends_only_the_rest(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring
) -> None:
    store = InMemoryDedupStore()
    flaky = FaultAfter(graph, standin, after=1, fault=Fault(status=500, code=131000), count=2)
    core = make_core(flaky, keyring, store=store)
    dialogue = FakeDialogue(replies=3)
    body, headers = signed(load("text.json"))
    assert (await core.receive(body, headers, dialogue)).status == 503
    assert [m.message["text"]["body"] for m in standin.messages] == ["Antwort 1 auf: Hallo, ich suche einen Job als Koch in Berlin"]
    # The outbox is sealed: neither the reply text nor the number is readable in the store.
    [key] = store.keys()
    entry = store._entries[key]
    assert entry.outbox is not None and entry.outbox.sent == 1 and entry.outbox.total == 3
    assert b"Antwort" not in entry.outbox.blob and WA_ID.encode() not in entry.outbox.blob
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert len(dialogue.received) == 1
    assert [m.message["text"]["body"].split(" auf:")[0] for m in standin.messages] == ["Antwort 1", "Antwort 2", "Antwort 3"]
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert len(standin.messages) == 3


async def test_throttling_outlasting_the_retries_is_resumed(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue(replies=2)
    body, headers = signed(load("text.json"))
    standin.inject_faults(Fault(status=400, code=130429), 2)
    assert (await core.receive(body, headers, dialogue)).status == 503
    assert not standin.messages
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert len(dialogue.received) == 1 and len(standin.messages) == 2


async def test_undeliverable_recipient_is_given_up_with_200(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    core = make_core(graph, keyring)
    dialogue = FakeDialogue(replies=2)
    body, headers = signed(load("text.json"))
    standin.inject_faults(Fault(status=400, code=131026), 1)
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert len(dialogue.received) == 1 and not standin.messages


async def test_internal_dialogue_error_is_500_and_never_leaks(graph: GraphClient, keyring: Keyring, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    core = make_core(graph, keyring)
    body, headers = signed(load("text.json"))
    assert (await core.receive(body, headers, FakeDialogue(fail=True))).status == 500
    assert "RuntimeError" in caplog.text and "dialogue crashed" not in caplog.text
    # The lease was released: Meta's redelivery is handled at once.
    healthy = FakeDialogue()
    assert (await core.receive(body, headers, healthy)).status == 200 and len(healthy.received) == 1


async def test_dedup_store_down_is_503(graph: GraphClient, keyring: Keyring) -> None:
    class DownStore(InMemoryDedupStore):
        async def claim(self, message_id: str, lease_seconds: float) -> Any:
            raise DedupUnavailableError("dedup store unavailable (ConnectionError)")

    dialogue = FakeDialogue()
    answer = await make_core(graph, keyring, store=DownStore()).receive(*signed(load("text.json")), dialogue)
    assert answer.status == 503 and not dialogue.received


class FlakyProgressStore(InMemoryDedupStore):
    """Progress writes fail ``failures`` times (a Redis restart), then work again."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.failed_writes = 0

    async def _maybe_fail(self) -> None:
        if self.failed_writes < self.failures:
            self.failed_writes += 1
            raise DedupUnavailableError("dedup store unavailable (ConnectionError)")

    async def save_outbox(self, message_id: str, token: str, outbox: Any) -> None:
        await self._maybe_fail()
        await super().save_outbox(message_id, token, outbox)

    async def mark_sent(self, message_id: str, token: str, sent: int) -> None:
        await self._maybe_fail()
        await super().mark_sent(message_id, token, sent)


async def test_progress_writes_wait_out_a_short_store_outage(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    """A store that is back within the lease loses nothing: no re-run, no second send."""
    store = FlakyProgressStore(failures=4)
    core = make_core(graph, keyring, store=store, lease_seconds=3.0)
    dialogue = FakeDialogue(replies=2)
    body, headers = signed(load("text.json"))
    assert (await core.receive(body, headers, dialogue)).status == 200
    assert store.failed_writes == 4 and len(dialogue.received) == 1 and len(standin.messages) == 2
    assert (await core.receive(body, headers, dialogue)).status == 200  # a redelivery: done
    assert len(dialogue.received) == 1 and len(standin.messages) == 2


async def test_progress_write_gives_up_when_the_store_stays_down(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    """Down for longer than the lease: 503, so Meta redelivers later (bounded wait, no hang)."""
    store = FlakyProgressStore(failures=10_000)
    core = make_core(graph, keyring, store=store, lease_seconds=1.0)
    started = asyncio.get_running_loop().time()
    answer = await core.receive(*signed(load("text.json")), FakeDialogue())
    assert answer.status == 503 and asyncio.get_running_loop().time() - started < 3.0
    assert not standin.messages


async def test_two_instances_sharing_redis_reply_once(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, redis_url: str, unique_name: str
) -> None:
    client = Redis.from_url(redis_url)
    namespace = "test:" + unique_name
    try:
        instances = [make_core(graph, keyring, store=RedisDedupStore(client, namespace=namespace)) for _ in range(2)]
        dialogue = FakeDialogue(delay=0.3)
        body, headers = signed(load("text.json"))
        answers = await asyncio.gather(*(instances[n % 2].receive(body, headers, dialogue) for n in range(5)))
        assert [a.status for a in answers] == [200] * 5
        assert len(dialogue.received) == 1 and len(standin.messages) == 1
        keys = [key async for key in client.scan_iter(match=namespace + ":*")]
        values = b""
        for key in keys:
            if await client.type(key) == b"hash":
                values += b"".join(field + value for field, value in (await client.hgetall(key)).items())
            else:
                values += await client.get(key) or b""
        assert keys, "the dedup record must be in Redis"
        for forbidden in (WA_ID.encode(), b"wamid.", PROFILE_NAME.encode()):
            assert forbidden not in b"".join(keys) + values
    finally:
        keys = [key async for key in client.scan_iter(match=namespace + ":*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_privacy_nothing_identifying_reaches_the_dialogue_or_logs(
    standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    core = make_core(graph, keyring)
    dialogue = FakeDialogue()
    for name in sorted(path.name for path in DATA.glob("*.json")):
        assert (await core.receive(*signed(load(name)), dialogue)).status == 200, name
    standin.inject_faults(Fault(status=500, code=131000), 2)
    assert (await core.receive(*signed(load("batch.json")), FakeDialogue())).status in (200, 503)
    await core.drain()
    seen = json.dumps([[m.sender_id, m.text, m.metadata, m.message_id] for m in dialogue.received])
    assert dialogue.received
    for forbidden in (WA_ID, WA_ID_2, PROFILE_NAME, "Max Beispiel", "wamid."):
        assert forbidden not in seen
        assert forbidden not in caplog.text


# --------------------------------------------------------------------------- outbox


def test_outbox_opens_for_the_same_user_across_a_rotation_only() -> None:
    old = Secret.generate()
    keys = keys_for_user(Keyring(current=old), WA_ID)
    messages = [{"type": "text", "text": {"body": "Hallo"}}]
    outbox = seal_outbox(keys, messages)
    assert outbox.total == 1 and outbox.key_version == old.version
    rotated = keys_for_user(Keyring(current=Secret.generate(), retired=(old,)), WA_ID)
    assert open_outbox(rotated, outbox) == messages
    with pytest.raises(DecryptionError):
        open_outbox(keys_for_user(Keyring(current=old), WA_ID_2), outbox)
    with pytest.raises(DecryptionError):
        open_outbox(keys_for_user(Keyring(current=Secret.generate()), WA_ID), outbox)
    with pytest.raises(ValueError):
        seal_outbox(keys, [{"to": WA_ID, "type": "text", "text": {"body": "x"}}])
    with pytest.raises(ValueError):
        Outbox(blob=b"", key_version="v", total=1, sent=2)


async def test_deliver_records_each_send_and_stops_at_the_first_error() -> None:
    sent: list[str] = []
    recorded: list[int] = []

    async def send(message: Any) -> None:
        if message == "c":
            raise RuntimeError("down")
        sent.append(message)

    async def record(count: int) -> None:
        recorded.append(count)

    with pytest.raises(RuntimeError):
        await deliver(["a", "b", "c", "d"], 0, send, record)
    assert (sent, recorded) == (["a", "b"], [1, 2])
    assert await deliver(["a", "b", "x", "y"], 2, send, record) == 4
    assert sent == ["a", "b", "x", "y"] and recorded[-2:] == [3, 4]


async def test_list_labels_follow_the_users_language_slot(standin: MetaGraphStandIn, graph: GraphClient, keyring: Keyring) -> None:
    asked: list[str] = []

    async def english(pseudonym_: str) -> str:
        asked.append(pseudonym_)
        return "en"

    async def broken(pseudonym_: str) -> str:
        raise ConnectionError("tracker store down")

    core = make_core(graph, keyring)
    assert (await core.receive(*signed(load("text.json")), FakeDialogue(buttons=5), language_lookup=english)).status == 200
    assert asked == [pseudonym(keyring.current, WA_ID)]
    assert standin.messages[-1].message["interactive"]["action"]["button"] == "Options"
    assert (await core.receive(*signed(load("location.json")), FakeDialogue(buttons=5), language_lookup=broken)).status == 200
    assert standin.messages[-1].message["interactive"]["action"]["button"] == "Optionen"
