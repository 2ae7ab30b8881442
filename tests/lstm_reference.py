"""The tests' one independent reference: the LSTM cell written out by hand in mpmath.

Nothing here imports symlstm. Each step is the textbook formula with explicit loops, computed
at 80 significant digits unless asked otherwise; rounding is Python's decimal ROUND_HALF_UP.

- ``scalar_trace``: the tied or scalar cell along a sequence, every variant, and optionally
  the hand calculation (each quantity rounded as soon as it is made);
- ``vector_trace``: the vector cell along a sequence, with explicit loops over rows and columns;
- ``activation``, ``activation_prime``, ``has_forget_gate``: the pieces they are built from;
- ``to_decimal``, ``rounded``, ``significant``: the rounding helpers;
- ``SEED_STEP``, ``SEED_SEQUENCE``, ``SPEC_TABLE``: the spec's examples (sections 5 and 8).

A variant is a mapping with the cell's option names: ``peephole`` (bool), ``forget_gate``
("standard", "coupled" or "none"), ``forget_bias`` (a number added to z_f), and
``gate_activation``, ``candidate_activation``, ``output_activation`` (names in ACTIVATIONS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext

import mpmath

DPS = 80
DECIMAL_PREC = 1000  # room for every digit a quantize keeps

DEFAULT_VARIANT = {
    "peephole": False,
    "forget_gate": "standard",
    "forget_bias": 0,
    "gate_activation": "sigmoid",
    "candidate_activation": "tanh",
    "output_activation": "tanh",
}
STATE_NAMES = ("x", "h_prev", "c_prev")

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
SEED_SEQUENCE = dict(SEED_STEP)  # section 5's weights: the spec states no others
SPEC_TABLE = {  # section 8: f, C, h at t = 1, 2, 3 for the inputs 0.2, 0.4, 0.6
    "f": ["0.53", "0.57", "0.61"],
    "c": ["0.05", "0.15", "0.29"],
    "h": ["0.03", "0.09", "0.18"],
}


# -- rounding --------------------------------------------------------------------------------------


def to_decimal(value: mpmath.mpf, dps: int = DPS) -> Decimal:
    """An mpf as a Decimal of ``dps`` significant digits, in fixed notation."""
    text = mpmath.nstr(value, dps, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    return Decimal(text)


def rounded(value: mpmath.mpf | Decimal, places: int, dps: int = DPS) -> str:
    """Round half up to ``places`` decimals.

    An exact Decimal is rounded as it is; an mpf from its ``dps``-digit value (far from any tie
    here, or an exact decimal that its ``dps`` digits recover).
    """
    d = value if isinstance(value, Decimal) else to_decimal(value, dps)
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        return str(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def significant(value: mpmath.mpf, digits: int, dps: int = DPS) -> str:
    """Round half up to ``digits`` significant digits from the ``dps``-digit value."""
    d = to_decimal(value, dps)
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        quantum = Decimal(1).scaleb(d.adjusted() - digits + 1)
        return str(d.quantize(quantum, rounding=ROUND_HALF_UP))


# -- the pieces ------------------------------------------------------------------------------------


def _clamp01(value: mpmath.mpf) -> mpmath.mpf:
    return max(mpmath.mpf(0), min(mpmath.mpf(1), value))


# each at the current mpmath precision; the hard sigmoids are x/5 + 1/2 and x/6 + 1/2, clamped
ACTIVATIONS = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "hard_sigmoid": lambda z: _clamp01(z / 5 + mpmath.mpf(1) / 2),
    "hard_sigmoid_relu6": lambda z: _clamp01(z / 6 + mpmath.mpf(1) / 2),
    "tanh": mpmath.tanh,
    "softsign": lambda z: z / (1 + abs(z)),
    "relu": lambda z: max(mpmath.mpf(0), z),
    "identity": lambda z: z,
}


def activation(name: str, z: mpmath.mpf) -> mpmath.mpf:
    """An activation function, by name, at the current mpmath precision."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    return ACTIVATIONS[name](z)


