"""A designer adds a third language and a search criterion in YAML alone (issue 10, item 3).

The test copies the files a designer edits (labels.yml, domain.yml) into a temporary folder,
adds French and an ``employer`` search slot there, points the action server's labels at the
copy (``BLAUPAUSE_LABELS_FILE``) and hands the copied domain to the actions the way Rasa
does (the ``domain`` of every action call). No Python file is changed and nothing is
trained: language detection, the job search's words, its summary and the search request
follow the YAML, and so do the words understood when a user types a criterion.
"""
from __future__ import annotations

import importlib.util
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.job_search import ActionResetSearch, ActionSearchJobs, ActionShowJob
from actions.jobs.cities import default_city_index
from actions.jobs.local import LocalJobProvider
from actions.llm import load_prompt
from actions.privacy_actions import PRIVACY_REQUEST_KEY, ActionExportData
from actions.search.query import build_query
from actions.search.slots import search_slots
from actions.search_form import ValidateJobSearchForm
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.render import render_response
from nlu.language_detector import DETECTED_LANGUAGE, LanguageDetector
from privacy.requests.export import format_slots
from wording.detection import detect_language
import wording

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("validate_data", ROOT / "scripts" / "validate_data.py")
validate_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate_data)
FUTURE = date.today() + timedelta(days=300)

FRENCH_ACTIONS: dict[str, Any] = {
    "working_time": {"vollzeit": "temps plein", "teilzeit": "temps partiel", "minijob": "mini-job"},
    "not_specified": "non précisé",
    "immediately": "immédiatement",
    "start_date": "{date:%d/%m/%Y}",
    "result_line": "{number}. {title} chez {where}",
    "result_line_without_place": "{number}. {title}",
    "place_separator": ", ",
}
FRENCH_SEARCH: dict[str, Any] = {"criterion": "{name} : {value}", "separator": " · ", "radius": "{km} km",
                                 "remote_yes": "oui", "remote_no": "non"}
FRENCH_SLOT_NAMES = {"job_title": "métier", "location": "lieu", "radius_km": "rayon",
                     "working_time": "temps de travail", "remote": "télétravail"}
FRENCH_CHANNEL = {"choose": "Veuillez choisir :", "options": "Options", "more": "Plus …",
                  "more_description": "Encore {count} options", "page": "Autres options ({first}–{last} sur {total}) :",
                  "open_link": "Ouvrir"}
FRENCH_EXPORT = {"time_format": "%d/%m/%Y %H:%M", "no_slots": "– aucun", "yes_word": "oui", "no_word": "non",
                 "decimal_separator": ","}
FRENCH_WORDS = "je tu nous vous cherche chercher un une travail emploi de des le la les pour avec dans bonjour merci oui"


def _with_french(entry: Any, french: Any) -> Any:
    return {**entry, "fr": french} if isinstance(entry, dict) else entry


@pytest.fixture()
def designer_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """labels.yml and domain.yml copied and extended the way a designer would; returns the domain."""
    labels = yaml.safe_load((ROOT / "labels.yml").read_text(encoding="utf-8"))
    labels["languages"].append("fr")
    actions = labels["actions"]
    for key, french in FRENCH_ACTIONS.items():
        if isinstance(french, dict):
            actions[key] = {name: _with_french(actions[key][name], text) for name, text in french.items()}
        else:
            actions[key] = _with_french(actions[key], french)
    search = actions["search"]
    for key, french in FRENCH_SEARCH.items():
        search[key] = _with_french(search[key], french)
    for slot, french in FRENCH_SLOT_NAMES.items():
        search["slots"][slot] = _with_french(search["slots"][slot], french)
    search["slots"]["employer"] = {"de": "Arbeitgeber", "en": "employer", "fr": "employeur"}
    actions["understood"]["working_time"]["vollzeit"].append("temps plein")
    actions["understood"]["remote_yes"].append("télétravail")
    actions["language_detection"]["words"]["fr"] = FRENCH_WORDS
    actions["language_detection"]["letters"]["fr"] = "éèêàçùœ"
    for key, french in FRENCH_CHANNEL.items():
        labels["channel"][key] = _with_french(labels["channel"][key], french)
    for key, french in FRENCH_EXPORT.items():
        labels["privacy"]["export"][key] = _with_french(labels["privacy"]["export"][key], french)
    labels_file = tmp_path / "labels.yml"
    labels_file.write_text(yaml.safe_dump(labels, allow_unicode=True, sort_keys=False), encoding="utf-8")

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    domain["entities"].append("employer")
    domain["slots"]["employer"] = {"type": "text", "influence_conversation": False,
                                   "mappings": [{"type": "from_entity", "entity": "employer"}]}
    domain["slots"]["language"]["values"].append("fr")
    domain["forms"]["job_search_form"]["required_slots"].append("employer")
    (tmp_path / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False),
                                         encoding="utf-8")

    monkeypatch.setenv("BLAUPAUSE_LABELS_FILE", str(labels_file))
    return domain


@pytest.fixture()
def provider(tmp_path: Path) -> LocalJobProvider:
    records = [
        {"id": "s1", "title": "Koch (m/w/d)", "employer": "Gasthaus Sonne", "city": "Berlin", "postal_code": "10115",
         "working_time": "vollzeit", "start_date": None, "url": "https://jobs.example.org/s1"},
        {"id": "m1", "title": "Koch (m/w/d)", "employer": "Hotel Mond", "city": "Berlin", "postal_code": "10117",
         "working_time": "teilzeit", "start_date": FUTURE.isoformat(), "url": "https://jobs.example.org/m1"},
    ]
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return LocalJobProvider(path)


