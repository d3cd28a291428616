"""Channel metrics of the webhook edge and the message flow (connectors/whatsapp/webhook_metrics.py).

Counted through WebhookCore as the adapter drives it: every GET/POST answer by outcome and
status, POST durations by kind, inbound types, turn durations by outcome, dedup duplicates,
lease expiries, outbox resumes; and the operator port's settings error. The registry is
process-global: every check compares a delta.
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest

from connectors.whatsapp.adapter import WhatsAppInput
from connectors.whatsapp.claims import Claims
from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.graph.errors import ServerError
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import SettingsError, WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from privacy.keyring import Keyring, Secret
from privacy.log_redaction.install import uninstall_redaction
from tests.support.metrics import Delta

SETTINGS = WhatsAppSettings(verify_token="v", app_secret="metrics-secret", access_token="t", phone_number_id="1",
                            max_body_bytes=64 * 1024)
PHONE = "4915550000001"


class Graph:
    """Accepts every reply; ``fail`` ServerErrors first (retryable: the delivery is released)."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.sent: list[Any] = []

    async def send(self, recipient: Any, message: Any) -> str:
        if self.fail:
            self.fail -= 1
            raise ServerError(message="down", code=131000, status=500)
        self.sent.append(message)
        return "wamid.out"

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        return None


async def dialogue(message: Any) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": "ok"})


def make_core(graph: Graph | None = None, settings: WhatsAppSettings = SETTINGS) -> WebhookCore:
    return WebhookCore(settings=settings, store=InMemoryDedupStore(), graph=graph or Graph(),
                       keyring=Keyring(current=Secret.generate()), id_map=InMemoryPayloadIdMap(),
                       output_factory=WhatsAppOutput, options=DeliveryOptions(duplicate_wait_seconds=0.0))


def signed(messages: list[dict[str, Any]] | None = None, statuses: list[dict[str, Any]] | None = None) -> tuple[bytes, dict[str, str]]:
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}}
    if messages is not None:
        value["messages"] = messages
        value["contacts"] = [{"wa_id": PHONE, "profile": {"name": "Erika"}}]
    if statuses is not None:
        value["statuses"] = statuses
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}).encode()
    return body, {"X-Hub-Signature-256": compute_signature(SETTINGS.app_secret, body)}


def text(body: str = "Hallo", *, timestamp: int | None = None) -> dict[str, Any]:
    return {"id": f"wamid.m{time.time_ns()}", "from": PHONE, "type": "text", "text": {"body": body},
            "timestamp": str(timestamp if timestamp is not None else int(time.time()))}



def requests(method: str, outcome: str, status: int) -> Delta:
    return Delta("blaupause_webhook_requests_total", method=method, outcome=outcome, status=str(status))


def durations(kind: str) -> Delta:
    return Delta("blaupause_webhook_duration_seconds_count", kind=kind)


def turns(outcome: str) -> Delta:
    return Delta("blaupause_turn_duration_seconds_count", outcome=outcome)


