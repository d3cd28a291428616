"""The action server's operator port is opened by the start hook only (privacy/action_errors.py).

The process-level check (the port really serves /metrics in ``rasa run actions``) is
tests/e2e/test_action_server_metrics.py; here: the hook's decisions, without opening a port.
"""
from __future__ import annotations

import pytest

import privacy.action_errors as action_errors
from privacy.action_errors import install_action_server_hardening, serve_action_server_metrics
from privacy.action_server import action_server_environment


def test_no_port_no_server() -> None:
    assert serve_action_server_metrics({}) is None
    assert serve_action_server_metrics({"BLAUPAUSE_ACTIONS_METRICS_PORT": " "}) is None


@pytest.mark.parametrize("port", ["nine", "70000", "-1"])
def test_an_invalid_port_stops_the_start_naming_the_variable(port: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        serve_action_server_metrics({"BLAUPAUSE_ACTIONS_METRICS_PORT": port})
    assert "BLAUPAUSE_ACTIONS_METRICS_PORT" in str(stopped.value.code)


def test_importing_the_actions_outside_the_action_server_opens_no_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(action_errors, "_attach_to_running_sdk_app", lambda: False)
    monkeypatch.delenv("BLAUPAUSE_ACTION_SERVER", raising=False)
    monkeypatch.setenv("BLAUPAUSE_ACTIONS_METRICS_PORT", "nine")  # would stop an action server
    install_action_server_hardening()  # unit tests, tools, Rasa: nothing happens


def test_inside_the_action_server_the_hook_reads_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(action_errors, "install_redaction", lambda **_: None)  # no process-wide filter here
    monkeypatch.setattr(action_errors, "_attach_to_running_sdk_app", lambda: False)
    monkeypatch.setenv("BLAUPAUSE_ACTION_SERVER", "1")
    monkeypatch.setenv("BLAUPAUSE_ACTIONS_METRICS_PORT", "nine")
    with pytest.raises(SystemExit):
        install_action_server_hardening()


def test_the_metrics_settings_reach_the_action_server() -> None:
    env = action_server_environment({
        "BLAUPAUSE_ACTIONS_METRICS_PORT": "9102", "BLAUPAUSE_ACTIONS_METRICS_HOST": "10.0.0.5",
        "BLAUPAUSE_ACTIONS_METRICS_TOKEN": "t", "BLAUPAUSE_LOG_FORMAT": "json",
        "BLAUPAUSE_METRICS_PORT": "9101",  # the Rasa process' port is not the action server's
    })
    assert env["BLAUPAUSE_ACTIONS_METRICS_PORT"] == "9102"
    assert env["BLAUPAUSE_ACTIONS_METRICS_HOST"] == "10.0.0.5"
    assert env["BLAUPAUSE_ACTIONS_METRICS_TOKEN"] == "t"
    assert env["BLAUPAUSE_LOG_FORMAT"] == "json"
    assert "BLAUPAUSE_METRICS_PORT" not in env