def _tracker(slots: dict[str, Any], *, text: str = "", entities: list[dict[str, Any]] | None = None,
             slot_events: dict[str, Any] | None = None) -> Tracker:
    all_slots = {name: None for name in (*search_slots(), "language", "requested_slot")}
    all_slots.update(slots)
    all_slots.update(slot_events or {})
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": {"entities": entities or []}}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (slot_events or {}).items()]
    return Tracker.from_dict({
        "sender_id": "designer-test", "slots": all_slots, "events": events, "active_loop": {"name": "job_search_form"},
        "latest_message": {"text": text, "intent": {"name": "inform"}, "entities": entities or []},
    })


def test_french_is_detected_and_german_and_english_still_are(designer_copy) -> None:
    assert detect_language("Je cherche un travail de cuisinier à Paris") == "fr"
    assert detect_language("Bonjour") == "fr"
    assert detect_language("Ich suche einen Job als Koch in Berlin") == "de"
    assert detect_language("any nursing jobs near Hamburg?") == "en"
    assert detect_language("Berlin") is None


def test_french_is_recorded_or_kept_for_the_language_slot(designer_copy) -> None:
    typed = Message.build(text="je cherche un emploi")
    asked = Message.build(text="Französisch bitte")
    asked.set("entities", [{"entity": "language", "value": "fr"}], add_to_output=True)
    LanguageDetector().process([typed, asked])
    assert typed.get(DETECTED_LANGUAGE) == "fr"  # set into the slot by LanguageSlotPolicy
    assert [e["value"] for e in asked.get("entities")] == ["fr"]  # the slot's from_entity mapping


async def test_results_and_summary_come_out_in_french_and_the_new_slot_filters(designer_copy, provider) -> None:
    state = _tracker({"language": "fr", "job_title": "Koch", "location": "Berlin", "employer": "Gasthaus Sonne",
                      "working_time": "Temps plein"})
    query = build_query(state, 1, default_city_index())
    assert query.filters == (("employer", "Gasthaus Sonne"),)
    assert query.working_time == "vollzeit"  # the French words typed are understood too

    events, dispatcher = await _run(ActionSearchJobs(provider), state, designer_copy)
    assert events[0] == SlotSet("search_page", 1.0)
    results = dispatcher.messages[0]
    assert results["results"] == "1. Koch (m/w/d) chez Gasthaus Sonne, Berlin"  # Hotel Mond is filtered out
    assert results["total"] == 1
    assert results["criteria"] == ("métier : Koch · lieu : Berlin · temps de travail : temps plein"
                                   " · employeur : Gasthaus Sonne")


async def test_job_details_in_french(designer_copy, provider) -> None:
    for job_id, start, working_time in (("s1", "immédiatement", "temps plein"),
                                        ("m1", FUTURE.strftime("%d/%m/%Y"), "temps partiel")):
        state = _tracker({"language": "fr"}, entities=[{"entity": "job_id", "value": job_id}])
        _, dispatcher = await _run(ActionShowJob(provider), state, designer_copy)
        assert (dispatcher.messages[0]["start_date"], dispatcher.messages[0]["working_time"]) == (start, working_time)


async def test_the_new_slot_is_reset_and_cleaned_by_the_form(designer_copy) -> None:
    events, _ = await _run(ActionResetSearch(), _tracker({"employer": "Gasthaus Sonne"}), designer_copy)
    assert SlotSet("employer", None) in events
    # the search's slots in labels.yml's order, then the bookkeeping of the last search
    assert [event["name"] for event in events][-3:] == ["employer", "search_total", "pending_offer"]

    state = _tracker({"job_title": "Koch", "location": "Berlin"}, slot_events={"employer": "  Gasthaus \n Sonne "})
    events, _ = await _run(ValidateJobSearchForm(), state, designer_copy)
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {"employer": "Gasthaus Sonne"}


async def test_privacy_requests_carry_french(designer_copy) -> None:
    _, dispatcher = await _run(ActionExportData(), _tracker({"language": "fr"}), designer_copy)
    assert dispatcher.messages[0]["custom"] == {PRIVACY_REQUEST_KEY: "export", "language": "fr"}


def test_the_llm_fallback_hints_french(designer_copy) -> None:
    prompt = load_prompt()
    assert prompt.system_message("fr") != prompt.system_message("xx") == prompt.system_prompt.strip()


async def test_the_channel_and_the_export_speak_french_and_validation_accepts_the_copy(designer_copy) -> None:
    """The same copy reaches the Rasa process: the channel's built-in labels, the export's words,
    and `make validate`'s check that labels.yml and domain.yml agree (languages, search slots)."""
    options = [{"title": f"Option {n}", "payload": f"/select_job{{{{\"job_id\":\"{n}\"}}}}"} for n in range(1, 13)]
    rendered = await render_response({"buttons": options}, id_map=InMemoryPayloadIdMap(),
                                     language="fr")
    listing = rendered[0]["interactive"]
    assert listing["body"]["text"] == "Veuillez choisir :"
    assert listing["action"]["sections"][0]["rows"][-1]["title"] == "Plus …"
    assert format_slots({"radius_km": 12.5, "remote": True}, "fr").count(",5") == 1
    assert "oui" in format_slots({"remote": True}, "fr") and format_slots({}, "fr") == "– aucun"
    assert validate_data.labels_disagreeing_with_domain(designer_copy, wording.current()) == []
    broken = {**designer_copy, "slots": {**designer_copy["slots"], "language": {"type": "categorical", "values": ["de", "en"]}}}
    assert validate_data.labels_disagreeing_with_domain(broken, wording.current()) != []


async def _run(action: Any, state: Tracker, domain: dict[str, Any]) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, state, domain), dispatcher
