"""Scale-out: two ``rasa run`` instances behind one webhook, sharing every store.

Why: production runs several instances behind a load balancer, and Meta may deliver a user's
next message, or a redelivery of the same message, to any of them. Three shared stores must make
that invisible to the user and to the conversation: the encrypted tracker store (PostgreSQL or
Redis) so each instance continues where the other stopped, Rasa's Redis lock store so two
instances never work on one conversation at once (without it, the later save overwrites the
earlier one and a user message is lost), and the channel's Redis dedup store so a message
delivered to both instances is answered once.

Each test plays Meta (signed webhooks, reading replies from the Graph stand-in) and afterwards
reads the stored conversation the way the bot does (tests/support/stores.py: stored_conversation): an EncryptedTrackerStore on the same database
inside ``user_context`` with the keys derived from the stack's secret and the user's number.

Needs a trained model; skips without one unless CI=true (like tests/e2e/test_whatsapp.py), and
PostgreSQL and Redis (tests/support/servers.py). One stack per store backend, started once per module;
each takes about three minutes to start on two cores, so CI runs the PostgreSQL tracker store
only. ``SCALE_OUT_STORES=postgresql,redis`` adds the same tests on the Redis tracker store.
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Sequence

import httpx
import pytest
from tests.support.meta_users import as_user
from tests.support.model import MODEL, require_model
from tests.support.stores import drop_postgres_tables, stored_conversation
import redis
from rasa.shared.core.events import BotUttered, UserUttered

from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import WebhookSender
from tests.support.paths import REPO_ROOT
from tests.support.replies import text_of

pytestmark = pytest.mark.e2e

ROOT = REPO_ROOT
REPLY_TIMEOUT_S = 90.0
SETTLE_S = 0.7
STORES = [name.strip() for name in os.environ.get("SCALE_OUT_STORES", "postgresql").split(",") if name.strip()]
if not set(STORES) <= {"postgresql", "redis"}:
    raise ValueError(f"SCALE_OUT_STORES names unknown stores: {STORES}")


# --------------------------------------------------------------------------- the stacks
@dataclass
class Deployment:
    """A running two-instance stack and where its tracker store keeps conversations."""

    stack: LocalStack
    store_url: str
    table: str


def _delete_redis_keys(url: str, pattern: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module", params=STORES)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> Iterator[Deployment]:
    """Two rasa instances on one tracker store (PostgreSQL or Redis), Redis locks and dedup.

    A unique table (PostgreSQL) or namespace (Redis) and lock key prefix keep parallel runs
    apart; both are removed afterwards.
    """
    require_model()
    table = "scale_" + uuid.uuid4().hex[:12]
    store_url = postgres_url if request.param == "postgresql" else redis_url
    stack = LocalStack(
        tmp_path_factory.mktemp(f"scale-{request.param}"),
        model=MODEL,
        rasa_instances=2,
        tracker_store_url=store_url,
        lock_store_url=redis_url,
        dedup_url=redis_url,
        tracker_store_options={"table": table},
        lock_store_options={"key_prefix": table},
    )
    try:
        stack.start()
        yield Deployment(stack, store_url, table)
    finally:
        stack.stop()
        if request.param == "postgresql":
            drop_postgres_tables(postgres_url, table)
        else:
            _delete_redis_keys(redis_url, f"blaupause:{table}*")


# ------------------------------------------------------------------------ playing Meta
class Meta:
    """Delivers a user's messages to a chosen instance and reads what the stand-in received."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._client = httpx.AsyncClient(timeout=10.0)
        self._senders = [
            WebhookSender(url, stack.app_secret, retry_delays=(0.3, 0.6, 1.2, 2.4, 4.8))
            for url in stack.webhook_urls
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
        for sender in self._senders:
            await sender.aclose()

    async def sent_to(self, wa_id: str) -> List[Dict[str, Any]]:
        response = await self._client.get(f"{self.stack.graph_url}/_standin/messages")
        response.raise_for_status()
        return [m["message"] for m in response.json()["messages"] if m["to"] == wa_id]

    async def deliver(self, instances: Sequence[int], message: Dict[str, Any], profile_name: str) -> None:
        """POST one notification to each of ``instances`` at the same time (same body: a redelivery)."""
        body = mp.payload(message, profile_name=profile_name)
        deliveries = await asyncio.gather(*(self._senders[i].send(body) for i in instances))
        assert all(d.delivered for d in deliveries), deliveries

    async def wait_for(self, wa_id: str, count: int, timeout: float = REPLY_TIMEOUT_S) -> List[Dict[str, Any]]:
        """All messages to ``wa_id`` once there are at least ``count`` and no more arrive for a moment."""
        deadline = time.monotonic() + timeout
        while True:
            sent = await self.sent_to(wa_id)
            if len(sent) >= count:
                await asyncio.sleep(SETTLE_S)
                return await self.sent_to(wa_id)
            if time.monotonic() > deadline:
                return sent
            await asyncio.sleep(0.1)


@pytest.fixture
async def meta(deployment: Deployment) -> AsyncIterator[Meta]:
    player = Meta(deployment.stack)
    try:
        yield player
    finally:
        await player.aclose()


def _choices(message: Dict[str, Any]) -> Dict[str, str]:
    """Title -> id of a reply-button or list message (list rows also by their description)."""
    interactive = message.get("interactive", {})
    if interactive.get("type") == "button":
        return {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}
    if interactive.get("type") == "list":
        rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
        return {**{r["title"]: r["id"] for r in rows}, **{r["description"]: r["id"] for r in rows if "description" in r}}
    return {}


def _job_rows(messages: Sequence[Dict[str, Any]]) -> List[str]:
    """Row ids of the job results (``/select_job{...}``), in the order shown."""
    rows: List[str] = []
    for message in messages:
        for section in message.get("interactive", {}).get("action", {}).get("sections", []):
            rows += [row["id"] for row in section["rows"] if row["id"].startswith("/select_job")]
    return rows


@dataclass
class Turn:
    """One user message, what Rasa receives for it, and what its reply must look like."""

    message: Callable[[str, List[Dict[str, Any]]], Dict[str, Any]]  # (wa_id, previous reply) -> message
    rasa_text: Callable[[Dict[str, Any]], str]  # the message -> UserUttered.text
    replies: int  # how many WhatsApp messages the reply has
    check: Callable[[List[Dict[str, Any]]], bool]
    redeliver: bool = False  # also deliver the same notification to the other instance at once


def _text_turn(body: str, replies: int, check: Callable[[List[Dict[str, Any]]], bool], redeliver: bool = False) -> Turn:
    return Turn(lambda wa_id, _: mp.text(wa_id, body), lambda _: body, replies, check, redeliver)


def _tap_turn(
    pick: Callable[[List[Dict[str, Any]]], str], replies: int, check: Callable[[List[Dict[str, Any]]], bool],
    redeliver: bool = False,
) -> Turn:
    """A tap on a button or list row of the previous reply; ``pick`` chooses the id."""

    def message(wa_id: str, previous: List[Dict[str, Any]]) -> Dict[str, Any]:
        reply_id = pick(previous)
        titles = {v: k for m in previous for k, v in _choices(m).items()}
        kind = mp.list_reply if any(m.get("interactive", {}).get("type") == "list" and reply_id in _choices(m).values()
                                    for m in previous) else mp.button_reply
        return kind(wa_id, reply_id, titles.get(reply_id, reply_id)[:24])

    def rasa_text(message: Dict[str, Any]) -> str:
        interactive = message["interactive"]
        return interactive[interactive["type"]]["id"]

    return Turn(message, rasa_text, replies, check, redeliver)


def _button(title: str) -> Callable[[List[Dict[str, Any]]], str]:
    return lambda previous: next(_choices(m)[title] for m in reversed(previous) if title in _choices(m))


def _first_job(previous: List[Dict[str, Any]]) -> str:
    return _job_rows(previous)[0]


def _says(*fragments: str, index: int = 0) -> Callable[[List[Dict[str, Any]]], bool]:
    return lambda replies: all(fragment in text_of(replies[index]) for fragment in fragments)


def _job_search() -> List[Turn]:
    """The whole job search of the issue: greet, search, more, refine, select, new search, again."""
    return [
        _text_turn("Hallo", 1, _says("Blaupause-Jobassistent")),
        _text_turn("Pflege Jobs in Köln", 2, lambda r: "Stellen für \"Pflege\" in Köln" in text_of(r[0])
                   and "Hier sind 1 bis 5" in text_of(r[0]) and len(_job_rows(r)) == 5
                   and "Mehr Ergebnisse" in _choices(r[1])),
        _tap_turn(_button("Mehr Ergebnisse"), 2, lambda r: "Hier sind 6 bis" in text_of(r[0])
                  and "Pflege" in text_of(r[0]) and "Das war alles" in text_of(r[1])),
        _text_turn("nur Teilzeit", 2, lambda r: "Stellen für \"Pflege\" in Köln" in text_of(r[0])
                   and "Hier sind 1 bis" in text_of(r[0]) and 0 < len(_job_rows(r)) < 5),
        _tap_turn(_first_job, 1, lambda r: "Arbeitgeber:" in text_of(r[0]) and "Köln" in text_of(r[0])
                  and "Teilzeit" in text_of(r[0]) and "Neue Suche" in _choices(r[0])),
        _tap_turn(_button("Neue Suche"), 1, _says("Als was möchtest du arbeiten?")),
        _text_turn("Koch", 1, _says("Wo soll der Job sein?")),
        _tap_turn(_button("Berlin"), 2, _says("Stellen für \"Koch\" in Berlin")),
    ]


def _short_search(redeliver: Sequence[int]) -> List[Turn]:
    """A shorter conversation for the concurrent users; turns in ``redeliver`` go to both instances."""
    turns = [
        _text_turn("Hallo", 1, _says("Blaupause-Jobassistent")),
        _text_turn("Ich suche einen Job als Koch in Berlin", 2, _says("Stellen für \"Koch\" in Berlin")),
        _tap_turn(_first_job, 1, _says("Arbeitgeber:", "Berlin")),
        _text_turn("Hilfe", 1, _says("Ich kann:")),
        _text_turn("Bist du ein Bot?", 1, _says("Ich bin ein Bot")),
    ]
    for index in redeliver:
        turns[index].redeliver = True
    return turns


async def _converse(meta: Meta, wa_id: str, profile_name: str, turns: Sequence[Turn], first_instance: int) -> List[str]:
    """Play ``turns`` alternating instances (turn i to instance (first + i) % 2); return Rasa's texts.

    Asserts after each turn that exactly its replies arrived, in order, and that they are right.
    """
    previous: List[Dict[str, Any]] = []
    texts: List[str] = []
    seen = len(await meta.sent_to(wa_id))
    for index, turn in enumerate(turns):
        message = turn.message(wa_id, previous)
        texts.append(turn.rasa_text(message))
        instance = (first_instance + index) % 2
        await meta.deliver([instance, 1 - instance] if turn.redeliver else [instance], message, profile_name)
        sent = await meta.wait_for(wa_id, seen + turn.replies)
        replies = sent[seen:]
        assert len(replies) == turn.replies, (wa_id, index, texts[-1], [text_of(m) for m in replies])
        assert turn.check(replies), (wa_id, index, texts[-1], replies)
        previous, seen = replies, len(sent)
    return texts


async def _stored_turns(deployment: Deployment, wa_id: str) -> List[tuple[str, int]]:
    """(user text, bot messages until the next user message) of the stored conversation, in order."""
    events = await stored_conversation(deployment.store_url, deployment.table, deployment.stack.privacy_key, wa_id)
    turns: List[tuple[str, int]] = []
    for event in events:
        if isinstance(event, UserUttered):
            turns.append((event.text or "", 0))
        elif isinstance(event, BotUttered) and turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + 1)
    return turns


