"""The action server process serves /metrics on BLAUPAUSE_ACTIONS_METRICS_PORT (issue 11).

Why end to end: the operator port is opened by a start hook (privacy/action_errors.py) that
runs only inside the process ``rasa run actions`` starts; a unit test cannot show that the hook
fires there, that the allowlisted environment (privacy/action_server.py) lets the settings
through, or that a real ``POST /webhook`` moves the counters the scrape reads. The process is
started the way harness/local_stack.py starts it (the ``rasa`` script, the allowlisted
environment), on free ports; no model is needed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.local_stack import free_port, stop_processes
from privacy.action_server import action_server_environment
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

TOKEN = "scrape-token-for-the-test-only"
START_TIMEOUT_S = 240.0


class ActionServer:
    def __init__(self, workdir: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        env = dict(os.environ, SANIC_HOST="127.0.0.1", JOBS_PROVIDER="local", RASA_TELEMETRY_ENABLED="false",
                   BLAUPAUSE_ACTIONS_METRICS_PORT=str(self.metrics_port), BLAUPAUSE_ACTIONS_METRICS_TOKEN=TOKEN)
        env.update(extra_env)
        for name in ("LLM_BASE_URL", "LLM_MODEL"):
            env.pop(name, None)
        self.log = workdir / "actions.log"
        rasa = Path(sys.executable).parent / "rasa"
        self.proc = subprocess.Popen(
            [str(rasa), "run", "actions", "--actions", "actions", "--port", str(self.port)],
            cwd=REPO_ROOT, env=action_server_environment(env), stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the action server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"the action server did not start within {START_TIMEOUT_S:.0f} s:\n{self.output()}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        stop_processes([self.proc])


@pytest.fixture
def action_server(tmp_path: Path) -> Iterator[ActionServer]:
    server = ActionServer(tmp_path)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def search_call() -> dict:
    """A minimal rasa-sdk action call, as Rasa sends it (https://rasa.com/docs/rasa/action-server/http-api-spec)."""
    return {
        "next_action": "action_search_jobs",
        "sender_id": "pseudonym-test",
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": "pseudonym-test",
            "slots": {"job_title": "Koch", "location": "Berlin", "language": "de"},
            "latest_message": {"text": "Koch in Berlin", "intent": {"name": "search_job"}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "job_search_form",
        },
    }


def scrape(server: ActionServer, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", headers=headers, timeout=5.0)


def test_the_action_server_serves_its_metrics(action_server: ActionServer) -> None:
    assert scrape(action_server, token=None).status_code == 401
    answer = httpx.post(f"http://127.0.0.1:{action_server.port}/webhook", json=search_call(), timeout=30.0)
    assert answer.status_code == 200, answer.text
    assert answer.json()["responses"], answer.text
    metrics = scrape(action_server)
    assert metrics.status_code == 200
    lines = [line for line in metrics.text.splitlines() if line.startswith("blaupause_job_provider_requests_total{")]
    assert lines, metrics.text[:2000]
    assert any('provider="local"' in line and not line.endswith(" 0.0") for line in lines), lines
    assert "blaupause_job_provider_request_seconds_count" in metrics.text
    assert "process_resident_memory_bytes" in metrics.text
    for personal in ("Koch", "Berlin", "pseudonym-test"):
        assert personal not in metrics.text


def test_an_invalid_port_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    server = ActionServer(tmp_path, BLAUPAUSE_ACTIONS_METRICS_PORT="nine")
    try:
        assert server.wait_exit() != 0
        assert "BLAUPAUSE_ACTIONS_METRICS_PORT" in server.output()
    finally:
        server.stop()
