"""Find the weights of the spec's sequence example (sections 6 and 8).

The spec gives the inputs (0.2, 0.4, 0.6) and a table of rounded f_t, C_t and h_t,
but neither the weights nor the initial state. This script searches for tied weights
that reproduce the table, with h_0 = C_0 = 0 and b = 0:

1. a float64 screen over a grid of (w_f, w_i, w_C, w_o) in steps of 0.05 in
   [0.05, 1], keeping points within 1e-9 of the rounding interval of every entry;
2. certification of every kept point with symlstm (interval arithmetic, correct
   rounding), so float error cannot decide the outcome.

Run: python scripts/seed_sequence_search.py
"""

from __future__ import annotations

import itertools

import numpy as np

from symlstm.cell import Cell
from symlstm.evaluate import certify

INPUTS = ("0.2", "0.4", "0.6")
#: The spec's section 8 table: (f_t, C_t, h_t) for t = 1, 2, 3, stated to 2 places.
TABLE = (("0.53", "0.05", "0.03"), ("0.57", "0.15", "0.09"), ("0.61", "0.29", "0.18"))
SECTION5 = ("0.7", "0.6", "0.5", "0.9")
GRID = [f"{k * 0.05:.2f}" for k in range(1, 21)]


def screen(grid: list[str]) -> list[tuple[str, ...]]:
    """Grid points whose float64 trace is within 1e-9 of every table entry's rounding interval."""
    points = list(itertools.product(grid, repeat=4))
    w = np.array(points, dtype=float)
    h = np.zeros(len(w))
    c = np.zeros(len(w))
    keep = np.ones(len(w), dtype=bool)
    for x, row in zip(map(float, INPUTS), TABLE, strict=True):
        s = h + x
        f, i = 1 / (1 + np.exp(-w[:, 0] * s)), 1 / (1 + np.exp(-w[:, 1] * s))
        g, o = np.tanh(w[:, 2] * s), 1 / (1 + np.exp(-w[:, 3] * s))
        c = f * c + i * g
        h = o * np.tanh(c)
        for value, claim in zip((f, c, h), map(float, row), strict=True):
            keep &= np.abs(value - claim) <= 0.005 + 1e-9
    return [p for p, k in zip(points, keep, strict=True) if k]


def table_of(weights: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """The certified, correctly rounded (f, C, h) of each step for these weights."""
    w_f, w_i, w_g, w_o = weights
    params = {"w_f": w_f, "w_i": w_i, "w_g": w_g, "w_o": w_o, "b": "0"}
    trace = certify(Cell("tied"), params, INPUTS, places=2)
    return [(d["f"], d["c"], d["h"]) for d in trace.decimals]


def mismatches(weights: tuple[str, ...]) -> list[str]:
    out = []
    for t, (got, want) in enumerate(zip(table_of(weights), TABLE, strict=True), start=1):
        for name, g, w in zip(("f", "C", "h"), got, want, strict=True):
            if g != w:
                out.append(f"{name}_{t} = {g} (table: {w})")
    return out


def main() -> None:
    print("section 5 weights (w_f, w_i, w_C, w_o) =", SECTION5)
    print("  mismatches:", mismatches(SECTION5) or "none")
    candidates = screen(GRID)
    exact = [p for p in candidates if not mismatches(p)]
    print(
        f"grid of {len(GRID) ** 4} points: {len(candidates)} pass the float screen, "
        f"{len(exact)} reproduce all 9 entries when certified"
    )

    def distance(p: tuple[str, ...]) -> float:
        return sum(abs(float(a) - float(b)) for a, b in zip(p, SECTION5, strict=True))

    for p in sorted(exact, key=distance):
        print(
            f"  w_f={p[0]} w_i={p[1]} w_C={p[2]} w_o={p[3]}  (L1 distance to section 5: "
            f"{distance(p):.2f})"
        )
    if exact:
        print("closest to section 5:", min(exact, key=distance))
    else:
        print("no grid point reproduces every entry")


if __name__ == "__main__":
    main()
