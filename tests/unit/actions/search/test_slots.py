"""actions/search/slots.py: the search's slots come from labels.yml, the asked ones from domain.yml."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import wording
from actions.search.slots import filter_slots, form_required_slots, search_slots, summary_slots

ROOT = Path(__file__).resolve().parents[4]
SHIPPED = ("job_title", "location", "radius_km", "working_time", "remote", "search_page", "latitude", "longitude")


def _labels_with(tmp_path: Path, **slots: object) -> wording.Labels:
    data = yaml.safe_load((ROOT / "labels.yml").read_text(encoding="utf-8"))
    data["actions"]["search"]["slots"].update(slots)
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return wording.load(path)


def test_the_shipped_search_slots_in_their_order() -> None:
    assert search_slots() == SHIPPED
    assert summary_slots() == ("job_title", "location", "radius_km", "working_time", "remote")
    assert filter_slots() == ()


def test_a_slot_added_in_yaml_is_a_search_slot_and_a_filter(tmp_path: Path) -> None:
    labels = _labels_with(tmp_path, employer={"de": "Arbeitgeber", "en": "employer"}, shift=None)
    assert search_slots(labels) == (*SHIPPED, "employer", "shift")
    assert summary_slots(labels)[-1] == "employer"
    assert filter_slots(labels) == ("employer", "shift")


def test_the_current_labels_file_is_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = _labels_with(tmp_path, employer={"de": "Arbeitgeber"})
    monkeypatch.setenv(wording.LABELS_FILE_ENV, labels.source)
    assert search_slots()[-1] == "employer"


def test_required_slots_from_the_domain_rasa_sends() -> None:
    domain = {"forms": {"job_search_form": {"required_slots": ["job_title", "employer"]}}}
    assert form_required_slots(domain) == ("job_title", "employer")


@pytest.mark.parametrize("domain", [None, {}, {"forms": {}}, {"forms": {"job_search_form": {}}}])
def test_without_a_form_in_the_call_the_domain_file_decides(domain) -> None:
    assert form_required_slots(domain) == ("job_title", "location")


def test_the_domain_file_is_the_one_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    domain["forms"]["job_search_form"]["required_slots"].append("employer")
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("BLAUPAUSE_DOMAIN_FILE", str(path))
    assert form_required_slots({}) == ("job_title", "location", "employer")
    monkeypatch.setenv("BLAUPAUSE_DOMAIN_FILE", str(tmp_path / "missing.yml"))
    assert form_required_slots({}) == ()
