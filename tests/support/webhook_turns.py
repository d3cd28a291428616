"""One turn against the real processes: post a signed webhook, then wait until the replies stop.

Why here: the end-to-end tests (tests/e2e/test_whatsapp.py, tests/e2e/test_voice_notes.py) each
had a copy of this loop, and a wait that drifts between copies makes one suite flaky and not the
other. The stack is harness.local_stack.LocalStack (or anything with ``webhook_url()``,
``app_secret`` and ``sent_to(address)``).

When a turn is over: the assistant's replies arrive one by one through the Graph stand-in, and
nothing says "that was the last one". So the turn waits until at least one reply came and then
``settle`` seconds passed without another (a minute at most); a message that must get no reply
can also end after ``silence`` seconds without any.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Dict, List, Protocol

from harness import meta_payloads as mp
from harness.webhook_sender import WebhookSender

__all__ = ["Stack", "RETRY_DELAYS", "post_signed", "wait_until_quiet", "turn"]

#: Meta redelivers a webhook the assistant did not accept (503 while starting, ...); tests wait less.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
_LONGEST_TURN_S = 60.0


class Stack(Protocol):
    app_secret: str

    def webhook_url(self) -> str: ...

    def sent_to(self, address: str) -> List[Dict[str, Any]]: ...


async def post_signed(stack: Stack, body: Dict[str, Any], retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
    """Post one POST body signed with the stack's app secret; fail the test unless it was accepted."""
    async with WebhookSender(stack.webhook_url(), stack.app_secret, retry_delays=retry_delays) as sender:
        delivery = await sender.send(body)
    assert delivery.delivered, delivery


async def wait_until_quiet(count: Callable[[], int], before: int, settle: float, *, silence: float | None = None) -> None:
    """Wait until ``count()`` rose above ``before`` and then stayed put ``settle`` seconds, or, with
    ``silence``, until it stayed at ``before`` that long; a minute at most (then the caller asserts)."""
    deadline = time.monotonic() + _LONGEST_TURN_S
    seen, quiet_since = before, time.monotonic()
    while time.monotonic() < deadline:
        now_count = count()
        if now_count != seen:
            seen, quiet_since = now_count, time.monotonic()
        elif now_count > before and time.monotonic() - quiet_since > settle:
            return
        elif silence is not None and now_count == before and time.monotonic() - quiet_since > silence:
            return  # a message that must get no reply: wait a little, then look
        await asyncio.sleep(0.1)


async def turn(stack: Stack, message: Dict[str, Any], wa_id: str, settle: float = 1.0) -> List[Dict[str, Any]]:
    """Deliver one inbound message (from a harness.meta_payloads builder) from ``wa_id`` and return
    what the assistant sent back for it."""
    before = len(stack.sent_to(wa_id))
    await post_signed(stack, mp.payload(message, profile_name="Erika Testfrau"))
    await wait_until_quiet(lambda: len(stack.sent_to(wa_id)), before, settle)
    return stack.sent_to(wa_id)[before:]
