"""Activations as SymPy functions: derivatives, values, LaTeX, and the activation table."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy
from sympy import Abs, Max, Min, Rational, Symbol, diff, exp, latex, simplify, tanh
from sympy.core.function import ArgumentIndexError

from symlstm.errors import UnknownNameError
from symlstm.functions import ACTIVATIONS, Activation, activation, hard_sigmoid, sigmoid

x = Symbol("x", real=True)


# -- sigmoid ------------------------------------------------------------------


def test_sigmoid_derivative_is_sigmoid_times_one_minus_sigmoid():
    d = diff(sigmoid(x), x)
    assert simplify(d - sigmoid(x) * (1 - sigmoid(x))) == 0


def test_sigmoid_derivative_matches_the_exp_formula():
    by_hand = diff(1 / (1 + exp(-x)), x)
    ours = diff(sigmoid(x), x).rewrite(exp)
    assert simplify(ours - by_hand) == 0
    # and at a point, numerically, far beyond float precision
    point = Rational(49, 100)
    with mpmath.workdps(60):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(49) / 100))
        expected = s * (1 - s)
        got = mpmath.mpf(str(diff(sigmoid(x), x).subs(x, point).evalf(55)))
        assert abs(got - expected) < mpmath.mpf(10) ** -50


def test_sigmoid_chain_rule():
    w = Symbol("w")
    d = diff(sigmoid(3 * w + 1), w)
    assert simplify(d - 3 * sigmoid(3 * w + 1) * (1 - sigmoid(3 * w + 1))) == 0


def test_sigmoid_rewrites_to_exp():
    assert sigmoid(x).rewrite(exp) == 1 / (1 + exp(-x))


@pytest.mark.parametrize("point", ["0.49", "0.42", "-3.5", "12", "-40"])
def test_sigmoid_evalf_against_mpmath_at_50_digits(point):
    value = sigmoid(Rational(point)).evalf(50)
    with mpmath.workdps(70):
        expected = 1 / (1 + mpmath.exp(-mpmath.mpf(point)))
        got = mpmath.mpf(str(value))
        assert abs(got - expected) <= abs(expected) * mpmath.mpf(10) ** -48


def test_sigmoid_exact_values():
    assert sigmoid(0) == Rational(1, 2)
    assert sigmoid(sympy.S.Zero) is sympy.S.Half
    assert sigmoid(sympy.oo) == 1
    assert sigmoid(-sympy.oo) == 0
    # elsewhere it stays unevaluated (exact), not a float
    assert isinstance(sigmoid(Rational(1, 2)), sigmoid)


def test_sigmoid_assumptions():
    assert sigmoid(x).is_real
    assert sigmoid(x).is_positive
    assert sigmoid(Symbol("y", real=True)).is_positive


def test_sigmoid_latex():
    assert latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert latex(sigmoid(Rational(49, 100))) == r"\sigma\left(\frac{49}{100}\right)"
    assert latex(sigmoid(x) ** 2) == r"\sigma\left(x\right)^{2}"


def test_sigmoid_has_one_argument_for_derivatives():
    with pytest.raises(ArgumentIndexError):
        sigmoid(x).fdiff(2)


# -- hard sigmoid -------------------------------------------------------------


def _hard(value: Fraction, slope: Fraction) -> Fraction:
    return max(Fraction(0), min(Fraction(1), slope * value + Fraction(1, 2)))


# Points chosen around both kinks of both slopes: 1/5 kinks at ±5/2, 1/6 at ±3.
POINTS = ["-10", "-3", "-2.5", "-1", "0", "0.5", "2", "2.5", "2.9", "3", "10"]


@pytest.mark.parametrize("point", POINTS)
def test_hard_sigmoid_default_slope_one_fifth(point):
    value = hard_sigmoid(Rational(point))
    assert isinstance(value, sympy.Rational)
    assert value == Rational(_hard(Fraction(point), Fraction(1, 5)))


@pytest.mark.parametrize("point", POINTS)
def test_hard_sigmoid_slope_one_sixth(point):
    value = hard_sigmoid(Rational(point), Rational(1, 6), Rational(1, 2))
    assert value == Rational(_hard(Fraction(point), Fraction(1, 6)))
    # The table's relu6 form: relu6(x + 3) / 6.
    relu6 = min(max(Fraction(point) + 3, Fraction(0)), Fraction(6)) / 6
    assert activation("hard_sigmoid_relu6")(Rational(point)) == Rational(relu6)


def test_hard_sigmoid_values_spelled_out():
    assert hard_sigmoid(Rational(1, 2)) == Rational(3, 5)
    assert hard_sigmoid(Rational(-1)) == Rational(3, 10)
    assert hard_sigmoid(Rational(2)) == Rational(9, 10)
    assert hard_sigmoid(Rational(-3)) == 0
    assert hard_sigmoid(Rational(3)) == 1
    sixth = Rational(1, 6), Rational(1, 2)
    assert hard_sigmoid(Rational(1, 2), *sixth) == Rational(7, 12)
    assert hard_sigmoid(Rational(-1), *sixth) == Rational(1, 3)
    assert hard_sigmoid(Rational(2), *sixth) == Rational(5, 6)
    assert hard_sigmoid(Rational(-3), *sixth) == 0
    assert hard_sigmoid(Rational(3), *sixth) == 1


def test_hard_sigmoid_slope_and_offset():
    assert hard_sigmoid(x).slope == Rational(1, 5)
    assert hard_sigmoid(x).offset == Rational(1, 2)
    h = hard_sigmoid(x, Rational(1, 6), Rational(1, 2))
    assert (h.slope, h.offset) == (Rational(1, 6), Rational(1, 2))


@pytest.mark.parametrize(
    ("slope", "point", "expected"),
    [
        (Rational(1, 5), "0", Rational(1, 5)),
        (Rational(1, 5), "2.4", Rational(1, 5)),
        (Rational(1, 5), "2.6", 0),
        (Rational(1, 5), "-2.6", 0),
        (Rational(1, 6), "0", Rational(1, 6)),
        (Rational(1, 6), "2.9", Rational(1, 6)),
        (Rational(1, 6), "3.1", 0),
        (Rational(1, 6), "-3.1", 0),
    ],
)
def test_hard_sigmoid_derivative(slope, point, expected):
    h = hard_sigmoid(x) if slope == Rational(1, 5) else hard_sigmoid(x, slope, Rational(1, 2))
    assert diff(h, x).subs(x, Rational(point)) == expected


def test_hard_sigmoid_chain_rule_and_rewrite():
    w = Symbol("w")
    d = diff(hard_sigmoid(2 * w), w)
    assert d.subs(w, Rational(1)) == Rational(2, 5)  # 2 * 1/5 inside the linear part
    assert d.subs(w, Rational(2)) == 0  # 2w = 4 is past the kink at 5/2
    assert hard_sigmoid(x).rewrite(Max) == Max(0, Min(1, x / 5 + Rational(1, 2)))


def test_hard_sigmoid_stays_symbolic_and_prints():
    assert isinstance(hard_sigmoid(x), hard_sigmoid)
    assert latex(hard_sigmoid(x)) == r"\sigma_{\mathrm{hard}}\left(x\right)"
    with pytest.raises(ArgumentIndexError):
        hard_sigmoid(x).fdiff(2)


# -- the table ------------------------------------------------------------------


def test_activation_table_entries_compute_their_functions():
    half, neg = Rational(1, 2), Rational(-3)
    assert activation("sigmoid")(half) == sigmoid(half)
    assert activation("tanh")(half) == tanh(half)
    assert activation("softsign")(neg) == Rational(-3, 4)
    assert activation("softsign")(half) == Rational(1, 3)
    assert activation("relu")(neg) == 0
    assert activation("relu")(half) == half
    assert activation("identity")(neg) == neg
    assert activation("hard_sigmoid")(half) == Rational(3, 5)
    assert activation("softsign")(x) == x / (1 + Abs(x))


def test_activation_table_is_keyed_by_name():
    assert set(ACTIVATIONS) >= {
        "sigmoid",
        "hard_sigmoid",
        "hard_sigmoid_relu6",
        "tanh",
        "softsign",
        "relu",
        "identity",
    }
    for name, entry in ACTIVATIONS.items():
        assert isinstance(entry, Activation)
        assert entry.name == name
        assert activation(name) is entry
        assert entry.summary


def test_tanh_activation_evalf_against_mpmath():
    value = activation("tanh")(Rational(7, 20)).evalf(50)
    with mpmath.workdps(70):
        expected = mpmath.tanh(mpmath.mpf(7) / 20)
        assert abs(mpmath.mpf(str(value)) - expected) < mpmath.mpf(10) ** -48


@pytest.mark.parametrize("name", ["swish", "Sigmoid", "", "tan h"])
def test_unknown_activation(name):
    with pytest.raises(UnknownNameError, match=f"unknown activation {name!r}; known: sigmoid"):
        activation(name)
    with pytest.raises(KeyError):
        activation(name)
