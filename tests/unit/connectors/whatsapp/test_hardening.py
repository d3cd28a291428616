"""Issue 16 findings 7 and 9, channel side: keyed references, padded outboxes, bounds, replay window.

Each test names the finding it covers. The webhook core runs with a recording Graph double
(no network); the HTTP tests run the real Sanic channel from tests/unit/connectors/whatsapp/test_adapter.py.
"""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
import logging
import time
from typing import Any, AsyncIterator

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from redis.asyncio import Redis

import connectors.whatsapp.adapter as channel_module
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.dedup.claims import ClaimStatus, DedupStore, message_key
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.outbox import Outbox, open_outbox, seal_outbox
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from privacy.context import keys_for_user
from privacy.keyring import Keyring, Secret
from privacy.sealing import seal_json
from tests.unit.connectors.whatsapp.test_adapter import APP_SECRET as HTTP_APP_SECRET
from tests.unit.connectors.whatsapp.test_adapter import Running, environment, running  # noqa: F401 (fixtures)
from tests.support.paths import UPDATES_DATA

DATA = UPDATES_DATA
APP_SECRET = "test-app-secret"
SETTINGS = WhatsAppSettings(
    verify_token="verify-token-1", app_secret=APP_SECRET, access_token="token", phone_number_id="100000000000001",
    max_body_bytes=64 * 1024,
)
WAMID = "wamid.HBgNNDkxNTU1MDAwMDAwMRUCABIYFDNBMDAwMDAwMDAwMDAwMDAwMDAxAA=="
WA_ID = "4915550000001"

pytestmark = pytest.mark.filterwarnings("ignore")


class RecordingGraph:
    """The Graph API double: records every send."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, dict[str, Any]]] = []

    async def send(self, recipient: Any, message: Any) -> str:
        self.sent.append((recipient, dict(message)))
        return "wamid.out"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


class Dialogue:
    """Answers once per message; records messages and the highest number of turns at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[UserMessage] = []
        self.delay = delay
        self.running = 0
        self.peak = 0

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            await message.output_channel.send_response(message.sender_id, {"text": "Antwort"})
        finally:
            self.running -= 1


class DurableMemoryStore(InMemoryDedupStore):
    """The in-process store claiming durability: stands in for Redis in the replay-window tests."""

    durable = True


def core_for(keyring: Keyring, store: Any = None, *, clock: Any = time.time, **options: Any) -> WebhookCore:
    return WebhookCore(
        settings=SETTINGS,
        store=store if store is not None else InMemoryDedupStore(),
        graph=RecordingGraph(),
        keyring=keyring,
        id_map=InMemoryPayloadIdMap(),
        output_factory=WhatsAppOutput,
        options=DeliveryOptions(**options),
        wall_clock=clock,
    )


def text_payload(*, timestamp: float | None, senders: int = 1) -> dict[str, Any]:
    payload = json.loads((DATA / "text.json").read_text(encoding="utf-8"))
    value = payload["entry"][0]["changes"][0]["value"]
    template, contact = value["messages"][0], value["contacts"][0]
    value["messages"], value["contacts"] = [], []
    for n in range(senders):
        phone = WA_ID if n == 0 else f"49155500010{n:02d}"
        message = dict(copy.deepcopy(template), **{"from": phone})
        message["id"] = WAMID if n == 0 else f"wamid.lane{n:02d}"
        if timestamp is None:
            message.pop("timestamp")
        else:
            message["timestamp"] = str(int(timestamp))
        value["messages"].append(message)
        value["contacts"].append(dict(copy.deepcopy(contact), wa_id=phone))
    return payload


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-Hub-Signature-256": compute_signature(secret, body)}


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


# --------------------------------------------------------------------------- finding 7: keyed references


def test_references_are_keyed_not_a_hash_of_the_wamid(keyring: Keyring) -> None:
    references = References.from_keyring(keyring)
    unkeyed = {
        hashlib.sha256(WAMID.encode()).hexdigest(),
        hashlib.sha256(b"blaupause/whatsapp/dedup/v1\x00" + WAMID.encode()).hexdigest(),  # the old dedup key
        message_key(WAMID),
    }
    assert references.dedup_key(WAMID) not in unkeyed
    assert not any(h.startswith(references.log_ref(WAMID)) for h in unkeyed)
    assert references.rasa_message_id(WAMID) not in {"wa-" + h[:32] for h in unkeyed}
    assert references.dedup_key(WAMID) == References.from_keyring(keyring).dedup_key(WAMID)  # stable
    other = References.from_keyring(Keyring(current=Secret.generate()))
    assert other.dedup_key(WAMID) != references.dedup_key(WAMID)
    assert other.log_ref(WAMID) != references.log_ref(WAMID)
    assert other.rasa_message_id(WAMID) != references.rasa_message_id(WAMID)
    assert len({references.dedup_key(WAMID), references.log_ref(WAMID), references.rasa_message_id(WAMID)[3:]}) == 3


