"""Evaluation and certification against an LSTM written out by hand in mpmath at 80 digits.

The reference is tests/lstm_reference.py, which does not use symlstm: each step is the textbook
formula with explicit loops, and rounding is Python's decimal ROUND_HALF_UP.
"""

from __future__ import annotations

import decimal
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import mpmath
import pytest
import sympy

from symlstm.cell import Cell
from symlstm.errors import (
    ParameterError,
    PrecisionError,
    RangeError,
    ShapeError,
    UndecidedError,
    UnknownNameError,
)
from symlstm.functions import sigmoid
from symlstm.numeric.evaluation import (
    METHODS,
    Enclosure,
    Trace,
    certify,
    check_dps,
    evaluate,
    places_for,
)
from symlstm.numeric.intervals import working_precision

from lstm_reference import (
    DPS,
    SEED_SEQUENCE,
    SEED_STEP,
    SPEC_TABLE,
    STATE_NAMES,
    rounded,
    scalar_trace,
    significant,
    to_decimal,
    vector_trace,
)


def _as_mpf(v):
    """A value of a trace (mpf, SymPy number, Enclosure) as an mpf at the current precision."""
    if isinstance(v, Enclosure):
        return mpmath.mpf(v.lo.numerator) / v.lo.denominator
    if isinstance(v, sympy.Basic):
        return mpmath.mpf(str(sympy.N(v, DPS)))
    return mpmath.mpf(v)


def _assert_close(got, expected, digits):
    tol = mpmath.mpf(10) ** -digits
    assert abs(got - expected) <= tol * max(1, abs(expected)), (got, expected)


# -- (a) the spec's section 5 ----------------------------------------------------------------------


def test_spec_section_5_step():
    trace = certify(
        Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4", places={"default": 3, "f": 2}
    )
    d = trace.decimals[0]
    spec = {"f": "0.62", "i": "0.603", "g": "0.336", "c": "0.451", "o": "0.652", "h": "0.276"}
    for name, text in spec.items():
        assert d[name] == text, name
    # the spec's pre-activations 0.49, 0.42, 0.35, 0.63 and tanh(C) = 0.423
    assert (d["z_f"], d["z_i"], d["z_g"], d["z_o"]) == ("0.490", "0.420", "0.350", "0.630")
    assert d["s"] == "0.423"
    assert (d["x"], d["h_prev"], d["c_prev"]) == ("0.500", "0.200", "0.400")
    # and the same digits from the hand-written reference
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    for name in ("i", "g", "c", "o", "s", "h", "z_f"):
        assert d[name] == rounded(ref[name], 3), name
    assert d["f"] == rounded(ref["f"], 2)


# -- (b) mpmath and certify against the reference --------------------------------------------------

TIED = {"w_f": "0.7", "w_i": "-0.6", "w_g": "0.5", "w_o": "0.9", "b_f": "0.1", "b_i": "0.25"}
TIED |= {"b_g": "-0.3", "b_o": "0"}
TIED_XS = ["0.5", "-1.25", "2"]
SCALAR = {
    "W_i": "0.3", "U_i": "-0.45", "b_i": "0.1",
    "W_f": "0.8", "U_f": "0.2", "b_f": "-0.15",
    "W_g": "-1.1", "U_g": "0.6", "b_g": "0.05",
    "W_o": "0.55", "U_o": "-0.35", "b_o": "0.2",
    "p_i": "0.12", "p_f": "-0.3", "p_o": "0.7",
}  # fmt: skip
SCALAR_XS = ["0.5", "-0.75", "1.5"]
SCALAR_VARIANTS = {
    "textbook": {},
    "peephole": {"peephole": True},
    "coupled": {"forget_gate": "coupled"},
    "no-forget": {"forget_gate": "none"},
    "forget-bias": {"forget_bias": "1"},
    "hard-gate": {"gate_activation": "hard_sigmoid"},
    "softsign": {"candidate_activation": "softsign", "output_activation": "softsign"},
    "peephole-coupled": {"peephole": True, "forget_gate": "coupled"},
}
VEC = {
    "W_i": [["0.1", "-0.2", "0.3"], ["0.4", "0.5", "-0.6"]],
    "U_i": [["0.7", "-0.1"], ["0.2", "0.3"]],
    "b_i": ["0.05", "-0.05"],
    "W_f": [["-0.3", "0.2", "0.1"], ["0.6", "-0.4", "0.25"]],
    "U_f": [["0.15", "0.35"], ["-0.45", "0.55"]],
    "b_f": ["1", "0.5"],
    "W_g": [["0.9", "-0.8", "0.7"], ["-0.6", "0.5", "-0.4"]],
    "U_g": [["0.3", "0.2"], ["0.1", "-0.2"]],
    "b_g": ["0", "0.1"],
    "W_o": [["0.25", "0.5", "0.75"], ["-0.25", "-0.5", "0.125"]],
    "U_o": [["-0.3", "0.6"], ["0.9", "-0.12"]],
    "b_o": ["-0.1", "0.2"],
    "p_i": ["0.3", "-0.2"],
    "p_f": ["0.5", "0.4"],
    "p_o": ["-0.7", "0.6"],
}
VEC_XS = [["0.5", "-1", "0.25"], ["1.5", "0.75", "-0.5"]]
VEC_H0, VEC_C0 = ["0.1", "-0.3"], ["0.4", "0.2"]


