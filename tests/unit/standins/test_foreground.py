"""standins/foreground.py: both aiohttp stand-ins run as processes until SIGTERM and then exit 0."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.support.paths import REPO_ROOT


@pytest.mark.parametrize("module, marker", [("standins.meta_graph", "Meta Graph stand-in on http://127.0.0.1:"),
                                            ("standins.stt", "STT_BASE_URL=http://127.0.0.1:")])
def test_serves_until_sigterm_then_exits_cleanly(module: str, marker: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    process = subprocess.Popen([sys.executable, "-m", module, "--port", "0"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert marker in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
