"""The SymPy → context compiler, on scalars and object arrays, against mpmath at 80 digits."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from sympy import Abs, Heaviside, Max, Min, Piecewise, Rational, sign, tanh

from symlstm.errors import ArgumentError, SymLSTMError, UndecidedError
from symlstm.functions import ACTIVATIONS, hard_sigmoid, sigmoid
from symlstm.numeric.compile import compile_expression
from symlstm.numeric.contexts import context

x, y = sympy.symbols("x y", real=True)


def _reference(expr: sympy.Expr, values: dict) -> mpmath.mpf:
    """The expression's value at 80 digits, by SymPy's own evalf of the substituted form."""
    with mpmath.workdps(80):
        return mpmath.mpf(str(sympy.N(expr.subs(values).rewrite(Max), 80)))


EXPRESSIONS = [
    sigmoid(x) * tanh(y) - 3 * x,
    hard_sigmoid(2 * x),
    hard_sigmoid(x, Rational(1, 6), Rational(1, 2)),
    hard_sigmoid(x - y, Rational(3, 4), Rational(-1, 3)),
    x / (1 + Abs(x)),  # softsign
    Max(0, x) - Min(y, 1) + (x - y) ** 2,
    sympy.exp(-x) / (1 + y**2),
    Piecewise((x, x > y), (y / 2, True)),
]
VALUES = [
    (Fraction(-7, 3), Fraction(1, 5)),
    (Fraction(49, 100), Fraction(-3, 2)),
    (Fraction(5, 2), 2),
]


def _bounds(ctx, got) -> tuple[mpmath.mpf, mpmath.mpf]:
    """A value's enclosure at 80 digits (a point for mpmath and exact values)."""
    with mpmath.workdps(80):
        if ctx.name == "exact":
            v = mpmath.mpf(str(sympy.N(got, 80)))
            return v, v
        if ctx.name == "interval":
            return tuple(mpmath.mpf(q.numerator) / q.denominator for q in (got.lo, got.hi))
        if ctx.name == "iv":
            return mpmath.mpf(got.a), mpmath.mpf(got.b)
        if ctx.name == "arb":
            with ctx.workprec(240):  # lower() and upper() round to the precision in force
                ends = got.lower(), got.upper()
            return tuple(mpmath.mpf(e.str(80, radius=False, more=True)) for e in ends)
        return got, got


def _agrees(ctx, got, expected) -> None:
    lo, hi = _bounds(ctx, got)
    with mpmath.workdps(80):
        tolerance = mpmath.mpf(10) ** -50 * max(1, abs(expected))
        assert abs(lo - expected) <= tolerance and abs(hi - expected) <= tolerance
        assert lo <= expected + tolerance * 1e-20 and expected - tolerance * 1e-20 <= hi


@pytest.mark.parametrize("name", ["mpmath", "interval", "iv", "arb"])
@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_scalars_agree_with_mpmath(name, expr):
    if name == "arb":
        pytest.importorskip("flint")
    ctx = context(name)
    f = compile_expression(expr, ctx)
    for a, b in VALUES:
        expected = _reference(expr, {x: Rational(a), y: Rational(b)})
        with ctx.workprec(240):
            got = f({x: ctx.const(Fraction(a)), y: ctx.const(Fraction(b))})
        if name == "mpmath":  # a point: agrees to 240 bits, so at 50 digits
            with mpmath.workdps(80):
                assert abs(got - expected) <= mpmath.mpf(10) ** -50 * max(1, abs(expected))
        else:
            _agrees(ctx, got, expected)


def test_every_activation_compiles_exactly():
    ctx = context("exact")
    for activation in ACTIVATIONS.values():
        expr = activation(x)
        got = compile_expression(expr, ctx)({x: Rational(1, 2)})
        assert sympy.simplify(got - expr.subs(x, Rational(1, 2))) == 0, activation.name


@pytest.mark.parametrize("name", ["exact", "mpmath", "interval", "iv"])
@pytest.mark.parametrize("h0", [Rational(0), Rational(1, 2), Rational(1)])
def test_heaviside_reads_h0(name, h0):
    ctx = context(name)
    f = compile_expression(Heaviside(x, h0), ctx)
    for value, expected in ((Fraction(-1, 3), 0), (Fraction(0), h0), (Fraction(2), 1)):
        with ctx.workprec(100):
            got = f({x: ctx.const(value)})
        expected = Rational(expected)
        _agrees(ctx, got, mpmath.mpf(int(expected.p)) / int(expected.q))


