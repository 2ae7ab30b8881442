"""The certified reference's cost against the same pass in float64 NumPy, in one run.

Forward + backward through time of the textbook vector cell (default hidden 64, input 64,
T 100, batch 1; weights N(0, 1/(n + m)), inputs N(0, 1), dL/dh_t = N(0, 1) for every step):

- NumPy: the generated module (``symlstm.codegen.numpy_module()``), float64, best of 20;
- certified: :func:`symlstm.reference.reference` in Arb ball arithmetic on the same float64
  numbers taken exactly, every output and gradient certified to ``--bits`` relative bits
  (default 100, i.e. 30 significant digits), best of 3.

Prints both times, the working precision the reference needed and the ratio.

    python benchmarks/reference_speed.py [--hidden 64 --input 64 --steps 100 --batch 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symlstm.cell import Cell
from symlstm.codegen import numpy_module
from symlstm.reference import reference


def best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--bits", type=int, default=100, help="certified bits (100 ≈ 30 digits)")
    args = parser.parse_args()
    n, m, T, B = args.hidden, args.input, args.steps, args.batch
    rng = np.random.default_rng(0)
    lstm = numpy_module()
    params = {k: rng.normal(size=s) / np.sqrt(n + m) for k, s in lstm.shapes(n, m).items()}
    x = rng.normal(size=(T, B, m))
    dy = rng.normal(size=(T, B, n))

    def numpy_pass() -> None:
        _, _, _, cache = lstm.forward(params, x)
        lstm.backward(params, cache, dy)

    cell = Cell("vector", hidden_size=n, input_size=m)
    results = []

    def certified_pass() -> None:
        results.append(reference(cell, params, x, dy=dy, bits=args.bits))

    numpy_pass()  # warm-up
    numpy_time = best(numpy_pass, 20)
    certified_time = best(certified_pass, 3)
    print(f"$ python {' '.join(sys.argv)}")
    print(f"hidden {n}, input {m}, T {T}, batch {B}; forward + backward; NumPy {np.__version__}")
    print(f"float64 NumPy (generated module), best of 20: {numpy_time * 1e3:9.2f} ms")
    print(
        f"certified to {args.bits} bits, best of 3:       {certified_time * 1e3:9.2f} ms"
        f"  (working precision {results[-1].bits} bits)"
    )
    print(f"ratio: {certified_time / numpy_time:.0f}x (goal: at most 100x)")


if __name__ == "__main__":
    main()
