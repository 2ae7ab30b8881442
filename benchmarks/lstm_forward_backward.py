"""LSTM forward + backward in NumPy: the generated module against hand-written code and torch.

One LSTM layer, batch B, hidden size n, input size m, T steps (defaults 64, 256, 256, 100,
float64), loss L = h_1 + … + h_T summed over the batch (dy = 1 for every output h_t), the
gradients with respect to every parameter and to x, h_0 and c_0. In one process this times
(best of ``--repeat`` calls after one warm-up call each, garbage collector off)

* **GEMM-only**: exactly the LSTM's matrix products at the same shapes and nothing else,
  into preallocated outputs: forward X (T·B, m) @ W^T (m, 4n) once, then h (B, n) @ U^T
  (n, 4n) per step; backward dZ_t (B, 4n) @ U (4n, n) per step, then X^T @ dZ, H_prev^T @
  dZ and dZ @ W over all steps. Its operands dZ and H_prev are random stand-ins made
  beforehand. This is the lower bound. The weight gradients' products are in the
  orientation the generated module uses, X^T dZ rather than dZ^T X: OpenBLAS runs it about
  a quarter faster, and a lower bound should not be beaten by reorienting a product;
* **hand-written NumPy**: a straightforward, untuned LSTM (``hand_forward``,
  ``hand_backward`` below): one GEMM for all the input projections, a recurrent GEMM per
  step, a numerically stable sigmoid, BPTT with a recurrent GEMM per step and the weight
  gradients as GEMMs over all steps. It is the baseline;
* **generated**: ``symlstm.codegen.numpy_code.numpy_module()`` (the vector cell), when that module
  imports; otherwise its row says why it is missing;
* **torch.nn.LSTM** on the CPU, same dtype, ``torch.set_num_threads`` = the cores this
  process may use; forward + ``y.sum().backward()`` with gradients for x, h_0 and c_0 too;
* **GEMM-only in torch**: the GEMM-only products with ``torch.matmul``, for scale: torch's
  BLAS (MKL in the PyPI wheels) is not NumPy's. The ratios are to the NumPy GEMM-only row.

The three NumPy rows are timed in rounds (one warm-up call each, then every round times
each of them once), so that a slow spell of a shared machine costs them alike; the two torch
rows likewise, after them (torch has its own thread pool, and switching pools back and forth
costs time). At the end GEMM-only is timed again, and the CPU time that other processes used during
the run is printed (the machine's busy time from /proc/stat less this process's and its
children's), with the hypervisor's steal time. The run counts as steady when the second
GEMM-only time is within 10% of the first and others used at most 5% of the cores' time;
otherwise the times are not a measurement of this code, rerun on an idle machine.

W_k (n, m), U_k (n, n), b_k (n) for the gates k = i, f, g, o (PyTorch's row order) are
drawn once and shared by every variant; torch gets them stacked in its ``weight_ih_l0``,
``weight_hh_l0`` and ``bias_ih_l0`` (``bias_hh_l0`` = 0).

Peak memory of the NumPy variants: tracemalloc (NumPy reports its array buffers to it)
around each one's first forward + backward, started after the inputs and parameters exist,
so it counts what the run allocates and holds at once: caches, temporaries, outputs,
gradients, and whatever a module keeps from one call to the next. torch's
allocations are not reported to tracemalloc; its peak is the growth of the resident set
(VmHWM after the high-water mark is reset, Linux) of a fresh child process over its first
forward + backward, and the hand-written code is measured the same way for its ratio.

``--check`` first compares the hand-written gradients with torch autograd (max |difference|)
and the generated module's outputs and gradients with the hand-written ones (max relative
difference), and exits with 1 if one is above the tolerance (1e-12 for float64).

Run from the repository root::

    python benchmarks/lstm_forward_backward.py [--steps 100] [--batch 64] [--hidden 256]
        [--input 256] [--dtype float64|float32] [--repeat 5] [--seed 0] [--check] [--quick]
        [--no-torch-memory]
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing as mp
import os
import platform
import queue
import re
import resource
import shlex
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# Benchmark the package in this source tree (installed or not): put the repository root first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

GATES = ("i", "f", "g", "o")  # PyTorch's order of the gate rows in weight_ih_l0 / weight_hh_l0
PARAMETERS = tuple(f"{kind}_{k}" for kind in ("W", "U", "b") for k in GATES)
DEFAULTS = {"steps": 100, "batch": 64, "hidden": 256, "input": 256, "repeat": 5}
#: --quick: a smoke run in a few seconds (n ≠ m and odd sizes catch transposed shapes).
QUICK = {"steps": 6, "batch": 3, "hidden": 5, "input": 7, "repeat": 3}
#: The issue's goal for the generated module: time within this factor of GEMM-only.
GEMM_GOAL = 1.25
#: The machine counts as steady when GEMM-only timed again at the end is within this of the first.
STEADY = 0.10
#: … and when other processes used at most this share of the cores' time during the run.
OTHERS = 0.05
#: Seconds a child process may take for the torch memory measurement, start-up included.
CHILD_LIMIT = 300
MB = 2**20


# --- the problem -------------------------------------------------------------------------


@dataclass
class Problem:
    params: dict[str, np.ndarray]  # canonical: W_k (n, m), U_k (n, n), b_k (n,)
    x: np.ndarray  # (T, B, m)
    h0: np.ndarray  # (B, n)
    c0: np.ndarray  # (B, n)
    dy: np.ndarray  # (T, B, n), dL/dh_t for L = sum of every h_t: ones


def make_problem(steps: int, batch: int, hidden: int, inputs: int, dtype: str, seed: int):
    """Weights uniform in ±1/√n (torch's default initialisation), inputs standard normal."""
    rng = np.random.default_rng(seed)
    bound = 1 / math.sqrt(hidden)
    shapes = {"W": (hidden, inputs), "U": (hidden, hidden), "b": (hidden,)}
    params = {
        name: rng.uniform(-bound, bound, shapes[name[0]]).astype(dtype) for name in PARAMETERS
    }
    return Problem(
        params=params,
        x=rng.standard_normal((steps, batch, inputs)).astype(dtype),
        h0=(0.5 * rng.standard_normal((batch, hidden))).astype(dtype),
        c0=(0.5 * rng.standard_normal((batch, hidden))).astype(dtype),
        dy=np.ones((steps, batch, hidden), dtype=dtype),
    )


def stacked(params: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """W (4n, m), U (4n, n) or b (4n,): the gates' blocks stacked in the order i, f, g, o."""
    return np.concatenate([params[f"{kind}_{k}"] for k in GATES])


# --- the hand-written baseline -----------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)), split on the sign of z so exp never sees a large argument."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def hand_forward(params, x, h0, c0):
    """Forward over all T steps: (y (T, B, n), h_T, c_T, cache for hand_backward)."""
    steps, batch, m = x.shape
    n = h0.shape[1]
    W, U, b = stacked(params, "W"), stacked(params, "U"), stacked(params, "b")
    zx = (x.reshape(steps * batch, m) @ W.T + b).reshape(steps, batch, 4 * n)
    gates = np.empty((steps, batch, 4 * n), dtype=x.dtype)  # activated i, f, g, o
    hs = np.empty((steps + 1, batch, n), dtype=x.dtype)  # hs[0] = h_0, hs[t + 1] = h_t
    cs = np.empty((steps + 1, batch, n), dtype=x.dtype)
    tanh_cs = np.empty((steps, batch, n), dtype=x.dtype)
    hs[0], cs[0] = h0, c0
    for t in range(steps):
        z = zx[t] + hs[t] @ U.T
        gates[t, :, : 2 * n] = sigmoid(z[:, : 2 * n])
        gates[t, :, 2 * n : 3 * n] = np.tanh(z[:, 2 * n : 3 * n])
        gates[t, :, 3 * n :] = sigmoid(z[:, 3 * n :])
        i, f, g, o = (gates[t, :, k * n : (k + 1) * n] for k in range(4))
        cs[t + 1] = f * cs[t] + i * g
        tanh_cs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tanh_cs[t]
    cache = {"x": x, "W": W, "U": U, "gates": gates, "hs": hs, "cs": cs, "tanh_cs": tanh_cs}
    return hs[1:], hs[steps], cs[steps], cache


def hand_backward(params, cache, dy):
    """BPTT for the upstream gradients dy = dL/dh_t (T, B, n): a dict of every gradient."""
    x, W, U, gates = cache["x"], cache["W"], cache["U"], cache["gates"]
    hs, cs, tanh_cs = cache["hs"], cache["cs"], cache["tanh_cs"]
    steps, batch, m = x.shape
    n = U.shape[1]
    dz = np.empty_like(gates)  # dL/dz for the pre-activations of i, f, g, o
    dh_next = np.zeros((batch, n), dtype=x.dtype)
    dc_next = np.zeros((batch, n), dtype=x.dtype)
    for t in reversed(range(steps)):
        i, f, g, o = (gates[t, :, k * n : (k + 1) * n] for k in range(4))
        dh = dy[t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_cs[t] ** 2)
        dz[t, :, :n] = dc * g * i * (1 - i)
        dz[t, :, n : 2 * n] = dc * cs[t] * f * (1 - f)
        dz[t, :, 2 * n : 3 * n] = dc * i * (1 - g**2)
        dz[t, :, 3 * n :] = dh * tanh_cs[t] * o * (1 - o)
        dc_next = dc * f
        dh_next = dz[t] @ U
    dz = dz.reshape(steps * batch, 4 * n)
    dW = dz.T @ x.reshape(steps * batch, m)
    dU = dz.T @ hs[:-1].reshape(steps * batch, n)
    db = dz.sum(axis=0)
    grads = {}
    for k, gate in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads[f"W_{gate}"], grads[f"U_{gate}"], grads[f"b_{gate}"] = dW[rows], dU[rows], db[rows]
    grads["x"] = (dz @ W).reshape(steps, batch, m)
    grads["h0"], grads["c0"] = dh_next, dc_next
    return grads


HAND = SimpleNamespace(forward=hand_forward, backward=hand_backward)


def numpy_runner(module, p: Problem) -> Callable[[], tuple]:
    """One forward + backward of a module with the forward/backward API."""

    def run():
        y, h_T, c_T, cache = module.forward(p.params, p.x, p.h0, p.c0)
        grads = module.backward(p.params, cache, p.dy)
        return y, h_T, c_T, grads

    return run


# --- GEMM-only ---------------------------------------------------------------------------


def gemm_runner(p: Problem, seed: int, lib: Any = np) -> Callable[[], tuple]:
    """Exactly the LSTM's matrix products at its shapes, into preallocated outputs, with
    ``lib`` (NumPy, or torch for its BLAS: the same calls exist in both)."""
    array = np.asarray if lib is np else lib.from_numpy
    steps, batch, m = p.x.shape
    n = p.h0.shape[1]
    W, U = array(stacked(p.params, "W")), array(stacked(p.params, "U"))
    X = array(p.x).reshape(steps * batch, m)
    rng = np.random.default_rng(seed + 1)  # stand-ins for dZ and h_{t−1}, made beforehand
    dZ = array(rng.standard_normal((steps, batch, 4 * n)).astype(p.x.dtype))
    H = array(rng.standard_normal((steps, batch, n)).astype(p.x.dtype))

    def run():
        zx = lib.empty((steps * batch, 4 * n), dtype=X.dtype)
        rec = lib.empty((batch, 4 * n), dtype=X.dtype)
        dh = lib.empty((batch, n), dtype=X.dtype)
        lib.matmul(X, W.T, out=zx)
        for t in range(steps):
            lib.matmul(H[t], U.T, out=rec)
        for t in reversed(range(steps)):
            lib.matmul(dZ[t], U, out=dh)
        dz = dZ.reshape(steps * batch, 4 * n)
        return zx, X.T @ dz, H.reshape(steps * batch, n).T @ dz, dz @ W

    return run


# --- torch -------------------------------------------------------------------------------


def torch_runner(p: Problem, threads: int) -> Callable[[], dict]:
    """torch.nn.LSTM with the problem's weights; run() does forward + y.sum().backward()."""
    import torch

    torch.set_num_threads(threads)
    m, n = p.x.shape[2], p.h0.shape[1]
    dtype = getattr(torch, str(p.x.dtype))
    lstm = torch.nn.LSTM(m, n, dtype=dtype)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(stacked(p.params, "W")))
        lstm.weight_hh_l0.copy_(torch.from_numpy(stacked(p.params, "U")))
        lstm.bias_ih_l0.copy_(torch.from_numpy(stacked(p.params, "b")))
        lstm.bias_hh_l0.zero_()
    x = torch.from_numpy(p.x.copy()).requires_grad_()
    h0 = torch.from_numpy(p.h0[None].copy()).requires_grad_()
    c0 = torch.from_numpy(p.c0[None].copy()).requires_grad_()
    leaves = (*lstm.parameters(), x, h0, c0)

    def run():
        for leaf in leaves:
            leaf.grad = None
        y, (h_T, c_T) = lstm(x, (h0, c0))
        y.sum().backward()
        return {"lstm": lstm, "x": x, "h0": h0, "c0": c0, "y": y, "h_T": h_T, "c_T": c_T}

    return run


def torch_results(out: dict, n: int) -> tuple[dict, dict]:
    """(forward outputs, gradients) of a torch run as NumPy arrays, keyed like the others."""
    lstm = out["lstm"]
    forward = {
        "y": out["y"].detach().numpy(),
        "h_T": out["h_T"].detach()[0].numpy(),
        "c_T": out["c_T"].detach()[0].numpy(),
    }
    dW, dU = lstm.weight_ih_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy()
    db = lstm.bias_ih_l0.grad.numpy()
    grads = {}
    for k, gate in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads[f"W_{gate}"], grads[f"U_{gate}"], grads[f"b_{gate}"] = dW[rows], dU[rows], db[rows]
    grads["x"] = out["x"].grad.numpy()
    grads["h0"], grads["c0"] = out["h0"].grad[0].numpy(), out["c0"].grad[0].numpy()
    return forward, grads


# --- measuring ---------------------------------------------------------------------------


def best_times(runs: dict[str, Callable], repeat: int) -> dict[str, float]:
    """Best of ``repeat`` timed calls of each run, garbage collector off.

    One warm-up call each (in turn), then ``repeat`` rounds, each timing every run once:
    a slow spell of the machine then costs every run alike, not the one that ran during it.
    """
    for run in runs.values():
        run()
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    best = dict.fromkeys(runs, math.inf)
    try:
        for _ in range(repeat):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best


def traced_peak(run: Callable) -> int:
    """Peak bytes traced by tracemalloc during one call (what existed before is not traced)."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _rss_child(which: str, sizes: dict, threads: int, out: mp.Queue) -> None:
    """In a fresh process: the resident-set growth over a first forward + backward."""
    try:
        p = make_problem(**sizes)
        run = torch_runner(p, threads) if which == "torch" else numpy_runner(HAND, p)
        gc.collect()
        try:  # "5" resets the peak resident set (VmHWM) to the current one
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
                clear.write("5")
            before, how = _status_kb("VmRSS"), "VmHWM"
        except OSError:  # no reset: the growth of ru_maxrss, a lower bound
            before, how = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
        run()
        after = (
            _status_kb("VmHWM")
            if how == "VmHWM"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
        out.put({"bytes": (after - before) * 1024, "how": how})
    except Exception as err:
        out.put({"error": f"{type(err).__name__}: {err}"})


def rss_growth(which: str, sizes: dict, threads: int) -> dict:
    """{"bytes", "how"} or {"error"}: _rss_child for torch or the hand-written code."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_rss_child, args=(which, sizes, threads, out), daemon=True)
    child.start()
    deadline = time.monotonic() + CHILD_LIMIT
    try:
        while True:
            alive = child.is_alive()  # before the get: a result put just before exiting counts
            try:
                return out.get(timeout=1)
            except queue.Empty:
                if not alive:
                    return {"error": f"the child exited ({child.exitcode}) without a result"}
                if time.monotonic() > deadline:
                    return {"error": f"no result within {CHILD_LIMIT} s"}
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


# --- checks ------------------------------------------------------------------------------


def tolerance(dtype: str) -> float:
    """1e-12 for float64, scaled by the machine epsilon for other dtypes."""
    return 1e-12 * float(np.finfo(dtype).eps / np.finfo(np.float64).eps)


def differences(got: dict, want: dict) -> dict[str, tuple[float, float]]:
    """Per name: (max |got − want|, that over max |want|); NaN where a name is missing."""
    out = {}
    for name, ref in want.items():
        if name not in got:
            out[name] = (math.nan, math.nan)
            continue
        value = np.asarray(got[name])
        if value.shape != ref.shape:
            raise ValueError(f"{name}: shape {value.shape}, expected {ref.shape}")
        diff = float(np.max(np.abs(value - ref)))
        out[name] = (diff, diff / max(float(np.max(np.abs(ref))), np.finfo(ref.dtype).tiny))
    return out


def print_differences(diffs: dict[str, tuple[float, float]], column: int) -> None:
    items = [f"{name} {d[column]:.1e}" for name, d in diffs.items()]
    for start in range(0, len(items), 6):
        print("  " + ", ".join(items[start : start + 6]))


def run_checks(p: Problem, generated, threads: int, torch_note: str | None) -> bool:
    """Hand-written against torch autograd, generated against hand-written; True if all pass."""
    n = p.h0.shape[1]
    tol = tolerance(str(p.x.dtype))
    y, h_T, c_T, grads = numpy_runner(HAND, p)()
    hand = {"y": y, "h_T": h_T, "c_T": c_T, **grads}
    ok = True
    if torch_note is None:
        forward, torch_grads = torch_results(torch_runner(p, threads)(), n)
        diffs = differences(hand, {**forward, **torch_grads})
        worst = max(d[0] for d in diffs.values())
        scale = max(1.0, *(float(np.max(np.abs(v))) for v in hand.values()))
        relative = max(d[1] for d in diffs.values())
        passed = worst <= tol * scale
        ok &= passed
        print("Check: hand-written NumPy against torch autograd, max |difference|:")
        print_differences(diffs, 0)
        print(
            f"  largest {worst:.1e} (largest |value| {scale:.3g}, tolerance {tol:.0e} of that): "
            f"{'OK' if passed else 'FAILED'}; largest relative to its quantity {relative:.1e}"
        )
    else:
        print(f"Check: hand-written against torch skipped ({torch_note})")
    if generated is None:
        print("Check: generated module not available, not checked")
        return ok
    try:
        y, h_T, c_T, grads = numpy_runner(generated, p)()
        diffs = differences({"y": y, "h_T": h_T, "c_T": c_T, **grads}, hand)
    except Exception as err:
        print(f"Check: generated module FAILED: {type(err).__name__}: {err}")
        return False
    worst = max(d[1] for d in diffs.values())
    passed = worst <= tol  # NaN (a missing name) fails too
    print("Check: generated against hand-written, max |difference| / max |hand-written|:")
    print_differences(diffs, 1)
    print(f"  largest {worst:.1e} (tolerance {tol:.0e}): {'OK' if passed else 'FAILED'}")
    return ok and passed


# --- report ------------------------------------------------------------------------------


def load_generated():
    """(module or None, note): symlstm.codegen.numpy_module() and its build time, or why not."""
    try:
        from symlstm.codegen.numpy_code import numpy_module
    except Exception as err:  # not written yet, or broken: the other rows still run
        return None, f"symlstm.codegen.numpy_code not available ({type(err).__name__}: {err})"
    try:
        start = time.perf_counter()
        module = numpy_module()
        built = time.perf_counter() - start
    except Exception as err:
        return None, f"numpy_module() failed ({type(err).__name__}: {err})"
    return module, f"generated module built in {built:.2f} s (not timed)"


def torch_available() -> tuple[str | None, str | None]:
    """(torch version and BLAS, None) or (None, why torch is not measured)."""
    try:
        import torch
    except Exception as err:
        return None, f"torch not available ({type(err).__name__}: {err})"
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return f"{torch.__version__} (BLAS: {blas[1] if blas else 'unknown'})", None


def cpu_account() -> dict[str, float] | None:
    """CPU seconds so far: the machine's busy time, steal, and this process's with children.

    Over a run, busy time minus this process's own is what other processes used: a run
    with others busy on the same cores is not a measurement of this code.
    """
    own = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal …: busy = all but idle and iowait
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return {"busy": busy / tick, "steal": ticks[7] / tick, "own": own}


def machine_line(first: float, again: float, cpu: dict | None, wall: float, cores: int) -> str:
    """Was the machine steady and free of other work during the run?"""
    speed = abs(again / first - 1) <= STEADY
    text = f"Machine: GEMM-only timed again at the end, {again:#.4g} s (×{again / first:.2f})"
    end = cpu_account() if cpu is not None else None
    others = None
    if end is not None:
        others = (end["busy"] - cpu["busy"]) - (end["own"] - cpu["own"])
        text += (
            f"; other processes used {max(others, 0):.1f} CPU-s of the run's "
            f"{wall * cores:.1f} ({wall:.1f} s × {cores} cores), "
            f"steal {end['steal'] - cpu['steal']:.1f} s"
        )
    if first < 0.01:
        return text + ": too short to judge"
    busy = others is not None and others > OTHERS * wall * cores
    return text + (": NOT STEADY, rerun on an idle machine" if busy or not speed else ": steady")


def blas_line() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:
        return "NumPy BLAS: unknown"
    config = blas.get("openblas configuration")
    return f"NumPy BLAS: {blas.get('name')} {blas.get('version')}" + (
        f" ({config.strip()})" if config else ""
    )


def _cores() -> int:
    """The cores this process may use (what ``nproc`` prints), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def table(rows: list[dict], gemm: float, hand: dict) -> str:
    head = (
        "variant",
        "best time (s)",
        "× GEMM-only",
        "× hand-written",
        "peak MB",
        "peak × hand-written",
    )
    body = []
    for r in rows:
        if r.get("time") is None:
            body.append([r["name"], r.get("note", "—"), "—", "—", "—", "—"])
            continue
        peak, ratio = "—", "—"
        if r.get("peak") is not None:
            peak = f"{r['peak'] / MB:#.4g}" + (" (RSS)" if r.get("rss") else "")
            base = hand.get("rss_bytes") if r.get("rss") else hand["peak"]
            if base:
                ratio = f"{r['peak'] / base:.3f}" + (" (RSS)" if r.get("rss") else "")
        elif r.get("peak_note"):
            peak = r["peak_note"]
        body.append(
            [
                r["name"],
                f"{r['time']:#.4g}",
                f"{r['time'] / gemm:.2f}",
                f"{r['time'] / hand['time']:.2f}",
                peak,
                ratio,
            ]
        )
    widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    rule = "|" + "-" * (widths[0] + 2) + "|" + "|".join("-" * (w + 1) + ":" for w in widths[1:])
    return "\n".join([line(head), rule + "|", *map(line, body)])


def goal_line(gen: dict, hand: dict, gemm: float, torch_time: float | None) -> str:
    def verdict(ok: bool) -> str:
        return "yes" if ok else "NO"

    parts = [
        f"time ≤ hand-written: {verdict(gen['time'] <= hand['time'])} "
        f"(×{gen['time'] / hand['time']:.2f})",
    ]
    if torch_time is not None:
        parts.append(
            f"below torch: {verdict(gen['time'] < torch_time)} (×{gen['time'] / torch_time:.2f})"
        )
    parts.append(
        f"within {GEMM_GOAL}× GEMM-only: {verdict(gen['time'] <= GEMM_GOAL * gemm)} "
        f"(×{gen['time'] / gemm:.2f})"
    )
    parts.append(
        f"peak ≤ hand-written: {verdict(gen['peak'] <= hand['peak'])} "
        f"(×{gen['peak'] / hand['peak']:.3f})"
    )
    return "Goal (generated module): " + "; ".join(parts) + "."


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    quick = ", ".join(f"{k} {v}" for k, v in QUICK.items())
    for name, what in (
        ("steps", "T, time steps"),
        ("batch", "B, batch size"),
        ("hidden", "n, hidden size"),
        ("input", "m, input size"),
    ):
        parser.add_argument(
            f"--{name}", type=int, help=f"{what} (default {DEFAULTS[name]}; --quick: {QUICK[name]})"
        )
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"best of N timed runs (default {DEFAULTS['repeat']}; --quick: {QUICK['repeat']})",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs (default 0)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="first check the gradients: hand-written against torch, generated against "
        "hand-written; exit status 1 if a check fails",
    )
    parser.add_argument("--quick", action="store_true", help=f"a tiny smoke run ({quick})")
    parser.add_argument(
        "--no-torch-memory",
        action="store_true",
        help="skip the child processes that measure torch's peak resident set",
    )
    args = parser.parse_args(argv)
    for name, default in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    command = sys.orig_argv if argv is None else [sys.executable, __file__, *argv]
    threads = _cores()
    torch_version, torch_note = torch_available()
    sizes = {
        "steps": args.steps,
        "batch": args.batch,
        "hidden": args.hidden,
        "inputs": args.input,
        "dtype": args.dtype,
        "seed": args.seed,
    }
    p = make_problem(**sizes)
    generated, generated_note = load_generated()
    cpu = cpu_account()
    wall = time.perf_counter()

    print(f"$ {shlex.join(command)}")
    print(
        f"T = {args.steps}, B = {args.batch}, n = {args.hidden}, m = {args.input}, {args.dtype}; "
        f"loss = sum of every h_t; best of {args.repeat} after 1 warm-up"
    )
    print(
        f"{threads} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"torch {torch_version or 'not available'}"
    )
    print(blas_line())
    print(generated_note)
    print()

    # Peaks first: each variant's first call is the traced one, so memory that a module
    # keeps from one call to the next counts too.
    numpy_runs = {"gemm": gemm_runner(p, args.seed), "hand": numpy_runner(HAND, p)}
    peaks = {name: traced_peak(run) for name, run in numpy_runs.items()}
    gen_name = "generated (symlstm.codegen)"
    gen_row = {"name": gen_name, "note": "not available"}
    if generated is not None:
        try:
            peaks["gen"] = traced_peak(numpy_runner(generated, p))
        except Exception:
            traceback.print_exc()
            print()
            gen_row["note"] = "failed (see above)"
        else:
            numpy_runs["gen"] = numpy_runner(generated, p)

    ok = True
    if args.check:
        ok = run_checks(p, generated, threads, torch_note)
        print()

    # The NumPy variants share OpenBLAS's threads and run in rounds; torch's two rows, with
    # their own thread pool, run in rounds after them (switching pools costs a while).
    times = best_times(numpy_runs, args.repeat)
    gemm = {"name": "GEMM-only", "time": times["gemm"], "peak": peaks["gemm"]}
    hand = {"name": "hand-written NumPy", "time": times["hand"], "peak": peaks["hand"]}
    gen = None
    if "gen" in numpy_runs:
        gen = gen_row = {"name": gen_name, "time": times["gen"], "peak": peaks["gen"]}
    rows = [gemm, hand, gen_row]
    torch_time = None
    notes = []
    if torch_note is None:
        import torch

        blas = torch_version.split("BLAS: ")[1].rstrip(")")
        times = best_times(
            {
                "torch": torch_runner(p, threads),  # sets torch's threads for both
                "torch_gemm": gemm_runner(p, args.seed, torch),
            },
            args.repeat,
        )
        torch_time = times["torch"]
        row = {"name": f"torch.nn.LSTM (CPU, {threads} threads)", "time": torch_time}
        if args.no_torch_memory:
            row["peak_note"] = "not measured"
        else:
            measured = {w: rss_growth(w, sizes, threads) for w in ("torch", "hand")}
            errors = [f"{w}: {m['error']}" for w, m in measured.items() if "error" in m]
            if errors:
                row["peak_note"] = "not measured"
                notes.append("torch peak not measured: " + "; ".join(errors))
            else:
                row.update(peak=measured["torch"]["bytes"], rss=True)
                hand["rss_bytes"] = measured["hand"]["bytes"]
                notes.append(
                    f"(RSS): growth of the peak resident set ({measured['torch']['how']}) of a "
                    f"fresh child process over its first forward + backward, one-time set-up "
                    f"included; the hand-written code measured so: {hand['rss_bytes'] / MB:.3g} MB"
                )
        rows.append(row)
        rows.append({"name": f"GEMM-only in torch ({blas})", "time": times["torch_gemm"]})
        rows[-1]["peak_note"] = "—"
        notes.append(
            "GEMM-only in torch: the GEMM-only products with torch.matmul, for scale only; "
            "the ratios are to the NumPy GEMM-only row"
        )
    else:
        rows.append({"name": "torch.nn.LSTM", "note": "not available"})
        notes.append(torch_note)
    again = best_times({"gemm": numpy_runs["gemm"]}, args.repeat)["gemm"]

    print(table(rows, gemm["time"], hand))
    print()
    notes.insert(
        0,
        "peak MB without (RSS): tracemalloc over the first forward + backward, inputs and "
        "parameters excluded; GEMM-only counts only its outputs",
    )
    for note in notes:
        print(note)
    print(machine_line(gemm["time"], again, cpu, time.perf_counter() - wall, threads))
    if gen is not None:
        print(goal_line(gen, hand, gemm["time"], torch_time))
    if not ok:
        print("A CHECK FAILED (see above).")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
