"""Accuracy of the generated NumPy module against the certified reference, in ULPs.

For every cell variant, in float64 and float32, one random case at the sizes the tests' largest
case uses (hidden 64, input 64, T 50, batch 8; weights N(0, 1/(n + m)), inputs N(0, 1)): the
generated forward and backward against :func:`symlstm.certified.run.reference` (ball arithmetic,
every number certified to 106 bits). For each group of tensors it prints the worst error in
ULPs of the dtype at the group's largest exact magnitude (normwise: the measure the tests
bound), and the worst element-wise error in ULPs of each element's own exact value.

    python benchmarks/codegen_accuracy.py [--hidden 64 --input 64 --steps 50 --batch 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symlstm.cell import Cell, Variant
from symlstm.certified.run import normwise_ulps, reference
from symlstm.codegen.numpy_code import numpy_module

VARIANTS = {
    "textbook": "",
    "peephole": "peephole",
    "coupled": "coupled",
    "no-forget": "no-forget",
    "forget-bias": "forget-bias=1",
    "hard-gate": "gate=hard_sigmoid",
    "hard-gate-relu6": "gate=hard_sigmoid_relu6",
    "softsign": "candidate=softsign,output=softsign",
    "peephole-coupled": "peephole,coupled",
    "peephole-no-forget": "peephole,no-forget",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    n, m, T, B = args.hidden, args.input, args.steps, args.batch
    print(f"hidden {n}, input {m}, T {T}, batch {B}; NumPy {np.__version__}")
    print("normwise ULPs (the tests' bound: 64) | element-wise max ULPs")
    header = f"{'variant':19s} {'dtype':8s} {'y':>6s} {'c_T':>6s} {'params':>7s} {'inputs':>7s}"
    print(f"{header} | {'element-wise':>12s}  reference")
    for name, text in VARIANTS.items():
        variant = Variant.parse(text)
        mod = numpy_module(variant)
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            rng = np.random.default_rng(0)
            shapes = mod.shapes(n, m)
            params = {
                k: (rng.normal(size=s) / np.sqrt(n + m)).astype(dtype) for k, s in shapes.items()
            }
            x = rng.normal(size=(T, B, m)).astype(dtype)
            h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
            dy = rng.normal(size=(T, B, n)).astype(dtype)
            y, _h_T, c_T, cache = mod.forward(params, x, h0, c0)
            grads = mod.backward(params, cache, dy)
            started = time.perf_counter()
            cell = Cell("vector", variant, hidden_size=n, input_size=m)
            ref = reference(cell, params, x, h0, c0, dy=dy)
            took = time.perf_counter() - started
            groups = {
                "y": [(ref.y, y)],
                "c_T": [(ref.c_T, c_T)],
                "params": [(ref.grads[k], grads[k]) for k in mod.PARAMETERS],
                "inputs": [(ref.grads[k], grads[k]) for k in ("x", "h0", "c0")],
            }
            nw = {k: normwise_ulps(v, dtype) for k, v in groups.items()}
            elementwise = max(e.max_ulps(c) for pairs in groups.values() for e, c in pairs)
            row = f"{name:19s} {dtype.name:8s} " + " ".join(
                f"{nw[k]:{6 if k in ('y', 'c_T') else 7}.1f}" for k in groups
            )
            print(f"{row} | {elementwise:12.3g}  {took:.1f} s, {ref.bits} bits")


if __name__ == "__main__":
    main()
