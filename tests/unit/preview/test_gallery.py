"""The response gallery: every response in every language, rendered, with the renderer's changes named."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.whatsapp.limits import validate_outbound
from preview.gallery import ROOT, gallery_entries, gallery_summary

LONG_TITLE = "Ausbildung Pflegefachkraft 2026"  # 31 characters
assert len(LONG_TITLE) == 31

SYNTHETIC_DOMAIN = {
    "version": "3.1",
    "forms": {"t_form": {"required_slots": ["job_title"]}},
    "responses": {
        "utter_t_long_title": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Pick one",
             "buttons": [{"title": "Short", "payload": "/a"}, {"title": LONG_TITLE, "payload": "/b"}]},
            {"text": "Wähle", "buttons": [{"title": "Kurz", "payload": "/a"}, {"title": LONG_TITLE, "payload": "/b"}]},
        ],
        "utter_t_four": [{"text": "Vier", "buttons": [{"title": f"Option {i}", "payload": f"/o{i}"} for i in range(4)]}],
        "utter_t_twelve": [{"text": "Zwölf", "buttons": [{"title": f"Option {i}", "payload": f"/o{i}"} for i in range(12)]}],
        "utter_t_long_text": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "word " * 999 + "ende."},
            {"text": "Wort " * 999 + "Ende."},
        ],
        "utter_ask_job_title": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Which job, {name}?"},
            {"text": "Welcher Job in {location}, {job_title} oder {mystery}?"},
        ],
        "utter_t_token": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Go",
             "buttons": [{"title": "Go", "payload": "/inform" + "x" * 300}]},
            {"text": "Los", "buttons": [{"title": "Los", "payload": "/inform" + "x" * 300}]},
        ],
        "utter_t_markdown": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "This is **important**."},
            {"text": "Das ist **wichtig**."},
        ],
        "utter_t_random": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Hi"},
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Hello"},
            {"condition": [{"type": "slot", "name": "remote", "value": True}], "text": "Auch remote"},
            {"text": "Hallo"},
        ],
        "utter_t_dupes": [{"text": "Doppelt", "buttons": [{"title": "Gleich", "payload": "/a"}, {"title": "gleich", "payload": "/a"}]}],
        "utter_t_custom": [{"custom": {"whatsapp": [
            {"type": "location_request_message",
             "location_request_message": {"body": {"text": "Wo?"}, "action": {"name": "send_location"}}},
            {"foo": 1}]}}],
        "utter_t_only_english": [{"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "Hi"}],
        "utter_t_image": [
            {"condition": [{"type": "slot", "name": "language", "value": "en"}], "text": "See", "image": "ftp://x.invalid/a.png"},
            {"text": "Schau", "image": "https://example.invalid/a.png"},
        ],
    },
}

RULES = """
version: "3.1"
rules:
- rule: four choices
  steps:
  - intent: greet
  - action: utter_t_four
stories:
- story: twelve
  steps:
  - intent: greet
  - action: utter_t_twelve
