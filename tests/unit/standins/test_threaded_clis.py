"""standins/foreground.py ``run_threaded``: the job API and LLM stand-ins run as processes until
SIGTERM, answer in between, and exit 0 (the handler is installed before the address is printed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from standins.jobsuche.server import API_KEY
from tests.support.paths import REPO_ROOT


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_jobsuche_serves_until_sigterm_then_exits_cleanly() -> None:
    process = _start("standins.jobsuche", "--port", "0")
    try:
        line = process.stdout.readline()
        assert line.startswith("JOBS_API_BASE_URL=http://127.0.0.1:"), line
        answer = httpx.get(f"{line.split('=', 1)[1].strip()}/pc/v4/jobs", params={"was": "Koch"},
                           headers={"X-API-Key": API_KEY}, timeout=5)
        assert answer.status_code == 200
    finally:
        _stop(process)


def test_llm_serves_until_sigterm_then_exits_cleanly() -> None:
    process = _start("standins.llm", "--port", "0")
    try:
        line = process.stdout.readline()
        assert line.startswith("LLM stand-in on http://127.0.0.1:"), line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        answer = httpx.post(url, json={"model": "any", "messages": [{"role": "user", "content": "Hallo"}]}, timeout=5)
        assert answer.status_code == 200, answer.text
    finally:
        _stop(process)


def test_sigterm_right_after_the_address_line_still_exits_cleanly() -> None:
    process = _start("standins.llm", "--port", "0")
    assert process.stdout.readline().startswith("LLM stand-in on ")
    _stop(process)
