"""scripts/validate_data.py's own checks (the Rasa validator's are Rasa's)."""
from __future__ import annotations

import importlib.util

import yaml
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
_spec = importlib.util.spec_from_file_location("validate_data", ROOT / "scripts" / "validate_data.py")
validate_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate_data)


def test_entities_in_button_payloads_must_be_escaped() -> None:
    responses = {"utter_x": [{"text": "?", "buttons": [
        {"title": "A", "payload": '/inform{"job_title":"Koch"}'},
        {"title": "B", "payload": '/inform{{"job_title":"Koch"}}'},
        {"title": "C", "payload": "/greet"},
    ]}]}
    assert validate_data.unescaped_payloads(responses) == ['utter_x: /inform{"job_title":"Koch"}']


def test_the_shipped_domain_escapes_every_payload() -> None:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    assert validate_data.unescaped_payloads(responses) == []


def test_the_shipped_labels_agree_with_the_domain() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert validate_data.labels_disagreeing_with_domain(domain, validate_data.wording.load(ROOT / "labels.yml")) == []


def test_a_search_slot_or_language_missing_in_the_domain_is_reported() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    del domain["slots"]["remote"]
    domain["slots"]["language"]["values"] = ["de"]
    problems = validate_data.labels_disagreeing_with_domain(domain, validate_data.wording.load(ROOT / "labels.yml"))
    assert len(problems) == 2
    assert "'remote'" in problems[0] and "language slot" in problems[1]
