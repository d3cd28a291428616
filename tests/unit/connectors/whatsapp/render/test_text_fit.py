"""render/text_fit.py: splitting and shortening text to Meta's limits (pure functions)."""
from __future__ import annotations

import pytest

from connectors.whatsapp.limits import INTERACTIVE_BODY_MAX, measure
from connectors.whatsapp.render.text_fit import (
    ELLIPSIS,
    distinct_titles,
    shorten,
    split_for_interactive,
    split_text,
    text_message,
    text_messages,
)


def test_split_text_prefers_paragraphs_then_lines_then_sentences_then_words() -> None:
    assert split_text("eins\n\nzwei", limit=6) == ["eins", "zwei"]
    assert split_text("eins\nzwei", limit=6) == ["eins", "zwei"]
    assert split_text("Eins. Zwei.", limit=6) == ["Eins.", "Zwei."]
    assert split_text("aa bb cc", limit=5) == ["aa bb", "cc"]
    assert split_text("abcdefgh", limit=3) == ["abc", "def", "gh"]
    assert split_text("  \n ") == []


def test_split_text_counts_like_meta() -> None:
    chunks = split_text("😀" * 5, limit=4)  # an emoji counts 2 (limits.measure)
    assert chunks == ["😀😀", "😀😀", "😀"] and all(measure(c) <= 4 for c in chunks)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("kurz", 10, "kurz"),
        ("Sehr lange Zeile hier", 12, "Sehr lange…"),
        ("Donaudampfschiff", 8, "Donauda…"),
        ("Wort, und", 7, "Wort…"),
        ("  a \n b  ", 10, "a b"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert measure(shorten(text, limit)) <= limit


def test_distinct_titles_number_case_insensitive_duplicates_within_the_limit() -> None:
    assert distinct_titles(["Ja", "ja", "JA", "Nein"], 20) == ["Ja", "ja (2)", "JA (3)", "Nein"]
    titles = distinct_titles(["x" * 24, "x" * 24], 24)
    assert titles[0] == "x" * 24 and titles[1] == "x" * 19 + f"{ELLIPSIS} (2)"
    assert all(measure(t) <= 24 for t in titles)


def test_split_for_interactive_keeps_a_fitting_body() -> None:
    assert split_for_interactive("  Frage?  ", "Bitte wählen:") == ([], "Frage?")


def test_split_for_interactive_sends_the_lead_first_and_keeps_the_last_paragraph() -> None:
    text = "x" * 1100 + "\n\nWas nun?"
    leading, body = split_for_interactive(text, "Bitte wählen:")
    assert leading == ["x" * 1100] and body == "Was nun?"


def test_split_for_interactive_uses_the_fallback_when_nothing_fits() -> None:
    text = "w" * (INTERACTIVE_BODY_MAX + 1)
    assert split_for_interactive(text, "Choose:") == ([text], "Choose:")


def test_text_messages_preview_links_only() -> None:
    assert text_message("siehe https://example.org") == {"type": "text", "text": {"body": "siehe https://example.org", "preview_url": True}}
    assert text_message("example.org")["text"]["preview_url"] is False
    assert [m["text"]["body"] for m in text_messages("a" * 4096 + " b")] == ["a" * 4096, "b"]