def _scalar_params(opts):
    cell = Cell("scalar", **opts)
    return cell, {k: v for k, v in SCALAR.items() if k in cell.parameters}


def _scalar_reference(params, opts):
    return scalar_trace(params, SCALAR_XS, "-0.2", "0.3", kind="scalar", variant=opts)


def _check_scalar_trace(trace, ref, digits):
    for t, expected in enumerate(ref, start=1):
        assert set(trace.steps[t - 1]) == set(expected)
        for name, value in expected.items():
            _assert_close(_as_mpf(trace[name, t]), value, digits)


def _check_decimals(trace, ref, digits):
    for t, expected in enumerate(ref):
        for name, value in expected.items():
            got = trace.decimals[t][name]
            if isinstance(value, list):
                expected_digits = [Fraction(significant(v, digits)) for v in value]
                assert [Fraction(g) for g in got] == expected_digits, name
            else:
                assert Fraction(got) == Fraction(significant(value, digits)), (t, name, got)


def test_mpmath_method_tied_against_reference():
    trace = evaluate(Cell("tied"), TIED, TIED_XS, "0.2", "-0.4", method="mpmath", dps=50)
    assert trace.method == "mpmath"
    assert trace.precision == 50
    assert len(trace) == 3
    with mpmath.workdps(DPS):
        _check_scalar_trace(trace, scalar_trace(TIED, TIED_XS, "0.2", "-0.4"), 45)


def test_certify_tied_45_significant_digits():
    trace = certify(Cell("tied"), TIED, TIED_XS, "0.2", "-0.4", significant=45)
    _check_decimals(trace, scalar_trace(TIED, TIED_XS, "0.2", "-0.4"), 45)


@pytest.mark.parametrize("variant", list(SCALAR_VARIANTS))
def test_mpmath_method_scalar_variants_against_reference(variant):
    opts = SCALAR_VARIANTS[variant]
    cell, params = _scalar_params(opts)
    trace = evaluate(cell, params, SCALAR_XS, "-0.2", "0.3", method="mpmath", dps=50)
    ref = _scalar_reference(params, opts)
    with mpmath.workdps(DPS):
        _check_scalar_trace(trace, ref, 45)


@pytest.mark.parametrize("variant", list(SCALAR_VARIANTS))
def test_certify_scalar_variants_against_reference(variant):
    opts = SCALAR_VARIANTS[variant]
    cell, params = _scalar_params(opts)
    trace = certify(cell, params, SCALAR_XS, "-0.2", "0.3", significant=45)
    _check_decimals(trace, _scalar_reference(params, opts), 45)


def test_scalar_variants_really_differ():
    # The reference is not blind to the options: each variant changes h at step 3.
    h3 = {}
    for variant, opts in SCALAR_VARIANTS.items():
        _, params = _scalar_params(opts)
        h3[variant] = _scalar_reference(params, opts)[2]["h"]
    assert len({mpmath.nstr(v, 30) for v in h3.values()}) == len(h3)


VECTOR_VARIANT = {"peephole": True}
VECTOR_CELL = Cell("vector", hidden_size=2, input_size=3, **VECTOR_VARIANT)


def test_mpmath_method_vector_against_reference():
    trace = evaluate(VECTOR_CELL, VEC, VEC_XS, VEC_H0, VEC_C0, method="mpmath", dps=50)
    ref = vector_trace(VEC, VEC_XS, VEC_H0, VEC_C0, variant=VECTOR_VARIANT)
    with mpmath.workdps(DPS):
        for t, expected in enumerate(ref, start=1):
            for name, values in expected.items():
                got = trace[name, t]
                assert isinstance(got, tuple)
                assert len(got) == len(values)
                for g, e in zip(got, values, strict=True):
                    _assert_close(mpmath.mpf(g), e, 45)


def test_certify_vector_against_reference():
    trace = certify(VECTOR_CELL, VEC, VEC_XS, VEC_H0, VEC_C0, significant=45)
    _check_decimals(trace, vector_trace(VEC, VEC_XS, VEC_H0, VEC_C0, variant=VECTOR_VARIANT), 45)