# ------------------------------------------------------------------------------ tests
async def test_one_user_alternating_instances_through_a_whole_job_search(deployment: Deployment, meta: Meta) -> None:
    wa_id = "4915550000501"
    texts = await _converse(meta, wa_id, "Erika Testfrau", _job_search(), first_instance=0)

    await asyncio.sleep(1.0)  # a late duplicate would arrive now
    assert len(await meta.sent_to(wa_id)) == sum(turn.replies for turn in _job_search())
    stored = await _stored_turns(deployment, wa_id)
    assert [text for text, _ in stored] == texts, "user messages lost, doubled or reordered in the tracker"
    assert all(bot_messages >= 1 for _, bot_messages in stored), stored


async def test_concurrent_users_with_redeliveries_to_both_instances(deployment: Deployment, meta: Meta) -> None:
    users = {
        "4915550000502": ("Jürgen Beispielmann", 0, (1, 3)),
        "4915550000503": ("Anna Probeweise", 1, (0, 2, 4)),
        "4915550000504": ("Mehmet Testkunde", 0, (2,)),
    }
    results = await asyncio.gather(*(
        _converse(meta, wa_id, name, _short_search(redeliver), first_instance)
        for wa_id, (name, first_instance, redeliver) in users.items()
    ))

    await asyncio.sleep(1.5)
    expected_replies = sum(turn.replies for turn in _short_search(()))
    for wa_id, texts in zip(users, results):
        assert len(await meta.sent_to(wa_id)) == expected_replies, wa_id
        stored = await _stored_turns(deployment, wa_id)
        assert [text for text, _ in stored] == texts, (wa_id, stored)
        assert all(bot_messages >= 1 for _, bot_messages in stored), (wa_id, stored)


