"""Backprop through time: size of the structured closed form against naive ``sympy.diff``.

For T = 1, 2, 3, 4, 6, 8, 12, 16, 24, 32 (up to ``--max-steps``) this measures

* the structured closed form, ``structured_gradients(Cell(kind), T)``: its size (the sum of
  ``sympy.count_ops`` over the right-hand sides of its equations) and the time to build it
  (best of ``--repeat`` runs, each with SymPy's cache cleared, after one warm-up call);
* the naive approach: the unrolled loss L = h_1 + … + h_T (from ``unroll(cell, T)``)
  differentiated with ``sympy.diff`` with respect to every parameter of the cell: the size
  (the sum of ``count_ops`` of the derivatives) and the time to build them.

Each naive T runs in a child process under a time limit (``--naive-limit`` seconds) that
covers building *and* counting (``count_ops`` on huge trees is slow too); the clock starts
once the child has imported SymPy and the package. When one T runs out of time the child is
terminated and that T and every larger one are reported as stopped.

Run from the repository root::

    python benchmarks/bptt_expression_size.py [--max-steps 32] [--naive-limit 20]
        [--kind tied|scalar] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import sys
import time
from itertools import pairwise
from pathlib import Path

# Benchmark the package in this source tree (installed or not): put the repository root first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy
from sympy.core.cache import clear_cache

from symlstm.cell import Cell
from symlstm.derive.proofs import structured_gradients, unroll

STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: ops per step (T ≥ 2) counts as constant when max/min is within this factor.
TOLERANCE = 1.05
#: Seconds a child may take to start (spawn, import SymPy and symlstm) before the clock runs.
STARTUP_LIMIT = 120


def structured_size(kind: str, steps: int, repeat: int) -> tuple[int, float]:
    """(sum of count_ops over the equations' right-hand sides, best build time in seconds)."""
    cell = Cell(kind)
    best = math.inf
    for _ in range(repeat):
        clear_cache()  # else a repeat finds the first run's results in SymPy's cache
        start = time.perf_counter()
        eqs = structured_gradients(cell, steps)
        best = min(best, time.perf_counter() - start)
    return sum(sympy.count_ops(eq.rhs, visual=False) for eq in eqs), best


def _naive_child(kind: str, steps: int, out: mp.Queue) -> None:
    """In a child process: build dL/dθ by sympy.diff of the unrolled loss, count it."""
    out.put("ready")
    try:
        cell = Cell(kind)
        start = time.perf_counter()
        loss = sympy.Add(*(step["h"] for step in unroll(cell, steps)))
        derivatives = [sympy.diff(loss, p) for p in cell.parameters.values()]
        built = time.perf_counter() - start
        ops = sum(sympy.count_ops(d, visual=False) for d in derivatives)
        counted = time.perf_counter() - start - built
    except Exception as err:  # report it: a failure is not a timeout
        out.put({"error": f"{type(err).__name__}: {err}"})
        return
    out.put({"ops": ops, "time": built, "count_time": counted})


def naive_size(kind: str, steps: int, limit: float, ctx) -> dict | None:
    """The naive measurement for one T, or None if it ran past ``limit`` seconds."""
    out = ctx.Queue()
    child = ctx.Process(target=_naive_child, args=(kind, steps, out), daemon=True)
    child.start()
    try:
        if out.get(timeout=STARTUP_LIMIT) != "ready":
            raise RuntimeError("unexpected message from the child process")
        result = out.get(timeout=limit)
    except queue.Empty:
        if child.exitcode not in (None, 0):  # it died (killed for memory?) rather than ran long
            raise RuntimeError(f"naive T = {steps}: child exited with {child.exitcode}") from None
        return None
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
    if "error" in result:
        raise RuntimeError(f"naive T = {steps}: {result['error']}")
    return result


def run(kind: str, max_steps: int, naive_limit: float, repeat: int) -> dict:
    steps = [t for t in STEPS if t <= max_steps]
    structured_gradients(Cell(kind), 1)  # warm-up: first-call costs are not the benchmark's
    ctx = mp.get_context("spawn")  # every naive T starts from a clean process (no caches)
    rows = []
    stopped = False
    for t in steps:
        ops, seconds = structured_size(kind, t, repeat)
        row = {"T": t, "structured_ops": ops, "structured_time": seconds, "naive": None}
        if not stopped:
            naive = naive_size(kind, t, naive_limit, ctx)
            stopped = naive is None
            row["naive"] = naive
        row["naive_stopped"] = stopped
        rows.append(row)
        print(f"  T = {t:2d} done", file=sys.stderr, flush=True)
    return {
        "kind": kind,
        "max_steps": max_steps,
        "naive_limit_s": naive_limit,
        "repeat": repeat,
        "machine": machine(),
        "rows": rows,
        "verdict": verdict(rows),
    }


def verdict(rows: list[dict]) -> dict:
    """Structured: does the size grow linearly? Naive: growth factor per added step.

    The structured size is linear when its ops per step (T ≥ 2) are constant within 5%, or
    when the ops added per added step are: a fixed offset (size = a·T + b) leaves the
    increment constant while ops/T drifts towards a.
    """
    out: dict = {}
    per_step = [r["structured_ops"] / r["T"] for r in rows if r["T"] >= 2]
    increments = [
        (b["structured_ops"] - a["structured_ops"]) / (b["T"] - a["T"]) for a, b in pairwise(rows)
    ]
    if len(per_step) >= 2:
        ratio = max(per_step) / min(per_step)
        spread = max(increments) / min(increments) if min(increments) > 0 else math.inf
        a = increments[-1]
        out.update(
            structured_per_step_min=min(per_step),
            structured_per_step_max=max(per_step),
            structured_per_step_max_over_min=ratio,
            structured_per_step_constant=ratio <= TOLERANCE,
            structured_ops_per_added_step=sorted(set(increments)),
            structured_increment_max_over_min=spread,
            structured_increment_constant=spread <= TOLERANCE,
            structured_linear=ratio <= TOLERANCE or spread <= TOLERANCE,
            # size = a·T + b through the last point, exact when the increment is constant
            structured_fit={"a": a, "b": rows[-1]["structured_ops"] - a * rows[-1]["T"]},
        )
    measured = [r for r in rows if r["naive"] is not None]
    if len(measured) >= 2:
        # geometric mean of the per-step size ratios between consecutive measured T
        logs = [
            math.log(b["naive"]["ops"] / a["naive"]["ops"]) / (b["T"] - a["T"])
            for a, b in pairwise(measured)
        ]
        out["naive_growth_per_step"] = math.exp(sum(logs) / len(logs))
        out["naive_measured_T"] = [r["T"] for r in measured]
    return out


def verdict_line(result: dict) -> str:
    v = result["verdict"]
    parts = []
    if "structured_linear" in v:
        band = f"{TOLERANCE - 1:.0%}"
        per_step = (
            f"ops per step {v['structured_per_step_min']:.1f}–{v['structured_per_step_max']:.1f}"
            f" over T ≥ 2 (max/min {v['structured_per_step_max_over_min']:.3f}, "
            f"{'within' if v['structured_per_step_constant'] else 'outside'} {band})"
        )
        inc = v["structured_ops_per_added_step"]
        inc_text = f"{inc[0]:g}" if len(inc) == 1 else f"{min(inc):g}–{max(inc):g}"
        fit = v["structured_fit"]
        increment = f"+{inc_text} ops per added step" + (
            f" (size = {fit['a']:g}·T {'+' if fit['b'] >= 0 else '−'} {abs(fit['b']):g})"
            if v["structured_increment_constant"]
            else ""
        )
        head = "linear" if v["structured_linear"] else "NOT linear"
        parts.append(f"structured: {head}, {increment}; {per_step}")
    else:
        parts.append("structured: too few T ≥ 2 for a verdict")
    if "naive_growth_per_step" in v:
        ts = v["naive_measured_T"]
        parts.append(
            f"naive: ×{v['naive_growth_per_step']:.1f} per added step "
            f"(geometric mean, T = {ts[0]}…{ts[-1]})"
        )
    else:
        parts.append("naive: too few measured T for a growth factor")
    return "Verdict: " + "; ".join(parts) + "."


def table(result: dict) -> str:
    limit = f"stopped (> {result['naive_limit_s']:g} s)"
    head = (
        "T",
        "structured ops",
        "structured ops per step",
        "structured time",
        "naive ops",
        "naive time",
        "naive/structured ops",
    )
    body = []
    for r in result["rows"]:
        s_ops = r["structured_ops"]
        cells = [str(r["T"]), str(s_ops), f"{s_ops / r['T']:.1f}", f"{r['structured_time']:.3f} s"]
        if r["naive"] is not None:
            n = r["naive"]
            cells += [str(n["ops"]), f"{n['time']:.3f} s", f"{n['ops'] / s_ops:.1f}"]
        else:
            cells += [limit, "—", "—"]
        body.append(cells)
    widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(head), rule, *map(line, body)])


def _cores() -> int | None:
    """The cores this process may use (what ``nproc`` prints), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def machine() -> dict:
    return {
        "cores": _cores(),
        "python": platform.python_version(),
        "sympy": sympy.__version__,
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-steps", type=int, default=32, help="largest T (default 32)")
    parser.add_argument(
        "--naive-limit",
        type=float,
        default=20,
        help="seconds each naive T may take, building and counting (default 20)",
    )
    parser.add_argument("--kind", choices=("tied", "scalar"), default="tied")
    parser.add_argument(
        "--repeat", type=int, default=3, help="structured timing: best of N runs (default 3)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error("--max-steps must be at least 1")
    if args.naive_limit <= 0:
        parser.error("--naive-limit must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    result = run(args.kind, args.max_steps, args.naive_limit, args.repeat)
    m = result["machine"]
    print(
        f"Cell({args.kind!r}), loss = h_1 + … + h_T, derivatives w.r.t. every parameter; "
        f"{m['cores']} cores, Python {m['python']}, SymPy {m['sympy']}"
    )
    print()
    print(table(result))
    print()
    print(verdict_line(result))
    if args.json:
        result["verdict_line"] = verdict_line(result)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