# A projected cell (PyTorch's proj_size): hidden 3, input 2, projection 2; h = W_hr m.
PROJ = {
    **{f"W_{k}": [["0.1", "-0.2"], ["0.4", "0.5"], ["-0.3", "0.25"]] for k in "ifgo"},
    **{f"U_{k}": [["0.7", "-0.1"], ["0.2", "0.3"], ["-0.45", "0.55"]] for k in "ifgo"},
    **{f"b_{k}": ["0.05", "-0.05", "0.1"] for k in "ifgo"},
    "U_o": [["-0.3", "0.6"], ["0.9", "-0.12"], ["0.15", "0.35"]],
    "W_hr": [["0.5", "-0.25", "0.75"], ["-0.6", "0.4", "0.2"]],
}
PROJ_XS = [["0.5", "-1"], ["1.5", "0.75"]]
PROJ_H0, PROJ_C0 = ["0.1", "-0.3"], ["0.4", "0.2", "-0.1"]
PROJECTED_CELL = Cell("vector", hidden_size=3, input_size=2, proj_size=2)


def test_projected_vector_cell_against_reference():
    ref = vector_trace(PROJ, PROJ_XS, PROJ_H0, PROJ_C0)
    trace = evaluate(PROJECTED_CELL, PROJ, PROJ_XS, PROJ_H0, PROJ_C0, method="mpmath", dps=50)
    assert len(trace["m", 1]) == 3 and len(trace["h", 1]) == 2 and len(trace["h_prev", 2]) == 2
    with mpmath.workdps(DPS):
        for t, expected in enumerate(ref, start=1):
            assert set(expected) == set(trace.steps[t - 1])
            for name, values in expected.items():
                for g, e in zip(trace[name, t], values, strict=True):
                    _assert_close(mpmath.mpf(g), e, 45)
    certified = certify(PROJECTED_CELL, PROJ, PROJ_XS, PROJ_H0, PROJ_C0, significant=40)
    _check_decimals(certified, ref, 40)
    exact = evaluate(PROJECTED_CELL, PROJ, PROJ_XS[:1], PROJ_H0, PROJ_C0)
    with mpmath.workdps(DPS):
        for g, e in zip(exact["h", 1], ref[0]["h"], strict=True):
            _assert_close(_as_mpf(g), e, 45)


def test_mpmath_precision_is_scoped():
    mpmath.mp.dps = 20
    evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="mpmath", dps=60)
    assert mpmath.mp.dps == 20
    mpmath.iv.prec = 70
    certify(Cell("tied"), SEED_STEP, ["0.5"], significant=40)
    evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="interval", prec=300)
    assert mpmath.iv.prec == 70


def test_mpmath_method_at_low_precision_is_not_the_reference():
    # dps=5 really computes at 5 digits: the answer is off in the 6th digit or so.
    trace = evaluate(Cell("tied"), TIED, TIED_XS, method="mpmath", dps=5)
    ref = scalar_trace(TIED, TIED_XS)
    with mpmath.workdps(DPS):
        errors = [abs(mpmath.mpf(trace["h", t]) - ref[t - 1]["h"]) for t in (1, 2, 3)]
        assert max(errors) > mpmath.mpf(10) ** -10
        assert max(errors) < mpmath.mpf(10) ** -3


def test_interval_method_encloses_the_reference():
    trace = evaluate(Cell("tied"), TIED, TIED_XS, "0.2", "-0.4", method="interval", prec=64)
    ref = scalar_trace(TIED, TIED_XS, "0.2", "-0.4")
    with mpmath.workdps(DPS):
        for t, expected in enumerate(ref, start=1):
            for name, value in expected.items():
                enc = trace[name, t]
                assert isinstance(enc, Enclosure)
                lo = mpmath.mpf(enc.lo.numerator) / enc.lo.denominator
                hi = mpmath.mpf(enc.hi.numerator) / enc.hi.denominator
                slack = mpmath.mpf(10) ** -75  # the reference's own rounding of exact values
                assert lo - slack <= value <= hi + slack, (name, t)
                assert hi - lo < mpmath.mpf(10) ** -15


# -- (c) the exact method --------------------------------------------------------------------------


