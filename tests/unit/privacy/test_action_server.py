"""The action server starts with an allowlisted environment (issue 16, finding 5)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from privacy.action_server import FORBIDDEN_NAMES, action_server_environment
from harness.local_stack import ROOT, LocalStack

SECRETS = {
    "PRIVACY_KEY": "9f1c3e5a7b2d4f6081a3c5e7f90b1d2e4a6c8e0f13579bdf2468ace013579bdf",
    "PRIVACY_OLD_KEYS": "1f1c3e5a7b2d4f6081a3c5e7f90b1d2e4a6c8e0f13579bdf2468ace013579bdf",
    "WHATSAPP_APP_SECRET": "app-secret-value",
    "WHATSAPP_ACCESS_TOKEN": "access-token-value",
    "WHATSAPP_VERIFY_TOKEN": "verify-token-value",
    "TRACKER_STORE_URL": "postgresql://user:pw@db/trackers",
    "SOMETHING_ELSE": "not needed by actions",
}


def test_secrets_and_unknown_names_are_dropped_needed_ones_kept() -> None:
    environ = {**SECRETS, "PATH": "/usr/bin", "JOBS_PROVIDER": "local", "LLM_BASE_URL": "http://127.0.0.1:1",
               "LLM_API_KEY": "llm-key", "SANIC_HOST": "127.0.0.1", "BLAUPAUSE_ENV": "local"}
    env = action_server_environment(environ)
    assert not set(env) & FORBIDDEN_NAMES
    assert "SOMETHING_ELSE" not in env
    assert {"PATH", "JOBS_PROVIDER", "LLM_BASE_URL", "LLM_API_KEY", "SANIC_HOST", "BLAUPAUSE_ENV"} <= set(env)
    assert env["BLAUPAUSE_ACTION_SERVER"] == "1"
    assert not set(SECRETS.values()) & set(env.values())


def test_forbidden_names_win_over_allowed_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    import privacy.action_server as module

    monkeypatch.setattr(module, "ALLOWED_PREFIXES", ("PRIVACY_", "WHATSAPP_"))
    env = action_server_environment(SECRETS)
    assert not set(env) & FORBIDDEN_NAMES


def test_local_stack_starts_the_action_server_without_secrets(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, extra_env={"LLM_MODEL": "m", "JOBS_DATA_FILE": "x.json"})
    full = stack.env()
    assert {"PRIVACY_KEY", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_VERIFY_TOKEN"} <= set(full)
    actions = stack.actions_env()
    for name in ("PRIVACY_KEY", "PRIVACY_OLD_KEYS", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN",
                 "WHATSAPP_VERIFY_TOKEN", "TRACKER_STORE_URL"):
        assert name not in actions
    assert stack.privacy_key not in actions.values() and stack.app_secret not in actions.values()
    assert actions["JOBS_PROVIDER"] == "local" and actions["LLM_MODEL"] == "m" and actions["SANIC_HOST"] == "127.0.0.1"


def test_the_launcher_execs_the_command_with_the_allowlisted_environment() -> None:
    env = {**os.environ, **SECRETS, "JOBS_PROVIDER": "local"}
    done = subprocess.run(
        [sys.executable, "-m", "privacy.action_server", "--", sys.executable, "-c",
         "import os, json; print(json.dumps(dict(os.environ)))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    import json

    seen = json.loads(done.stdout)
    assert not set(seen) & FORBIDDEN_NAMES and "SOMETHING_ELSE" not in seen
    assert seen["JOBS_PROVIDER"] == "local"


def test_run_sh_starts_the_action_server_through_the_launcher() -> None:
    script = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    [line] = [line for line in script.splitlines() if "rasa run actions" in line]
    start = script.index(line)
    launcher = script[max(0, start - 200):start]
    assert re.search(r"-m privacy\.action_server --", launcher), "the action server must start via the allowlist"
