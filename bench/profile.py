"""Where the Rasa process spends its CPU under load: py-spy profiles, before and after our hot-path fixes.

Why: issue 12 asks for the next items to come from a profile under load, not from guessing,
and for the profile before and after in docs/performance.md. Two WhatsApp/SQLite stacks are
started side by side with the same model: ``before`` runs Rasa 3.6's own turn
(``BLAUPAUSE_RASA_HOT_PATH=off``: every custom action result validated by ``jsonschema.validate``),
``after`` runs with :func:`rasa_compat.install_hot_path` (the default). Optionally (``--rest``) the
stock REST channel with the in-memory store is profiled too. Each variant gets the same closed
loop (bench/closed_loop.py's users and script) while py-spy samples its Rasa process
(https://github.com/benfred/py-spy, ``record --format raw``: collapsed stacks; idle threads are not
sampled, so shares are shares of the CPU the process used).

Prints per variant the top frames by inclusive time, the share of samples in known items
(jsonschema validation, NLU, the tracker store, crypto, logging) and writes a flame graph SVG per
variant to ``docs/profiles/`` (``--save`` also stores the figures in bench/results/results.json).

Run: ``python -m bench.profile [--users 10] [--seconds 40] [--rest] [--save]`` (about 4 minutes, 2 of
them loading Rasa). py-spy needs ptrace rights over the Rasa process (root, or
``kernel.yama.ptrace_scope=0``).
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.closed_loop import run_level
from bench.common import ROOT, print_table, save_section
from bench.flamegraph import Stacks, parse_collapsed, render_svg, share_matching, top_frames
from bench.turn_drivers import SCRIPT, Driver, RestDriver, WhatsAppDriver
from bench.turn_stacks import BenchStacks
from harness.local_stack import LocalStack

PROFILE_DIR = ROOT / "docs" / "profiles"
RAW_DIR = ROOT / "bench" / "results" / "profiles"  # the collapsed stacks, kept for other tools (not committed)
SPINE = 0.6  # frames on more than this share of the stacks are the call spine, not an item

#: Named items: a regular expression over frames "func (path)"; a sample counts if any frame matches.
ITEMS: dict[str, str] = {
    "action result validation (jsonschema)": r"\(jsonschema/|_validate_action_result",
    "NLU pipeline (featurizers, DIET)": r"\(rasa/nlu/|tensorflow/",
    "policies (TED, rules, memoization)": r"\(rasa/core/policies/",
    "tracker store (load/save, incl. SQL)": r"\(privacy/store/|sqlalchemy/",
    "sealing and key derivation": r"\(privacy/(sealing|keyring|identity|records)|cryptography/",
    "action server call (aiohttp)": r"\(aiohttp/",
    "Graph API send (httpx, pywa)": r"\(httpx/|httpcore/|pywa/",
    "logging": r"\(logging/",
    "our channel (connectors/whatsapp)": r"\(connectors/whatsapp/",
}


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (it is in requirements.lock: run `make setup`)")
    return found


async def _load_while(driver: Driver, recorder: subprocess.Popen, users: int, first_number: int) -> int:
    """Closed-loop levels with ``users`` fresh users until the recorder ends; returns turns sent."""
    turns = 0
    number = first_number
    while recorder.poll() is None:
        batch = [str(number + i) for i in range(users)]
        number += users
        done, _, _ = await run_level(driver, batch, len(SCRIPT))
        turns += len(done)
    return turns


async def profile_variant(name: str, driver: Driver, pid: int, *, users: int, seconds: float, rate: int,
                          first_number: int, workdir: Path) -> dict[str, Any]:
    await run_level(driver, [str(first_number - 1)], len(SCRIPT))  # warm-up: lazy code paths loaded
    raw = workdir / f"{name}.txt"
    recorder = subprocess.Popen(
        [_py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
         "--format", "raw", "--nonblocking", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    started = time.time()
    turns = await _load_while(driver, recorder, users, first_number)
    wall = time.time() - started
    _, errors = recorder.communicate()
    if recorder.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed for {name}: {errors.decode(errors='replace')[-400:]}")
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, RAW_DIR / f"rasa-{name}.txt")
    stacks = parse_collapsed(raw.read_text(encoding="utf-8"))
    return {"name": name, "stacks": stacks, "turns": turns, "wall_s": wall, "samples": sum(stacks.values())}


def _report(results: Sequence[dict[str, Any]], save_svg: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for result in results:
        stacks: Stacks = result["stacks"]
        # The call spine (Sanic, the route, Rasa's handle_message) is on every stack: the table
        # shows the frames below it, by inclusive share, and separately the leaves by self share.
        rows = [row for row in top_frames(stacks, 60, by="total") if row.total_share < SPINE][:15]
        print_table(
            f"{result['name']}: top frames below the call spine, by inclusive share ({result['samples']} samples, "
            f"{result['turns']} turns in {result['wall_s']:.0f} s, "
            f"{result['samples'] / max(result['turns'], 1):.1f} samples/turn)",
            ["frame", "total %", "self %"],
            [(row.frame[:110], f"{row.total_share:.1%}", f"{row.self_share:.1%}") for row in rows],
        )
        leaves = top_frames(stacks, 15, by="self")
        print_table(f"{result['name']}: top frames by self share (where the CPU is spent)", ["frame", "self %", "total %"],
                    [(row.frame[:110], f"{row.self_share:.1%}", f"{row.total_share:.1%}") for row in leaves])
        items = {item: share_matching(stacks, pattern) for item, pattern in ITEMS.items()}
        summary[result["name"]] = {
            "samples": result["samples"], "turns": result["turns"],
            "samples_per_turn": result["samples"] / max(result["turns"], 1),
            "items": items,
            "top_total": [(r.frame, r.total_share, r.self_share) for r in rows],
            "top_self": [(r.frame, r.total_share, r.self_share) for r in leaves],
        }
        if save_svg:
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            svg = PROFILE_DIR / f"rasa-{result['name']}.svg"
            svg.write_text(render_svg(stacks, f"Rasa process, {result['name']}"), encoding="utf-8")
            summary[result["name"]]["svg"] = str(svg.relative_to(ROOT))
    names = [r["name"] for r in results]
    print_table("share of the Rasa process's samples per item (a sample may count for several items)",
                ["item", *names],
                [(item, *(f"{summary[n]['items'][item]:.1%}" for n in names)) for item in ITEMS])
    print_table("samples per turn (CPU time per turn at the sampling rate)", ["variant", "samples/turn"],
                [(n, f"{summary[n]['samples_per_turn']:.1f}") for n in names])
    return summary


async def _run(stacks: BenchStacks, before: LocalStack, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    assert stacks.sqlite is not None
    variants: list[tuple[str, Driver, int]] = [
        ("before", WhatsAppDriver("before", before), before.procs["rasa0"].pid),
        ("after", WhatsAppDriver("after", stacks.sqlite), stacks.sqlite.procs["rasa0"].pid),
    ]
    if args.rest:
        rest_pid = stacks.sqlite.procs["rest"].pid
        variants.append(("rest", RestDriver(stacks.rest_url, {"rest": rest_pid}), rest_pid))
    results = []
    for index, (name, driver, pid) in enumerate(variants):
        print(f"profiling {name}: {args.users} users, {args.seconds:.0f} s at {args.rate} Hz", flush=True)
        results.append(await profile_variant(name, driver, pid, users=args.users, seconds=args.seconds,
                                             rate=args.rate, first_number=4915550005001 + index * 100_000,
                                             workdir=workdir))
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--rest", action="store_true", help="also profile stock Rasa's REST channel")
    parser.add_argument("--save", action="store_true", help="write SVGs to docs/profiles/ and the figures to results.json")
    args = parser.parse_args(argv)
    _py_spy()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        workdir = Path(tmp)
        stacks = BenchStacks(workdir, with_pg_redis=False)
        before = LocalStack(workdir=workdir / "before", extra_env={"BLAUPAUSE_RASA_HOT_PATH": "off"})
        before.workdir.mkdir(parents=True, exist_ok=True)
        try:
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(stacks.start, 1200.0), pool.submit(before.start, 1200.0)]:
                    future.result()
            results = asyncio.run(_run(stacks, before, args, workdir))
        finally:
            stacks.stop()
            before.stop()
    summary = _report(results, save_svg=args.save)
    if args.save:
        save_section("profile", {"users": args.users, "seconds": args.seconds, "rate": args.rate, "variants": summary})
    return summary


if __name__ == "__main__":
    main()
