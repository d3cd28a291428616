"""bench/flamegraph.py: collapsed stacks to top frames and an SVG."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bench.flamegraph import folded, frame_name, parse_collapsed, render_svg, share_matching, top_frames

RAW = """\
run (rasa/core/agent.py:10);handle (connectors/whatsapp/core.py:5);validate (jsonschema/validators.py:300) 6
run (rasa/core/agent.py:10);handle (connectors/whatsapp/core.py:7);send (httpx/_client.py:1) 3
run (rasa/core/agent.py:11);predict (rasa/nlu/classifiers/diet.py:2) 1
garbage line without count x
"""


def test_frame_names_drop_line_numbers_and_long_paths() -> None:
    assert frame_name("validate (/work/main/.venv/lib/python3.11/site-packages/jsonschema/validators.py:300)") == \
        "validate (jsonschema/validators.py)"
    assert frame_name("handle (/work/main/connectors/whatsapp/core.py:5)") == "handle (connectors/whatsapp/core.py)"
    assert frame_name("<module> (<string>:2)") == "<module> (<string>)"


def test_parse_groups_lines_of_one_function() -> None:
    stacks = parse_collapsed(RAW)
    assert sum(stacks.values()) == 10
    # the two lines of handle (5 and 7) are one frame, the two lines of run one frame
    assert stacks[("run (rasa/core/agent.py)", "handle (connectors/whatsapp/core.py)", "validate (jsonschema/validators.py)")] == 6


def test_top_frames_by_total_and_self() -> None:
    stacks = parse_collapsed(RAW)
    by_total = top_frames(stacks, 3, by="total")
    assert by_total[0].frame == "run (rasa/core/agent.py)" and by_total[0].total_share == pytest.approx(1.0)
    assert by_total[0].self_share == 0.0
    by_self = top_frames(stacks, 1, by="self")
    assert by_self[0].frame == "validate (jsonschema/validators.py)" and by_self[0].self_share == pytest.approx(0.6)


def test_share_matching_counts_a_sample_once() -> None:
    stacks = parse_collapsed(RAW)
    assert share_matching(stacks, r"\(jsonschema/") == pytest.approx(0.6)
    assert share_matching(stacks, r"\(connectors/|\(jsonschema/") == pytest.approx(0.9)
    assert share_matching(stacks, r"nothing") == 0.0


def test_svg_is_well_formed_and_widths_follow_samples() -> None:
    stacks = parse_collapsed(RAW)
    svg = render_svg(stacks, "test <profile>", width=1000)
    root = ET.fromstring(svg)
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("rx") == "2"]
    widths = sorted(float(r.get("width")) for r in rects)
    assert widths[-1] == pytest.approx(1000.0)  # the root frame spans all samples
    assert 600.0 in [round(w) for w in widths]  # validate: 6 of 10 samples
    assert "test &lt;profile&gt;" in svg


def test_folded_round_trips() -> None:
    stacks = parse_collapsed(RAW)
    assert parse_collapsed(folded(stacks.items())) == stacks