def test_exact_method_keeps_rationals_and_sigmoids():
    trace = evaluate(Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4")
    assert trace.method == "exact"
    assert trace.precision is None
    R = sympy.Rational
    assert trace["z_f", 1] == R(49, 100)
    assert trace["z_i", 1] == R(21, 50)
    assert trace["z_g", 1] == R(7, 20)
    assert trace["f", 1] == sigmoid(R(49, 100))
    assert trace["g", 1] == sympy.tanh(R(7, 20))
    assert trace["x", 1] == R(1, 2)
    assert trace["c_prev", 1] == R(2, 5)


def test_exact_method_tied_evalf_matches_reference():
    trace = evaluate(Cell("tied"), TIED, TIED_XS[:2], "0.2", "-0.4")
    ref = scalar_trace(TIED, TIED_XS[:2], "0.2", "-0.4")
    with mpmath.workdps(DPS):
        for t, expected in enumerate(ref, start=1):
            for name, value in expected.items():
                expr = trace[name, t]
                assert isinstance(expr, sympy.Basic)
                got = mpmath.mpf(str(sympy.N(expr, 60)))
                _assert_close(got, value, 55)


def test_exact_method_vector_evalf_matches_reference():
    trace = evaluate(VECTOR_CELL, VEC, VEC_XS[:1], VEC_H0, VEC_C0)
    ref = vector_trace(VEC, VEC_XS[:1], VEC_H0, VEC_C0, variant=VECTOR_VARIANT)[0]
    with mpmath.workdps(DPS):
        for name, values in ref.items():
            for expr, value in zip(trace[name, 1], values, strict=True):
                _assert_close(mpmath.mpf(str(sympy.N(expr, 60))), value, 55)


# -- (d) hand-calculation mode ---------------------------------------------------------------------


def test_hand_mode_uses_the_rounded_values():
    places = {"default": 3, "f": 2}
    trace = certify(
        Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4", places=places, hand_places=places
    )
    d = trace.decimals[0]
    assert trace.hand_places == places
    # C_t = 0.62 × 0.4 + 0.603 × 0.336 from the rounded f, i, g (exact decimal arithmetic)
    c = Decimal(d["f"]) * Decimal("0.4") + Decimal(d["i"]) * Decimal(d["g"])
    assert (d["f"], d["i"], d["g"]) == ("0.62", "0.603", "0.336")
    assert c == Decimal("0.450608")
    assert d["c"] == rounded(c, 3) == "0.451"
    with mpmath.workdps(DPS):
        s = mpmath.tanh(mpmath.mpf(d["c"]))
    assert d["s"] == rounded(s, 3) == "0.423"
    assert d["h"] == rounded(Decimal(d["o"]) * Decimal(d["s"]), 3) == "0.276"
    # the stored values are the rounded ones, exactly
    assert trace["c", 1].lo == trace["c", 1].hi == Fraction(451, 1000)
    assert trace["f", 1].lo == Fraction(62, 100)


def test_hand_mode_along_the_seed_sequence_against_reference():
    xs = ["0.2", "0.4", "0.6"]
    hand = certify(Cell("tied"), SEED_SEQUENCE, xs, places=2, hand_places={"default": 2})
    exact = certify(Cell("tied"), SEED_SEQUENCE, xs, places=2)
    # the reference's hand calculation: each quantity rounded to 2 places as soon as it is made
    ref = scalar_trace(SEED_SEQUENCE, xs, hand_places={"default": 2})
    for t in range(3):
        for name, value in ref[t].items():
            if name in STATE_NAMES:
                continue  # the inputs, and the state carried from the previous step
            assert hand.decimals[t][name] == rounded(value, 2), (t, name)
    ref_exact = scalar_trace(SEED_SEQUENCE, xs)
    diffs = []
    for t in range(3):
        for name, value in ref_exact[t].items():
            assert exact.decimals[t][name] == rounded(value, 2), (t, name)
            if exact.decimals[t][name] != hand.decimals[t][name]:
                diffs.append((t, name))
    # the two modes really are different computations here
    assert diffs, "hand and exact modes agree everywhere: the test would not notice a mix-up"


def test_hand_mode_needs_the_interval_method():
    with pytest.raises(PrecisionError, match="hand-calculation mode needs the interval method"):
        evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="mpmath", hand_places={"default": 2})


def test_hand_mode_undecided_rounding_in_evaluate():
    # at 8 bits sigmoid(0.49) cannot be rounded to 6 places: evaluate reports it, certify retries
    with pytest.raises(UndecidedError):
        evaluate(
            Cell("tied"),
            SEED_STEP,
            ["0.5"],
            h0="0.2",
            method="interval",
            prec=8,
            hand_places={"default": 6},
        )


# -- (e) the key test: a rounding float64 gets wrong -----------------------------------------------


def _logit_decimal(tie: Decimal, rounding) -> Decimal:
    """logit(tie) as a 40-place decimal, rounded up or down (so σ lands above or below tie)."""
    with mpmath.workdps(DPS), localcontext() as ctx:
        ctx.prec = 100
        t = mpmath.mpf(str(tie))
        z = to_decimal(mpmath.log(t / (1 - t)))
        return z.quantize(Decimal("1e-40"), rounding=rounding)