def test_arrays_element_by_element():
    ctx = context("iv")
    expr = Piecewise((sigmoid(x), x > 0), (hard_sigmoid(x, Rational(1, 6), Rational(1, 2)), True))
    f = compile_expression(expr + sign(y), ctx)
    xs = np.array([[ctx.const(Fraction(1, 2)), ctx.const(-2)]], dtype=object)
    ys = np.array([[ctx.const(-1), ctx.const(0)]], dtype=object)
    with ctx.workprec(200):
        out = f({x: xs, y: ys})
    assert out.shape == (1, 2)
    with mpmath.workdps(80):
        first = 1 / (1 + mpmath.exp(-mpmath.mpf(1) / 2)) - 1  # σ(1/2) + sign(−1)
        second = mpmath.mpf(-2) / 6 + mpmath.mpf(1) / 2  # σ_hard(−2) + sign(0)
    _agrees(ctx, out[0, 0], first)
    _agrees(ctx, out[0, 1], second)


def test_undecided_branch_names_the_element():
    ctx = context("iv")
    f = compile_expression(Piecewise((x, x > y), (y, True)), ctx)
    with ctx.workprec(64):
        s = ctx.sigmoid(ctx.const(Fraction(1, 3)))
        xs = np.array([[ctx.const(1), s]], dtype=object)
        ys = np.array([[ctx.const(0), s]], dtype=object)  # σ(1/3) > σ(1/3)? undecided
        with pytest.raises(UndecidedError, match=r"at element \(0, 1\)"):
            f({x: xs, y: ys})
        with pytest.raises(UndecidedError):
            compile_expression(sign(x - y), ctx)({x: s, y: s})


def test_only_the_chosen_piece_is_computed():
    """A condition after a decided one, and a piece not chosen, are never computed."""
    ctx = context("mpmath")
    f = compile_expression(Piecewise((x, x > 0), (sympy.sqrt(x), True)), ctx)
    assert f({x: ctx.const(2)}) == 2
    with pytest.raises(SymLSTMError, match="cannot evaluate"):
        f({x: ctx.const(-2)})


def test_bad_arguments():
    with pytest.raises(ArgumentError):
        compile_expression("x + 1", context("exact"))
    with pytest.raises(ArgumentError):
        compile_expression(x + 1, "exact")
    with pytest.raises(SymLSTMError, match="no value"):
        compile_expression(x + 1, context("exact"))({})


@pytest.mark.parametrize("name", ["mpmath", "interval", "iv", "arb"])
@pytest.mark.parametrize("value", [Fraction(49, 100), Fraction(7, 3), Fraction(1)])
def test_the_logarithm_agrees_with_mpmath(name, value):
    """log in every context (users' losses may take logarithms), against mpmath at 80."""
    ctx = context(name)
    f = compile_expression(sympy.log(x) - sympy.E * x, ctx)
    with ctx.workprec(200):
        got = f({x: ctx.const(value)})
    with mpmath.workdps(80):
        v = mpmath.mpf(value.numerator) / value.denominator
        expected = mpmath.log(v) - mpmath.e * v
        if name == "mpmath":  # a point at 200 bits: agrees at 50 digits
            assert abs(got - expected) <= mpmath.mpf(10) ** -50 * max(1, abs(expected))
            return
    _agrees(ctx, got, expected)


def test_a_guard_sees_every_distinct_subexpression_once():
    """With a guard, a value is checked after each distinct subexpression and computed once
    per call (a user's expression may share subtrees), divisions and logarithms are
    announced first, and a node the compiler cannot compute is named at compile time."""
    from symlstm.numeric.compile import Guard

    class Recorder(Guard):
        def __init__(self):
            self.values, self.divisors, self.logs, self.unsupported_nodes = [], [], [], []

        def value(self, node, value):
            self.values.append(node)

        def divisor(self, node, base):
            self.divisors.append((node, base))

        def logarithm(self, node, argument):
            self.logs.append((node, argument))

        def unsupported(self, node):
            self.unsupported_nodes.append(node)

    shared = sigmoid(x) + 1
    expr = shared**2 + shared / (x - 1) + sympy.log(shared)
    guard = Recorder()
    ctx = context("exact")
    f = compile_expression(expr, ctx, guard=guard)
    got = f({x: Rational(1, 2)})
    assert sympy.simplify(got - expr.subs(x, Rational(1, 2))) == 0
    assert guard.values.count(shared) == 1  # computed and checked once, used three times
    assert [node for node, _ in guard.divisors] == [1 / (x - 1)]
    assert [arg for _, arg in guard.divisors] == [Rational(-1, 2)]
    assert [node for node, _ in guard.logs] == [sympy.log(shared)]
    guard.values.clear()
    f({x: Rational(1, 3)})  # a second call: computed again, once
    assert guard.values.count(shared) == 1
    deep = x
    for _ in range(60):  # a DAG of 60 levels, 2^60 leaves as a tree
        deep = deep * deep + deep
    assert compile_expression(deep, ctx, guard=Recorder())({x: Rational(0)}) == 0
    compile_expression(sympy.gamma(x), ctx, guard=guard)
    assert guard.unsupported_nodes == [sympy.gamma(x)]
    with pytest.raises(ArgumentError, match="guard must be a Guard"):
        compile_expression(x, ctx, guard=object())
