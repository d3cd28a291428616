"""bench/startup.py: resident memory from /proc and the readiness poller."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from bench.startup import _poll_ready, rss_mb


def test_rss_of_this_process_and_its_children() -> None:
    alone = rss_mb(os.getpid())
    assert 10 < alone < 100_000
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(60 * 2**20); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while rss_mb(os.getpid()) < alone + 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rss_mb(os.getpid()) >= alone + 50  # the child's 60 MiB are counted
    finally:
        child.kill()
        child.wait()
    assert rss_mb(999_999_999) == 0.0


def test_poll_ready_times_the_first_200() -> None:
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    started = time.monotonic()
    threading.Timer(0.5, lambda: threading.Thread(target=server.serve_forever, daemon=True).start()).start()
    try:
        ready = _poll_ready({"late": f"http://127.0.0.1:{server.server_port}/"}, started, threading.Event())
    finally:
        server.shutdown()
    assert 0.4 < ready["late"] < 5.0
    stop = threading.Event()
    stop.set()
    assert _poll_ready({"never": "http://127.0.0.1:9/"}, started, stop) == {}
