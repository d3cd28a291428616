"""The operator files in ops/: alert rules, example scrape config, Grafana dashboard (issue 11).

Why: the metric names are an interface (observability/metrics.py). A rule or panel with a
misspelt name is not an error for Prometheus or Grafana: it silently selects nothing, and an
alert that can never fire looks exactly like a healthy service. So every PromQL expression in
the rules and the dashboard is tokenized here and each metric name it uses must exist in
:data:`observability.metrics.REGISTRY` (or be a standard series: ``up``, ``process_*``,
``python_*``). ``promtool`` (Debian's ``prometheus`` package) checks the files' syntax; every
alert must link its runbook section in docs/operations.md.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from observability.metrics import REGISTRY
from tests.support.paths import REPO_ROOT
from tests.support.servers import in_ci

ALERTS = REPO_ROOT / "ops" / "prometheus" / "alerts.yml"
ALERT_TESTS = ALERTS.with_name("alerts.test.yml")
SCRAPE_EXAMPLE = REPO_ROOT / "ops" / "prometheus" / "prometheus.example.yml"
DASHBOARD = REPO_ROOT / "ops" / "grafana" / "blaupause-dashboard.json"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"

#: Series suffixes the Prometheus client adds to a family name (counters, histograms, summaries).
SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count")
STANDARD = re.compile(r"^(up|scrape_\w+|process_\w+|python_\w+)$")
#: PromQL words that are not metric names (operators, modifiers, literals).
KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "atan2", "inf", "nan", "start", "end",
})
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers used bare or followed by ``{`` or ``[``."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "", text)  # Grafana variables ($__rate_interval, ${instance})
    text = re.sub(r"\{[^{}]*\}", "{}", text)  # label matchers: label names are not metric names
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)  # ranges and subqueries
    text = _LABEL_LIST.sub(" ", text)  # grouping label lists
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w.])\s*(\(?)", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(name)
    return names


def known_names() -> set[str]:
    families = {metric.name for metric in REGISTRY.collect()}
    return {family + suffix for family in families for suffix in SUFFIXES}


def unknown_names(expr: str, known: set[str]) -> set[str]:
    return {name for name in metric_names(expr) if name not in known and not STANDARD.match(name)}


def _rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    def walk(panels: list[dict]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard["panels"])
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
        if selector:
            yield f"variable {variable['name']}", selector.group(1)


def _promtool() -> str:
    path = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if path is None:
        message = "promtool is missing (Debian: apt-get install prometheus; scripts/ensure_services.sh does it under CI)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


# ------------------------------------------------------------------------- the tokenizer itself

def test_the_tokenizer_finds_metric_names_and_ignores_functions_labels_and_variables() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, endpoint) (rate(blaupause_graph_request_duration_seconds_bucket'
            '{instance=~"$instance", outcome="ok"}[$__rate_interval]))) / on () group_left () '
            'sum(up) > bool 0 unless process_open_fds offset 5m')
    assert metric_names(expr) == {"blaupause_graph_request_duration_seconds_bucket", "up", "process_open_fds"}


def test_a_misspelt_metric_name_is_reported() -> None:
    known = known_names()
    assert unknown_names("sum(rate(blaupause_webhook_requests_total[5m]))", known) == set()
    assert unknown_names("sum(rate(blaupause_webhook_request_total[5m]))", known) == {"blaupause_webhook_request_total"}
    assert unknown_names('blaupause_redy == 0', known) == {"blaupause_redy"}
    assert unknown_names('rate(blaupause_turn_duration_bucket{le="1.0"}[5m])', known) == {"blaupause_turn_duration_bucket"}


def test_every_family_of_the_registry_is_known_with_its_suffixes() -> None:
    known = known_names()
    assert {"blaupause_webhook_requests_total", "blaupause_turn_duration_seconds_bucket", "blaupause_ready",
            "process_resident_memory_bytes"} <= known
    assert "blaupause_webhook_requests" in known  # the family name itself (a gauge would be used bare)


# ------------------------------------------------------------------------- the alert rules

def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_fire_on_synthetic_series() -> None:
    """ops/prometheus/alerts.test.yml: promtool's rule unit tests (labels, annotations, ``for:``)."""
    result = subprocess.run([_promtool(), "test", "rules", str(ALERT_TESTS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_rule_test_that_makes_it_fire() -> None:
    """promtool passes a test file that leaves an alert out, so an alert added to alerts.yml without
    a test would go unnoticed; each needs an ``alert_rule_test`` with expected alerts (not only ``[]``)."""
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    untested = sorted({rule["alert"] for rule in _rules()} - fired)
    assert not untested, f"alerts without a firing test in {ALERT_TESTS.name}: {untested}"


def test_promtool_accepts_the_example_scrape_config() -> None:
    result = subprocess.run([_promtool(), "check", "config", "--syntax-only", str(SCRAPE_EXAMPLE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(SCRAPE_EXAMPLE.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"blaupause-rasa", "blaupause-actions"} <= set(jobs)
    for job in jobs.values():
        assert len(job["static_configs"][0]["targets"]) > 1, "the example shows several instances"
        assert job["authorization"]["type"] == "Bearer"


def test_every_rule_uses_only_known_metrics() -> None:
    known = known_names()
    problems = {rule["alert"]: unknown_names(rule["expr"], known) for rule in _rules()}
    assert not {alert: names for alert, names in problems.items() if names}


def test_every_alert_has_for_severity_and_a_runbook_anchor_that_exists() -> None:
    headings = {_anchor(line.lstrip("#").strip()) for line in OPERATIONS.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    rules = _rules()
    assert len(rules) >= 6
    for rule in rules:
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "docs/operations.md" and anchor in headings, (rule["alert"], runbook)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


# ------------------------------------------------------------------------- the dashboard

def test_every_dashboard_query_uses_only_known_metrics() -> None:
    known = known_names()
    exprs = list(_dashboard_exprs())
    assert len(exprs) >= 20
    problems = {f"{title}: {expr}": unknown_names(expr, known) for title, expr in exprs}
    assert not {where: names for where, names in problems.items() if names}


def test_the_dashboard_takes_its_prometheus_from_a_variable_and_covers_every_family() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    used = set().union(*(metric_names(expr) for _, expr in _dashboard_exprs()))
    families = {m.name for m in REGISTRY.collect() if m.name.startswith("blaupause_")}
    missing = {f for f in families if not any(name.startswith(f) for name in used)}
    assert not missing, f"metrics without a panel: {sorted(missing)}"
    for panel in dashboard["panels"]:
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


# ------------------------------------------------------------------------- the harness's operator ports

def test_local_stack_gives_every_process_its_own_operator_port(tmp_path: Path) -> None:
    from harness.local_stack import LocalStack

    stack = LocalStack(tmp_path, rasa_instances=3)
    ports = [stack.rasa_env(i)["BLAUPAUSE_METRICS_PORT"] for i in range(3)]
    actions = stack.actions_env()
    assert len(set(ports)) == 3 and actions["BLAUPAUSE_ACTIONS_METRICS_PORT"] not in ports
    assert "BLAUPAUSE_METRICS_PORT" not in stack.env() and "BLAUPAUSE_METRICS_PORT" not in actions
    assert stack.metrics_url(2) == f"http://127.0.0.1:{ports[2]}/metrics"
    assert stack.actions_metrics_url == f"http://127.0.0.1:{actions['BLAUPAUSE_ACTIONS_METRICS_PORT']}/metrics"
