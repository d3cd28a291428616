"""Start, stop and ``async with`` for a stand-in that is one aiohttp application on loopback.

Why one base class: the Graph API stand-in (standins/meta_graph/) and the speech-to-text
stand-in (standins/stt/) are served the same way (an ``AppRunner`` without access log, port 0
for a free port, a ``stopping`` event that releases requests held by a latency or a timeout
fault before the runner shuts down); two copies of that would drift in exactly the details
tests rely on. The LLM and job API stand-ins run ``http.server`` in a thread instead.

A subclass builds its ``web.Application``, passes it to ``__init__`` and adds its routes; it
names itself in :attr:`AppStandIn.NAME` for the log line and may override :attr:`base_url`
(the speech-to-text stand-in adds ``/v1``).
"""
from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import ClassVar, Self

from aiohttp import web

__all__ = ["AppStandIn"]


class AppStandIn:
    """``await start(host, port)`` returns :attr:`base_url`; ``await stop()``; or ``async with``."""

    NAME: ClassVar[str] = "stand-in"

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port) and return :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        self.stopping = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][0], runner.addresses[0][1]
        self._root_url = f"http://{bound_host}:{bound_port}"
        logging.getLogger(type(self).__module__).info("%s listening on %s", self.NAME, self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; requests held by latency or a timeout fault are released first."""
        self.stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://host:port`` once started (where ``/_standin/...`` is)."""
        if self._root_url is None:
            raise RuntimeError("stand-in not started")
        return self._root_url

    @property
    def base_url(self) -> str:
        """What the client under test is pointed at; :attr:`root_url` unless a subclass says otherwise."""
        return self.root_url
