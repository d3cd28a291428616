"""Shared helpers of the benchmarks: timing, percentiles, open-loop pacing, tables, JSON, plots.

Why one small module: every benchmark must report the same statistics the same way (medians
and high percentiles, computed identically), write into one results file and print tables that
put each figure next to its target, so the figures of different benchmarks can be compared and
copied into docs/performance.md without translation.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "RESULTS_FILE",
    "PLOT_FILE",
    "percentile",
    "summarize",
    "per_op_microseconds",
    "due_times",
    "run_open_loop",
    "achieved_rate",
    "format_table",
    "print_table",
    "verdict",
    "machine_info",
    "save_section",
    "load_results",
    "plot_latency",
    "parse_list",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
RESULTS_FILE = RESULTS_DIR / "results.json"
PLOT_FILE = RESULTS_DIR / "latency.png"


# -- statistics -------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default (``method="linear"``), so figures can be checked with
    numpy; written out because the benchmarks must not depend on numpy being importable.
    Raises ``ValueError`` for no values or ``p`` outside 0..100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= p <= 100.0:
        raise ValueError("p must be between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of ``values`` times ``scale`` (e.g. 1000 for s -> ms).

    An empty sample gives NaN statistics rather than an error, so a benchmark step in which
    every request failed still produces a row (its error count says why).
    """
    if not values:
        nan = float("nan")
        return {"n": 0, "p50": nan, "p95": nan, "p99": nan, "max": nan, "mean": nan}
    scaled = [v * scale for v in values]
    return {
        "n": len(scaled),
        "p50": percentile(scaled, 50),
        "p95": percentile(scaled, 95),
        "p99": percentile(scaled, 99),
        "max": max(scaled),
        "mean": statistics.fmean(scaled),
    }


def per_op_microseconds(fn: Callable[[], Any], *, number: int, repeat: int) -> list[float]:
    """timeit-style: ``repeat`` timings of ``number`` calls each, as microseconds per call.

    Report the median (or min) of the list: on a shared machine single timings are noisy, and
    the median of several batches is robust against another process taking the core briefly.
    """
    if number < 1 or repeat < 1:
        raise ValueError("number and repeat must be at least 1")
    results: list[float] = []
    clock = time.perf_counter
    for _ in range(repeat):
        started = clock()
        for _ in range(number):
            fn()
        results.append((clock() - started) / number * 1e6)
    return results


# -- open-loop pacing -------------------------------------------------------------------------
def due_times(rate: float, seconds: float) -> list[float]:
    """Send offsets (seconds from the start) for a fixed offered rate: ``i / rate``.

    Open loop means the schedule is fixed in advance by the clock, not by responses, so a slow
    server cannot slow the load down and hide its own latency (coordinated omission).
    """
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    count = int(round(rate * seconds))
    return [index / rate for index in range(count)]


async def run_open_loop(
    rate: float,
    seconds: float,
    fire: Callable[[int, float], Awaitable[Any]],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[Any], list[float]]:
    """Call ``fire(index, scheduled_at)`` on the schedule of :func:`due_times`, without waiting.

    Each call becomes a task at its due time; the next one is scheduled regardless of whether
    earlier ones finished. Returns (results of every task in index order, lateness in seconds of
    each start against its schedule). ``scheduled_at`` is on ``clock``'s scale; latency should be
    measured from it, not from the actual start, so that a late sender counts against the
    system rather than disappearing from the figures.
    """
    offsets = due_times(rate, seconds)
    start = clock() + 0.01
    tasks: list[asyncio.Task[Any]] = []
    lateness: list[float] = []
    for index, offset in enumerate(offsets):
        due = start + offset
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness.append(max(0.0, clock() - due))
        tasks.append(asyncio.ensure_future(fire(index, due)))
    results = await asyncio.gather(*tasks)
    return list(results), lateness


def achieved_rate(start_times: Sequence[float]) -> float:
    """Requests per second actually started: (n - 1) / (last - first); 0 for fewer than two."""
    if len(start_times) < 2:
        return 0.0
    span = max(start_times) - min(start_times)
    return (len(start_times) - 1) / span if span > 0 else float("inf")


