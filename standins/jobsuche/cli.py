"""``python -m standins.jobsuche --port 8089``: the stand-in by hand; prints ``JOBS_API_BASE_URL``."""
from __future__ import annotations

import argparse
import threading

from standins.jobsuche.server import JobsucheStandIn

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins.jobsuche", description="Run the Jobsuche API stand-in on loopback.")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    stand_in = JobsucheStandIn(port=args.port).start()
    print(f"JOBS_API_BASE_URL={stand_in.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in.stop()
    return 0
