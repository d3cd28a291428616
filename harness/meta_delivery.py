"""Meta's side of a load run: users' messages delivered at least once to a pool of instances.

Why: the reliability suite must reproduce what Meta does to a webhook under trouble, at scale,
and count what came back. :class:`harness.webhook_sender.WebhookSender` posts one notification to
one URL; this module adds what a load run needs:

- a **pool of instances behind a load balancer**: every POST (first delivery and each
  redelivery) goes to the next instance, round robin, so a redelivery usually reaches a different
  instance than the first attempt, and a killed instance's requests are retried elsewhere;
- **at-least-once redelivery** like Meta: a notification that got no 2xx (an error status, a
  refused or dropped connection, a timeout) is sent again after growing pauses until a deadline
  ("Meta retries with decreasing frequency for up to 7 days":
  https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components);
- **duplicates on purpose**: the same notification several times, some copies at the same
  moment (Meta's retries can overlap a slow first delivery), some late;
- **users in order**: a user's next message is delivered after the previous one was acknowledged,
  the order in which the user typed them (Meta itself does not promise an order; a conversation
  whose messages arrive reordered is answered in arrival order);
- **counting**: :class:`DeliveryCounts` (POSTs, answers by status, duplicates, gave up) and
  :func:`account_replies`, which compares what each user received with what they should have
  received and counts delivered, duplicated, lost and out-of-order replies.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx

from harness import meta_payloads as mp
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign

__all__ = [
    "DeliveryCounts",
    "MetaDelivery",
    "ReplyAccount",
    "Storm",
    "account_replies",
    "canonical",
    "replies_by_user",
    "run_users",
]

#: Pauses before redeliveries 1, 2, 3, … (the last one repeats until the deadline).
DEFAULT_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 3.0)


@dataclass
class DeliveryCounts:
    """What was posted and what came back, summed over a run."""

    messages: int = 0  # distinct user messages offered
    posts: int = 0  # every POST: first deliveries, redeliveries and duplicates
    duplicates: int = 0  # extra copies posted on purpose (a storm), not counting redeliveries
    concurrent: int = 0  # of those, copies posted at the same moment as another copy
    redeliveries: int = 0  # POSTs repeated because an earlier one got no 2xx
    acked: int = 0  # messages that got a 2xx in the end
    gave_up: int = 0  # messages without any 2xx before the deadline
    answers: Counter = field(default_factory=Counter)  # "200", "503", "ConnectError", …

    def line(self) -> str:
        answers = ", ".join(f"{name}×{count}" for name, count in sorted(self.answers.items()))
        return (
            f"offered {self.messages} messages in {self.posts} webhook POSTs "
            f"({self.duplicates} duplicates, {self.concurrent} of them concurrent, {self.redeliveries} redeliveries); "
            f"acked {self.acked}/{self.messages}, gave up {self.gave_up}; answers: {answers}"
        )


class MetaDelivery:
    """Signs and posts notifications to ``urls`` (round robin), redelivering until a 2xx.

    Args:
        urls: the instances' webhook URLs (behind an imaginary load balancer).
        app_secret: signs every body (``X-Hub-Signature-256``).
        retry_delays: pauses before each redelivery; the last repeats until ``deadline_s``.
        deadline_s: give a message up after this long without a 2xx (Meta: 7 days).
        post_timeout_s: one POST's timeout (the channel answers after the reply was sent).
        transport: injectable for unit tests.
    """

    def __init__(
        self,
        urls: Sequence[str],
        app_secret: str,
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        deadline_s: float = 120.0,
        post_timeout_s: float = 30.0,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        if not urls or not retry_delays:
            raise ValueError("need at least one URL and one retry delay")
        self.urls = list(urls)
        self._secret = app_secret
        self.retry_delays = tuple(retry_delays)
        self.deadline_s = deadline_s
        self._next = itertools.count()
        self._client = httpx.AsyncClient(
            timeout=post_timeout_s, limits=httpx.Limits(max_connections=200), transport=transport
        )
        self.counts = DeliveryCounts()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "MetaDelivery":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _post(self, body: bytes) -> Optional[int]:
        """One POST to the next instance; the status, or None without an HTTP answer."""
        url = self.urls[next(self._next) % len(self.urls)]
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        self.counts.posts += 1
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self.counts.answers[type(error).__name__] += 1
            return None
        self.counts.answers[str(response.status_code)] += 1
        return response.status_code

    async def _until_acked(self, body: bytes) -> bool:
        """Post ``body`` until a 2xx or the deadline, pausing like Meta between attempts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        for attempt in itertools.count():
            status = await self._post(body)
            if status is not None and 200 <= status < 300:
                return True
            pause = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            if loop.time() + pause > deadline:
                return False
            self.counts.redeliveries += 1
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def deliver(self, body: bytes, *, copies: int = 1, concurrent: int = 0) -> bool:
        """Deliver one notification ``copies`` times; ``concurrent`` extra copies at once.

        The first copy and ``concurrent`` more start together; the remaining copies follow one
        after another once those were answered (redeliveries Meta sends although the first
        delivery succeeded). True when at least one copy got a 2xx.
        """
        if not 1 <= copies or not 0 <= concurrent < copies:
            raise ValueError("need 1 <= copies and 0 <= concurrent < copies")
        self.counts.messages += 1
        self.counts.duplicates += copies - 1
        self.counts.concurrent += concurrent
        first = await asyncio.gather(*(self._until_acked(body) for _ in range(1 + concurrent)))
        acked = any(first)
        for _ in range(copies - 1 - concurrent):
            acked = await self._until_acked(body) or acked
        if acked:
            self.counts.acked += 1
        else:
            self.counts.gave_up += 1
        return acked

    async def post_again(self, body: bytes) -> bool:
        """A late duplicate of an already answered notification (counted as a duplicate)."""
        self.counts.duplicates += 1
        return await self._until_acked(body)


