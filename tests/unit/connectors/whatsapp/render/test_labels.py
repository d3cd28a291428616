"""render/labels.py: the channel's words come from labels.yml, in any language it lists.

Issue 10 item 3: a designer adds a language by editing labels.yml, without Python. The tests
write a temporary copy of the real labels.yml with a third language and point
BLAUPAUSE_LABELS_FILE at it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import wording
from connectors.whatsapp.limits import LIST_BUTTON_TEXT_MAX, measure, validate_outbound
from connectors.whatsapp.paging import resolve_reply_id
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.render import render_response
from connectors.whatsapp.render.labels import ChannelLabels, channel_labels

KEYS = ("choose", "options", "more", "more_description", "page", "open_link")
FRENCH = {"choose": "Choisissez :", "options": "Choix", "more": "Plus …"}  # the rest falls back


def _labels_file(tmp_path: Path, *, languages: list[str], extra: dict[str, dict[str, str]]) -> Path:
    tree = yaml.safe_load(wording.DEFAULT_LABELS_FILE.read_text(encoding="utf-8"))
    tree["languages"] = languages
    for language, texts in extra.items():
        for key, text in texts.items():
            tree["channel"][key][language] = text
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def third_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _labels_file(tmp_path, languages=[*wording.load().languages, "fr"], extra={"fr": FRENCH})
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(path))
    return path


def _rows(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for section in message["interactive"]["action"]["sections"] for row in section["rows"]]


def test_every_channel_label_exists_in_every_language_of_the_real_file() -> None:
    labels = wording.load()
    for key in KEYS:
        entry = labels.section("channel")[key]
        assert set(entry) == set(labels.languages), key


def test_unknown_languages_read_the_default_language() -> None:
    labels = wording.load()
    default = channel_labels(labels.default_language)
    assert channel_labels(None) == default
    assert channel_labels("xx-YY") == default
    assert channel_labels(42) == default


async def test_a_third_language_needs_no_python(third_language: Path) -> None:
    default = wording.current().default_language
    fallback = channel_labels(default)
    french = channel_labels("fr-CA")
    assert (french.language, french.choose, french.options, french.more) == ("fr", "Choisissez :", "Choix", "Plus …")
    # labels the designer has not translated yet fall back to the default language
    assert (french.more_description, french.page, french.open_link) == (fallback.more_description, fallback.page, fallback.open_link)

    id_map = InMemoryPayloadIdMap()
    buttons = [{"title": f"Poste {i}", "payload": f"/p{i}"} for i in range(12)]
    out = await render_response({"buttons": buttons}, id_map=id_map, language="fr")
    inner = out[0]["interactive"]
    assert inner["body"] == {"text": "Choisissez :"} and inner["action"]["button"] == "Choix"
    more = _rows(out[0])[-1]
    assert more["title"] == "Plus …" and more["description"] == fallback.more_count(3)
    page = (await resolve_reply_id(more["id"], id_map)).page[0]
    assert page["interactive"]["body"] == {"text": fallback.page_range(10, 12, 12)}
    assert page["interactive"]["action"]["button"] == "Choix"
    cta = await render_response({"buttons": [{"title": "Site", "payload": "/s"}, {"title": "Web", "url": "https://e.org"}]}, id_map=id_map, language="fr")
    assert cta[-1]["interactive"]["action"]["parameters"]["display_text"] == fallback.open_link


async def test_the_first_language_of_the_file_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    languages = list(reversed(wording.load().languages))
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(_labels_file(tmp_path, languages=languages, extra={})))
    out = await render_response({"buttons": [{"title": "A", "payload": "/a"}]}, id_map=InMemoryPayloadIdMap(), language="xx")
    expected = wording.load().text("channel.choose", languages[0])
    assert out[0]["interactive"]["body"] == {"text": expected}


async def test_overlong_designer_labels_are_fitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    language = wording.load().default_language
    texts = {"options": "Alle offenen Stellen anzeigen", "open_link": "Diese Seite im Browser öffnen", "more": "Noch viel mehr Stellen ansehen"}
    monkeypatch.setenv(wording.LABELS_FILE_ENV, str(_labels_file(tmp_path, languages=wording.load().languages, extra={language: texts})))
    labels = channel_labels(language)
    assert measure(labels.options) <= LIST_BUTTON_TEXT_MAX
    id_map = InMemoryPayloadIdMap()
    out = await render_response({"buttons": [{"title": f"S{i}", "payload": f"/s{i}"} for i in range(11)]}, id_map=id_map)
    out += await render_response({"buttons": [{"title": "A", "payload": "/a"}, {"title": "W", "url": "https://e.org"}]}, id_map=id_map)
    assert out and all(validate_outbound(message) == [] for message in out)


def test_labels_format_their_fields() -> None:
    labels = ChannelLabels("xx", "c", "o", "m", "{count} more", "{first}-{last}/{total}", "open")
    assert labels.more_count(4) == "4 more" and labels.page_range(1, 9, 20) == "1-9/20"
