"""The pure parts of the capacity benchmark (bench/capacity.py): schedule, users, figures, verdict.

Why separate: these decide what the capacity table says (when a webhook arrives, which fake user
sends it, how a lost webhook counts, which rate is "inside Meta's guidance"), so they are
unit-tested without processes (tests/unit/bench/test_capacity.py), while bench/capacity.py only
starts the stack and sends.

Meta's guidance for webhook endpoints (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks
and the Cloud API's performance notes): answer with a median under 250 ms and fewer than 1 % of
answers over 1 s; a POST not answered within about 10 s counts as failed and is retried later.
"""
from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.common import due_times, summarize

__all__ = [
    "META_MEDIAN_S",
    "META_SLOW_S",
    "META_SLOW_SHARE",
    "LOST_AFTER_S",
    "arrival_offsets",
    "UserPool",
    "latencies_with_lost",
    "level_figures",
    "highest_rate",
    "capacity_verdict",
    "metric_delta",
    "histogram_share_over",
    "replace_doc_section",
]

META_MEDIAN_S = 0.25  # median webhook answer below this
META_SLOW_S = 1.0  # ... and fewer than META_SLOW_SHARE of answers over this
META_SLOW_SHARE = 0.01
LOST_AFTER_S = 10.0  # Meta gives up on a POST after about this long and retries later
DEFAULT_P99_LIMIT_S = 5.0
_NAN = float("nan")


# -- load -------------------------------------------------------------------------------------
def arrival_offsets(rate: float, seconds: float, *, poisson: bool = False, seed: int = 11) -> list[float]:
    """Send offsets (seconds from the level's start) at offered ``rate`` per second for ``seconds``.

    Evenly spaced is bench/common.py's ``due_times``; Poisson draws exponential gaps (mean
    ``1 / rate``) from a seeded generator, so a run is repeatable and bursts like real traffic.
    Either way the schedule is fixed before sending (open loop): a slow server cannot slow it down.
    """
    if not poisson:
        return due_times(rate, seconds)
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    rng = random.Random(seed)
    offsets: list[float] = []
    at = rng.expovariate(rate)
    while at < seconds:
        offsets.append(at)
        at += rng.expovariate(rate)
    return offsets


class UserPool:
    """Fake users that, like phones, never have two messages in flight.

    An arrival takes the user idle longest (so users walk through the script in turn); when every
    user is waiting for an answer, a new user joins (numbers count up from ``first_number``), so
    arrivals are never delayed: the load stays open loop however slow the answers get. A user
    leaves after ``max_steps`` messages (None: never), so conversations stay as short as real ones
    and a slow rate is not one ever-growing tracker.
    """

    def __init__(self, first_number: int, max_steps: int | None = None) -> None:
        self._next_number = first_number
        self._max_steps = max_steps
        self._idle: deque[str] = deque()
        self._busy: set[str] = set()
        self.steps: dict[str, int] = {}

    def acquire(self) -> tuple[str, int]:
        """(user, step): the user who sends the next message and how many it sent before."""
        if self._idle:
            user = self._idle.popleft()
        else:
            user = str(self._next_number)
            self._next_number += 1
            self.steps[user] = 0
        self._busy.add(user)
        step = self.steps[user]
        self.steps[user] = step + 1
        return user, step

    def release(self, user: str) -> None:
        """``user``'s message was answered (or given up on): it may send again."""
        self._busy.discard(user)
        if self._max_steps is None or self.steps[user] < self._max_steps:
            self._idle.append(user)

    @property
    def size(self) -> int:
        """How many users have sent so far."""
        return len(self.steps)


# -- figures ----------------------------------------------------------------------------------
def latencies_with_lost(latencies: Iterable[float | None], lost_after: float = LOST_AFTER_S) -> list[float]:
    """Each POST's latency in seconds, a failed or lost one (``None`` or over ``lost_after``) as ``lost_after``.

    Why: a webhook that was refused (503), failed or not answered in time is, for the user, a
    message at least that late (Meta retries it later); leaving it out would make an overloaded
    level look fast.
    """
    return [lost_after if value is None or value > lost_after else value for value in latencies]


def level_figures(offered: float, seconds: float, latencies: Sequence[float | None], wall: float,
                  lost_after: float = LOST_AFTER_S) -> dict[str, Any]:
    """One table row's figures from the POSTs of a level (``None`` = failed: non-2xx or no answer).

    Achieved rate is answered-OK POSTs over the level's wall time (first send to last answer), so
    it falls below the offered rate when the instances cannot keep up.
    """
    counted = latencies_with_lost(latencies, lost_after)
    ok = sum(1 for v in latencies if v is not None and v <= lost_after)
    stats = summarize(counted)
    return {
        "offered_rate": offered,
        "seconds": seconds,
        "posts": len(latencies),
        "ok": ok,
        "failed": len(latencies) - ok,
        "achieved_rate": ok / wall if wall > 0 else 0.0,
        "p50_s": stats["p50"],
        "p99_s": stats["p99"],
        "max_s": stats["max"],
        "share_over_1s": (sum(1 for v in counted if v > META_SLOW_S) / len(counted)) if counted else _NAN,
    }


