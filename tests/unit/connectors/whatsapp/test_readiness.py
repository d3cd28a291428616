"""Readiness checks with fake agents and stores: which component fails, timeouts, caching, gauges."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.readiness import COMPONENTS, Readiness, ReadinessReport
from observability.metrics import READINESS_COMPONENTS, REGISTRY
from privacy.keyring import Keyring, Secret

KEYRING = Keyring(Secret.from_hex("3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Pinged:
    """A store (or client) whose ``ping`` counts calls and fails, hangs or answers on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.hang = False

    async def ping(self) -> bool:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(10)
        if self.fail:
            raise ConnectionError("Error 111 connecting to redis://:secret@10.0.0.7:6379")
        return True


class SyncRedis:
    """Rasa's RedisLockStore client (blocking redis.StrictRedis)."""

    def __init__(self) -> None:
        self.fail = False

    def ping(self) -> bool:
        if self.fail:
            raise ConnectionError("down")
        return True


class LockStore:
    def __init__(self) -> None:
        self.red = SyncRedis()


class Agent:
    def __init__(self, tracker_store: Any = None, lock_store: Any = None, loaded: bool = True) -> None:
        self.tracker_store = tracker_store if tracker_store is not None else InMemoryTrackerStore(Domain.empty())
        self.lock_store = lock_store if lock_store is not None else InMemoryLockStore()
        self.loaded = loaded

    def is_ready(self) -> bool:
        return self.loaded


def gauge(component: str | None = None) -> float | None:
    if component is None:
        return REGISTRY.get_sample_value("blaupause_ready")
    return REGISTRY.get_sample_value("blaupause_readiness_check", {"component": component})


def readiness(dedup: Any = None, clock: Clock | None = None, keyring: Any = KEYRING) -> Readiness:
    return Readiness(keyring, dedup if dedup is not None else InMemoryDedupStore(), timeout=0.2, clock=clock or Clock())


def test_components_are_the_metric_vocabulary() -> None:
    assert set(COMPONENTS) == READINESS_COMPONENTS


async def test_in_process_stores_are_ready() -> None:
    report = await readiness().check(Agent())
    assert report.ready and report.status == 200
    assert report.as_json() == {"status": "ready", "checks": {name: "ok" for name in COMPONENTS}}
    assert gauge() == 1 and all(gauge(name) == 1 for name in COMPONENTS)


async def test_no_agent_or_no_model_is_not_ready() -> None:
    report = await readiness().check(None)
    assert report.status == 503
    assert {n for n, ok in report.checks.items() if not ok} == {"model", "tracker_store", "lock_store"}
    unloaded = await readiness().check(Agent(loaded=False))
    assert [n for n, ok in unloaded.checks.items() if not ok] == ["model"]
    assert gauge() == 0 and gauge("model") == 0


async def test_no_privacy_key_is_not_ready() -> None:
    report = await readiness(keyring=None).check(Agent())
    assert [n for n, ok in report.checks.items() if not ok] == ["privacy_key"]


async def test_wrapped_tracker_store_is_pinged_through_rasas_wrappers() -> None:
    inner = Pinged()
    wrapped = FailSafeTrackerStore(AwaitableTrackerStore(InMemoryTrackerStore(Domain.empty())))
    wrapped._tracker_store._tracker_store = inner  # what Rasa wraps around a custom store
    clock = Clock()
    check = readiness(clock=clock)
    assert (await check.check(Agent(tracker_store=wrapped))).ready and inner.calls == 1
    inner.fail = True
    clock.now += 5
    report = await check.check(Agent(tracker_store=wrapped))
    assert report.as_json()["checks"]["tracker_store"] == "failed" and report.status == 503


async def test_failures_name_the_component_only(caplog: pytest.LogCaptureFixture) -> None:
    dedup = Pinged()
    dedup.fail = True
    with caplog.at_level(logging.DEBUG, logger="connectors.whatsapp.readiness"):
        report = await readiness(dedup=dedup).check(Agent())
    body = report.as_json()
    assert body == {"status": "not_ready", "checks": {**{n: "ok" for n in COMPONENTS}, "dedup_store": "failed"}}
    assert "secret" not in str(body) and "10.0.0.7" not in str(body)
    assert "secret" not in caplog.text and "10.0.0.7" not in caplog.text
    assert gauge("dedup_store") == 0 and gauge() == 0


async def test_a_redis_dedup_store_is_pinged_through_its_client() -> None:
    from connectors.whatsapp.dedup.redis_store import RedisDedupStore

    class RedisClient(Pinged):  # what RedisDedupStore needs of a redis.asyncio client here
        def register_script(self, script: str) -> None:
            return None

    client = RedisClient()
    store = RedisDedupStore(client)  # type: ignore[arg-type]
    assert (await readiness(dedup=store).check(Agent())).ready and client.calls == 1
    client.fail = True
    assert not (await readiness(dedup=store).check(Agent())).checks["dedup_store"]


