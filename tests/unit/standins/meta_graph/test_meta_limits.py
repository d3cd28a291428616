"""The Graph API stand-in's table of Meta's limits against the channel's own (connectors/whatsapp/limits.py).

Why: the stand-in refuses what Meta refuses by its own table (standins/meta_graph/meta_limits.py),
written from Meta's pages. These tests compare the two tables entry by entry, so a wrong number on
either side fails here, naming both numbers and Meta's page; they show that the comparison does
catch a wrong production number, and that the stand-in never loads the channel's limits.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import connectors.whatsapp.limits as production
from standins.meta_graph import meta_limits

ROOT = Path(__file__).resolve().parents[4]

#: Production constant -> the entry of Meta's table that must hold the same number.
SAME = {
    "TEXT_BODY_MAX": "text.body",
    "HEADER_TEXT_MAX": "header.text",
    "FOOTER_TEXT_MAX": "footer.text",
    "REPLY_BUTTONS_MAX": "button.count",
    "REPLY_BUTTON_TITLE_MAX": "button.title",
    "REPLY_BUTTON_ID_MAX": "button.id",
    "LIST_BUTTON_TEXT_MAX": "list.button",
    "LIST_SECTIONS_MAX": "list.sections",
    "LIST_ROWS_MAX": "list.rows",
    "SECTION_TITLE_MAX": "section.title",
    "ROW_TITLE_MAX": "row.title",
    "ROW_DESCRIPTION_MAX": "row.description",
    "ROW_ID_MAX": "row.id",
    "MEDIA_CAPTION_MAX": "media.caption",
    "CTA_DISPLAY_TEXT_MAX": "cta_url.display_text",
    "TEMPLATE_NAME_MAX": "template.name",
}
#: Production constants that apply one number where Meta's pages give several: they must be the
#: strictest of them (limits.py: one body limit for every interactive type, so a message keeps
#: fitting when it switches between buttons and a list).
STRICTEST_OF = {
    "INTERACTIVE_BODY_MAX": ("button.body", "list.body", "cta_url.body", "location_request.body"),
}


def mismatches(module) -> list[str]:
    """Every production constant of ``module`` that differs from Meta's table, with the page."""
    found = []
    for constant, entry in SAME.items():
        ours, metas = getattr(module, constant), meta_limits.limit(entry)
        if ours != metas:
            found.append(f"{constant} = {ours}, Meta's {entry} = {metas} ({meta_limits.META_LIMITS[entry].source})")
    for constant, entries in STRICTEST_OF.items():
        ours, strictest = getattr(module, constant), min(meta_limits.limit(entry) for entry in entries)
        if ours != strictest:
            found.append(f"{constant} = {ours}, the strictest of Meta's {', '.join(entries)} = {strictest}")
    return found


def test_the_production_limits_are_metas():
    assert mismatches(production) == []


def test_every_production_limit_and_every_table_entry_is_compared():
    assert {name for name in production.__all__ if name.endswith("_MAX")} == set(SAME) | set(STRICTEST_OF)
    compared = set(SAME.values()) | {entry for entries in STRICTEST_OF.values() for entry in entries}
    assert compared == set(meta_limits.META_LIMITS)


@pytest.mark.parametrize("constant", sorted([*SAME, *STRICTEST_OF]))
@pytest.mark.parametrize("change", [+1, -1])
def test_a_wrong_production_limit_is_flagged(monkeypatch, constant, change):
    monkeypatch.setattr(production, constant, getattr(production, constant) + change)

    [problem] = mismatches(production)
    assert problem.startswith(f"{constant} = ")


def test_each_limit_names_metas_page():
    for name, entry in meta_limits.META_LIMITS.items():
        assert entry.maximum > 0, name
        assert entry.source.startswith("https://developers.facebook.com/docs/"), name


def test_meta_allows_a_longer_list_body_than_button_body():
    """Meta's pages differ here (list 4,096, buttons 1,024); the stand-in keeps each page's number."""
    assert (meta_limits.limit("list.body"), meta_limits.limit("button.body")) == (4096, 1024)


def test_lengths_are_counted_in_utf16_code_units():
    assert meta_limits.length("Küche") == 5
    assert meta_limits.length("\N{GRINNING FACE}") == 2


def test_the_stand_in_never_loads_the_channel():
    code = "import sys, standins.meta_graph; print(sorted(m for m in sys.modules if m.split('.')[0] == 'connectors'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
