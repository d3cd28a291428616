"""The virtual users' side of a closed-loop benchmark: one turn sent to one variant, timed.

- ``RestDriver``: Rasa's REST channel; the POST's response carries all bot messages, so a turn
  lasts from just before the POST until that response.
- ``WhatsAppDriver``: a signed webhook to our channel; the channel answers the webhook only after
  every reply was accepted by the Graph API (docs/whatsapp-delivery.md), so the webhook answer
  marks the end of the turn without polling. After each level one GET of the stand-in's
  messages assigns each reply to its turn by recipient and time window (send <= received_at <=
  answer); a turn without a reply is an error.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import httpx

from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import SIGNATURE_HEADER, encode_payload, sign

__all__ = ["SCRIPT", "Turn", "Driver", "RestDriver", "WhatsAppDriver"]

#: (text for REST and WhatsApp text messages, button id when it is a tap in WhatsApp)
SCRIPT: tuple[tuple[str, str | None], ...] = (
    ("Hallo", None),
    ("Ich suche einen Job als Koch in Berlin", None),
    ("/more_results", "/more_results"),
)


@dataclass
class Turn:
    user: str
    sent_wall: float
    answered_wall: float
    status: int | None
    error: str | None = None
    replies: int = 0
    latency: float | None = None


class Driver:
    """Sends one user's message to one variant and returns the timing of that turn.

    ``pids`` names the processes serving this variant, whose CPU time per turn is recorded as
    evidence of where the time goes (the database servers are not included).
    """

    name: str
    pids: dict[str, int]

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> Turn:
        raise NotImplementedError

    async def finish_level(self, turns: list[Turn]) -> None:
        """Fill in latency (and reply counts) of the level's turns."""


class RestDriver(Driver):
    name = "rest"

    def __init__(self, url: str, pids: dict[str, int]) -> None:
        self.url = url
        self.pids = pids

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> Turn:
        text, _ = SCRIPT[step % len(SCRIPT)]
        sent = time.time()
        try:
            response = await client.post(self.url, json={"sender": f"bench-{user}", "message": text})
        except httpx.HTTPError as error:
            return Turn(user, sent, time.time(), None, type(error).__name__)
        answered = time.time()
        replies = len(response.json()) if response.status_code == 200 else 0
        return Turn(user, sent, answered, response.status_code, None if replies else "no reply", replies,
                     answered - sent if replies else None)


class WhatsAppDriver(Driver):
    def __init__(self, name: str, stack: LocalStack) -> None:
        self.name = name
        self.stack = stack
        self.wamids: list[str] = []
        self.pids = {name: proc.pid for name, proc in getattr(stack, "procs", {}).items() if name != "rest"}

    async def turn(self, client: httpx.AsyncClient, user: str, step: int) -> Turn:
        text, button = SCRIPT[step % len(SCRIPT)]
        message = mp.button_reply(user, button, "Weitere Ergebnisse") if button else mp.text(user, text)
        self.wamids.append(message["id"])
        body = encode_payload(mp.payload(message, profile_name="Bench"))
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.stack.app_secret, body)}
        sent = time.time()
        try:
            response = await client.post(self.webhook_url(user, step), content=body, headers=headers)
        except httpx.HTTPError as error:
            return Turn(user, sent, time.time(), None, type(error).__name__)
        return Turn(user, sent, time.time(), response.status_code,
                     None if response.status_code == 200 else f"HTTP {response.status_code}")

    def webhook_url(self, user: str, step: int) -> str:
        """Where ``user``'s message number ``step`` goes: the stack's first Rasa instance.

        A hook so that a load-balancing driver (bench/scale_out.py) can spread messages.
        """
        return self.stack.webhook_url()

    async def finish_level(self, turns: list[Turn]) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            sent = (await client.get(f"{self.stack.graph_url}/_standin/messages")).json()["messages"]
            await client.delete(f"{self.stack.graph_url}/_standin/messages")
        by_user: dict[str, list[float]] = defaultdict(list)
        for message in sent:
            by_user[message.get("to") or message.get("recipient")].append(float(message["received_at"]))
        for turn in turns:
            if turn.error:
                continue
            # Causal order on one host clock: sent < stand-in accepted < webhook answered. No slack:
            # the next turn starts right after this answer, so any slack would steal its replies.
            arrivals = [t for t in by_user.get(turn.user, ()) if turn.sent_wall <= t <= turn.answered_wall]
            turn.replies = len(arrivals)
            if arrivals:
                turn.latency = max(arrivals) - turn.sent_wall
            else:
                turn.error = "no reply"