def activation_prime(name: str, z: mpmath.mpf) -> mpmath.mpf:
    """The derivative of an activation (0 on the flat parts and at the kinks)."""
    if name == "sigmoid":
        s = 1 / (1 + mpmath.exp(-z))
        return s * (1 - s)
    if name in ("hard_sigmoid", "hard_sigmoid_relu6"):
        slope = mpmath.mpf(1) / (5 if name == "hard_sigmoid" else 6)
        return slope if 0 < z * slope + mpmath.mpf(1) / 2 < 1 else mpmath.mpf(0)
    if name == "tanh":
        return 1 - mpmath.tanh(z) ** 2
    if name == "softsign":
        return 1 / (1 + abs(z)) ** 2
    if name == "relu":
        return mpmath.mpf(1) if z > 0 else mpmath.mpf(0)
    if name == "identity":
        return mpmath.mpf(1)
    raise ValueError(f"unknown activation {name!r}")


def has_forget_gate(variant: Mapping | None) -> bool:
    """Whether the variant has a forget gate with weights of its own (the standard one)."""
    return (variant or {}).get("forget_gate", "standard") == "standard"


def _variant(variant: Mapping | None) -> dict:
    """The variant's options, every one given, with forget_bias an mpf (current precision)."""
    unknown = set(variant or {}) - set(DEFAULT_VARIANT)
    if unknown:
        raise ValueError(f"unknown variant options {sorted(unknown)}")
    opts = {**DEFAULT_VARIANT, **(variant or {})}
    if opts["forget_gate"] not in ("standard", "coupled", "none"):
        raise ValueError(f"unknown forget_gate {opts['forget_gate']!r}")
    for key in ("gate_activation", "candidate_activation", "output_activation"):
        if opts[key] not in ACTIVATIONS:
            raise ValueError(f"unknown activation {opts[key]!r}")
    opts["forget_bias"] = mpmath.mpf(opts["forget_bias"])
    return opts


def _to_mpf(value):
    """A number, or a (nested) list of numbers, as mpf at the current precision."""
    if isinstance(value, (list, tuple)):
        return [_to_mpf(e) for e in value]
    return mpmath.mpf(value)


def _parameters(params: Mapping) -> dict:
    """The parameters as mpf; a shared bias ``b`` stands for every b_k not given."""
    P = {k: _to_mpf(v) for k, v in params.items()}
    if "b" in P:
        for k in "ifgo":
            P.setdefault(f"b_{k}", P["b"])
    return P


# -- the cells -------------------------------------------------------------------------------------


def scalar_trace(
    params: Mapping,
    xs: Sequence,
    h0="0",
    c0="0",
    *,
    kind: str = "tied",
    variant: Mapping | None = None,
    hand_places: Mapping[str, int] | None = None,
    dps: int = DPS,
) -> list[dict[str, mpmath.mpf]]:
    """A tied or scalar cell along a sequence, one dict of quantities per step.

    params maps canonical names (w_k or W_k and U_k, b_k or a shared b, p_k) to numbers or
    decimal strings. Each step has x, h_prev, c_prev, z_f, f, z_i, i, z_g, g, c, z_o, o, s, h
    (z_f only with the standard forget gate, whose f comes first; otherwise f follows i).
    With hand_places (places by name, with a "default"), each quantity but x, h_prev and
    c_prev is rounded half up to its places as soon as it is made (hand calculation).
    """
    if kind not in ("tied", "scalar"):
        raise ValueError(f"unknown scalar cell kind {kind!r}")
    m = mpmath.mpf
    with mpmath.workdps(dps):
        opts, P = _variant(variant), _parameters(params)
        gate, cand, out = (opts[f"{k}_activation"] for k in ("gate", "candidate", "output"))

        def keep(name, value):
            if hand_places is None:
                return value
            places = hand_places.get(name, hand_places.get("default"))
            return value if places is None else m(rounded(value, places, dps))

        def pre(k, x, h, state):
            if kind == "tied":
                z = P[f"w_{k}"] * h + P[f"w_{k}"] * x + P[f"b_{k}"]
            else:
                z = P[f"W_{k}"] * x + P[f"U_{k}"] * h + P[f"b_{k}"]
            if opts["peephole"] and k != "g":
                z += P[f"p_{k}"] * state
            if k == "f":
                z += opts["forget_bias"]
            return keep(f"z_{k}", z)

        h, c = m(h0), m(c0)
        steps = []
        for x in map(m, xs):
            v = {"x": x, "h_prev": h, "c_prev": c}
            if opts["forget_gate"] == "standard":
                v["z_f"] = pre("f", x, h, c)
                v["f"] = keep("f", activation(gate, v["z_f"]))
            v["z_i"] = pre("i", x, h, c)
            v["i"] = keep("i", activation(gate, v["z_i"]))
            if opts["forget_gate"] == "coupled":
                v["f"] = keep("f", 1 - v["i"])
            elif opts["forget_gate"] == "none":
                v["f"] = keep("f", m(1))
            v["z_g"] = pre("g", x, h, None)
            v["g"] = keep("g", activation(cand, v["z_g"]))
            # A hand calculation writes each product down rounded, then adds them.
            v["c"] = keep("c", keep("c", v["f"] * c) + keep("c", v["i"] * v["g"]))
            v["z_o"] = pre("o", x, h, v["c"])
            v["o"] = keep("o", activation(gate, v["z_o"]))
            v["s"] = keep("s", activation(out, v["c"]))
            v["h"] = keep("h", v["o"] * v["s"])
            h, c = v["h"], v["c"]
            steps.append(v)
        return steps