async def test_a_redis_lock_store_is_pinged_in_a_thread() -> None:
    lock_store = LockStore()
    assert (await readiness().check(Agent(lock_store=lock_store))).ready
    lock_store.red.fail = True
    assert [n for n, ok in (await readiness().check(Agent(lock_store=lock_store))).checks.items() if not ok] == [
        "lock_store"
    ]


async def test_a_hanging_store_times_out() -> None:
    tracker = Pinged()
    tracker.hang = True
    started = asyncio.get_running_loop().time()
    check = readiness()
    report = await check.check(Agent(tracker_store=tracker))
    assert not report.checks["tracker_store"] and report.status == 503
    assert asyncio.get_running_loop().time() - started < 2
    for hanging in check._hanging.values():
        hanging.cancel()


async def test_reports_are_cached_briefly_and_recover_by_themselves() -> None:
    tracker = Pinged()
    agent = Agent(tracker_store=tracker)
    clock = Clock()
    check = readiness(clock=clock)
    assert (await check.check(agent)).ready
    tracker.fail = True
    reports = await asyncio.gather(*(check.check(agent) for _ in range(20)))
    assert all(r.ready for r in reports) and tracker.calls == 1  # within the cache: no ping
    clock.now += 1.5
    reports = await asyncio.gather(*(check.check(agent) for _ in range(20)))
    assert not any(r.ready for r in reports) and tracker.calls == 2  # one round for all probes
    tracker.fail = False  # the outage ends: no restart needed
    clock.now += 1.5
    assert (await check.check(agent)).ready and gauge("tracker_store") == 1


def test_report_json_and_status() -> None:
    report = ReadinessReport({"model": True, "lock_store": False})
    assert report.status == 503
    assert report.as_json() == {"status": "not_ready", "checks": {"model": "ok", "lock_store": "failed"}}


# --------------------------------------------------------------------------- the Sanic routes


async def test_live_ready_and_health_routes_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    import httpx
    from rasa.core.channels.channel import register
    from sanic import Sanic

    from connectors.whatsapp.adapter import WhatsAppInput
    from connectors.whatsapp.settings import WhatsAppSettings
    from tests.support.sanic_server import serve_sanic, stop_sanic

    monkeypatch.setattr(Sanic, "test_mode", True)  # several apps in one session, as in test_adapter.py
    env = {
        "WHATSAPP_VERIFY_TOKEN": "verify", "WHATSAPP_APP_SECRET": "app-secret",
        "WHATSAPP_ACCESS_TOKEN": "token", "WHATSAPP_PHONE_NUMBER_ID": "123456789",
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
    }
    dedup = Pinged()
    channel = WhatsAppInput(WhatsAppSettings.load({}, env), KEYRING, store=dedup)  # type: ignore[arg-type]
    app = Sanic("wa_ready_" + uuid.uuid4().hex[:10], configure_logging=False)
    app.ctx.agent = Agent()
    register([channel], app, route="/webhooks/")
    server, url = await serve_sanic(app)
    try:
        async with httpx.AsyncClient(base_url=url + "/webhooks/whatsapp") as client:
            assert (await client.get("/")).json() == {"status": "ok"}
            live = await client.get("/live")
            assert (live.status_code, live.json()) == (200, {"status": "live"})
            ready = await client.get("/ready")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            dedup.fail = True
            await asyncio.sleep(1.1)  # past the cache
            down = await client.get("/ready")
            assert down.status_code == 503
            assert down.json() == {"status": "not_ready", "checks": {**{n: "ok" for n in COMPONENTS}, "dedup_store": "failed"}}
            assert (await client.get("/live")).status_code == 200  # liveness does not depend on the stores
    finally:
        await stop_sanic(server)
        await channel.aclose()


async def test_a_probe_still_hanging_is_not_started_again() -> None:
    tracker = Pinged()
    tracker.hang = True
    clock = Clock()
    check = readiness(clock=clock)
    agent = Agent(tracker_store=tracker)
    assert not (await check.check(agent)).checks["tracker_store"]
    clock.now += 5
    assert not (await check.check(agent)).checks["tracker_store"]
    assert tracker.calls == 1  # the first ping still hangs: no second one piles up
    for hanging in check._hanging.values():
        hanging.cancel()


def test_keep_checking_refreshes_until_cancelled_and_survives_errors() -> None:
    from connectors.whatsapp.readiness import keep_checking

    calls: list[object] = []

    class Flaky:
        async def check(self, agent: object) -> None:
            calls.append(agent)
            if len(calls) == 2:
                raise RuntimeError("a check blew up")

    async def scenario() -> None:
        task = asyncio.ensure_future(keep_checking(Flaky(), lambda: "agent", interval=0.01))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert len(calls) >= 4 and set(calls) == {"agent"}  # the error did not end the loop
