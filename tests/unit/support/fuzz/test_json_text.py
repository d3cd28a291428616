"""JSON with tricks: what the fuzz bodies write is what the test means to send."""
from __future__ import annotations

import json
import math

import pytest

from tests.support.fuzz.json_text import MISSING, Pairs, Raw, to_body, to_json


def test_raw_text_is_written_as_is() -> None:
    assert to_json({"n": Raw("1e400"), "m": Raw("NaN")}) == '{"n":1e400,"m":NaN}'
    parsed = json.loads(to_json({"m": Raw("NaN")}))
    assert math.isnan(parsed["m"])


def test_pairs_keep_duplicate_keys_and_python_keeps_the_last() -> None:
    text = to_json(Pairs((("id", 1), ("id", "wamid.x"))))
    assert text == '{"id":1,"id":"wamid.x"}'
    assert json.loads(text) == {"id": "wamid.x"}


def test_ascii_only_escapes_like_meta_and_raw_utf8_otherwise() -> None:
    assert to_json({"t": "Ölga"}) == '{"t":"\\u00d6lga"}'
    assert to_json({"t": "Ölga"}, ascii_only=False) == '{"t":"Ölga"}'


def test_nested_lists_and_scalars() -> None:
    value = [Pairs((("a", [1, None, True]),)), "x", 2.5]
    assert json.loads(to_json(value)) == [{"a": [1, None, True]}, "x", 2.5]


def test_a_lone_surrogate_becomes_invalid_utf8_only_without_ascii_escaping() -> None:
    escaped = to_body({"t": "a\ud800"})
    assert escaped.decode("utf-8") == '{"t":"a\\ud800"}'
    raw = to_body({"t": "a\ud800"}, ascii_only=False)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_missing_is_a_marker_not_a_value() -> None:
    assert MISSING is not None and MISSING is not False