def _float_path(z: Decimal) -> tuple[str, str]:
    v = 1 / (1 + math.exp(-float(z)))
    return f"{v:.3f}", str(Decimal(v).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _find_float_failure() -> tuple[Decimal, Decimal]:
    """The tie point nearest 0.6255 where float64 + rounding gives the wrong third digit."""
    start = Decimal("0.6255")
    for k in range(0, 400):
        for tie in (start + Decimal(k) / 1000, start - Decimal(k) / 1000):
            if not Decimal("0.0005") < tie < Decimal("0.9995"):
                continue
            z = _logit_decimal(tie, ROUND_CEILING)
            right = str(tie.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
            if _float_path(z)[0] != right:
                return tie, z
    raise AssertionError("no tie point found where float64 rounds wrongly")


def test_certify_gets_right_what_float64_gets_wrong():
    tie, z = _find_float_failure()
    right = str(tie.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))  # the tie rounds up
    wrong = str((tie - Decimal("0.0005")).quantize(Decimal("0.001")))
    # σ(z) is above the tie, by less than 1e-20 (checked at 80 digits)
    with mpmath.workdps(DPS):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(str(z))))
        excess = s - mpmath.mpf(str(tie))
        assert 0 < excess < mpmath.mpf(10) ** -20
        assert rounded(s, 3) == right
    # float64 says the digit below, both ways of rounding it
    assert _float_path(z) == (wrong, wrong)
    # certify says the right one
    params = {"w_f": "0", "w_i": "0", "w_g": "0", "w_o": "0", "b": "0", "b_f": str(z)}
    trace = certify(Cell("tied"), params, ["0"], places=3)
    assert trace.decimals[0]["f"] == right
    assert trace.precision > 64  # 64 bits cannot see a 1e-20 excess
    # and the mpmath method at 15 digits cannot tell either: its value rounds from the tie
    with mpmath.workdps(60):
        mp15 = evaluate(Cell("tied"), params, ["0"], method="mpmath", dps=15)["f", 1]
        assert abs(mp15 - mpmath.mpf(str(tie))) < mpmath.mpf(10) ** -14


def test_certify_just_below_a_tie_rounds_down():
    tie = Decimal("0.6255")
    z = _logit_decimal(tie, ROUND_FLOOR)
    with mpmath.workdps(DPS):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(str(z))))
        assert -(mpmath.mpf(10) ** -20) < s - mpmath.mpf(str(tie)) < 0
    params = {"w_f": "0", "w_i": "0", "w_g": "0", "w_o": "0", "b": "0", "b_f": str(z)}
    assert certify(Cell("tied"), params, ["0"], places=3).decimals[0]["f"] == "0.625"
    z_up = _logit_decimal(tie, ROUND_CEILING)
    params["b_f"] = str(z_up)
    assert certify(Cell("tied"), params, ["0"], places=3).decimals[0]["f"] == "0.626"


def test_exact_ties_round_up():
    # σ(0) = 1/2 exactly and 0.25 is a rational tie: both round half up, not to even
    params = {"w_f": "1", "w_i": "0", "w_g": "0", "w_o": "0", "b": "0"}
    trace = certify(Cell("tied"), params, ["0.25"], places={"default": 1, "i": 0})
    assert trace.decimals[0]["z_f"] == "0.3"
    assert trace.decimals[0]["i"] == "1"
    assert trace.decimals[0]["g"] == "0.0"
    trace = certify(Cell("tied"), params, ["-0.25"], places=1)
    assert trace.decimals[0]["z_f"] == "-0.3"


# -- (f) certified digits and precision ------------------------------------------------------------


def test_enclosure_digits_cover_the_request():
    trace = certify(Cell("tied"), TIED, TIED_XS, significant=30)
    for step in trace.steps:
        for name, enc in step.items():
            assert enc.digits >= 30, name


def test_enclosure_digits_reflect_the_working_precision():
    low = evaluate(Cell("tied"), TIED, TIED_XS, method="interval", prec=64)["h", 3]
    high = evaluate(Cell("tied"), TIED, TIED_XS, method="interval", prec=256)["h", 3]
    assert 12 <= low.digits <= 20  # 64 bits is about 19 digits, less what the steps lose
    assert 70 <= high.digits <= 78
    assert high.lo != high.hi


