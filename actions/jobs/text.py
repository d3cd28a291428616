"""Folding of German text so that spellings with and without umlauts meet.

Users type "Köln", "Koeln" or "Koln" and "Bäcker", "Baecker" or "Backer" depending on their
keyboard. Folding maps all of them to one key: case folded (which also turns ß into ss),
diacritics removed (Unicode NFKD, like SQLite's ``unicode61 remove_diacritics 2`` tokenizer),
and the transliterations ae/oe/ue reduced to a/o/u. The same function is applied to the
indexed text and to the query, so the occasional over-folding ("Feuer" -> "feur") is harmless.
Folding is idempotent (``fold(fold(x)) == fold(x)``), so folded keys can be folded again safely.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "fold_key", "tokens"]

_TRANSLITERATION = re.compile(r"([aou])e+")
_NON_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Fold ``text`` for matching (see module docstring); keeps spaces and punctuation."""
    # Decompose before and after case folding: compatibility forms can decompose to capitals
    # ("ℌ" -> "H") and case folding can produce decomposable characters.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _TRANSLITERATION.sub(r"\1", stripped)


def fold_key(text: str) -> str:
    """Fold ``text`` and collapse punctuation to single spaces: "Frankfurt a.M." -> "frankfurt a m"."""
    return _NON_WORD.sub(" ", fold(text)).strip()


def tokens(text: str) -> list[str]:
    """The folded words of ``text`` in order, without punctuation."""
    return _WORD.findall(fold(text))
