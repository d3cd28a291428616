"""The load-run side of the Meta stand-in: redelivery, round robin, storms and reply accounting.

These decide what the reliability suite's figures mean, so they are tested without processes.
"""
from __future__ import annotations

import json
import random
from collections import Counter

import httpx
import pytest

from harness.meta_delivery import MetaDelivery, Storm, account_replies, canonical, replies_by_user, run_users
from harness.webhook_sender import SIGNATURE_HEADER, sign

SECRET = "test-secret"
URLS = ["http://a.test/webhook", "http://b.test/webhook"]


def _transport(answers: list, seen: list) -> httpx.MockTransport:
    """Answers POSTs with the given statuses in turn (an exception instance is raised)."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if queue else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    return httpx.MockTransport(handler)


async def test_redelivers_until_acked_round_robin_and_signed() -> None:
    seen: list = []
    transport = _transport([503, httpx.ConnectError("refused"), 500, 200], seen)
    async with MetaDelivery(URLS, SECRET, retry_delays=(0.0,), transport=transport) as meta:
        assert await meta.deliver(b'{"x":1}')
    assert [str(r.url) for r in seen] == [URLS[0], URLS[1], URLS[0], URLS[1]]
    assert all(r.headers[SIGNATURE_HEADER] == sign(SECRET, b'{"x":1}') for r in seen)
    counts = meta.counts
    assert (counts.messages, counts.posts, counts.redeliveries, counts.acked, counts.gave_up) == (1, 4, 3, 1, 0)
    assert counts.answers == Counter({"503": 1, "ConnectError": 1, "500": 1, "200": 1})


async def test_gives_up_at_the_deadline() -> None:
    seen: list = []
    async with MetaDelivery(URLS, SECRET, retry_delays=(0.05,), deadline_s=0.12, transport=_transport([500] * 50, seen)) as meta:
        assert not await meta.deliver(b"{}")
    assert meta.counts.gave_up == 1 and meta.counts.acked == 0 and 2 <= len(seen) <= 4


async def test_copies_and_concurrent_copies_are_counted() -> None:
    seen: list = []
    async with MetaDelivery(URLS, SECRET, retry_delays=(0.0,), transport=_transport([], seen)) as meta:
        assert await meta.deliver(b"{}", copies=4, concurrent=2)
        assert await meta.post_again(b"{}")
    assert len(seen) == 5
    assert (meta.counts.messages, meta.counts.duplicates, meta.counts.concurrent) == (1, 4, 2)
    with pytest.raises(ValueError):
        await meta.deliver(b"{}", copies=2, concurrent=2)


def test_storm_draws_one_to_five_copies_reproducibly() -> None:
    draws = [Storm().copies(random.Random(3)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = random.Random(5)
    many = [Storm().copies(rng) for _ in range(500)]
    assert {copies for copies, _ in many} == {1, 2, 3, 4, 5}
    assert all(0 <= concurrent < copies for copies, concurrent in many)
    assert any(concurrent for _, concurrent in many)


async def test_run_users_sends_each_users_script_in_order() -> None:
    seen: list = []
    async with MetaDelivery(URLS, SECRET, retry_delays=(0.0,), transport=_transport([], seen)) as meta:
        acked = await run_users(meta, {"4915550000901": "A Test", "4915550000902": "B Test"}, ["eins", "zwei", "drei"])
    assert acked == {"4915550000901": [True] * 3, "4915550000902": [True] * 3}
    by_user: dict = {}
    for request in seen:
        message = json.loads(request.content)["entry"][0]["changes"][0]["value"]["messages"][0]
        by_user.setdefault(message["from"], []).append(message["text"]["body"])
    assert by_user == {"4915550000901": ["eins", "zwei", "drei"], "4915550000902": ["eins", "zwei", "drei"]}


def _text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


def test_account_counts_duplicates_losses_foreign_and_order() -> None:
    expected = [_text("a"), _text("b"), _text("c")]
    account = account_replies(expected, {
        "exact": expected,
        "twice": [_text("a"), _text("b"), _text("b"), _text("c")],
        "lost": [_text("a"), _text("c")],
        "swapped": [_text("b"), _text("a"), _text("c")],
        "foreign": [*expected, _text("z")],
    })
    assert (account.users, account.expected, account.delivered) == (5, 15, 14)
    assert (account.duplicated, account.lost, account.unexpected, account.out_of_order) == (1, 1, 1, 1)
    assert sorted(account.wrong_users) == ["foreign", "lost", "swapped", "twice"]
    assert not account.exact
    assert account_replies(expected, {"u": list(expected)}).exact


def test_canonical_ignores_random_payload_tokens_only() -> None:
    first = {"interactive": {"action": {"buttons": [{"reply": {"id": "~abc", "title": "Mehr"}}]}}}
    second = {"interactive": {"action": {"buttons": [{"reply": {"id": "~xyz", "title": "Mehr"}}]}}}
    other = {"interactive": {"action": {"buttons": [{"reply": {"id": "~xyz", "title": "Weniger"}}]}}}
    assert canonical(first) == canonical(second) != canonical(other)
    assert canonical({**first, "to": "4915550000901"}) == canonical({**second, "to": "4915550000902"})


def test_canonical_ignores_the_recipient_field_too() -> None:
    body = _text("Hallo")
    assert canonical({**body, "recipient": "DE.1000000000000000901"}) == canonical({**body, "to": "4915550000902"})
    assert canonical(body) != canonical(_text("Tschüss"))


async def test_run_users_plays_bsuid_only_users() -> None:
    seen: list = []
    users = {"DE.1000000000000000901": "A Test", "4915550000902": "B Test"}
    async with MetaDelivery(URLS, SECRET, retry_delays=(0.0,), transport=_transport([], seen)) as meta:
        acked = await run_users(meta, users, ["eins", "zwei"])
    assert acked == {"DE.1000000000000000901": [True] * 2, "4915550000902": [True] * 2}
    values = [json.loads(request.content)["entry"][0]["changes"][0]["value"] for request in seen]
    bsuid_values = [v for v in values if "from_user_id" in v["messages"][0]]
    assert len(bsuid_values) == 2
    for value in bsuid_values:
        assert "from" not in value["messages"][0] and "wa_id" not in value["contacts"][0]
        assert value["contacts"][0]["user_id"] == "DE.1000000000000000901"


def test_replies_by_user_groups_to_and_recipient_sends() -> None:
    listing = [
        {"to": "4915550000901", "recipient": None, "message": _text("a")},
        {"to": None, "recipient": "DE.1000000000000000902", "message": _text("b")},
        {"to": "4915550000999", "recipient": None, "message": _text("other")},
        {"to": None, "recipient": "DE.1000000000000000902", "message": _text("c")},
    ]
    received = replies_by_user(listing, ["4915550000901", "DE.1000000000000000902", "4915550000903"])
    assert received == {
        "4915550000901": [_text("a")],
        "DE.1000000000000000902": [_text("b"), _text("c")],
        "4915550000903": [],
    }
