"""Deliver signed webhook POSTs to the assistant the way Meta does, redeliveries included.

Why: the channel's webhook must verify ``X-Hub-Signature-256`` over the exact raw body and cope
with Meta's at-least-once delivery (a non-2xx answer or a dropped connection makes Meta send the
same notification again, "with decreasing frequency", so duplicates reach the bot). This sender
reproduces both, with delays small enough for tests.

Meta's documentation:
- Signature: https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
  (HMAC-SHA256 of the payload with the app secret, hex, prefixed ``sha256=``; computed over the
  escaped-unicode form of the payload, which is why bodies are serialised with ``ensure_ascii``).
- Retries: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

__all__ = ["SIGNATURE_HEADER", "sign", "encode_payload", "Delivery", "WebhookSender"]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(app_secret: str | bytes, body: bytes) -> str:
    """The header value Meta sends: ``sha256=`` + hex HMAC-SHA256(app_secret, body)."""
    key = app_secret.encode("utf-8") if isinstance(app_secret, str) else app_secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Serialise like Meta: compact JSON with non-ASCII escaped as ``\\uXXXX``."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What happened to one notification.

    Attributes:
        attempts: POSTs made (1 when the first one got a 2xx).
        status: HTTP status of the last attempt; None when it got no response.
        failures: one short description per failed attempt (status or exception class).
    """

    attempts: int
    status: int | None
    failures: tuple[str, ...] = ()

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Signs and POSTs webhook bodies to ``url``; redelivers on non-2xx or connection errors.

    Args:
        url: the assistant's webhook, e.g. http://127.0.0.1:5005/webhooks/whatsapp/webhook.
        app_secret: the Meta app secret the assistant verifies signatures with.
        retry_delays: seconds to wait before each redelivery, growing like Meta's; the number
            of attempts is ``1 + len(retry_delays)``. Tests pass tiny values.
        timeout: per-POST timeout in seconds.
        sleep, transport: injectable for tests.
    """

    def __init__(
        self,
        url: str,
        app_secret: str | bytes,
        *,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 16.0),
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not app_secret:
            raise ValueError("app_secret is required to sign webhook bodies")
        if any(delay < 0 for delay in retry_delays):
            raise ValueError("retry delays must not be negative")
        self.url = url
        self._secret = app_secret
        self.retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, payload: Mapping[str, Any] | bytes, *, signature: str | None = None) -> Delivery:
        """POST ``payload`` (a dict, serialised like Meta, or raw bytes) until a 2xx answer or
        the redeliveries are used up. ``signature`` overrides the computed header, for tests
        that check the receiver rejects forged bodies."""
        body = payload if isinstance(payload, bytes) else encode_payload(payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature if signature is not None else sign(self._secret, body),
            "User-Agent": "facebookexternalua",
        }
        failures: list[str] = []
        status: int | None = None
        max_attempts = 1 + len(self.retry_delays)
        for attempt in range(1, max_attempts + 1):
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
                status = response.status_code
            except httpx.RequestError as exc:
                status = None
                failures.append(type(exc).__name__)
            else:
                if 200 <= status < 300:
                    return Delivery(attempts=attempt, status=status, failures=tuple(failures))
                failures.append(f"HTTP {status}")
            logger.debug("webhook delivery attempt %d/%d failed: %s", attempt, max_attempts, failures[-1])
            if attempt < max_attempts:
                await self._sleep(self.retry_delays[attempt - 1])
        logger.info("webhook delivery gave up after %d attempts (last: %s)", max_attempts, failures[-1])
        return Delivery(attempts=max_attempts, status=status, failures=tuple(failures))
