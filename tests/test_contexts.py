"""Every function of every numeric context agrees with mpmath at 50 digits.

The expected values are computed here with mpmath at 80 digits from the functions'
definitions (σ(x) = 1/(1 + e^−x), max(0, min(1, αx + β)), …), independently of the
contexts; enclosures must also contain them.
"""

from __future__ import annotations

import operator
from fractions import Fraction

import mpmath
import pytest
import sympy

from symlstm.errors import (
    ArgumentError,
    MissingDependencyError,
    UndecidedError,
    UnknownNameError,
)
from symlstm.numeric.contexts import (
    ArbContext,
    ExactContext,
    IntervalContext,
    IvContext,
    MpContext,
    context,
)
from symlstm.numeric.enclosure import Enclosure

NAMES = ["exact", "mpmath", "interval", "iv", "arb"]
POINTS = [Fraction(-7, 3), Fraction(-1, 10), Fraction(0), Fraction(49, 100), Fraction(5, 2)]
PREC = 240  # bits: well beyond 50 digits


def _ctx(name):
    if name == "arb":
        pytest.importorskip("flint")
    return context(name)


def _mp(q: Fraction) -> mpmath.mpf:
    return mpmath.mpf(q.numerator) / q.denominator


def _expected(name: str, *args: Fraction) -> mpmath.mpf:
    with mpmath.workdps(80):
        x = [_mp(a) for a in args]
        if name == "sigmoid":
            return 1 / (1 + mpmath.exp(-x[0]))
        if name == "tanh":
            return (mpmath.exp(x[0]) - mpmath.exp(-x[0])) / (mpmath.exp(x[0]) + mpmath.exp(-x[0]))
        if name == "exp":
            return mpmath.e ** x[0]
        if name == "abs":
            return x[0] if x[0] >= 0 else -x[0]
        if name == "max":
            return x[0] if x[0] >= x[1] else x[1]
        if name == "min":
            return x[0] if x[0] <= x[1] else x[1]
        if name == "hard_sigmoid":
            v = x[1] * x[0] + x[2]
            return mpmath.mpf(0) if v < 0 else (mpmath.mpf(1) if v > 1 else v)
        if name == "heaviside":
            return mpmath.mpf(1) if x[0] > 0 else (mpmath.mpf(0) if x[0] < 0 else x[1])
        if name == "sign":
            return mpmath.mpf((x[0] > 0) - (x[0] < 0))
        if name == "add":
            return x[0] + x[1]
        if name == "sub":
            return x[0] - x[1]
        if name == "mul":
            return x[0] * x[1]
        if name == "neg":
            return -x[0]
        raise AssertionError(name)


def _bounds(ctx, value) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The value's enclosure (a point for exact and mpmath values) at 80 digits."""
    with mpmath.workdps(80):
        if ctx.name == "exact":
            v = mpmath.mpf(str(sympy.N(value, 70)))
            return v, v
        if ctx.name == "mpmath":
            return value, value
        if ctx.name == "interval":
            assert isinstance(value, Enclosure)
            return _mp(value.lo), _mp(value.hi)
        if ctx.name == "iv":
            return mpmath.mpf(value.a), mpmath.mpf(value.b)
        with ctx.workprec(PREC):  # lower() and upper() round to the precision in force
            return (
                mpmath.mpf(value.lower().str(80, radius=False, more=True)),
                mpmath.mpf(value.upper().str(80, radius=False, more=True)),
            )


def _agrees(ctx, value, expected) -> None:
    lo, hi = _bounds(ctx, value)
    with mpmath.workdps(80):
        tolerance = mpmath.mpf(10) ** -50 * max(1, abs(expected))
        assert abs(lo - expected) <= tolerance and abs(hi - expected) <= tolerance, (
            ctx.name,
            lo,
            hi,
            expected,
        )
        if ctx.name in ("interval", "iv", "arb"):  # enclosures contain the value
            assert lo - tolerance * 10**-20 <= expected <= hi + tolerance * 10**-20


def _run(ctx, fn):
    if ctx.name == "exact":
        return fn()
    if ctx.name == "mpmath":
        with mpmath.workprec(PREC):
            return fn()
    with ctx.workprec(PREC):
        return fn()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("function", ["sigmoid", "tanh", "exp", "abs", "sign", "neg"])
