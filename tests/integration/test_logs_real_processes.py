"""Logs of the real processes at DEBUG carry no dialogue content (issue 16 findings 1, 2, 5).

Starts the whole assistant (``harness.local_stack``: Meta stand-in, action server, Rasa
with the WhatsApp channel) with ``--debug`` and the documented override
``BLAUPAUSE_ALLOW_DEBUG_LOGS=1``, talks to it as a user with a phone number, a BSUID, a
parent BSUID, a username and a profile name, shares a location, makes a custom action
fail in the real action server, and scans every line both processes wrote. Also checks
the action server's real process environment holds no secret, and that DEBUG without the
override stops the action server at start.

Needs a trained model (marker ``e2e``, like tests/e2e/test_whatsapp.py).
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest

from tests.support.meta_users import as_user
from tests.support.model import require_model
from privacy.action_errors import GENERIC_ERROR
from privacy.action_server import FORBIDDEN_NAMES, action_server_environment
from harness import meta_payloads as mp
from harness.local_stack import ROOT, LocalStack, free_port
from harness.webhook_sender import WebhookSender

pytestmark = pytest.mark.e2e

PHONE = "4915550000177"
BSUID = "DE.1000000000000000177"
PARENT_BSUID = "DE.ENT.2000000000000000177"
USERNAME = "@erika_logtest"
PROFILE_NAME = "Erika Logtestfrau"
WORDS = ("Zuckerbäckerin", "Quedlinburg", "Mustermann", "Logtestfrau")
LATITUDE, LONGITUDE = 51.789123, 11.147456


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(
        tmp_path_factory.mktemp("logs"),
        model=require_model(),
        extra_env={"BLAUPAUSE_ALLOW_DEBUG_LOGS": "1"},
        debug=True,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def _send(stack: LocalStack, message: Dict[str, Any]) -> None:
    body = as_user(message, phone=PHONE, user_id=BSUID, parent_user_id=PARENT_BSUID, username=USERNAME)
    before = len(stack.sent())
    async with WebhookSender(stack.webhook_url(), stack.app_secret, retry_delays=(0.2, 0.5, 1.0, 2.0)) as sender:
        delivery = await sender.send(body)
    assert delivery.delivered, delivery
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.sent()) == before:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the rest of the turn's replies and log lines


def _forbidden() -> List[str]:
    values = [PHONE, BSUID, PARENT_BSUID, USERNAME, PROFILE_NAME, *WORDS, "51.789", "11.147", "+49 155"]
    return values + [json.dumps(v)[1:-1] for v in values]


def _assert_clean(text: str, where: str) -> None:
    for forbidden in _forbidden():
        assert forbidden not in text, f"{forbidden!r} in {where}"


async def test_a_debug_conversation_and_a_failing_action_leave_no_content_in_either_log(debug_stack: LocalStack) -> None:
    await _send(debug_stack, mp.text(PHONE, "Hallo, ich heiße Erika Mustermann"))
    await _send(debug_stack, mp.text(PHONE, "Ich suche Arbeit als Zuckerbäckerin in Quedlinburg"))
    await _send(debug_stack, mp.location(PHONE, LATITUDE, LONGITUDE, name="Quedlinburg Markt"))
    await _send(debug_stack, mp.text(PHONE, "ruf mich an: +49 155 5000 0177"))

    # A custom action that fails in the real action server (malformed latest_message).
    actions_url = f"http://127.0.0.1:{debug_stack.actions_port}/webhook"
    call = {
        "next_action": "action_llm_fallback",
        "sender_id": "u_" + "c" * 32,
        "version": "3.6.0",
        "domain": {},
        "tracker": {
            "sender_id": "u_" + "c" * 32,
            "slots": {"job_title": "Zuckerbäckerin", "location": "Quedlinburg", "latitude": LATITUDE},
            "latest_message": "Ich heiße Erika Mustermann",
            "events": [{"event": "user", "text": "Zuckerbäckerin in Quedlinburg", "parse_data": {"entities": []}}],
        },
    }
    answer = httpx.post(actions_url, json=call, timeout=30)
    assert answer.status_code == 500
    assert answer.json() == {"error": GENERIC_ERROR, "action_name": "action_llm_fallback"}
    _assert_clean(answer.text, "the action server's error answer")

    time.sleep(1.0)
    rasa_log = debug_stack.logs["rasa0"].read_text(encoding="utf-8", errors="replace")
    actions_log = debug_stack.logs["actions"].read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in rasa_log.upper() and "debug" in actions_log.lower()  # really at DEBUG
    assert "AttributeError" in actions_log  # the failure itself is logged, without its tracker
    assert "u_" in rasa_log  # pseudonyms stay readable
    _assert_clean(rasa_log, "the Rasa log")
    _assert_clean(actions_log, "the action server log")


def test_the_running_action_server_holds_no_secret(debug_stack: LocalStack) -> None:
    pid = debug_stack.procs["actions"].pid
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    names = {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}
    assert not names & FORBIDDEN_NAMES
    assert {"JOBS_PROVIDER", "PATH"} <= names
    rasa_names = {item.split(b"=", 1)[0].decode() for item in
                  Path(f"/proc/{debug_stack.procs['rasa0'].pid}/environ").read_bytes().split(b"\0") if item}
    assert "PRIVACY_KEY" in rasa_names  # Rasa, which seals the trackers, does get the key


def test_debug_without_the_override_stops_the_action_server(tmp_path: Path) -> None:
    env = action_server_environment({**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    env.pop("BLAUPAUSE_ENV", None)
    env.pop("BLAUPAUSE_ALLOW_DEBUG_LOGS", None)
    rasa = str(Path(sys.executable).parent / "rasa")
    done = subprocess.run(
        [rasa, "run", "actions", "--actions", "actions", "--port", str(free_port()), "--debug"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "DebugLoggingRefusedError" in done.stdout + done.stderr
    assert "BLAUPAUSE_ALLOW_DEBUG_LOGS=1" in done.stdout + done.stderr
