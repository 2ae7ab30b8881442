"""An independent reference for the tests: the scalar LSTM written out by hand in mpmath.

Nothing here imports symlstm. Rounding is Python's decimal ROUND_HALF_UP.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import mpmath

DPS = 80


def rounded(value: mpmath.mpf, places: int) -> str:
    """Round half up to ``places`` decimals from an 80-digit value (far from any tie here)."""
    text = mpmath.nstr(value, DPS, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    with localcontext() as ctx:
        ctx.prec = 2 * DPS
        return str(Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def tied_trace(
    w: dict[str, str],
    xs: list[str],
    h0: str = "0",
    c0: str = "0",
    hand_places: dict[str, int] | None = None,
) -> list[dict[str, mpmath.mpf]]:
    """The spec's tied cell, step by step.

    With hand_places, each quantity is rounded as soon as it is made (hand calculation).
    """
    m = mpmath.mpf
    with mpmath.workdps(DPS):
        h, c = m(h0), m(c0)
        steps = []

        def keep(name: str, value: mpmath.mpf) -> mpmath.mpf:
            if hand_places is None:
                return value
            places = hand_places.get(name, hand_places.get("default"))
            return m(rounded(value, places))

        for x in map(m, xs):
            v: dict[str, mpmath.mpf] = {"x": x, "h_prev": h, "c_prev": c}
            for k in ("f", "i", "g", "o"):
                v[f"z_{k}"] = keep(
                    f"z_{k}", m(w[f"w_{k}"]) * h + m(w[f"w_{k}"]) * x + m(w[f"b_{k}"])
                )
            for k in ("f", "i", "o"):
                v[k] = keep(k, 1 / (1 + mpmath.exp(-v[f"z_{k}"])))
            v["g"] = keep("g", mpmath.tanh(v["z_g"]))
            v["c"] = keep("c", v["f"] * c + v["i"] * v["g"])
            v["s"] = keep("s", mpmath.tanh(v["c"]))
            v["h"] = keep("h", v["o"] * v["s"])
            h, c = v["h"], v["c"]
            steps.append(v)
        return steps


SEED_STEP = {
    "w_f": "0.7",
    "w_i": "0.6",
    "w_g": "0.5",
    "w_o": "0.9",
    "b_f": "0",
    "b_i": "0",
    "b_g": "0",
    "b_o": "0",
}
SEED_SEQUENCE = {**SEED_STEP, "w_f": "0.65"}


def significant(value: mpmath.mpf, digits: int) -> str:
    """Round half up to ``digits`` significant digits from an 80-digit value."""
    text = mpmath.nstr(value, DPS, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    with localcontext() as ctx:
        ctx.prec = 2 * DPS
        d = Decimal(text)
        quantum = Decimal(1).scaleb(d.adjusted() - digits + 1)
        return str(d.quantize(quantum, rounding=ROUND_HALF_UP))