def _inside_meta(row: Mapping[str, Any]) -> bool:
    # failed and lost POSTs already count as 10 s, i.e. as over 1 s
    return row["posts"] > 0 and row["p50_s"] < META_MEDIAN_S and row["share_over_1s"] < META_SLOW_SHARE


def highest_rate(rows: Sequence[Mapping[str, Any]], ok: Any) -> float | None:
    """The highest offered rate at which ``ok(row)`` holds for it and every lower rate (None: not even the lowest).

    Why "and every lower rate": on a noisy shared machine a lucky high level after a bad lower one
    would overstate capacity; capacity is the rate up to which it held throughout.
    """
    best = None
    for row in sorted(rows, key=lambda r: r["offered_rate"]):
        if not ok(row):
            break
        best = row["offered_rate"]
    return best


def capacity_verdict(instances: int, rows: Sequence[Mapping[str, Any]], p99_limit_s: float = DEFAULT_P99_LIMIT_S) -> str:
    """One line per instance count: the highest rate inside Meta's guidance, and under the p99 limit."""
    meta = highest_rate(rows, _inside_meta)
    tolerable = highest_rate(rows, lambda r: r["posts"] > 0 and r["p99_s"] < p99_limit_s)

    def rate(value: float | None) -> str:
        return "none of the rates tried" if value is None else f"{value:g} msgs/s"

    return (f"Verdict, {instances} instance{'s' if instances != 1 else ''}: inside Meta's guidance (median < "
            f"{META_MEDIAN_S * 1000:.0f} ms, < {META_SLOW_SHARE * 100:.0f} % over {META_SLOW_S:.0f} s, failures counted as "
            f"slow) "
            f"up to {rate(meta)}; p99 < {p99_limit_s:g} s up to {rate(tolerable)}.")


# -- metrics (Prometheus text format) -------------------------------------------------------------
_SAMPLE = re.compile(r'^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _samples(text: str) -> Iterable[tuple[str, dict[str, str], float]]:
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or line.startswith("#"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        yield match.group(1), dict(_LABEL.findall(match.group(2) or "")), value


def metric_delta(before: str, after: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """How much samples ``name`` matching ``labels`` grew between two scrapes (summed; NaN if absent after)."""
    def total(text: str) -> float | None:
        found = [v for n, lab, v in _samples(text) if n == name and all(lab.get(k) == w for k, w in (labels or {}).items())]
        return sum(found) if found else None

    end = total(after)
    if end is None:
        return _NAN
    return end - (total(before) or 0.0)


def histogram_share_over(before: str, after: str, name: str, bound: float, labels: Mapping[str, str] | None = None) -> float:
    """Share of a histogram's observations between two scrapes that were above ``bound`` (a bucket edge)."""
    count = metric_delta(before, after, f"{name}_count", labels)
    if not count or math.isnan(count):
        return _NAN
    edge = next((le for le in {lab.get("le") for n, lab, _ in _samples(after) if n == f"{name}_bucket"}
                 if le not in (None, "+Inf") and math.isclose(float(le), bound)), None)
    if edge is None:
        return _NAN
    within = metric_delta(before, after, f"{name}_bucket", {**(labels or {}), "le": edge})
    return 1.0 - within / count


# -- docs -------------------------------------------------------------------------------------
BEGIN = "<!-- bench.capacity: begin (written by python -m bench.capacity --save) -->"
END = "<!-- bench.capacity: end -->"


def replace_doc_section(doc: str, heading: str, generated: str) -> str:
    """``doc`` with the generated block under ``heading`` replaced (or added), hand-written text kept.

    The block sits between two HTML comments; without them it is appended at the end of the
    heading's section (before the next heading of the same level), and without the heading both
    are appended at the end of the document.
    """
    block = f"{BEGIN}\n{generated.strip()}\n{END}"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    level = heading.split(" ", 1)[0]
    lines = doc.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        return (doc.rstrip("\n") + "\n\n" if doc.strip() else "") + f"{heading}\n\n{block}\n"
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("#") and lines[i].split(" ", 1)[0] == level), len(lines))
    body = "".join(lines[start:end]).rstrip("\n")
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + body + f"\n\n{block}\n" + ("\n" + tail if tail else "")
