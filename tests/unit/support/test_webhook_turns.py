"""tests/support/webhook_turns.py: when a turn is over, and what it returns (no processes: a fake stack)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List

from harness import meta_payloads as mp
from tests.support import webhook_turns
from tests.support.webhook_turns import turn, wait_until_quiet


async def test_waits_for_the_replies_to_settle() -> None:
    replies: list[int] = []

    async def reply_twice() -> None:
        await asyncio.sleep(0.15)
        replies.append(1)
        await asyncio.sleep(0.15)
        replies.append(2)

    task = asyncio.create_task(reply_twice())
    started = time.monotonic()
    await wait_until_quiet(lambda: len(replies), 0, settle=0.3)
    await task
    assert replies == [1, 2] and time.monotonic() - started >= 0.6


async def test_silence_ends_a_turn_without_replies() -> None:
    started = time.monotonic()
    await wait_until_quiet(lambda: 0, 0, settle=0.1, silence=0.3)
    assert 0.3 <= time.monotonic() - started < 5


class _FakeStack:
    app_secret = "secret"

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = [{"text": {"body": "earlier"}}]

    def webhook_url(self) -> str:
        return "http://127.0.0.1:1/webhooks/whatsapp/webhook"

    def sent_to(self, address: str) -> List[Dict[str, Any]]:
        return list(self.sent)


async def test_turn_posts_the_message_and_returns_only_the_new_replies(monkeypatch) -> None:
    stack, posted = _FakeStack(), []

    async def post_signed(target, body) -> None:
        posted.append(body)
        asyncio.get_running_loop().call_later(0.05, stack.sent.append, {"text": {"body": "new"}})

    monkeypatch.setattr(webhook_turns, "post_signed", post_signed)
    replies = await turn(stack, mp.text("4915550000001", "Hallo"), "4915550000001", settle=0.1)
    assert replies == [{"text": {"body": "new"}}]
    assert posted[0]["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "Hallo"