def vector_trace(
    params: Mapping,
    xs: Sequence[Sequence],
    h0: Sequence,
    c0: Sequence,
    *,
    variant: Mapping | None = None,
    dps: int = DPS,
) -> list[dict[str, list[mpmath.mpf]]]:
    """The vector cell along a sequence with explicit loops; matrices are lists of rows.

    The sizes come from c0 (hidden), h0 and each x (input). Each step has the quantities of
    scalar_trace, each a list with one entry per row. With a projection ``W_hr`` among the
    parameters (PyTorch's proj_size), m = o ⊙ tanh(c) and h = W_hr m (len(h0) rows).
    """
    m = mpmath.mpf
    with mpmath.workdps(dps):
        opts, P = _variant(variant), _parameters(params)
        gate, cand, out = (opts[f"{k}_activation"] for k in ("gate", "candidate", "output"))
        n_h = len(c0)

        def pre(k, x, h, state):
            z = []
            for r in range(n_h):
                acc = P[f"b_{k}"][r]
                for j in range(len(x)):
                    acc += P[f"W_{k}"][r][j] * x[j]
                for j in range(len(h)):
                    acc += P[f"U_{k}"][r][j] * h[j]
                if opts["peephole"] and k != "g":
                    acc += P[f"p_{k}"][r] * state[r]
                if k == "f":
                    acc += opts["forget_bias"]
                z.append(acc)
            return z

        h, c = _to_mpf(h0), _to_mpf(c0)
        steps = []
        for x_raw in xs:
            x = _to_mpf(x_raw)
            v = {"x": x, "h_prev": h, "c_prev": c}
            if opts["forget_gate"] == "standard":
                v["z_f"] = pre("f", x, h, c)
                v["f"] = [activation(gate, z) for z in v["z_f"]]
            v["z_i"] = pre("i", x, h, c)
            v["i"] = [activation(gate, z) for z in v["z_i"]]
            if opts["forget_gate"] == "coupled":
                v["f"] = [1 - i for i in v["i"]]
            elif opts["forget_gate"] == "none":
                v["f"] = [m(1)] * n_h
            v["z_g"] = pre("g", x, h, None)
            v["g"] = [activation(cand, z) for z in v["z_g"]]
            v["c"] = [v["f"][r] * c[r] + v["i"][r] * v["g"][r] for r in range(n_h)]
            v["z_o"] = pre("o", x, h, v["c"])
            v["o"] = [activation(gate, z) for z in v["z_o"]]
            v["s"] = [activation(out, e) for e in v["c"]]
            v["h"] = [v["o"][r] * v["s"][r] for r in range(n_h)]
            if "W_hr" in P:
                v["m"] = v["h"]
                v["h"] = [
                    mpmath.fsum(w * e for w, e in zip(row, v["m"], strict=True))
                    for row in P["W_hr"]
                ]
            h, c = v["h"], v["c"]
            steps.append(v)
        return steps


#: The cell variants the tests run, by name (keyword options of symlstm's Cell).
VARIANTS = {
    "textbook": {},
    "peephole": {"peephole": True},
    "coupled": {"forget_gate": "coupled"},
    "no-forget": {"forget_gate": "none"},
    "forget-bias": {"forget_bias": 1},
    "hard-gate": {"gate_activation": "hard_sigmoid"},
    "hard-gate-relu6": {"gate_activation": "hard_sigmoid_relu6"},
    "softsign": {"candidate_activation": "softsign", "output_activation": "softsign"},
    "peephole-coupled": {"peephole": True, "forget_gate": "coupled"},
    "peephole-no-forget": {"peephole": True, "forget_gate": "none"},
}