def test_200_significant_digits_raise_the_precision():
    small = certify(Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4", significant=10)
    big = certify(Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4", significant=200)
    assert small.precision == 64
    assert big.precision >= math.ceil(200 * math.log2(10))
    assert big.precision > small.precision
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4", dps=260)[0]
    for name in ("f", "c", "h"):
        expected = Fraction(significant(ref[name], 200, dps=260))
        assert Fraction(big.decimals[0][name]) == expected, name
        assert len(big.decimals[0][name]) == 202  # "0." and 200 digits
        assert big.steps[0][name].digits >= 200


def test_certify_significant_digits_of_a_large_preactivation():
    # z_f = 1234.5: two significant digits are 1200, three are 1230 (not 1000, not 1200)
    params = {"w_f": "1234.5", "w_i": "0", "w_g": "0", "w_o": "0", "b": "0"}
    trace = certify(Cell("tied"), params, ["1"], significant=2)
    assert Fraction(trace.decimals[0]["z_f"]) == 1200
    trace = certify(Cell("tied"), params, ["1"], significant=3)
    assert Fraction(trace.decimals[0]["z_f"]) == 1230
    assert trace.decimals[0]["f"] == "1.00"


def test_certify_gives_up_at_max_prec():
    with pytest.raises(PrecisionError, match="could not certify the rounding of the trace at 64"):
        certify(Cell("tied"), SEED_STEP, ["0.5"], significant=40, max_prec=64)


# -- the Enclosure type ----------------------------------------------------------------------------


def test_enclosure_endpoints_keep_sign_and_bits():
    iv = mpmath.iv
    enc = Enclosure(iv.mpf(["-0.5", "-0.25"]))
    assert (enc.lo, enc.hi) == (Fraction(-1, 2), Fraction(-1, 4))
    assert float(enc) == -0.375
    with pytest.raises(UndecidedError):
        enc.round(places=1)  # -0.5 and -0.25 round to -0.5 and -0.3
    assert Enclosure(iv.mpf(["0.61", "0.612"])).round(places=2) == "0.61"
    exact = Enclosure(iv.mpf(1) / 3, Fraction(1, 3))
    assert exact.lo == exact.hi == Fraction(1, 3)
    assert exact.round(significant=5) == "0.33333"
    with working_precision(200):
        fine = Enclosure(iv.mpf(1) / 3)
        assert fine.lo < Fraction(1, 3) < fine.hi
        assert fine.hi - fine.lo < Fraction(1, 2**195)


def test_enclosure_of_infinity_is_a_range_error():
    enc = Enclosure(mpmath.iv.mpf(["-inf", "0"]))
    with pytest.raises(RangeError, match="overflowed"):
        _ = enc.lo


def test_trace_enclose_an_expression():
    cell = Cell("tied")
    trace = evaluate(cell, SEED_STEP, ["0.5"], h0="0.2", c0="0.4", method="interval", prec=128)
    enc = trace.enclose(1000 * cell.symbols["f"] * cell.symbols["c_prev"], 1)
    with mpmath.workdps(DPS):
        expected = 400 / (1 + mpmath.exp(-mpmath.mpf("0.49")))
    assert enc.round(places=10) == rounded(expected, 10)
    exact = evaluate(cell, SEED_STEP, ["0.5"])
    with pytest.raises(PrecisionError, match=r"enclose\(\) needs an interval trace"):
        exact.enclose(cell.symbols["f"], 1)


# -- the Trace type --------------------------------------------------------------------------------


def test_trace_access():
    xs = ["0.2", "0.4", "0.6"]
    trace = evaluate(Cell("tied"), SEED_SEQUENCE, xs, method="mpmath", dps=30)
    assert isinstance(trace, Trace)
    assert len(trace) == 3
    ref = scalar_trace(SEED_SEQUENCE, xs)
    with mpmath.workdps(DPS):
        for got, expected in zip(trace.series("h"), [r["h"] for r in ref], strict=True):
            _assert_close(mpmath.mpf(got), expected, 28)
        # the carried state: h_prev at t is h at t - 1
        assert trace["h_prev", 2] == trace["h", 1]
        assert trace["c_prev", 3] == trace["c", 2]
    assert list(trace.steps[0])[:3] == ["x", "h_prev", "c_prev"]
    with pytest.raises(UnknownNameError, match=r"step 0 is outside 1\.\.3"):
        trace["h", 0]
    with pytest.raises(UnknownNameError, match=r"step 4 is outside 1\.\.3"):
        trace["h", 4]
    with pytest.raises(UnknownNameError, match="unknown quantity 'C'"):
        trace["C", 1]
    with pytest.raises(PrecisionError, match="only an interval trace has certified decimals"):
        trace.rounded(places=2)


def test_places_for():
    assert places_for({"default": 3, "f": 2}, "f") == 2
    assert places_for({"default": 3, "f": 2}, "h") == 3
    assert places_for({"f": 2}, "h") is None
    assert places_for(4, "h") == 4
    assert places_for(None, "h") is None


def test_certify_places_mapping_without_default_skips_the_rest():
    trace = certify(Cell("tied"), SEED_STEP, ["0.5"], h0="0.2", c0="0.4", places={"h": 4})
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    assert trace.decimals[0] == {"h": rounded(ref["h"], 4)}


# -- (g) errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dps", [0, -1, True, 2.5, "15", None])
def test_bad_dps(dps):
    with pytest.raises(PrecisionError, match="dps must be a positive integer"):
        evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="mpmath", dps=dps)
    with pytest.raises(PrecisionError, match="dps must be a positive integer"):
        check_dps(dps)


def test_check_dps_accepts_positive_integers():
    assert check_dps(1) == 1
    assert check_dps(500) == 500


@pytest.mark.parametrize("prec", [0, -64, False])
def test_bad_interval_precision(prec):
    with pytest.raises(PrecisionError, match="prec must be a positive integer"):
        evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="interval", prec=prec)


