"""Half-up decimal rounding of exact numbers and of enclosures, against Python's decimal module."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symlstm.errors import PrecisionError, UndecidedBranchError, UndecidedError
from symlstm.numeric.rounding import (
    MAX_PREC,
    certified_significant_digits,
    round_enclosure,
    round_places,
    round_significant,
    stated_places,
    with_increasing_precision,
)


@pytest.mark.parametrize(
    ("x", "places", "expected"),
    [
        (F(2755, 10000), 3, "0.276"),  # tie: up
        (F(-2755, 10000), 3, "-0.276"),  # tie: away from zero
        (F(2754999, 10**7), 3, "0.275"),
        (F(1, 8), 2, "0.13"),
        (F(-1, 8), 2, "-0.13"),
        (F(5, 1000), 2, "0.01"),
        (F(-5, 1000), 2, "-0.01"),
        (F(9995, 1000), 2, "10.00"),  # carry into a new digit
        (F(-9995, 1000), 2, "-10.00"),
        (F(99995, 100000), 4, "1.0000"),
        (F(9994999, 10**6), 2, "9.99"),
        (F(0), 3, "0.000"),
        (F(7), 2, "7.00"),
        (F(1, 3), 5, "0.33333"),
        (F(2, 3), 5, "0.66667"),
        (F(-2, 3), 1, "-0.7"),
        (F(5, 2), 0, "3"),
        (F(-5, 2), 0, "-3"),
        (F(49, 10), 0, "5"),
        (F(1250), -2, "1300"),
        (F(1249), -2, "1200"),
        (F(-150), -2, "-200"),
        (F(12345), -3, "12000"),
        (F(1, 10**20), 20, "0.00000000000000000001"),
        (F(1, 2 * 10**20), 20, "0.00000000000000000001"),
    ],
)
def test_round_places(x, places, expected):
    assert round_places(x, places) == expected


def test_round_places_of_tiny_negatives_is_zero():
    text = round_places(F(-1, 1000), 2)
    assert F(text) == 0
    assert text.endswith("0.00")


def _decimal_places(x: F, places: int) -> Decimal:
    """Independent reference: Decimal quantize, half up, on an exactly representable x."""
    with localcontext() as ctx:
        ctx.prec = 200
        d = Decimal(x.numerator) / Decimal(x.denominator)
        assert F(d) == x  # exact: x has a short decimal expansion
        return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(-(10**12), 10**12), st.integers(0, 8), st.integers(-3, 9))
def test_property_round_places_matches_decimal(n, scale, places):
    x = F(n, 10**scale)
    text = round_places(x, places)
    assert F(text) == F(_decimal_places(x, places))
    if places > 0:
        assert len(text.partition(".")[2]) == places
    else:
        assert "." not in text


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (F(123456, 1000), 4, "123.5"),
        (F(-123456, 1000), 4, "-123.5"),
        (F(123449, 1000), 4, "123.4"),
        (F(9995, 1000), 3, "10.0"),  # 9.995 -> 10.0, still 3 significant digits
        (F(-9995, 1000), 3, "-10.0"),
        (F(99995, 10000), 4, "10.00"),
        (F(99999, 10**6), 2, "0.10"),
        (F(95, 1000), 1, "0.1"),
        (F(0), 3, "0.00"),
        (F(0), 1, "0"),
        (F(1, 3), 5, "0.33333"),
        (F(2, 3), 5, "0.66667"),
        (F(1, 10**20), 2, "0.000000000000000000010"),
        (F(6201064, 10**7), 2, "0.62"),
        (F(6255, 10**4), 3, "0.626"),
    ],
)
def test_round_significant(x, digits, expected):
    assert round_significant(x, digits) == expected


@pytest.mark.parametrize("k", [1, 15, 22, 23, 30, 100])
def test_round_significant_at_powers_of_ten(k):
    # exactly 10**k and just below: float log10 would misplace the exponent here
    assert F(round_significant(F(10**k), 3)) == 10**k
    assert F(round_significant(F(10 ** (k + 3) - 1, 1000), 3)) == 10**k  # 99.999 -> 100
    assert round_significant(F(1, 10**k), 2) == "0." + "0" * (k - 1) + "10"
    just_below = F(10 ** (k + 5) - 1, 10 ** (2 * k + 5))  # 10**-k less a hair
    assert F(round_significant(just_below, 2)) == F(1, 10**k)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.integers(-(10**15), 10**15).filter(lambda n: n != 0),
    st.integers(-5, 12),
    st.integers(1, 12),
)
def test_property_round_significant_matches_decimal(n, scale, digits):
    x = F(n, 10**scale) if scale >= 0 else F(n * 10**-scale)
    with localcontext() as ctx:
        ctx.prec = digits
        ctx.rounding = ROUND_HALF_UP
        expected = +Decimal(str(n)).scaleb(-scale, context=None)
    text = round_significant(x, digits)
    assert F(text) == F(expected)


@pytest.mark.parametrize(
    ("x", "digits", "value"),
    [
        (F(10), 1, 10),
        (F(45), 1, 50),
        (F(1234), 2, 1200),
        (F(1250), 2, 1300),
        (F(-1234), 2, -1200),
        (F(98765), 3, 98800),
        (F(123456789, 100), 4, 1235000),  # 1234567.89
    ],
)
def test_round_significant_of_numbers_with_more_integer_digits(x, digits, value):
    # Integer digits beyond the requested ones are zeros, not extra significant digits.
    assert F(round_significant(x, digits)) == value


def test_certified_digits_of_large_enclosures():
    # 1230 and 1249 agree to 2 significant digits (1200) but not to 3 (1230 | 1250).
    assert round_enclosure(F(1230), F(1249), significant=3) is None
    assert F(round_enclosure(F(1230), F(1249), significant=2)) == 1200
    assert certified_significant_digits(F(1230), F(1249)) == 2


def test_round_significant_needs_a_digit():
    with pytest.raises(PrecisionError, match="significant digits must be >= 1, not 0"):
        round_significant(F(1, 3), 0)


def test_round_enclosure_by_places():
    assert round_enclosure(F(61001, 10**5), F(61499, 10**5), places=2) == "0.61"
    assert round_enclosure(F(61449, 10**5), F(61451, 10**5), places=3) is None
    # the tie 0.6245 is in the interval: 0.624… and 0.6245 round differently
    assert round_enclosure(F(6244, 10**4), F(6245, 10**4), places=3) is None
    assert round_enclosure(F(6245, 10**4), F(6245, 10**4), places=3) == "0.625"
    assert round_enclosure(F(-61499, 10**5), F(-61001, 10**5), places=2) == "-0.61"
    assert round_enclosure(F(-6245, 10**4), F(-6244, 10**4), places=3) is None
    assert round_enclosure(F(99949, 10**4), F(99951, 10**4), places=2) is None  # 9.99 | 10.00


def test_round_enclosure_by_significant_digits():
    assert round_enclosure(F(6201, 10**4), F(6202, 10**4), significant=3) == "0.620"
    assert round_enclosure(F(6201, 10**4), F(6202, 10**4), significant=4) is None
    # zero inside: sign and leading digit unknown
    assert round_enclosure(F(-1, 10**10), F(1, 10**10), significant=1) is None
    assert round_enclosure(F(0), F(0), significant=2) == "0.0"
    assert round_enclosure(F(99951, 10**4), F(99999, 10**4), significant=3) == "10.0"


def test_round_enclosure_needs_exactly_one_rule():
    with pytest.raises(PrecisionError, match="exactly one of places and significant"):
        round_enclosure(F(0), F(1))
    with pytest.raises(PrecisionError, match="exactly one of places and significant"):
        round_enclosure(F(0), F(1), places=2, significant=2)


def test_certified_significant_digits():
    assert certified_significant_digits(F(6201, 10**4), F(6202, 10**4)) == 3
    assert certified_significant_digits(F(1), F(1) + F(1, 10**50)) == 50
    assert certified_significant_digits(F(9999, 10**4), F(10001, 10**4)) == 3
    assert certified_significant_digits(F(1, 3), F(1, 3)) >= 10**6
    assert certified_significant_digits(F(-1), F(1)) == 0


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("0.603", 3),
        ("27.6", 1),
        ("45", 0),
        (" 0.62 ", 2),
        ("-0.276", 3),
        ("1.5e-3", 4),
        ("1.50E2", 0),
        ("12e3", -3),
        ("0.10", 2),
    ],
)
def test_stated_places(text, places):
    assert stated_places(text) == places


def test_with_increasing_precision_doubles_until_decided():
    seen = []

    def compute(prec):
        seen.append(prec)
        if prec < 300:
            raise UndecidedError
        return f"done at {prec}"

    assert with_increasing_precision(compute) == "done at 512"
    assert seen == [64, 128, 256, 512]


def test_with_increasing_precision_gives_up_at_max_prec():
    seen = []

    def compute(prec):
        seen.append(prec)
        raise UndecidedError

    with pytest.raises(PrecisionError, match="could not certify the rounding of h at 1000 bits"):
        with_increasing_precision(compute, start=100, max_prec=1000, what="h")
    assert seen == [100, 200, 400, 800, 1000]
    assert MAX_PREC == 2**15


def test_with_increasing_precision_follows_a_strategy_and_gives_up_its_way():
    seen = []

    def compute(prec):
        seen.append(prec)
        if prec < 200:
            raise UndecidedError("short")
        return prec

    def plus_50(prec, err):
        assert isinstance(err, UndecidedError) and str(err) == "short"
        return prec + 50

    assert with_increasing_precision(compute, start=64, next_precision=plus_50) == 214
    assert seen == [64, 114, 164, 214]

    def never(prec):
        raise UndecidedError("still")

    def give_up(prec, err):
        return PrecisionError(f"gave up at {prec}: {err}")

    with pytest.raises(PrecisionError, match="gave up at 300: still"):
        with_increasing_precision(never, start=100, max_prec=300, give_up=give_up)


def test_with_increasing_precision_passes_an_undecided_branch_through():
    seen = []

    def compute(prec):
        seen.append(prec)
        raise UndecidedBranchError("a kink")

    with pytest.raises(UndecidedBranchError, match="a kink"):
        with_increasing_precision(compute)
    assert seen == [64]


def test_with_increasing_precision_passes_other_errors_through():
    def compute(prec):
        raise ZeroDivisionError("not ours")

    with pytest.raises(ZeroDivisionError, match="not ours"):
        with_increasing_precision(compute)


def test_bad_arguments_raise_symlstm_errors():
    from symlstm.errors import ArgumentError, ParameterError

    with pytest.raises(ArgumentError, match="lo must be a Fraction or an int, not str"):
        round_enclosure("0.1", F(1, 5), places=2)
    with pytest.raises(PrecisionError, match="lo <= hi"):
        certified_significant_digits(F(2), F(1))
    with pytest.raises(ArgumentError, match="text must be a string, not int"):
        stated_places(3)
    with pytest.raises(ParameterError, match="not a decimal exponent"):
        stated_places("1e" + "9" * 5000)
    assert stated_places("6.25e1") == 1
    with pytest.raises(ArgumentError, match="compute must be callable"):
        with_increasing_precision(None)
    with pytest.raises(PrecisionError, match=r"start must be 2\.\.max_prec"):
        with_increasing_precision(lambda prec: prec, start=128, max_prec=64)
    with pytest.raises(ArgumentError, match="what must be a string"):
        with_increasing_precision(lambda prec: prec, what=3)
    with pytest.raises(ArgumentError, match="next_precision must be callable or None"):
        with_increasing_precision(lambda prec: prec, next_precision=2)
    with pytest.raises(ArgumentError, match="give_up must be callable or None"):
        with_increasing_precision(lambda prec: prec, give_up="no")
