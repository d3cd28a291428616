"""``python -m standins.jobsuche --port 8089``: the stand-in by hand; prints ``JOBS_API_BASE_URL``.

Runs until Ctrl-C or SIGTERM (``kill``, ``docker stop``, a launcher's process-group SIGTERM) and
then stops cleanly with exit status 0, like the aiohttp stand-ins (standins/foreground.py). The
Jobsuche stand-in is a threaded stdlib server, not an aiohttp app, so it follows that module's
pattern instead of calling it: the handler first (a launcher may send SIGTERM as soon as it has
read the printed line), then start, print, wait.
"""
from __future__ import annotations

import argparse
import signal
import threading

from standins.jobsuche.server import JobsucheStandIn

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins.jobsuche", description="Run the Jobsuche API stand-in on loopback.")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    stand_in = JobsucheStandIn(port=args.port).start()
    try:
        print(f"JOBS_API_BASE_URL={stand_in.base_url}", flush=True)
        while not stop.wait(0.5):  # a timeout, so Ctrl-C and SIGTERM are seen between waits
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stand_in.stop()
    return 0