"""

ACTION = '''
class ActionT:
    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_t_long_text")
        dispatcher.utter_message(response='utter_t_token')
        return []
'''


@pytest.fixture
async def synthetic(tmp_path: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    domain = tmp_path / "domain.yml"
    domain.write_text(yaml.safe_dump(SYNTHETIC_DOMAIN, allow_unicode=True), encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rules.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "t_actions.py").write_text(textwrap.dedent(ACTION), encoding="utf-8")
    entries = await gallery_entries(domain, tmp_path / "data", tmp_path / "actions")
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        by_key.setdefault((entry["name"], entry["language"]), []).append(entry)
    return by_key


def only(by_key: dict, name: str, language: str) -> dict[str, Any]:
    entries = by_key[(name, language)]
    assert len(entries) == 1, entries
    return entries[0]


NOT_USED = "not used by any rule, story, form or action"


async def test_long_title_makes_a_list_and_is_cut(synthetic):
    for language in ("de", "en"):
        entry = only(synthetic, "utter_t_long_title", language)
        assert entry["warnings"] == [
            "2 button(s) became a list: a title is too long for a button",
            "row title cut from 31 to 24 characters: „Ausbildung Pflegefachkr…“ (the full title is its description)",
            NOT_USED,
        ]
        assert entry["rendered"][0]["interactive"]["type"] == "list"


async def test_four_buttons_become_a_list(synthetic):
    entry = only(synthetic, "utter_t_four", "de")
    assert entry["warnings"] == ["4 buttons became a list"]
    assert entry["used_by"] == ["rule: four choices"]


async def test_twelve_buttons_are_paged(synthetic):
    entry = only(synthetic, "utter_t_twelve", "de")
    assert entry["warnings"] == [
        "12 buttons became a list",
        "12 choices: the list shows 9 and a 'more' row, the other 3 follow on 1 more page(s)",
    ]
    assert entry["used_by"] == ["story: twelve"]
    assert len(entry["following_pages"]) == 1
    rows = entry["following_pages"][0]["interactive"]["action"]["sections"][0]["rows"]
    assert [row["title"] for row in rows] == ["Option 9", "Option 10", "Option 11"]


async def test_long_text_is_split_and_the_action_found(synthetic):
    entry = only(synthetic, "utter_t_long_text", "en")
    assert entry["warnings"] == ["text of 5000 characters split into 2 messages (4096 at most each)"]
    assert entry["used_by"] == ["action: actions/t_actions.py"]
    assert [m["type"] for m in entry["rendered"]] == ["text", "text"]


async def test_missing_english_variant_falls_back_to_german(synthetic):
    assert only(synthetic, "utter_t_four", "en")["warnings"] == [
        "no English variant: the German one is sent",
        "4 buttons became a list",
    ]
    assert only(synthetic, "utter_t_four", "de")["warnings"] == ["4 buttons became a list"]


async def test_a_response_nothing_names_is_not_used(synthetic):
    entry = only(synthetic, "utter_t_markdown", "de")
    assert entry["used_by"] == ["not used"]
    assert entry["warnings"] == [
        "**double asterisks** show as typed: WhatsApp bolds *single* ones",
        NOT_USED,
    ]


async def test_placeholders_are_filled_and_unknown_ones_kept(synthetic):
    entry = only(synthetic, "utter_ask_job_title", "de")
    assert entry["filled"] == {"location": "Berlin", "job_title": "Koch"}
    assert entry["unfilled"] == ["mystery"]
    assert entry["rendered"][0]["text"]["body"] == "Welcher Job in Berlin, Koch oder {mystery}?"
    assert entry["source"]["text"] == "Welcher Job in {location}, {job_title} oder {mystery}?"
    assert entry["used_by"] == ["form: t_form (asks for job_title)"]
    assert entry["warnings"] == []


async def test_a_long_payload_is_stored_as_a_token(synthetic):
    entry = only(synthetic, "utter_t_token", "de")
    assert entry["warnings"] == ["payload of „Los“ stored as a token (307 characters, a button id holds 256)"]
    assert entry["rendered"][0]["interactive"]["action"]["buttons"][0]["reply"]["id"].startswith("~")
    assert entry["used_by"] == ["action: actions/t_actions.py"]


async def test_random_variants_are_numbered_and_other_conditions_spelled_out(synthetic):
    english = synthetic[("utter_t_random", "en")]
    assert [e["condition"] for e in english] == [
        "variant 1 of 3, Rasa picks one at random",
        "variant 2 of 3, Rasa picks one at random",
        "variant 3 of 3, Rasa picks one at random; when slot remote = true",
    ]
    german = synthetic[("utter_t_random", "de")]
    assert [e["source"]["text"] for e in german] == ["Auch remote", "Hallo"]


async def test_an_image_that_is_no_link_is_dropped(synthetic):
    # the image is dropped; its caption is still sent as a text
    entry = only(synthetic, "utter_t_image", "en")
    assert entry["warnings"] == ["image dropped: it is neither an http(s) link nor a Graph API message", NOT_USED]
    assert [m["type"] for m in entry["rendered"]] == ["text"]
    german = only(synthetic, "utter_t_image", "de")
    assert german["warnings"] == [NOT_USED]
    assert german["rendered"] == [{"type": "image", "image": {"link": "https://example.invalid/a.png", "caption": "Schau"}}]


async def test_duplicate_titles_and_payloads(synthetic):
    assert only(synthetic, "utter_t_dupes", "de")["warnings"] == [
        "button title „gleich“ shown as „gleich (2)“: two options read the same",
        "payload of „gleich“ stored as a token (another option has the same payload)",
        NOT_USED,
    ]


async def test_custom_payload_passed_through_and_junk_dropped(synthetic):
    entry = only(synthetic, "utter_t_custom", "de")
    assert [m["type"] for m in entry["rendered"]] == ["location_request_message"]
    assert entry["warnings"] == ["custom payload: 1 of 2 messages dropped (not Graph API messages)", NOT_USED]


async def test_a_language_without_any_variant_gets_nothing(synthetic):
    entry = only(synthetic, "utter_t_only_english", "de")
    assert entry["rendered"] == []
    assert entry["warnings"] == ["no German variant: nothing is sent", NOT_USED]
    assert only(synthetic, "utter_t_only_english", "en")["warnings"] == [NOT_USED]


# ---- the real domain.yml -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_entries() -> list[dict[str, Any]]:
    import asyncio

    return asyncio.run(gallery_entries())


def test_every_real_response_appears_in_both_languages(real_entries):
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    names = set(domain["responses"])
    for language in ("de", "en"):
        assert {e["name"] for e in real_entries if e["language"] == language} == names
    assert all(e["rendered"] for e in real_entries)
    for entry in real_entries:
        for message in entry["rendered"]:
            assert validate_outbound(message) == [], entry["name"]
    summary = gallery_summary(real_entries)
    assert summary["responses"] == len(names)
    assert summary["variants"] == len(real_entries) >= 2 * len(names)
    assert summary["warnings"] == sum(len(e["warnings"]) for e in real_entries)


def test_real_ask_location_carries_the_list_warning(real_entries):
    for language in ("de", "en"):
        (entry,) = [e for e in real_entries if e["name"] == "utter_ask_location" and e["language"] == language]
        count = len(entry["source"]["buttons"])
        assert count > 3
        assert f"{count} buttons became a list" in entry["warnings"]
        assert entry["rendered"][-1]["interactive"]["type"] == "list"
        assert entry["used_by"] == ["form: job_search_form (asks for location)"]


def test_real_used_by_finds_rules_and_actions(real_entries):
    used = {e["name"]: e["used_by"] for e in real_entries}
    assert "rule: greet" in used["utter_greet"]
    assert "action: actions/job_search.py" in used["utter_job_results"]
    assert "channel: privacy/requests/markers.py" in used["utter_data_export"]
    assert "not used" not in {item for items in used.values() for item in items}
