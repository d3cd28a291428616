"""The Graph API stand-in's traffic, routed to the preview's sessions as they happen.

Two watchers over one stand-in (standins/meta_graph/records.py):

- every message the stand-in accepts (its ``subscribe()`` queue) goes to the session it is
  addressed to: ``to`` a phone number or ``recipient`` a BSUID (docs/whatsapp-delivery.md);
  a message for nobody we play is ignored;
- every mark-as-read call (``standin.reads``) goes to the session whose user message it names,
  which turns it into read ticks and, with ``typing_indicator``, the typing indicator
  (https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators). The stand-in
  keeps read receipts in a plain list without notifying anyone, so this watcher polls it
  (every 0.1 s by default), reading only what is new, and also before routing each accepted
  message, so a typing indicator the channel asked for before its reply never shows after it.

The server-sent event stream per session is preview/server.py's; the events themselves are
preview/sessions.py's.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from preview.sessions import PreviewSession
from standins.meta_graph import MetaGraphStandIn

__all__ = ["TrafficWatcher"]

logger = logging.getLogger(__name__)


class TrafficWatcher:
    """Routes the stand-in's accepted messages and read receipts to sessions; start and stop it."""

    def __init__(
        self,
        standin: MetaGraphStandIn,
        sessions: Callable[[], Iterable[PreviewSession]],
        *,
        poll_interval: float = 0.1,
    ) -> None:
        self.standin = standin
        self._sessions = sessions
        self.poll_interval = poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._reads_seen = 0

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError("watcher already started")
        queue = self.standin.subscribe()
        self._reads_seen = len(self.standin.reads)
        self._tasks = [
            asyncio.create_task(self._route_messages(queue)),
            asyncio.create_task(self._watch_reads()),
        ]
        self._queue = queue

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._tasks:
            self.standin.unsubscribe(self._queue)
        self._tasks = []

    async def _route_messages(self, queue: asyncio.Queue) -> None:
        while True:
            accepted = await queue.get()
            self.check_reads()  # a typing indicator asked for before this reply comes first
            owner = next((s for s in self._sessions() if s.owns(accepted)), None)
            if owner is None:
                logger.debug("stand-in accepted a message for no preview session; ignored")
                continue
            owner.bot_message(accepted)

    async def _watch_reads(self) -> None:
        while True:
            self.check_reads()
            await asyncio.sleep(self.poll_interval)

    def check_reads(self) -> None:
        """Hand the read receipts that arrived since the last call to their sessions."""
        reads = self.standin.reads
        if len(reads) < self._reads_seen:  # the stand-in was cleared
            self._reads_seen = 0
        for receipt in reads[self._reads_seen:]:
            for session in self._sessions():
                if session.read_receipt(receipt):
                    break
        self._reads_seen = len(reads)