# -- tables -----------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (pipe-separated, right-aligned numbers), readable in a terminal too.

    Floats get 3 significant-ish digits (``12.3``, ``1.23``, ``123``); NaN prints as ``-``.
    """
    text_rows = [[_cell(value) for value in row] for row in rows]
    for row in text_rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, expected {len(headers)}")
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in text_rows) and bool(text_rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric)) + " |"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in text_rows)])


def _is_number(text: str) -> bool:
    if text == "-":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Print ``title`` and the table; return the table text (for the results file)."""
    table = format_table(headers, rows)
    print(f"\n### {title}\n\n{table}\n", flush=True)
    return table


def verdict(ok: bool | None) -> str:
    """``met`` / ``MISSED`` / ``n/a``: the word printed next to a figure and its target."""
    if ok is None:
        return "n/a"
    return "met" if ok else "MISSED"


# -- results file -----------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPUs, load when measured, Python and platform."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(v, 2) for v in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "shared machine: other jobs run at the same time, figures are noisy",
    }


def load_results(path: Path = RESULTS_FILE) -> dict[str, Any]:
    """The results file as a dict ({} when missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_section(name: str, section: Mapping[str, Any], path: Path = RESULTS_FILE) -> Path:
    """Replace benchmark ``name``'s section of the results file, keeping the others.

    Each module runs alone too, so each writes only its own section; the section records when
    and on what machine state it was measured.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = load_results(path)
    data[name] = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **section,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default), encoding="utf-8")
    tmp.replace(path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- plot -------------------------------------------------------------------------------------
def plot_latency(results: Mapping[str, Any], path: Path = PLOT_FILE) -> Path | None:
    """latency.png: webhook ack latency against offered rate, turn latency against concurrency.

    Returns the path, or None when there is nothing to plot. Uses the Agg backend (no display).
    """
    ack_rows = (results.get("webhook_ack") or {}).get("rows") or []
    turn_rows = (results.get("turns") or {}).get("rows") or []
    if not ack_rows and not turn_rows:
        return None
    with warnings.catch_warnings():  # matplotlib 3.7 with a newer pyparsing warns on import
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ack_ax, turn_ax = axes
    if ack_rows:
        rates = [row["offered_rate"] for row in ack_rows]
        for key, style in (("p50_ms", "o-"), ("p99_ms", "s-"), ("max_ms", "^:")):
            ack_ax.plot(rates, [_num(row.get(key)) for row in ack_rows], style, label=key.replace("_ms", ""))
        target = (results.get("webhook_ack") or {}).get("target_p99_ms")
        if target:
            ack_ax.axhline(target, color="red", linestyle="--", linewidth=1, label=f"target p99 {target} ms @200/s")
        ack_ax.set_yscale("log")
    ack_ax.set_title("Status webhook acknowledgement (1 instance, SQLite)")
    ack_ax.set_xlabel("offered rate (requests/s, open loop)")
    ack_ax.set_ylabel("latency (ms, log scale)")
    ack_ax.grid(True, which="both", alpha=0.3)
    ack_ax.legend(fontsize=8)

    variants = list(dict.fromkeys(row["variant"] for row in turn_rows))
    for variant in variants:
        rows = sorted((r for r in turn_rows if r["variant"] == variant), key=lambda r: r["concurrency"])
        conc = [r["concurrency"] for r in rows]
        line = turn_ax.plot(conc, [_num(r.get("p50_ms")) for r in rows], "o-", label=f"{variant} p50")[0]
        turn_ax.plot(conc, [_num(r.get("p99_ms")) for r in rows], "s--", color=line.get_color(), label=f"{variant} p99")
    turn_ax.set_title("Dialogue turn latency (closed loop)")
    turn_ax.set_xlabel("concurrent users")
    turn_ax.set_ylabel("latency (ms, log scale)")
    turn_ax.set_xscale("log")
    turn_ax.set_yscale("log")
    turn_ax.grid(True, which="both", alpha=0.3)
    if variants:
        turn_ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


# -- command lines ----------------------------------------------------------------------------
def parse_list(text: str, kind: Callable[[str], Any] = int) -> list[Any]:
    """``"50,200,500"`` -> ``[50, 200, 500]`` for comma-separated command-line options."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("empty list")
    return [kind(item) for item in items]