def test_unknown_method():
    assert METHODS == ("exact", "mpmath", "interval")
    with pytest.raises(UnknownNameError, match="unknown method 'float'; known: exact, mpmath"):
        evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="float")
    with pytest.raises(KeyError):
        evaluate(Cell("tied"), SEED_STEP, ["0.5"], method="Exact")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give places or significant digits to certify"),
        ({"significant": 0}, "significant digits must be a positive integer"),
        ({"significant": -3}, "significant digits must be a positive integer"),
        ({"places": True}, "decimal places must be an integer in -300..10000"),
        ({"places": 10_001}, "decimal places must be an integer in -300..10000"),
        ({"places": -301}, "decimal places must be an integer in -300..10000"),
    ],
)
def test_certify_argument_errors(kwargs, message):
    with pytest.raises(PrecisionError, match=message):
        certify(Cell("tied"), SEED_STEP, ["0.5"], **kwargs)


@pytest.mark.parametrize("method", ["mpmath", "interval"])
def test_preactivation_overflow(method):
    params = {"w_f": "1e308", "w_i": "0", "w_g": "0", "w_o": "0", "b": "0"}
    with pytest.raises(RangeError, match="pre-activation z_f at step 1 overflows float64"):
        evaluate(Cell("tied"), params, ["10"], method=method)
    # 1.7e308 is representable; 1.7e308 h + 1.7e308 x is not
    params["w_f"] = "1.7e308"
    with pytest.raises(RangeError, match="z_f at step 1"):
        evaluate(Cell("tied"), params, ["1"], h0="1", method=method)
    # the limit is the float64 maximum, not something smaller
    params["w_f"] = "1e300"
    trace = evaluate(Cell("tied"), params, ["10"], method=method)
    assert _as_mpf(trace["f", 1]) == 1


def test_preactivation_overflow_at_a_later_step_and_in_certify():
    cell = Cell("scalar")
    params = {f"{w}_{k}": "0" for k in "ifgo" for w in "WU"} | {"b": "0"}
    params |= {"W_o": "1e300", "U_o": "1e300"}
    with pytest.raises(RangeError, match="pre-activation z_o at step 2"):
        certify(cell, params, ["1", "1e9"], significant=5)
    # step 1 alone (z_o = 1e300) is fine
    trace = certify(cell, params, ["1"], significant=5)
    assert Fraction(trace.decimals[0]["z_o"]) == 10**300


def test_overflowing_parameter_value():
    with pytest.raises(RangeError, match="w_f: '1e400' overflows float64"):
        evaluate(Cell("tied"), {**SEED_STEP, "w_f": "1e400"}, ["0.5"])


def test_input_shape_errors():
    vec = Cell("vector", hidden_size=2, input_size=3)
    params = {k: v for k, v in VEC.items() if not k.startswith("p_")}
    with pytest.raises(ShapeError, match=r"x\[1\]: expected 3 number\(s\), got 2"):
        evaluate(vec, params, [["1", "2"]])
    with pytest.raises(ShapeError, match=r"x\[2\]"):
        evaluate(vec, params, [["1", "2", "3"], ["1", "2", "3", "4"]])
    with pytest.raises(ShapeError, match=r"h_prev: expected 2 number\(s\), got 3"):
        evaluate(vec, params, [["1", "2", "3"]], h0=["0", "0", "0"])
    with pytest.raises(ShapeError, match=r"c_prev: expected shape \(2,\), got a single number"):
        certify(vec, params, [["1", "2", "3"]], c0="0.5", places=2)
    with pytest.raises(ShapeError, match="inputs: the sequence is empty"):
        evaluate(Cell("tied"), SEED_STEP, [], method="mpmath")
    with pytest.raises(ShapeError, match="inputs: the sequence is empty"):
        certify(Cell("tied"), SEED_STEP, [], places=2)
    with pytest.raises(ShapeError, match="inputs: expected a sequence of steps"):
        evaluate(Cell("tied"), SEED_STEP, "0.5")
    with pytest.raises(ParameterError, match=r"x\[1\]: 'nan' is not a finite number"):
        evaluate(Cell("tied"), SEED_STEP, ["nan"])


