"""Channel metrics of the Graph API client, the pacer and the Redis dedup store.

graph/client.py counts each attempt by endpoint, outcome (the error family) and Meta's code,
times it, and counts retries; graph/pacing.py counts a wait only when a send really waits;
dedup/redis_store.py tells an expired lease from a released one. Deltas only: the registry is
process-global.
"""
from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from redis.asyncio import Redis

from connectors.whatsapp.claims import Claims
from connectors.whatsapp.dedup.redis_store import RedisDedupStore
from connectors.whatsapp.graph.client import GraphClient, outcome_of
from connectors.whatsapp.graph import errors
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.errors import (
    GraphAPIError,
    PairRateLimitError,
    ReengagementError,
    ThrottlingError,
    TransportError,
    error_class_for,
)
from connectors.whatsapp.graph.pacing import RecipientPacer, TokenBucket
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.references import References
from observability.metrics import GRAPH_OUTCOMES, KNOWN_GRAPH_SERIES
from privacy.keyring import Keyring, Secret
from tests.support.metrics import Delta

USER = "4915550000001"
TEXT = {"type": "text", "text": {"body": "Hallo"}}



def client_answering(*answers: httpx.Response, max_attempts: int = 3) -> GraphClient:
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)

    async def no_sleep(seconds: float) -> None:
        return None

    settings = GraphSettings(access_token="t", phone_number_id="123", api_version="v21.0")
    return GraphClient(settings, transport=httpx.MockTransport(handler), sleep=no_sleep, rng=random.Random(1),
                       retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0))


def throttled() -> httpx.Response:
    return httpx.Response(429, json={"error": {"code": 130429, "message": "rate"}})


def accepted() -> httpx.Response:
    return httpx.Response(200, json={"messages": [{"id": "wamid.out"}], "contacts": [{"input": USER, "wa_id": USER}]})


def test_outcome_labels_follow_the_error_families() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(PairRateLimitError(message="m", code=131056)) == "pair_rate"
    assert outcome_of(ThrottlingError(message="m", code=130429)) == "throttled"
    assert outcome_of(ReengagementError(message="m", code=131047)) == "reengagement"
    assert outcome_of(TransportError(message="m")) == "transport"
    assert outcome_of(GraphAPIError(message="m", code=131051)) == "other"


def test_the_error_families_and_the_outcome_vocabulary_agree() -> None:
    """Two tables name the families: graph/client.py's family -> label and observability's
    GRAPH_OUTCOMES (observability must not import the channel, so this test ties them). A family
    without a label, or a label missing from the vocabulary, would be counted as ``other``."""
    families = [getattr(errors, name) for name in errors.__all__]
    families = [cls for cls in families if isinstance(cls, type) and issubclass(cls, GraphAPIError) and cls is not GraphAPIError]
    labels = {family.__name__: outcome_of(family(message="m")) for family in families}
    assert "other" not in labels.values(), labels
    assert set(labels.values()) | {"ok"} == GRAPH_OUTCOMES


def test_the_series_created_at_start_name_the_outcome_their_code_is_counted_as() -> None:
    """observability.metrics.KNOWN_GRAPH_SERIES pairs codes with outcomes by hand; errors.py decides."""
    for _endpoint, outcome, code in KNOWN_GRAPH_SERIES:
        if code != "none":
            family = error_class_for(int(code), None)
            assert outcome_of(family(message="m", code=int(code))) == outcome, (outcome, code, family.__name__)


async def test_each_attempt_and_each_retry_is_counted() -> None:
    ok = Delta("blaupause_graph_requests_total", endpoint="messages", outcome="ok", code="none")
    limited = Delta("blaupause_graph_requests_total", endpoint="messages", outcome="throttled", code="130429")
    retries = Delta("blaupause_graph_retries_total", outcome="throttled")
    timed = Delta("blaupause_graph_request_duration_seconds_count", endpoint="messages")
    async with client_answering(throttled(), accepted()) as client:
        assert await client.send(USER, TEXT) == "wamid.out"
    assert (ok(), limited(), retries(), timed()) == (1, 1, 1, 2)


async def test_a_final_failure_is_counted_but_not_as_a_retry() -> None:
    reengagement = Delta("blaupause_graph_requests_total", endpoint="messages", outcome="reengagement", code="131047")
    retries = Delta("blaupause_graph_retries_total", outcome="reengagement")
    answer = httpx.Response(400, json={"error": {"code": 131047, "message": "24h"}})
    async with client_answering(answer) as client:
        with pytest.raises(ReengagementError):
            await client.send(USER, TEXT)
    assert (reengagement(), retries()) == (1, 0)


async def test_read_receipts_are_counted_by_their_endpoint() -> None:
    typing = Delta("blaupause_graph_requests_total", endpoint="typing", outcome="ok", code="none")
    receipt = Delta("blaupause_graph_requests_total", endpoint="read_receipt", outcome="ok", code="none")
    success = httpx.Response(200, json={"success": True})
    async with client_answering(success, httpx.Response(200, json={"success": True})) as client:
        await client.mark_read("wamid.in", typing=True)
        await client.mark_read("wamid.in", typing=False)
    assert (typing(), receipt()) == (1, 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_the_token_bucket_counts_only_real_waits() -> None:
    waits = Delta("blaupause_pacing_waits_total", kind="throughput")
    seconds = Delta("blaupause_pacing_wait_seconds_sum", kind="throughput")
    bucket = TokenBucket(2, clock=FakeClock())
    for _ in range(3):  # a burst of two goes through; the third waits half a second
        await bucket.acquire()
    assert waits() == 1 and seconds() == pytest.approx(0.5)


async def test_the_recipient_pacer_counts_queueing_and_the_gap() -> None:
    clock = FakeClock()
    pacer = RecipientPacer(min_gap=1.0, clock=clock)
    queued = Delta("blaupause_pacing_waits_total", kind="recipient")
    gap = Delta("blaupause_pacing_waits_total", kind="pair_rate")

    async def send() -> None:
        async with pacer.turn("pseudonym-1"):
            await clock.sleep(0.25)

    await asyncio.gather(send(), send())
    assert (queued(), gap()) == (1, 1)
    async with pacer.turn("pseudonym-2"):
        pass
    assert (queued(), gap()) == (1, 1)  # a first send of another user never waits


async def test_redis_tells_an_expired_lease_from_a_released_one(redis_url: str, unique_name: str) -> None:
    client = Redis.from_url(redis_url)
    claims = Claims(RedisDedupStore(client, namespace="test:" + unique_name),
                    References.from_keyring(Keyring(current=Secret.generate())),
                    lease_seconds=0.1, duplicate_wait_seconds=0, duplicate_poll_seconds=0.01)
    expiries = Delta("blaupause_dedup_lease_expiries_total")
    try:
        released = await claims.claim("wamid.r")
        await claims.held("wamid.r", released).release()
        again = await claims.claim("wamid.r")
        assert again.taken_over and not again.lease_expired
        await claims.claim("wamid.e")
        await asyncio.sleep(0.25)
        expired = await claims.claim("wamid.e")
        assert expired.taken_over and expired.lease_expired
        assert expiries() == 1
    finally:
        keys = [key async for key in client.scan_iter(match=f"test:{unique_name}:*")]
        if keys:
            await client.delete(*keys)
        await client.close()
