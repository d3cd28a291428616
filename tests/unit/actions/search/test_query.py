"""actions/search/query.py: the provider's query from the slots, YAML-added slots as filters."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker

import wording
from actions.jobs.cities import default_city_index
from actions.search.query import PAGE_SIZE, build_query, filter_value

ROOT = Path(__file__).resolve().parents[4]


def _tracker(**slots: Any) -> Tracker:
    return Tracker.from_dict({"sender_id": "t", "slots": slots, "events": [], "latest_message": {}})


@pytest.mark.parametrize(("value", "text"), [
    (" Gasthaus  Sonne ", "Gasthaus Sonne"), ("  ", None), (None, None), (True, "true"), (2.0, "2"),
    (2.5, "2.5"), (float("nan"), None), ([], None),
])
def test_filter_values_are_text(value, text) -> None:
    assert filter_value(value) == text


def test_the_shipped_slots_send_no_filters() -> None:
    query = build_query(_tracker(job_title="Koch", location="Berlin", remote="ja"), 2, default_city_index())
    assert (query.what, query.where, query.remote, query.filters, query.page, query.size) == (
        "Koch", "Berlin", True, (), 2, PAGE_SIZE)


def test_a_slot_added_in_yaml_travels_as_a_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((ROOT / "labels.yml").read_text(encoding="utf-8"))
    data["actions"]["search"]["slots"].update(employer={"de": "Arbeitgeber"}, shift=None)
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(path))
    query = build_query(_tracker(job_title="Koch", employer=" Sonne ", shift=None), 1, default_city_index())
    assert query.filters == (("employer", "Sonne"),)