async def test_core_stores_logs_and_tells_rasa_only_keyed_references(
    keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryDedupStore()
    core, dialogue = core_for(keyring, store), Dialogue()
    references = References.from_keyring(keyring)
    with caplog.at_level(logging.DEBUG, logger="connectors.whatsapp"):
        answer = await core.receive(*signed(text_payload(timestamp=time.time())), dialogue)
    assert answer.status == 200
    assert store.keys() == [message_key(references.dedup_key(WAMID))] != [message_key(WAMID)]
    assert dialogue.received[0].message_id == references.rasa_message_id(WAMID)
    assert references.log_ref(WAMID) in caplog.text
    assert message_key(WAMID)[:12] not in caplog.text and WAMID not in caplog.text


async def test_rotation_keeps_a_handled_message_done(keyring: Keyring) -> None:
    store = InMemoryDedupStore()
    body, headers = signed(text_payload(timestamp=time.time()))
    first = Dialogue()
    assert (await core_for(keyring, store).receive(body, headers, first)).status == 200
    rotated = Keyring(current=Secret.generate(), retired=(keyring.current,))
    core, again = core_for(rotated, store), Dialogue()
    assert (await core.receive(body, headers, again)).status == 200
    assert len(first.received) == 1 and not again.received and not core.graph.sent  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "redis"])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[DedupStore]:
    if request.param == "memory":
        yield InMemoryDedupStore()
        return
    namespace = "test:" + request.getfixturevalue("unique_name")
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisDedupStore(client, namespace=namespace)
    keys = [key async for key in client.scan_iter(match=namespace + ":*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def test_claim_sees_done_under_a_retired_reference(any_store: DedupStore) -> None:
    old, new = "a" * 64, "b" * 64
    claim = await any_store.claim(old, 30)
    await any_store.finish(old, claim.token)
    assert (await any_store.claim(new, 30, previous=[old])).status is ClaimStatus.DONE
    # only DONE counts: a reference that was never handled does not block the new one
    fresh = await any_store.claim("c" * 64, 30, previous=["d" * 64])
    assert fresh.status is ClaimStatus.ACQUIRED


# --------------------------------------------------------------------------- finding 9: padded outboxes


def test_outbox_ciphertext_hides_the_reply_length(keyring: Keyring) -> None:
    user_keys = keys_for_user(keyring, WA_ID)
    short = seal_outbox(user_keys, [{"type": "text", "text": {"body": "Ja"}}])
    longer = seal_outbox(user_keys, [{"type": "text", "text": {"body": "Eine deutlich längere Antwort " * 20}}])
    assert len(short.blob) == len(longer.blob) >= 1024
    assert open_outbox(user_keys, longer)[0]["text"]["body"].startswith("Eine deutlich")


def test_an_unpadded_outbox_from_before_still_opens(keyring: Keyring) -> None:
    user_keys = keys_for_user(keyring, WA_ID)
    messages = [{"type": "text", "text": {"body": "in flight across the upgrade"}}]
    blob = seal_json(user_keys.key, messages, pseudonym=user_keys.pseudonym, key_version=user_keys.version)
    assert open_outbox(user_keys, Outbox(blob=blob, key_version=user_keys.version, total=1)) == messages


# --------------------------------------------------------------------------- finding 9: unauthenticated work


def test_signature_header_is_checked_before_the_body(keyring: Keyring) -> None:
    core = core_for(keyring)
    assert core.check_before_body({}).status == 401  # type: ignore[union-attr]
    assert core.check_before_body({"X-Hub-Signature-256": "sha256=zz"}).status == 401  # type: ignore[union-attr]
    assert core.check_before_body({"Content-Length": str(10**9), "X-Hub-Signature-256": "sha256=" + "a" * 64}).status == 413  # type: ignore[union-attr]
    assert core.check_before_body({"X-Hub-Signature-256": "sha256=" + "a" * 64}) is None


def _hold_body_reads(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Body reads wait for the returned event, so requests stay inside their buffering slot."""
    gate = asyncio.Event()
    real = channel_module._read_limited

    async def slow(request: Any, limit: int) -> bytes | None:
        await gate.wait()
        return await real(request, limit)

    monkeypatch.setattr(channel_module, "_read_limited", slow)
    return gate


async def test_many_small_bodies_read_at_once_are_not_refused(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Meta's bodies are a few KB: many at once fit the budget of two maximum-size bodies."""
    core = running.channel.core
    core.intake.settings = dataclasses.replace(core.settings, max_buffering_requests=2)
    gate = _hold_body_reads(monkeypatch)
    posts = [signed(text_payload(timestamp=time.time()), HTTP_APP_SECRET) for _ in range(5)]
    async with httpx.AsyncClient(timeout=10) as client:
        held = [asyncio.create_task(client.post(running.webhook, content=body, headers=headers)) for body, headers in posts]
        for _ in range(200):
            if core.intake.buffering == 5:
                break
            await asyncio.sleep(0.01)
        assert core.intake.buffering == 5
        gate.set()
        assert [answer.status_code for answer in await asyncio.gather(*held)] == [200] * 5
    assert core.intake.buffered_bytes == 0


def test_body_slots_are_bounded(keyring: Keyring) -> None:
    core = core_for(keyring)
    core.intake.settings = dataclasses.replace(SETTINGS, max_buffering_requests=2)
    with core.body_slot() as first, core.body_slot() as second:
        assert first is None and second is None
        with core.body_slot() as third:
            assert third is not None and third.status == 503
    with core.body_slot() as again:
        assert again is None


async def test_unsigned_post_is_refused_without_reading_its_body(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = channel_module._read_limited

    async def counting(request: Any, limit: int) -> bytes | None:
        reads.append(limit)
        return await real(request, limit)

    monkeypatch.setattr(channel_module, "_read_limited", counting)
    async with httpx.AsyncClient() as client:
        for headers in ({}, {"X-Hub-Signature-256": "sha256=zz"}):
            answer = await client.post(running.webhook, content=b"x" * 4096, headers=headers)
            assert answer.status_code == 401
        assert not reads
        body, headers = signed(text_payload(timestamp=time.time()), HTTP_APP_SECRET)
        assert (await client.post(running.webhook, content=body, headers=headers)).status_code == 200
    assert len(reads) == 1


async def test_concurrent_body_reads_beyond_the_bound_get_503(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    core = running.channel.core
    body, headers = signed(text_payload(timestamp=time.time()), HTTP_APP_SECRET)
    # A budget of exactly two bodies of this size (each reserves its declared Content-Length).
    core.intake.settings = dataclasses.replace(core.settings, max_buffering_requests=2, max_body_bytes=len(body))
    gate = _hold_body_reads(monkeypatch)
    async with httpx.AsyncClient(timeout=10) as client:
        held = [asyncio.create_task(client.post(running.webhook, content=body, headers=headers)) for _ in range(2)]
        for _ in range(200):
            if core.intake.buffering == 2:
                break
            await asyncio.sleep(0.01)
        refused = await client.post(running.webhook, content=body, headers=headers)
        assert refused.status_code == 503
        gate.set()
        assert sorted(answer.status_code for answer in await asyncio.gather(*held)) == [200, 200]
    assert core.intake.buffering == 0 and len(running.agent.received) == 1  # one message, handled once


async def test_lanes_of_one_batch_run_at_most_eight_at_once(keyring: Keyring) -> None:
    core, dialogue = core_for(keyring), Dialogue(delay=0.05)
    answer = await core.receive(*signed(text_payload(timestamp=time.time(), senders=20)), dialogue)
    assert answer.status == 200 and len(dialogue.received) == 20
    assert dialogue.peak == 8


# --------------------------------------------------------------------------- finding 9: replays


async def test_replay_after_a_restart_with_the_in_process_store_is_not_handled(keyring: Keyring) -> None:
    sent_at = time.time()
    body, headers = signed(text_payload(timestamp=sent_at))
    first = Dialogue()
    assert (await core_for(keyring, clock=lambda: sent_at + 1).receive(body, headers, first)).status == 200
    # the process restarts ten minutes later: a fresh in-process store, the same signed POST replayed
    restarted, replayed = core_for(keyring, clock=lambda: sent_at + 600), Dialogue()
    assert (await restarted.receive(body, headers, replayed)).status == 200
    assert len(first.received) == 1 and not replayed.received and not restarted.graph.sent  # type: ignore[attr-defined]
    # a message sent while the new process was starting (within the skew) is handled
    recent = Dialogue()
    fresh = signed(text_payload(timestamp=sent_at + 500))
    assert (await core_for(keyring, clock=lambda: sent_at + 600).receive(*fresh, recent)).status == 200
    assert len(recent.received) == 1


async def test_a_durable_store_keeps_the_seven_day_window(keyring: Keyring) -> None:
    now = time.time()
    hour_old, dialogue = signed(text_payload(timestamp=now - 3600)), Dialogue()
    assert (await core_for(keyring, DurableMemoryStore()).receive(*hour_old, dialogue)).status == 200
    assert len(dialogue.received) == 1
    week_old, late = signed(text_payload(timestamp=now - 7 * 24 * 3600 - 60)), Dialogue()
    assert (await core_for(keyring, DurableMemoryStore()).receive(*week_old, late)).status == 200
    assert not late.received


async def test_a_message_without_timestamp_needs_a_durable_store(keyring: Keyring) -> None:
    undated = signed(text_payload(timestamp=None))
    in_process, durable = Dialogue(), Dialogue()
    assert (await core_for(keyring).receive(*undated, in_process)).status == 200
    assert (await core_for(keyring, DurableMemoryStore()).receive(*undated, durable)).status == 200
    assert not in_process.received and len(durable.received) == 1
