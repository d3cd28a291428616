"""Collapsed stacks (py-spy ``--format raw``) into a top-frames table and a flame graph SVG.

Why our own few lines: py-spy writes either an SVG or collapsed stacks per recording, and we
need both from the same samples (the table for docs/performance.md, the picture beside it);
Brendan Gregg's flamegraph.pl, which py-spy points to, is not a Python package. The format is
Gregg's "folded" one (https://github.com/brendangregg/FlameGraph#2-fold-stacks): one line per
distinct stack, frames from the root to the leaf separated by ``;``, then a space and the count.

Frames are grouped by function and file, without the line number, so that a function's samples
on different lines count as one row.
"""
from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Stacks", "FrameRow", "parse_collapsed", "frame_name", "top_frames", "share_matching", "render_svg", "folded"]

Stacks = Counter  # Counter[tuple[str, ...]] : samples per stack (root first)

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def frame_name(raw: str) -> str:
    """``func (path:line)`` -> ``func (short path)``: site-packages and the repository cut off."""
    match = _FRAME.match(raw.strip())
    if match is None:
        return raw.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    path = re.sub(r"^/work/[^/]+/[^/]+/", "", path)
    return f"{match['func']} ({path})"


def parse_collapsed(text: str) -> Stacks:
    """Samples per stack from py-spy's raw output."""
    stacks: Stacks = Counter()
    for line in text.splitlines():
        line = line.strip()
        if not line or " " not in line:
            continue
        frames, _, count = line.rpartition(" ")
        try:
            samples = int(count)
        except ValueError:
            continue
        stacks[tuple(frame_name(frame) for frame in frames.split(";") if frame)] += samples
    return stacks


@dataclass(frozen=True)
class FrameRow:
    frame: str
    self_share: float  # samples where the frame is the leaf / all samples
    total_share: float  # samples where the frame is anywhere on the stack / all samples


def top_frames(stacks: Stacks, limit: int = 15, *, by: str = "total") -> list[FrameRow]:
    """The ``limit`` frames with most samples, by ``"total"`` (inclusive) or ``"self"`` time."""
    total = sum(stacks.values()) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, samples in stacks.items():
        if not stack:
            continue
        own[stack[-1]] += samples
        for frame in set(stack):
            inclusive[frame] += samples
    ranking = inclusive if by == "total" else own
    return [FrameRow(frame, own[frame] / total, inclusive[frame] / total) for frame, _ in ranking.most_common(limit)]


def share_matching(stacks: Stacks, pattern: str) -> float:
    """The share of samples with at least one frame matching ``pattern`` (a regular expression)."""
    regex = re.compile(pattern)
    total = sum(stacks.values()) or 1
    return sum(samples for stack, samples in stacks.items() if any(regex.search(f) for f in stack)) / total


# ---------------------------------------------------------------------------------- the picture


@dataclass
class _Node:
    samples: int = 0
    children: dict[str, "_Node"] = field(default_factory=dict)


def _tree(stacks: Mapping[tuple[str, ...], int]) -> _Node:
    root = _Node()
    for stack, samples in stacks.items():
        root.samples += samples
        node = root
        for frame in stack:
            node = node.children.setdefault(frame, _Node())
            node.samples += samples
    return root


def _colour(frame: str, ours: Sequence[str]) -> str:
    digest = hashlib.sha256(frame.encode()).digest()
    if any(f"({prefix}" in frame for prefix in ours):  # our modules: blue, the rest warm
        return f"rgb({60 + digest[0] % 40},{120 + digest[1] % 60},{200 + digest[2] % 55})"
    return f"rgb({205 + digest[0] % 50},{90 + digest[1] % 110},{40 + digest[2] % 40})"


def render_svg(stacks: Stacks, title: str, *, width: int = 1200, row: int = 16, min_width: float = 0.5,
               ours: Sequence[str] = ("connectors/", "privacy/", "actions/", "nlu/", "wording/", "rasa_compat")) -> str:
    """A flame graph (root at the bottom) as a standalone SVG; hover shows the frame and its share."""
    root = _tree(stacks)
    total = root.samples or 1
    rects: list[str] = []
    depth_max = 0

    def walk(node: _Node, x: float, depth: int) -> None:
        nonlocal depth_max
        for frame, child in sorted(node.children.items()):
            w = child.samples / total * width
            if w >= min_width:
                depth_max = max(depth_max, depth)
                rects.append(_rect(frame, x, depth, w, child.samples / total, _colour(frame, ours)))
                walk(child, x, depth + 1)
            x += w

    def _rect(frame: str, x: float, depth: int, w: float, share: float, colour: str) -> str:
        label = frame if len(frame) * 6.5 < w - 4 else frame[: max(0, int((w - 4) / 6.5) - 2)] + ".." if w > 20 else ""
        text = html.escape(f"{frame}: {share:.1%}")
        return (f'<g><title>{text}</title><rect x="{x:.1f}" y="{{y{depth}}}" width="{w:.1f}" height="{row - 1}" '
                f'fill="{colour}" rx="2"/><text x="{x + 3:.1f}" y="{{t{depth}}}">{html.escape(label)}</text></g>')

    walk(root, 0.0, 0)
    height = (depth_max + 1) * row + 40
    body = "\n".join(rects)
    for depth in range(depth_max + 1):  # root at the bottom
        y = height - 10 - (depth + 1) * row
        body = body.replace(f"{{y{depth}}}", str(y)).replace(f"{{t{depth}}}", str(y + row - 4))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
            f'font-size="11">\n<rect width="100%" height="100%" fill="#fdfdf6"/>\n'
            f'<text x="6" y="18" font-size="14">{html.escape(title)} ({total} samples)</text>\n{body}\n</svg>\n')


def folded(stacks: Iterable[tuple[tuple[str, ...], int]]) -> str:
    """Back to the folded text (for tests and for other tools)."""
    return "".join(f"{';'.join(stack)} {samples}\n" for stack, samples in stacks)
