"""Hypothesis leaf strategies and the seeded generator the fuzz builders work with.

Hypothesis draws the leaves (texts, numbers, odd values) and a seed; a seeded random.Random
builds the structure around them. A few hundred Hypothesis draws per request would cost more
than the request (about 30 ms against 5 ms), and 10,000 requests must fit into minutes.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Tuple

from hypothesis import strategies as st

from tests.support.fuzz.inputs import serial
from tests.support.fuzz.json_text import Raw

texts = st.text(max_size=30)
surrogate_texts = st.builds(lambda a, s, b: a + s + b, st.text(max_size=5),
                            st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3), st.text(max_size=5))
raw_numbers = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E-400", "-0", "0.0e0", "1e99999999",
                     "123456789012345678901234567890"]).map(Raw),
    st.builds(lambda n, digit: Raw(digit * n), st.integers(20, 400), st.sampled_from("19")),
    st.builds(lambda n: Raw("9" * n + ".5"), st.integers(300, 5000)),
)
huge_integer = st.builds(lambda n: Raw("1" * n), st.integers(4301, 6000))  # json.loads raises ValueError
scalars = st.one_of(texts, st.integers(), st.none(), st.booleans(), st.floats(), raw_numbers)
junk = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=8), scalars, max_size=3),
                 st.lists(st.lists(scalars, max_size=2), max_size=2))
non_strings = st.one_of(st.integers(), st.none(), st.booleans(), st.floats(), raw_numbers, st.lists(scalars, max_size=2),
                        st.dictionaries(st.text(max_size=4), scalars, max_size=2))


def seeded(draw: Callable[[Any], Any]) -> random.Random:
    """A fast ``random.Random`` for one example: Hypothesis draws the seed (it often draws the same
    small seed again; the running counter keeps examples apart). Hypothesis replays choice
    prefixes, so no Hypothesis draw may follow one that depends on this generator."""
    return random.Random(draw(st.integers(0, 2**64 - 1)) * 1_000_003 + serial())


def choose(draw: Callable[[Any], Any], *options: Tuple[int, Any]) -> Any:
    """One option by weight; an option that is a strategy is drawn from, a callable is called."""
    point = draw(st.integers(0, sum(weight for weight, _ in options) - 1))
    for weight, option in options:
        if point < weight:
            if isinstance(option, st.SearchStrategy):
                return draw(option)
            return option() if callable(option) else option
        point -= weight
    raise AssertionError("unreachable")


WEIRD_DIGITS = ("²", "①", "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "-1", "1.7e9", " 1700000000", "0x65", "", "00000000000")
LEAVES = st.tuples(texts, texts, scalars, non_strings, junk, surrogate_texts, st.floats(), raw_numbers).map(
    lambda t: {"texts": [t[0], t[1]], "scalars": [t[2]], "non_strings": [t[3]], "junk": [t[4]], "surrogates": [t[5]],
               "floats": [t[6]], "numbers": [t[7]]})
PALETTE = ("abcdefghijklmnopqrstuvwxyz", "ABCXYZ", "0123456789", "  \t\n", "äöüßÄÖÜ", "éèçñ", "😀👍🏽‍", "\u200b\u200e\u202e\ufeff",
           "\u0301\u0308", "\x00\x01\x1b\x7f", "\u00a0\u2028", "{}[]\":,\\/", "ع١٢", "中文", "\U0001F9D1\u200d\U0001F373")


def rnd_text(rnd: random.Random, longest: int = 30) -> str:
    """A cheap odd string: runs from a palette of scripts, spaces, controls, joiners, emoji, JSON syntax."""
    return "".join(rnd.choice(rnd.choice(PALETTE)) for _ in range(rnd.randint(0, longest)))

