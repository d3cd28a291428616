"""connectors/whatsapp/intake.py: handshake, limits, signature, parsing, replay window
(status logs: test_delivery_statuses.py)."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from connectors.whatsapp.intake import Intake, ReplayWindow, header
from connectors.whatsapp.outcome import WebhookResponse
from connectors.whatsapp.references import References
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from connectors.whatsapp.updates.messages import TextMessage, WebhookUpdate
from privacy.keyring import Keyring, Secret
from privacy.log_redaction.sensitive import sensitive_scope
from privacy.log_redaction.sensitive import sensitive_values
from privacy.personal_values import personal_values, personal_values_scope

SECRET = "intake-app-secret"
SETTINGS = WhatsAppSettings(
    verify_token="verify-token", app_secret=SECRET, access_token="t", phone_number_id="1", max_body_bytes=4096,
    max_buffering_requests=2,
)
WAMID = "wamid.intake000001"
PHONE = "4915550000701"


def intake(*, durable: bool = False, clock: Any = time.time) -> Intake:
    replay = ReplayWindow(durable=durable, max_age_seconds=7 * 24 * 3600, restart_skew_seconds=300, wall_clock=clock)
    return Intake(SETTINGS, References.from_keyring(Keyring(current=Secret.generate())), replay)


def body(*, statuses: list[dict[str, Any]] | None = None, timestamp: int | None = None) -> bytes:
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}}
    if statuses is None:
        message = {"id": WAMID, "from": PHONE, "type": "text", "text": {"body": "Hallo"},
                   "timestamp": str(timestamp if timestamp is not None else int(time.time()))}
        value["messages"] = [message]
        value["contacts"] = [{"wa_id": PHONE, "profile": {"name": "Erika Mustermann"}}]
    else:
        value["statuses"] = statuses
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    return json.dumps(payload).encode()


def signed(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": compute_signature(SECRET, raw)}


def message(timestamp: int | None) -> TextMessage:
    return TextMessage(WAMID, PHONE, "text", timestamp, "1", phone=PHONE, profile_name="Erika Mustermann",
                       username="@erika", body="Hallo Welt")


def test_verification_answers_the_challenge_for_the_right_token_only() -> None:
    ok = intake().verify({"hub.mode": "subscribe", "hub.verify_token": "verify-token", "hub.challenge": "42"})
    assert (ok.status, ok.body) == (200, "42")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "verify-token", "hub.challenge": "42"},
                   {"hub.mode": "subscribe", "hub.verify_token": "verify-token"}):
        refused = intake().verify(params)
        assert refused.status == 403 and "42" not in refused.body


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Hub-Signature-256": "md5=abc"}, 401),
        ({"Content-Length": "x", "X-Hub-Signature-256": "sha256=" + "a" * 64}, 400),
        ({"content-length": "5000", "X-Hub-Signature-256": "sha256=" + "a" * 64}, 413),
    ],
)
def test_before_the_body(headers: dict[str, str], status: int) -> None:
    refused = intake().check_before_body(headers)
    assert refused is not None and refused.status == status


def test_a_plausible_header_passes_before_the_body() -> None:
    assert intake().check_before_body({"x-hub-signature-256": "sha256=" + "b" * 64, "Content-Length": "10"}) is None


def test_body_slots_are_counted_and_released() -> None:
    checker = intake()
    with checker.body_slot() as first, checker.body_slot() as second:
        assert first is None and second is None and checker.buffering == 2
        with checker.body_slot() as third:
            assert isinstance(third, WebhookResponse) and third.status == 503
    assert checker.buffering == 0


def test_body_slots_reserve_the_declared_length_or_the_maximum() -> None:
    checker = intake()  # a budget of 2 maximum-size bodies
    limit = checker.settings.max_body_bytes
    small = {"Content-Length": "1000"}
    with checker.body_slot(small) as a, checker.body_slot(small) as b, checker.body_slot(small) as c:
        assert a is None and b is None and c is None and checker.buffered_bytes == 3000
        with checker.body_slot({"Content-Length": str(limit)}) as big:
            assert big is None
            with checker.body_slot({}) as chunked:  # no declared length: reserves the maximum
                assert isinstance(chunked, WebhookResponse) and chunked.status == 503
            with checker.body_slot({"Content-Length": "nonsense"}) as malformed:
                assert isinstance(malformed, WebhookResponse) and malformed.status == 503
            with checker.body_slot({"Content-Length": str(limit - 3000)}) as fits:
                assert fits is None and checker.buffered_bytes == 2 * limit  # exactly the budget
                with checker.body_slot({"Content-Length": "1"}) as over:
                    assert isinstance(over, WebhookResponse) and over.status == 503
    assert checker.buffering == 0 and checker.buffered_bytes == 0


def test_read_returns_the_update_of_a_signed_body() -> None:
    raw = body()
    update = intake().read(raw, signed(raw))
    assert isinstance(update, WebhookUpdate)
    [only] = update.messages
    assert isinstance(only, TextMessage) and only.body == "Hallo"


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b"x" * 5000, None, 413),
        (b"{not json", None, 400),
        (b'{"object":"page"}', None, 400),
        (b'{"object":"whatsapp_business_account"}', {"X-Hub-Signature-256": "sha256=" + "a" * 64}, 403),
        (b'{"object":"whatsapp_business_account"}', {}, 401),
    ],
)
def test_read_refuses(raw: bytes, headers: dict[str, str] | None, status: int) -> None:
    answer = intake().read(raw, signed(raw) if headers is None else headers)
    assert isinstance(answer, WebhookResponse) and answer.status == status


def test_admit_registers_what_is_sensitive_for_the_lane() -> None:
    with sensitive_scope(), personal_values_scope():
        assert intake(durable=True).admit(message(int(time.time()))) is None
        registered = sensitive_values()
        for value in (PHONE, WAMID, "Erika Mustermann", "@erika", "Hallo Welt"):
            assert value in registered
        assert set(personal_values()) == {"Erika Mustermann", "@erika"}
    assert WAMID not in sensitive_values()


def test_replay_window_of_a_durable_store() -> None:
    now = 1_800_000_000.0
    window = ReplayWindow(durable=True, max_age_seconds=7 * 24 * 3600, restart_skew_seconds=300, wall_clock=lambda: now)
    assert window.stale_reason(message(int(now) - 3600)) is None
    assert window.stale_reason(message(None)) is None
    assert window.stale_reason(message(int(now) - 7 * 24 * 3600 - 60)) == "older than the dedup retention"


def test_replay_window_of_the_in_process_store() -> None:
    clock = [1_800_000_000.0]
    window = ReplayWindow(durable=False, max_age_seconds=7 * 24 * 3600, restart_skew_seconds=300, wall_clock=lambda: clock[0])
    started = int(clock[0])
    clock[0] += 600
    assert window.stale_reason(message(started - 200)) is None  # within the skew
    assert "older than this process" in (window.stale_reason(message(started - 400)) or "")
    assert "in-process" in (window.stale_reason(message(None)) or "")


def test_header_names_are_case_insensitive() -> None:
    assert header({"X-Hub-Signature-256": "v"}, "x-hub-signature-256") == "v"
    assert header({}, "content-length") is None
