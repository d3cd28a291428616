"""Run an aiohttp stand-in as a process of its own until Ctrl-C or SIGTERM (``python -m standins.<name>``).

Why one helper: the Graph API and speech-to-text stand-ins are started the same way by
harness/local_stack.py, scripts/run.sh and by hand: bind, print one line that says where they
listen (launchers and tests read it), serve until Ctrl-C or SIGTERM (``kill``, ``docker stop``,
the harness's process-group SIGTERM), then stop cleanly so held requests are released and the
exit status is 0. Each stand-in's cli.py keeps only its own options and the line it prints.
The job API and LLM stand-ins are threaded stdlib servers, not aiohttp apps: ``run_threaded``
gives them the same order (handler, start, print, wait) and the same clean stop.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from standins.lifecycle import AppStandIn

__all__ = ["run_in_foreground", "run_threaded", "ThreadedStandIn", "LOG_FORMAT"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

S = TypeVar("S", bound=AppStandIn)


async def _serve(standin: S, host: str, port: int, banner: Callable[[S], str]) -> None:
    # The handler comes first: a launcher may send SIGTERM as soon as it has read the banner.
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await standin.start(host, port)
        print(banner(standin), flush=True)
        await stop.wait()
    finally:
        await standin.stop()


def run_in_foreground(build: Callable[[], S], host: str, port: int, banner: Callable[[S], str]) -> None:
    """Build the stand-in inside the event loop, serve it on ``host:port``, print ``banner(standin)``.

    Returns after Ctrl-C or SIGTERM, once the stand-in has stopped.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)

    async def main() -> None:
        await _serve(build(), host, port, banner)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class ThreadedStandIn(Protocol):
    """A stand-in serving from a thread of its own: ``start()`` returns it, ``stop()`` ends it."""

    def start(self) -> "ThreadedStandIn": ...

    def stop(self) -> None: ...


T = TypeVar("T", bound=ThreadedStandIn)


def run_threaded(standin: T, banner: Callable[[T], str]) -> int:
    """Start a threaded stand-in, print ``banner(standin)``, serve until Ctrl-C or SIGTERM; 0.

    The SIGTERM handler is installed before the start, for the reason given above.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    started = standin.start()
    try:
        print(banner(started), flush=True)
        while not stop.wait(0.5):  # a timeout, so Ctrl-C and SIGTERM are seen between waits
            pass
    except KeyboardInterrupt:
        pass
    finally:
        started.stop()
    return 0