async def test_different_messages_at_once_on_both_instances_lose_nothing(deployment: Deployment, meta: Meta) -> None:
    """The lock store's job: turns of one user run one after the other, no save overwrites another.

    Meta does not order a user's messages, and messages sent in quick succession can reach two
    instances at once. Each round delivers four different messages at the same moment, two to
    each instance; a lost update needs two turns on different instances to overlap, so several
    rounds make it likely to show if the lock does not exclude them.
    """
    wa_id = "4915550000505"
    await _converse(meta, wa_id, "Erika Testfrau", [_text_turn("Hallo", 1, _says("Blaupause-Jobassistent"))], 1)
    phrases = ["Hilfe", "Danke schön", "Bist du ein Bot?", "Hallo"]
    rounds = [phrases[i:] + phrases[:i] for i in range(len(phrases))] * 2
    for texts in rounds:
        before = len(await meta.sent_to(wa_id))
        await asyncio.gather(*(
            meta.deliver([index % 2], mp.text(wa_id, text), "Erika Testfrau") for index, text in enumerate(texts)
        ))
        replies = (await meta.wait_for(wa_id, before + len(texts)))[before:]
        assert len(replies) == len(texts), [text_of(m) for m in replies]

    stored = await _stored_turns(deployment, wa_id)
    stored_texts = [text for text, _ in stored]
    sent = ["Hallo", *(text for texts in rounds for text in texts)]
    missing = list((Counter(sent) - Counter(stored_texts)).elements())
    assert not missing and len(stored_texts) == len(sent), (
        f"answered but missing from the stored conversation (lost updates: two instances held the "
        f"lock at once): {missing}; stored: {stored}"
    )
    for index, texts in enumerate(rounds):  # each round's turns stay together, in some order
        at = 1 + index * len(phrases)
        assert sorted(stored_texts[at : at + len(texts)]) == sorted(texts), stored
    assert all(bot_messages >= 1 for _, bot_messages in stored), stored