def test_get_handshake_is_counted_verified_or_refused() -> None:
    core = make_core()
    verified, refused = requests("GET", "verified", 200), requests("GET", "verify_refused", 403)
    assert core.verify({"hub.mode": "subscribe", "hub.verify_token": "v", "hub.challenge": "42"}).status == 200
    assert core.verify({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"}).status == 403
    assert (verified(), refused()) == (1, 1)


async def test_refusals_before_and_while_reading_the_body_are_counted() -> None:
    core = make_core(settings=dataclasses.replace(SETTINGS, max_buffering_requests=2))
    unsigned, too_large, busy, refused = (requests("POST", "unsigned", 401), requests("POST", "too_large", 413),
                                          requests("POST", "busy", 503), durations("refused"))
    assert core.check_before_body({}).status == 401  # type: ignore[union-attr]
    big = {"Content-Length": str(10**9), "X-Hub-Signature-256": "sha256=" + "a" * 64}
    assert core.check_before_body(big, time.monotonic()).status == 413  # type: ignore[union-attr]
    assert core.check_before_body({"X-Hub-Signature-256": "sha256=" + "a" * 64}) is None
    with core.body_slot() as first, core.body_slot() as second:
        assert first is None and second is None
        with core.body_slot() as third:  # the budget is two bodies of the maximum size
            assert third is not None and third.status == 503
    assert core.refused(core.intake.check_declared_length({"Content-Length": str(10**9)})).status == 413  # type: ignore[arg-type]
    assert (unsigned(), too_large(), busy(), refused()) == (1, 2, 1, 4)


async def test_core_refusals_are_counted_by_status() -> None:
    core = make_core()
    turn = core.turn(dialogue)
    bad_signature, bad_request, unsigned = (requests("POST", "bad_signature", 403), requests("POST", "bad_request", 400),
                                            requests("POST", "unsigned", 401))
    assert (await core.handle(b"{}", {"X-Hub-Signature-256": "sha256=" + "0" * 64}, turn)).status == 403
    body = b"not json"
    assert (await core.handle(body, {"X-Hub-Signature-256": compute_signature(SETTINGS.app_secret, body)}, turn)).status == 400
    assert (await core.handle(b"{}", {}, turn)).status == 401
    assert (bad_signature(), bad_request(), unsigned()) == (1, 1, 1)


async def test_handled_duplicate_and_statuses_posts_are_counted_with_their_kind() -> None:
    core = make_core()
    turn = core.turn(dialogue)
    handled, duplicate, messages, statuses = (requests("POST", "handled", 200), requests("POST", "duplicate", 200),
                                              durations("messages"), durations("statuses"))
    inbound, turn_handled, turn_duplicate = (Delta("blaupause_inbound_messages_total", type="text"),
                                             turns("handled"), turns("duplicate"))
    done = Delta("blaupause_dedup_duplicates_total", state="done")
    body, headers = signed([text()])
    assert (await core.handle(body, headers, turn, time.monotonic())).status == 200
    assert (await core.handle(body, headers, turn)).status == 200  # Meta's redelivery
    status = {"id": "wamid.out", "status": "delivered", "timestamp": str(int(time.time())), "recipient_id": PHONE}
    assert (await core.handle(*signed(statuses=[status]), turn)).status == 200
    assert (handled(), duplicate(), messages(), statuses()) == (2, 1, 2, 1)
    assert (inbound(), turn_handled(), turn_duplicate(), done()) == (2, 1, 1, 1)


async def test_unknown_types_and_stale_messages() -> None:
    core = make_core()
    other_type, stale = Delta("blaupause_inbound_messages_total", type="other"), turns("stale")
    weird = {**text(), "type": "hologram", "hologram": {}}
    old = text(timestamp=int(time.time()) - 30 * 24 * 3600)
    assert (await core.handle(*signed([weird, old]), core.turn(dialogue))).status == 200
    assert other_type() == 0  # an unknown wire type is parsed as "unsupported", never passed through
    assert stale() == 1


async def test_a_failed_send_is_retried_and_the_redelivery_resumes_the_outbox() -> None:
    core = make_core(Graph(fail=10))
    turn = core.turn(dialogue)
    retry, turn_retry, resumes, outbox = (requests("POST", "retry", 503), turns("retry"),
                                          Delta("blaupause_outbox_resumes_total"),
                                          Delta("blaupause_dedup_duplicates_total", state="outbox"))
    expiries = Delta("blaupause_dedup_lease_expiries_total")
    body, headers = signed([text()])
    assert (await core.handle(body, headers, turn)).status == 503
    core.graph.fail = 0  # type: ignore[attr-defined]
    assert (await core.handle(body, headers, turn)).status == 200
    assert (retry(), turn_retry(), resumes(), outbox()) == (1, 1, 1, 1)
    assert expiries() == 0  # the first delivery released its claim: no lease ran out


async def test_internal_errors_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    core = make_core()
    error = requests("POST", "error", 500)

    def broken(body: bytes, headers: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(core.intake, "read", broken)
    assert (await core.handle(*signed([text()]), core.turn(dialogue))).status == 500
    assert error() == 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_lease_expiries_are_counted_releases_are_not() -> None:
    clock = Clock()
    claims = Claims(InMemoryDedupStore(clock=clock), References.from_keyring(Keyring(current=Secret.generate())),
                    lease_seconds=10, duplicate_wait_seconds=0, duplicate_poll_seconds=0.01)
    expiries, busy = Delta("blaupause_dedup_lease_expiries_total"), Delta("blaupause_dedup_duplicates_total", state="in_progress")
    first = await claims.claim("wamid.a")
    assert (await claims.claim("wamid.a")).status.value == "busy"
    clock.now += 11
    assert (await claims.claim("wamid.a")).lease_expired
    released = await claims.claim("wamid.b")
    await claims.held("wamid.b", released).release()
    assert not (await claims.claim("wamid.b")).lease_expired
    assert first.token and (expiries(), busy()) == (1, 1)


def test_a_bad_metrics_port_stops_the_channel_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value_ in {"WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_ACCESS_TOKEN": "t",
                         "WHATSAPP_PHONE_NUMBER_ID": "1", "PRIVACY_KEY": "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a",
                         "BLAUPAUSE_METRICS_PORT": "not-a-port"}.items():
        monkeypatch.setenv(name, value_)
    for name in ("WHATSAPP_DEDUP_URL", "WHATSAPP_API_BASE_URL", "PRIVACY_OLD_KEYS", "BLAUPAUSE_ENV"):
        monkeypatch.delenv(name, raising=False)
    try:
        with pytest.raises(SettingsError) as raised:
            WhatsAppInput.from_credentials(None)
    finally:
        uninstall_redaction()
    assert raised.value.setting == "BLAUPAUSE_METRICS_PORT"
    assert "not-a-port" in str(raised.value)  # a port is no secret; the token is never in a message
