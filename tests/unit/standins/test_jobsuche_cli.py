"""standins/jobsuche/cli.py: the Jobsuche stand-in runs as a process until SIGTERM and then exits 0."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from standins.jobsuche.server import API_KEY
from tests.support.paths import REPO_ROOT


def test_serves_until_sigterm_then_exits_cleanly() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "standins.jobsuche", "--port", "0"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("JOBS_API_BASE_URL=http://127.0.0.1:"), line
        answer = httpx.get(f"{line.split('=', 1)[1].strip()}/pc/v4/jobs", params={"was": "Koch"},
                           headers={"X-API-Key": API_KEY}, timeout=5)
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