async def _stored_pseudonyms(deployment: Deployment) -> List[str]:
    """Every pseudonym with a live or archived record in the deployment's tracker store."""
    from datetime import timedelta

    from privacy.backends import open_conversation_backends

    backends = open_conversation_backends(deployment.store_url, retention=timedelta(days=30), table=deployment.table)
    try:
        return [*await backends.live.list_pseudonyms(), *await backends.archive.list_pseudonyms()]
    finally:
        await backends.close()


async def test_two_instances_racing_on_one_migration_keep_one_conversation(deployment: Deployment, meta: Meta) -> None:
    """A number-keyed conversation meets its BSUID on both instances at once (issue 9).

    The first message arrives in an old-style payload (number only), so the conversation is
    stored under the number's pseudonym. Then two different messages carrying number and BSUID
    reach the two instances at the same moment: both would move the conversation to the BSUID's
    pseudonym. Rasa's lock store on the anchor pseudonym serialises them: one conversation under
    the BSUID holds all three messages, nothing is left under the number, and each message got
    exactly one reply.
    """
    from privacy.identity import pseudonym
    from privacy.keyring import Secret

    phone, bsuid = "4915550000506", "DE.1000000000000000506"
    await _converse(meta, phone, "Erika Testfrau", [_text_turn("Hallo", 1, _says("Blaupause-Jobassistent"))], 0)
    secret = Secret.from_hex(deployment.stack.privacy_key)
    assert pseudonym(secret, phone) in await _stored_pseudonyms(deployment)

    texts = ["Hilfe", "Bist du ein Bot?"]
    before = len(await meta.sent_to(phone))
    deliveries = await asyncio.gather(*(
        meta._senders[index].send(as_user(mp.text(phone, text), phone=phone, user_id=bsuid))
        for index, text in enumerate(texts)
    ))
    assert all(d.delivered for d in deliveries), deliveries
    replies = (await meta.wait_for(phone, before + len(texts)))[before:]
    await asyncio.sleep(1.0)  # a late duplicate would arrive now
    assert len(await meta.sent_to(phone)) == before + len(texts), [text_of(m) for m in replies]
    assert sorted(text_of(m)[:8] for m in replies) == sorted(["Ich kann", "Ich bin "]), [text_of(m) for m in replies]

    stored = await _stored_pseudonyms(deployment)
    assert pseudonym(secret, bsuid) in stored
    assert pseudonym(secret, phone) not in stored, "a copy of the conversation was left under the number"
    events = await stored_conversation(deployment.store_url, deployment.table, deployment.stack.privacy_key, bsuid)
    said = [event.text for event in events if isinstance(event, UserUttered)]
    assert said[0] == "Hallo" and sorted(said[1:]) == sorted(texts), said
