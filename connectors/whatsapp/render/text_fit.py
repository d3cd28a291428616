"""Fitting text into Meta's length limits: splitting long texts, shortening titles.

Why: WhatsApp rejects a message whose text exceeds its field's limit, and a generic connector
that sends an over-long title makes the message undeliverable (heyoo #18). Every length here is
counted with limits.measure, the way Meta counts (limits.py cites the pages):

- a text message holds at most 4,096 characters
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages): longer texts
  are split on paragraph, line, sentence, then word boundaries, a single over-long word is cut;
- an interactive body holds at most 1,024: it keeps the last paragraph (or line, or sentence)
  that fits, usually the question the buttons answer, and the text before it goes out first;
- titles, descriptions and labels are shortened with "…" on a word boundary and numbered
  " (2)" when two would read the same (Meta rejects duplicate button titles).

Pure functions of text; no labels, no ids, no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from connectors.whatsapp.limits import INTERACTIVE_BODY_MAX, TEXT_BODY_MAX, measure

__all__ = [
    "ELLIPSIS",
    "split_text",
    "shorten",
    "distinct_titles",
    "split_for_interactive",
    "text_message",
    "text_messages",
]

ELLIPSIS = "…"

_PARAGRAPH = r"\n[ \t]*\n\s*"
_LINE = r"\n\s*"
_SENTENCE = r"(?<=[.!?…])\s+"
_WORD = r"\s+"
_SPLIT_LEVELS = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)
_URL_IN_TEXT = re.compile(r"https?://\S", re.IGNORECASE)


def _pieces(text: str, pattern: str) -> list[str]:
    """Split ``text`` after each separator match, keeping separators: ''.join(result) == text."""
    parts = re.split(f"({pattern})", text)
    pieces = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return [piece for piece in pieces if piece]


def _prefix_within(text: str, budget: int) -> str:
    """Longest prefix of ``text`` whose measure is at most ``budget`` (never splits a code point)."""
    used = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > budget:
            return text[:index]
    return text


def _hard_cut(text: str, limit: int) -> list[str]:
    chunks = []
    rest = text.strip()
    while rest:
        chunk = _prefix_within(rest, limit)
        chunks.append(chunk)
        rest = rest[len(chunk) :].strip()
    return chunks


def _pack(text: str, limit: int, levels: Sequence[str]) -> list[str]:
    """Greedily pack the pieces of the first level into chunks; split oversized pieces deeper."""
    if measure(text.strip()) <= limit:
        return [text]
    if not levels:
        return _hard_cut(text, limit)
    chunks: list[str] = []
    current = ""
    current_len = 0
    for piece in _pieces(text, levels[0]):
        piece_len = measure(piece)
        if current_len + piece_len <= limit or measure((current + piece).strip()) <= limit:
            current += piece
            current_len += piece_len
            continue
        if current.strip():
            chunks.append(current)
        if measure(piece.strip()) <= limit:
            current, current_len = piece, piece_len
        else:
            deeper = _pack(piece, limit, levels[1:])
            chunks.extend(deeper[:-1])
            current, current_len = deeper[-1], measure(deeper[-1])
    if current.strip():
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int = TEXT_BODY_MAX) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` (see limits.measure), in order.

    Boundaries are tried from coarse to fine: blank lines (paragraphs), line breaks, sentence ends,
    whitespace; a single word longer than ``limit`` is cut. Chunks are stripped; whitespace at the
    cut is the only thing lost.
    """
    text = text.strip()
    if not text:
        return []
    return [chunk.strip() for chunk in _pack(text, limit, _SPLIT_LEVELS) if chunk.strip()]


def shorten(text: str, limit: int) -> str:
    """Fit ``text`` (whitespace collapsed) into ``limit``, ending in "…" on a word boundary if one
    lies in the second half of the allowed length, else mid-word."""
    text = " ".join(text.split())
    if measure(text) <= limit:
        return text
    budget = limit - measure(ELLIPSIS)
    cut = _prefix_within(text, budget)
    if not text[len(cut)].isspace():
        space = cut.rfind(" ")
        if space >= max(1, budget // 2):
            cut = cut[:space]
    cut = cut.rstrip(" ,;:-–—")
    return (cut or _prefix_within(text, budget)) + ELLIPSIS


def distinct_titles(titles: Sequence[str], limit: int) -> list[str]:
    """Shorten titles to ``limit`` and make them unique (case-insensitively) with " (2)" etc."""
    seen: set[str] = set()
    result = []
    for title in titles:
        candidate = shorten(title, limit)
        number = 1
        while candidate.casefold() in seen:
            number += 1
            suffix = f" ({number})"
            candidate = shorten(title, limit - measure(suffix)) + suffix
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def _last_piece(text: str, pattern: str) -> tuple[str, str]:
    """(everything before the last non-empty piece, that piece stripped)."""
    pieces = _pieces(text.strip(), pattern)
    if len(pieces) < 2:
        return "", text.strip()
    return "".join(pieces[:-1]), pieces[-1].strip()


def split_for_interactive(text: str, fallback: str) -> tuple[list[str], str]:
    """(leading text chunks, interactive body) for a body that may exceed 1,024 characters.

    The body keeps the last paragraph (or line, or sentence) that fits - usually the question the
    buttons answer; everything before it goes out first as text messages. When no such piece
    fits, all of ``text`` goes out as text and the body is ``fallback`` (the "choose" label).
    """
    text = text.strip()
    if measure(text) <= INTERACTIVE_BODY_MAX:
        return [], text
    remainder = text
    lead_parts: list[str] = []
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE):
        before, last = _last_piece(remainder, pattern)
        if not before.strip():
            continue
        if measure(last) <= INTERACTIVE_BODY_MAX:
            return split_text("".join([*lead_parts, before])), last
        lead_parts.append(before)
        remainder = last
    return split_text(text), fallback


def text_message(body: str) -> dict[str, Any]:
    """A text message; a link preview when the body contains an http(s) URL."""
    return {"type": "text", "text": {"body": body, "preview_url": bool(_URL_IN_TEXT.search(body))}}


def text_messages(text: str) -> list[dict[str, Any]]:
    """``text`` as text messages of at most 4,096 characters each."""
    return [text_message(chunk) for chunk in split_text(text)]
