"""to_rational: decimal text is exact, floats are their exact binary value, the rest is refused."""

from __future__ import annotations

import decimal
import fractions
import sys

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symlstm.errors import ParameterError, RangeError
from symlstm.numeric.exact import FLOAT64_MAX, to_rational

R = sympy.Rational


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.7", R(7, 10)),
        ("0.5", R(1, 2)),
        ("-0.125", R(-1, 8)),
        ("1e-3", R(1, 1000)),
        ("2.5E2", R(250)),
        ("  0.603 ", R(603, 1000)),
        ("1_000.25", R(4001, 4)),
        ("3/7", R(3, 7)),
        ("-22/6", R(-11, 3)),
        ("0", R(0)),
        ("123456789012345678901234567890.1", R(1234567890123456789012345678901, 10)),
    ],
)
def test_decimal_text_is_the_exact_rational(text, expected):
    got = to_rational(text)
    assert isinstance(got, sympy.Rational)
    assert got == expected


def test_decimal_text_is_not_the_binary_float():
    assert to_rational("0.7") == R(7, 10)
    assert to_rational("0.7") != R(*(0.7).as_integer_ratio())


@pytest.mark.parametrize("value", [0.7, 0.1, -2.675, 1e-300, 1.7976931348623157e308, 5e-324])
def test_float_is_taken_at_its_exact_binary_value(value):
    num, den = value.as_integer_ratio()
    assert to_rational(value) == R(num, den)


def test_float_07_exact_binary_value_spelled_out():
    # 0.7 as a float64 is 3152519739159347 / 2**52.
    assert to_rational(0.7) == R(3152519739159347, 2**52)


def test_other_number_types():
    assert to_rational(5) == R(5)
    assert to_rational(decimal.Decimal("0.1")) == R(1, 10)
    assert to_rational(fractions.Fraction(3, 7)) == R(3, 7)
    assert to_rational(np.int64(-4)) == R(-4)
    assert to_rational(np.float64(0.25)) == R(1, 4)
    # float32(0.1) is 13421773 / 2**27: its own binary value, not float64's nor 1/10.
    assert to_rational(np.float32(0.1)) == R(13421773, 2**27)
    assert to_rational(sympy.Float("0.5")) == R(1, 2)
    r = R(2, 3)
    assert to_rational(r) is r


@pytest.mark.parametrize(
    "value",
    [
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "abc",
        "",
        "0.5.5",
        "1/0",
        float("nan"),
        float("inf"),
        float("-inf"),
        decimal.Decimal("NaN"),
        decimal.Decimal("Infinity"),
        np.float64("nan"),
        True,
        False,
        None,
        [0.5],
        complex(1, 2),
        sympy.Symbol("w"),
        sympy.oo,
        sympy.nan,
        sympy.sqrt(2),
    ],
)
def test_non_numbers_and_non_finite_are_refused(value):
    with pytest.raises(ParameterError, match=r"^w_f: "):
        to_rational(value, what="w_f")


def test_refusals_are_not_range_errors():
    with pytest.raises(ParameterError) as info:
        to_rational("nan", what="b_o")
    assert not isinstance(info.value, RangeError)
    assert str(info.value) == "b_o: 'nan' is not a finite number"


def test_booleans_are_named_as_booleans():
    with pytest.raises(ParameterError, match="w_i: True is a boolean, not a number"):
        to_rational(True, what="w_i")


@pytest.mark.parametrize("value", ["1e400", "-1e400", 10**400, decimal.Decimal("2e308")])
def test_beyond_float64_is_a_range_error(value):
    with pytest.raises(RangeError, match=r"w_g: .* overflows float64"):
        to_rational(value, what="w_g")


def test_float64_max_is_accepted_and_the_next_number_is_not():
    largest = (2 - fractions.Fraction(1, 2**52)) * fractions.Fraction(2) ** 1023
    assert fractions.Fraction(sys.float_info.max) == largest
    assert largest == FLOAT64_MAX
    assert to_rational(sys.float_info.max) == R(largest.numerator, largest.denominator)
    just_over = largest + fractions.Fraction(1, 10**9)
    with pytest.raises(RangeError):
        to_rational(just_over)
    with pytest.raises(RangeError):
        to_rational(-just_over)


@settings(max_examples=200, deadline=None, database=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_property_any_finite_float_is_exact(value):
    num, den = value.as_integer_ratio()
    assert to_rational(value) == R(num, den)


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(-(10**30), 10**30), st.integers(0, 40))
def test_property_decimal_text_round_trip(mantissa, scale):
    text = f"{mantissa}e-{scale}"
    assert to_rational(text) == R(mantissa, 10**scale)
