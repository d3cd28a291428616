"""What the webhook answers: a status per POST, an outcome per message, and the rule between them.

Why its own module: intake (refusals), the claim protocol, delivery and the core all speak
in these two types, and none of them should import another just for a status code.

HTTP answers (never a 500 for bad input; the reason is logged, the body never). Meta
redelivers every non-2xx webhook (https://developers.facebook.com/docs/graph-api/webhooks/getting-started),
so 503 is the way to ask for a retry; docs/whatsapp-delivery.md describes the states:

=====  =====================================================================
200    verified challenge; every message handled or already handled
400    body is not JSON / not a ``whatsapp_business_account`` payload
401    ``X-Hub-Signature-256`` missing or malformed (checked before the body is read)
403    wrong signature; wrong verify token or mode
413    body (by ``Content-Length`` or actual length) above the limit
500    a real internal error (logged with its type only); Meta retries
503    a reply could not be delivered yet, the dedup store is down, a
       duplicate is still being handled elsewhere, or too many bodies are
       being read at once (:meth:`.intake.Intake.body_slot`): Meta retries, and
       the outbox makes the retry send only what is missing
=====  =====================================================================
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["WebhookResponse", "Outcome", "answer_for", "reply"]


@dataclass(frozen=True)
class WebhookResponse:
    """What the adapter writes back: a status and a short plain-text body."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"


class Outcome(Enum):
    """How handling one inbound message ended; the worst outcome of a POST sets its status."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # 503: Meta redelivers
    FAILED = "failed"  # 500: an internal error


def reply(status: int, body: str) -> WebhookResponse:
    return WebhookResponse(status, body)


def answer_for(outcomes: Iterable[Outcome]) -> WebhookResponse:
    """The POST's answer: 500 if any message failed, else 503 if any must be retried, else 200."""
    seen = set(outcomes)
    if Outcome.FAILED in seen:
        return reply(500, "internal error")
    if Outcome.RETRY in seen:
        return reply(503, "retry later")
    return reply(200, "ok")
