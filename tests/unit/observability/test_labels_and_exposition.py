"""observability.labels (closed vocabularies) and observability.exposition (the operator port)."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from observability.exposition import MetricsConfigError, MetricsServer, MetricsSettings, serve_metrics_from_env
from observability.labels import code_label, one_of, status_label
from observability.metrics import REGISTRY, WEBHOOK_OUTCOMES


def test_one_of_keeps_known_values_and_maps_everything_else_to_other() -> None:
    assert one_of("handled", WEBHOOK_OUTCOMES) == "handled"
    assert one_of("4915550000001", WEBHOOK_OUTCOMES) == "other"
    assert one_of(None, WEBHOOK_OUTCOMES) == "other"


@pytest.mark.parametrize(("code", "label"), [
    (131047, "131047"), (None, "none"), (True, "other"), (-1, "other"), (4915550000001, "other"), ("131047", "other"),
])
def test_code_label_accepts_only_small_integers(code: object, label: str) -> None:
    assert code_label(code) == label


@pytest.mark.parametrize(("status", "label"), [(200, "200"), (503, "503"), (99, "other"), (600, "other"), ("200", "other")])
def test_status_label(status: object, label: str) -> None:
    assert status_label(status) == label


def test_settings_from_env() -> None:
    assert MetricsSettings.from_env({}) is None
    assert MetricsSettings.from_env({"BLAUPAUSE_METRICS_PORT": " "}) is None
    settings = MetricsSettings.from_env({"BLAUPAUSE_METRICS_PORT": "9464", "BLAUPAUSE_METRICS_TOKEN": "t"})
    assert settings == MetricsSettings(port=9464, host="127.0.0.1", token="t")
    actions = MetricsSettings.from_env({"BLAUPAUSE_ACTIONS_METRICS_PORT": "9465"}, "BLAUPAUSE_ACTIONS_METRICS")
    assert actions is not None and actions.port == 9465
    with pytest.raises(MetricsConfigError, match="BLAUPAUSE_METRICS_PORT"):
        MetricsSettings.from_env({"BLAUPAUSE_METRICS_PORT": "http"})
    with pytest.raises(MetricsConfigError, match="out of range"):
        MetricsSettings.from_env({"BLAUPAUSE_METRICS_PORT": "70000"})


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_server_serves_metrics_only_and_checks_the_token() -> None:
    registry = CollectorRegistry()
    Counter("blaupause_test_things", "A test counter.", registry=registry).inc()
    server = MetricsServer(MetricsSettings(port=0, token="s3cret"), registry)
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert _get(f"{base}/metrics")[0] == 401
        assert _get(f"{base}/metrics", "wrong")[0] == 401
        status, text = _get(f"{base}/metrics", "s3cret")
        assert status == 200 and "blaupause_test_things_total 1.0" in text
        assert _get(f"{base}/webhooks/whatsapp/webhook", "s3cret")[0] == 404
    finally:
        server.close()


def test_default_registry_carries_process_metrics() -> None:
    server = MetricsServer(MetricsSettings(port=0))
    try:
        status, text = _get(f"http://127.0.0.1:{server.port}/metrics")
        assert status == 200
        assert "process_resident_memory_bytes" in text and "blaupause_webhook_duration_seconds" in text
    finally:
        server.close()
    assert REGISTRY.get_sample_value("process_resident_memory_bytes") > 0


def test_serve_from_env_reports_a_taken_port() -> None:
    blocker = MetricsServer(MetricsSettings(port=0))
    try:
        with pytest.raises(MetricsConfigError, match="cannot listen"):
            serve_metrics_from_env({"BLAUPAUSE_TEST_METRICS_PORT": str(blocker.port)}, "BLAUPAUSE_TEST_METRICS")
    finally:
        blocker.close()
