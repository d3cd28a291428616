"""Readiness of one Rasa instance for a load balancer: model, privacy key and the stores it needs.

Why separate from liveness: with several instances behind a load balancer, an instance
whose database or Redis is unreachable (or whose model is still loading) should get no
new webhooks, but it must not be restarted for it: the stores reconnect by themselves
(:mod:`privacy.backends`), so readiness turns false during an outage and back without a
restart. Liveness (``GET /webhooks/whatsapp/live``) checks nothing but the event loop.
The pattern is Kubernetes' (https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/).

Framework-free: :meth:`Readiness.check` takes the Rasa agent (``request.app.ctx.agent``)
and returns a :class:`ReadinessReport`; the Sanic route is in
:mod:`connectors.whatsapp.adapter`. Each check has a short timeout, and a report is
reused for ``cache_seconds``, so a busy load balancer (or several) cannot hammer the
database. A report names components only (``model``, ``privacy_key``, ``tracker_store``,
``dedup_store``, ``lock_store``: :data:`observability.metrics.READINESS_COMPONENTS`), never
a URL, a password or an exception text. The gauges ``blaupause_ready`` and
``blaupause_readiness_check{component}`` follow every fresh report.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from observability.metrics import readiness_check, ready
from rasa_compat import innermost_tracker_store

__all__ = ["COMPONENTS", "Readiness", "ReadinessReport", "ping_dedup_store", "ping_lock_store", "ping_tracker_store"]

logger = logging.getLogger(__name__)

#: The checks, in report order (the ``component`` label of ``blaupause_readiness_check``).
COMPONENTS = ("model", "privacy_key", "tracker_store", "dedup_store", "lock_store")
_GAUGES = {component: readiness_check.labels(component=component) for component in COMPONENTS}


class NotReadyError(Exception):
    """A component is not there at all (no agent, no store); its check fails."""


@dataclass(frozen=True)
class ReadinessReport:
    """Which components answered at one check; ready when all did."""

    checks: Mapping[str, bool]

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    @property
    def status(self) -> int:
        """HTTP status for the load balancer: 200 ready, 503 not ready."""
        return 200 if self.ready else 503

    def as_json(self) -> dict[str, Any]:
        """``{"status": "ready"|"not_ready", "checks": {component: "ok"|"failed"}}``."""
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": {name: "ok" if passed else "failed" for name, passed in self.checks.items()},
        }


async def _answer(result: Any) -> None:
    """Await ``result`` if a client's method returned a coroutine (redis.asyncio)."""
    if inspect.isawaitable(result):
        await result


def _select_one(engine: Any) -> None:
    import sqlalchemy as sa

    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


async def ping_tracker_store(store: Any) -> None:
    """Raise unless the agent's tracker store answers.

    Ours (:class:`privacy.store.encrypted.EncryptedTrackerStore`): its ``ping`` (one read
    through its backend). Rasa's ``SQLTrackerStore``: ``SELECT 1`` on its engine;
    ``RedisTrackerStore``: ``PING``; the in-memory store has nothing to reach. The blocking
    clients of Rasa's stores run in a worker thread.
    """
    if store is None:
        raise NotReadyError("no tracker store")
    store = innermost_tracker_store(store)
    if callable(getattr(store, "ping", None)):
        await _answer(store.ping())
    elif getattr(store, "engine", None) is not None:
        await asyncio.to_thread(_select_one, store.engine)
    elif getattr(store, "red", None) is not None:
        await asyncio.to_thread(store.red.ping)


async def ping_dedup_store(store: Any) -> None:
    """Raise unless the dedup store answers: its ``ping`` (Redis ``PING``); in-process: nothing to do."""
    if callable(getattr(store, "ping", None)):
        await _answer(store.ping())


async def ping_lock_store(lock_store: Any) -> None:
    """Raise unless Rasa's lock store answers: ``RedisLockStore``'s (blocking) client in a thread."""
    if lock_store is None:
        raise NotReadyError("no lock store")
    if callable(getattr(lock_store, "ping", None)):
        await _answer(lock_store.ping())
        return
    client = getattr(lock_store, "red", None)
    if client is not None:
        await asyncio.to_thread(client.ping)


def _consume(task: asyncio.Future[None]) -> None:
    """Retrieve a late probe's outcome, so asyncio does not log "exception never retrieved"."""
    if not task.cancelled():
        task.exception()