@dataclass(frozen=True)
class Storm:
    """How many copies of each message (1 to ``max_copies``), how many at once, late repeats.

    Drawn from a seeded ``random.Random``, so a failing run can be replayed.
    """

    max_copies: int = 5
    concurrent_share: float = 0.5  # chance that the extra copies start together with the first
    late_share: float = 0.3  # chance of one more copy of the previous message after the next one

    def copies(self, rng: random.Random) -> tuple[int, int]:
        copies = rng.randint(1, self.max_copies)
        concurrent = rng.randint(1, copies - 1) if copies > 1 and rng.random() < self.concurrent_share else 0
        return copies, concurrent


async def run_users(
    meta: MetaDelivery,
    users: Mapping[str, str],
    script: Sequence[str],
    *,
    storm: Optional[Storm] = None,
    seed: int = 0,
    on_message: Optional[Callable[[str, int], Any]] = None,
) -> dict[str, list[bool]]:
    """Every user (wa_id -> profile name) types ``script``, message after message, all at once.

    A user key is a phone number (old payloads) or a business-scoped user id such as
    ``DE.1000000000000000001`` (a username user whose number Meta does not share: the webhooks
    carry ``from_user_id`` and no ``from``; the replies come via ``recipient``).

    A message is delivered once (or as ``storm`` says) and the next follows when it was acked.
    ``on_message(wa_id, index)`` is awaited before each message (to pace or pause a run).
    Returns wa_id -> acked flag per message.
    """
    rng = random.Random(seed)
    plans = {wa_id: [storm.copies(rng) if storm else (1, 0) for _ in script] for wa_id in users}
    late = {wa_id: [storm is not None and rng.random() < storm.late_share for _ in script] for wa_id in users}

    async def one_user(wa_id: str) -> list[bool]:
        acked: list[bool] = []
        bodies: list[bytes] = []
        for index, text in enumerate(script):
            if on_message is not None:
                await on_message(wa_id, index)
            bodies.append(encode_payload(mp.payload(mp.text(wa_id, text), profile_name=users[wa_id])))
            copies, concurrent = plans[wa_id][index]
            acked.append(await meta.deliver(bodies[-1], copies=copies, concurrent=concurrent))
            if index > 0 and late[wa_id][index]:
                await meta.post_again(bodies[index - 1])
        return acked

    results = await asyncio.gather(*(one_user(wa_id) for wa_id in users))
    return dict(zip(users, results))


def canonical(message: Mapping[str, Any]) -> str:
    """A sent message as comparable text across users: the address (``to`` or ``recipient``) is dropped, and
    ids of the payload id map (``~token``) are random per send, so they are replaced by ``~``;
    everything else must match exactly."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, str) and value.startswith("~"):
            return "~"
        return value

    body = {key: value for key, value in message.items() if key not in ("to", "recipient")}
    return json.dumps(scrub(body), sort_keys=True, ensure_ascii=False)


def replies_by_user(listing: Sequence[Mapping[str, Any]], users: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
    """The Graph stand-in's accepted messages (``GET /_standin/messages`` -> ``messages``) per
    user, in order, whether a reply was addressed ``to`` the number or to the ``recipient`` BSUID.
    Messages for addresses outside ``users`` are left out."""
    received: dict[str, list[Mapping[str, Any]]] = {user: [] for user in users}
    for item in listing:
        address = item.get("to") or item.get("recipient")
        if address in received:
            received[address].append(item["message"])
    return received


@dataclass
class ReplyAccount:
    """Replies expected and counted, summed over users."""

    users: int = 0
    expected: int = 0
    delivered: int = 0  # expected replies that arrived (each counted once)
    duplicated: int = 0  # extra copies of expected replies
    lost: int = 0  # expected replies that never arrived
    unexpected: int = 0  # replies that are not in the expected conversation at all
    out_of_order: int = 0  # users whose replies arrived complete but in another order
    wrong_users: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.duplicated or self.lost or self.unexpected or self.out_of_order)

    def line(self) -> str:
        return (
            f"replies expected {self.expected} for {self.users} users, delivered {self.delivered}, "
            f"duplicated {self.duplicated}, lost {self.lost}, unexpected {self.unexpected}, "
            f"users out of order {self.out_of_order}"
        )


def account_replies(expected: Sequence[Mapping[str, Any]], received: Mapping[str, Sequence[Mapping[str, Any]]]) -> ReplyAccount:
    """Compare each user's received replies with ``expected`` (the same script, answered once).

    ``received`` maps a user to the messages the Graph stand-in accepted for them, in order.
    A user is in order when the sequences are equal; otherwise the multiset difference says
    what was duplicated, lost or unexpected.
    """
    want = [canonical(message) for message in expected]
    account = ReplyAccount()
    for user, messages in received.items():
        got = [canonical(message) for message in messages]
        account.users += 1
        account.expected += len(want)
        extra, missing = Counter(got) - Counter(want), Counter(want) - Counter(got)
        surplus = sum(extra.values())
        duplicated = sum(count for text, count in extra.items() if text in want)
        account.duplicated += duplicated
        account.unexpected += surplus - duplicated
        account.lost += sum(missing.values())
        account.delivered += len(want) - sum(missing.values())
        if got != want:
            account.wrong_users.append(user)
            if not surplus and not missing:
                account.out_of_order += 1
    return account
