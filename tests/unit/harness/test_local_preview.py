"""LocalStack with ``preview=True``: the preview process takes the Graph stand-in's place (harness/local_preview.py).

No process is started here; tests/browser/test_preview.py runs the real stack.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.local_stack import LocalStack


def test_without_the_preview_the_graph_stand_in_runs_alone(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    assert stack.graph_process == "graph"
    assert stack.graph_command()[1:] == ["-m", "standins.meta_graph", "--port", str(stack.graph_port)]
    assert stack.graph_ready_urls(stack.graph_url) == [f"{stack.graph_url}/_standin/messages"]
    assert "BLAUPAUSE_ENV" not in stack.graph_env(stack.env())
    with pytest.raises(RuntimeError, match="preview=True"):
        stack.preview_url


def test_the_preview_serves_the_graph_port_and_posts_to_the_first_rasa(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, preview=True, rasa_instances=2)
    command = stack.graph_command()
    assert stack.graph_process == "preview"
    assert command[1:3] == ["-m", "preview"]
    assert command[command.index("--graph-port") + 1] == str(stack.graph_port)
    assert command[command.index("--port") + 1] == str(stack.preview_port)
    assert command[command.index("--webhook-url") + 1] == stack.webhook_url(0)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert stack.preview_url == f"http://127.0.0.1:{stack.preview_port}"
    assert stack.graph_ready_urls(stack.graph_url) == [
        f"{stack.graph_url}/_standin/messages", f"{stack.preview_url}/api/config"
    ]


def test_secrets_travel_in_the_environment_never_on_the_command_line(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, preview=True)
    command = " ".join(stack.graph_command())
    for secret in (stack.app_secret, stack.access_token, stack.privacy_key):
        assert secret not in command
    env = stack.graph_env(stack.env())
    assert env["WHATSAPP_APP_SECRET"] == stack.app_secret
    assert env["WHATSAPP_ACCESS_TOKEN"] == stack.access_token
    assert env["PRIVACY_KEY"] == stack.privacy_key  # the inspector reads what Rasa wrote
    assert env["WHATSAPP_API_BASE_URL"] == stack.graph_url


def test_only_the_preview_gets_the_local_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAUPAUSE_ENV", "production")
    stack = LocalStack(tmp_path, preview=True)
    assert stack.graph_env(stack.env())["BLAUPAUSE_ENV"] == "local"
    assert "BLAUPAUSE_ENV" not in stack.rasa_env(0)
    assert stack.rasa_env(0)["PRIVACY_KEY"] == stack.privacy_key


def test_a_given_preview_port_is_kept(tmp_path: Path) -> None:
    assert LocalStack(tmp_path, preview=True, preview_port=18700).preview_url == "http://127.0.0.1:18700"