def test_unary_functions_agree_with_mpmath(name, function):
    ctx = _ctx(name)
    for x in POINTS:
        value = _run(ctx, lambda x=x: getattr(ctx, function)(ctx.const(x)))
        _agrees(ctx, value, _expected(function, x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("function", ["max", "min", "add", "sub", "mul"])
def test_binary_functions_agree_with_mpmath(name, function):
    ctx = _ctx(name)
    for x in POINTS:
        for y in (Fraction(1, 3), Fraction(-2, 7)):
            value = _run(ctx, lambda x=x, y=y: getattr(ctx, function)(ctx.const(x), ctx.const(y)))
            _agrees(ctx, value, _expected(function, x, y))


@pytest.mark.parametrize("name", NAMES)
def test_functions_of_transcendental_values(name):
    """Values that are not rational (σ(1/3)) going through max, abs and products."""
    ctx = _ctx(name)

    def compute():
        s = ctx.sigmoid(ctx.const(Fraction(1, 3)))
        t = ctx.tanh(ctx.const(Fraction(-1, 2)))
        return ctx.max(s, t), ctx.abs(t), ctx.mul(s, t), ctx.power(s, 3), ctx.power(t, -1)

    got = _run(ctx, compute)
    with mpmath.workdps(80):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(1) / 3))
        t = mpmath.tanh(-mpmath.mpf(1) / 2)
        for value, expected in zip(got, (s, -t, s * t, s**3, 1 / t), strict=True):
            _agrees(ctx, value, expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("slope", "offset"),
    [
        (Fraction(1, 5), Fraction(1, 2)),
        (Fraction(1, 6), Fraction(1, 2)),
        (Fraction(3, 4), Fraction(-1, 3)),
    ],
)
def test_hard_sigmoid_reads_its_slope_and_offset(name, slope, offset):
    ctx = _ctx(name)
    for x in [*POINTS, Fraction(7, 2), Fraction(-4)]:
        value = _run(
            ctx, lambda x=x: ctx.hard_sigmoid(ctx.const(x), ctx.const(slope), ctx.const(offset))
        )
        _agrees(ctx, value, _expected("hard_sigmoid", x, slope, offset))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("h0", [Fraction(0), Fraction(1, 2), Fraction(1)])
def test_heaviside_takes_its_value_at_zero(name, h0):
    ctx = _ctx(name)
    for x in POINTS:
        value = _run(ctx, lambda x=x: ctx.heaviside(ctx.const(x), ctx.const(h0)))
        _agrees(ctx, value, _expected("heaviside", x, h0))


@pytest.mark.parametrize("name", ["interval", "iv", "arb"])
def test_undecided_comparisons_and_signs_raise(name):
    ctx = _ctx(name)

    def straddling():
        # σ(1/3) − σ(1/3) computed as an enclosure around 0 that is not a point
        s = ctx.sigmoid(ctx.const(Fraction(1, 3)))
        return ctx.sub(s, s), s

    with ctx.workprec(64):
        zero_ish, s = straddling()
        with pytest.raises(UndecidedError):
            ctx.sign(zero_ish)
        with pytest.raises(UndecidedError):
            ctx.heaviside(zero_ish, ctx.const(Fraction(1, 2)))
        with pytest.raises(UndecidedError):
            ctx.compare(operator.lt, zero_ish, ctx.const(0))
        assert ctx.compare(operator.lt, ctx.const(0), s) is True
        assert ctx.compare(operator.ge, ctx.const(0), s) is False


def test_exact_comparisons_decide_or_raise():
    ctx = ExactContext()
    half = ctx.const(Fraction(1, 2))
    assert ctx.compare(operator.lt, half, ctx.sigmoid(half)) is True
    with pytest.raises(UndecidedError):
        ctx.compare(operator.lt, sympy.Symbol("x"), half)


def test_enclosures_stay_exact_where_rational():
    ctx = IntervalContext()
    with ctx.workprec(64):
        s = ctx.sigmoid(ctx.const(Fraction(1, 3)))
        assert ctx.mul(ctx.const(0), s).exact == 0  # 0 × anything is exactly 0
        assert ctx.sigmoid(ctx.const(0)).exact == Fraction(1, 2)
        assert ctx.tanh(ctx.const(0)).exact == 0
        assert ctx.exp(ctx.const(0)).exact == 1
        assert s.exact is None


def test_nan_balls_propagate():
    ctx = IvContext()
    nan = ctx.nan()
    assert not ctx.is_finite(ctx.sigmoid(nan))
    assert not ctx.is_finite(ctx.max(nan, ctx.const(1)))
    assert not ctx.is_finite(ctx.heaviside(nan, ctx.const(0)))
    mp = MpContext()
    assert mpmath.isnan(mp.sign(mp.nan()))


def test_mpmath_workprec_is_scoped():
    ctx = MpContext()
    before = mpmath.mp.prec
    with ctx.workprec(300):
        assert mpmath.mp.prec == 300
    assert mpmath.mp.prec == before


def test_bad_arguments():
    with pytest.raises(UnknownNameError):
        context("decimal")
    with pytest.raises(ArgumentError):
        context(3)
    with pytest.raises(ArgumentError):
        MpContext().const(0.5)
    with pytest.raises(UnknownNameError):
        MpContext().function("swish", mpmath.mpf(1))
    with pytest.raises(ArgumentError):
        MpContext().compare(operator.eq, mpmath.mpf(1), mpmath.mpf(1))


def test_arb_without_python_flint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_flint(name, *args, **kwargs):
        if name == "flint":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_flint)
    with pytest.raises(MissingDependencyError):
        ArbContext()