#: How often the Rasa process refreshes the readiness gauges by itself (:func:`keep_checking`).
READINESS_INTERVAL_S = 5.0


class Readiness:
    """Answers "may this instance take traffic?", at most once per ``cache_seconds``.

    ``keyring`` is the channel's :class:`privacy.keyring.Keyring` (absent: not ready);
    ``dedup_store`` the channel's store (:mod:`connectors.whatsapp.dedup`).
    """

    def __init__(
        self,
        keyring: Any,
        dedup_store: Any,
        *,
        timeout: float = 2.0,
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keyring = keyring
        self.dedup_store = dedup_store
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, Any, ReadinessReport] | None = None
        self._hanging: dict[str, asyncio.Future[None]] = {}

    def _cached(self, agent: Any) -> ReadinessReport | None:
        if self._last is None:
            return None
        at, for_agent, report = self._last
        fresh = self._clock() - at < self.cache_seconds
        return report if fresh and for_agent is agent else None

    async def check(self, agent: Any) -> ReadinessReport:
        """The report for ``agent`` (Rasa's, ``None`` while none is loaded); cached briefly."""
        cached = self._cached(agent)
        if cached is not None:
            return cached
        async with self._lock:  # concurrent probes share one round of checks
            cached = self._cached(agent)
            if cached is not None:
                return cached
            report = await self._run(agent)
            self._last = (self._clock(), agent, report)
            return report

    async def _run(self, agent: Any) -> ReadinessReport:
        probes: dict[str, Callable[[], Awaitable[None]]] = {
            "model": lambda: self._model(agent),
            "privacy_key": self._privacy_key,
            "tracker_store": lambda: ping_tracker_store(getattr(agent, "tracker_store", None)),
            "dedup_store": lambda: ping_dedup_store(self.dedup_store),
            "lock_store": lambda: ping_lock_store(getattr(agent, "lock_store", None)),
        }
        results = await asyncio.gather(*(self._one(name, probe) for name, probe in probes.items()))
        report = ReadinessReport(dict(zip(probes, results)))
        previous = self._last[2] if self._last is not None else None
        for name, passed in report.checks.items():
            _GAUGES[name].set(1 if passed else 0)
            was = previous.checks.get(name) if previous is not None else True
            if passed != was:
                log = logger.info if passed else logger.warning
                log("readiness: %s %s", name, "answers again" if passed else "failed")
        ready.set(1 if report.ready else 0)
        return report

    async def _one(self, name: str, probe: Callable[[], Awaitable[None]]) -> bool:
        """Run one probe with the timeout; a probe still hanging from an earlier round fails at once.

        Why not start another: the blocking clients (Rasa's Redis lock store, the SQL
        drivers) run in the default thread pool, which the tracker store's backends share;
        a probe per second against a blackholed host would otherwise fill it.
        """
        hanging = self._hanging.get(name)
        if hanging is not None and not hanging.done():
            return False
        task = asyncio.ensure_future(probe())
        try:
            await asyncio.wait_for(asyncio.shield(task), self.timeout)
            return True
        except asyncio.TimeoutError:
            self._hanging[name] = task
            task.add_done_callback(_consume)
            logger.debug("readiness: %s did not answer within %.1f s", name, self.timeout)
            return False
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"; only its type is logged
            logger.debug("readiness: %s failed (%s)", name, type(error).__name__)
            return False

    @staticmethod
    async def _model(agent: Any) -> None:
        if agent is None or not agent.is_ready():
            raise NotReadyError("model not loaded")

    async def _privacy_key(self) -> None:
        if getattr(self.keyring, "current", None) is None:
            raise NotReadyError("no privacy key")


async def keep_checking(readiness: Readiness, agent_of: Callable[[], Any], interval: float = READINESS_INTERVAL_S) -> None:
    """Refresh the readiness gauges every ``interval`` seconds until cancelled.

    Why: ``blaupause_ready`` and ``blaupause_readiness_check`` must describe the instance even
    when nothing probes ``/ready`` (a deployment without a load balancer, or one that probes
    another port); the alert ``BlaupauseNotReady`` reads the gauge. A probe between two rounds
    gets the cached report, so this adds one round of checks per interval at most.
    """
    while True:
        try:
            await readiness.check(agent_of())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a check that raises is already "failed"; never end the loop
            logger.warning("readiness refresh failed: %s", type(error).__name__)
        await asyncio.sleep(interval)