def test_unsized_vector_cell_cannot_be_evaluated():
    with pytest.raises(ParameterError):
        evaluate(Cell("vector"), {}, [[1]])


# -- 7. the spec's section-8 table -----------------------------------------------------------------


def test_spec_sequence_table_with_w_f_065():
    # w_f = 0.65 (one of the explanations the audit finds) reproduces all nine entries.
    xs = ["0.2", "0.4", "0.6"]
    weights = {**SEED_SEQUENCE, "w_f": "0.65"}
    trace = certify(Cell("tied"), weights, xs, places=2)
    ref = scalar_trace(weights, xs)
    for name, column in SPEC_TABLE.items():
        got = [trace.decimals[t][name] for t in range(3)]
        assert got == column, name
        assert [rounded(r[name], 2) for r in ref] == column, name


def test_spec_sequence_with_section_5_weights_gets_one_entry_wrong():
    xs = ["0.2", "0.4", "0.6"]
    trace = certify(Cell("tied"), SEED_STEP, xs, places=2)
    ref = scalar_trace(SEED_STEP, xs)
    wrong = []
    for name, column in SPEC_TABLE.items():
        for t in range(3):
            got = trace.decimals[t][name]
            assert got == rounded(ref[t][name], 2), (name, t)
            if got != column[t]:
                wrong.append((name, t + 1, got))
    assert wrong == [("f", 3, "0.62")]


def test_decimal_context_is_untouched():
    # the reference helpers use local contexts only
    assert decimal.getcontext().prec == 28


def test_public_helpers_check_their_arguments_where_they_enter():
    from symlstm.errors import ArgumentError, ShapeError, UnknownNameError
    from symlstm.numeric.evaluation import (
        bind,
        evaluate_expression,
        hand_rounds_terms,
        numeric_context,
    )

    tied = Cell("tied")
    assert bind(tied, "w_f", sympy.Rational(7, 10), lambda v: v) == {
        tied.parameters["w_f"]: sympy.Rational(7, 10)
    }
    with pytest.raises(ArgumentError, match="cell must be a Cell, not str"):
        bind("tied", "w_f", 1, lambda v: v)
    with pytest.raises(UnknownNameError, match="'zz' is not a parameter or quantity"):
        bind(tied, "zz", 1, lambda v: v)
    with pytest.raises(ArgumentError, match="convert must be callable"):
        bind(tied, "w_f", 1, None)
    with pytest.raises(ArgumentError, match="w_f of a scalar cell must be a number, not list"):
        bind(tied, "w_f", [1], lambda v: v)
    vector = Cell("vector", hidden_size=2, input_size=1)
    with pytest.raises(ShapeError, match="b_f must have 2 rows, not 3"):
        bind(vector, "b_f", (1, 2, 3), lambda v: v)
    with numeric_context("exact") as arith:
        h = sympy.Symbol("h")
        assert evaluate_expression(h / 2, {h: sympy.Integer(1)}, arith) == sympy.Rational(1, 2)
        with pytest.raises(ArgumentError, match="expr must be a SymPy expression, not str"):
            evaluate_expression("h", {}, arith)
        with pytest.raises(ArgumentError, match="env must be a mapping"):
            evaluate_expression(h, None, arith)
    with pytest.raises(ArgumentError, match="arith must be an arithmetic from numeric_context"):
        evaluate_expression(h, {}, None)
    with pytest.raises(ArgumentError, match="quantity must be a string"):
        hand_rounds_terms(tied, None)
    with pytest.raises(UnknownNameError, match="'zz' is not a quantity"):
        hand_rounds_terms(tied, "zz")


def test_values_far_below_any_digit_are_rounded_in_a_moment():
    # x = -31249822493: f = σ(-2.2e10) = e^(-2.2e10), whose exact fraction would have
    # billions of digits (a fuzz run found certify hanging on it).
    import time

    params = {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"}
    start = time.monotonic()
    trace = certify(Cell("tied"), params, ["-31249822493"], places=3)
    assert time.monotonic() - start < 10
    assert trace.decimals[0]["f"] == "0.000" and trace.decimals[0]["g"] == "-1.000"
    with pytest.raises(RangeError, match="cannot be shown to significant digits"):
        certify(Cell("tied"), params, ["-31249822493"], significant=5)
