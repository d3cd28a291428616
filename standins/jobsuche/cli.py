"""``python -m standins.jobsuche --port 8089``: the stand-in by hand; prints ``JOBS_API_BASE_URL``.

Runs until Ctrl-C or SIGTERM (``kill``, ``docker stop``, a launcher's process-group SIGTERM) and
then stops cleanly with exit status 0, like the aiohttp stand-ins (standins/foreground.py). The
Jobsuche stand-in is a threaded stdlib server, so it uses that module's ``run_threaded``.
"""
from __future__ import annotations

import argparse

from standins.foreground import run_threaded
from standins.jobsuche.server import JobsucheStandIn

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins.jobsuche", description="Run the Jobsuche API stand-in on loopback.")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    return run_threaded(JobsucheStandIn(port=args.port), lambda s: f"JOBS_API_BASE_URL={s.base_url}")
