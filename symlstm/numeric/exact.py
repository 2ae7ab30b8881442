"""Turning user numbers into exact SymPy rationals.

Decimal text is read as the exact rational it spells ("0.7" is 7/10, not the
binary float nearest to 0.7). A Python ``float`` is taken at its exact binary
value, which is what a framework computing in that dtype actually used.

>>> to_rational("0.7")
7/10
>>> to_rational("1e-3")
1/1000
>>> to_rational(0.5)
1/2
>>> to_rational("nan", what="w_f")
Traceback (most recent call last):
...
symlstm.errors.ParameterError: w_f: 'nan' is not a finite number
"""

from __future__ import annotations

import decimal
import fractions
import math
import numbers
import sys

import sympy

from symlstm.errors import ParameterError, RangeError
from symlstm.limits import check_number

__all__ = ["FLOAT64_MAX", "to_rational"]

#: The largest finite float64; larger numbers are rejected as overflowing.
FLOAT64_MAX = fractions.Fraction(sys.float_info.max)


def to_rational(value: object, *, what: str = "value") -> sympy.Rational:
    """Return ``value`` as an exact :class:`sympy.Rational`.

    Parameters
    ----------
    value
        A decimal string, an ``int``, ``float``, :class:`decimal.Decimal`,
        :class:`fractions.Fraction`, NumPy scalar or SymPy rational.
    what
        The name used in error messages.

    Raises
    ------
    ParameterError
        If ``value`` is not a number, or is NaN or infinite.
    """
    if isinstance(value, bool):
        raise ParameterError(f"{what}: {value!r} is a boolean, not a number")
    if isinstance(value, str | decimal.Decimal | int | fractions.Fraction):
        # On the text (or digits, or bit length) first: 1e999999999 as a fraction never ends.
        check_number(value, what)
    if isinstance(value, sympy.Rational):
        return value
    if isinstance(value, sympy.Basic):
        if value.is_Float and value.is_finite:
            return sympy.Rational(value)
        raise ParameterError(f"{what}: {value} is not a finite rational number")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            d = decimal.Decimal(text)
        except decimal.InvalidOperation:
            try:
                return _checked(fractions.Fraction(text), value, what)
            except (ValueError, ZeroDivisionError):
                raise ParameterError(f"{what}: {value!r} is not a number") from None
        return _checked(d, value, what)
    if isinstance(value, decimal.Decimal | fractions.Fraction | numbers.Rational):
        return _checked(value, value, what)
    if isinstance(value, numbers.Real):  # float and NumPy floating scalars
        return _checked(float(value), value, what)
    raise ParameterError(f"{what}: {value!r} ({type(value).__name__}) is not a number")


def _checked(num, original: object, what: str) -> sympy.Rational:
    if isinstance(num, decimal.Decimal) and not num.is_finite():
        raise ParameterError(f"{what}: {original!r} is not a finite number")
    if isinstance(num, float) and not math.isfinite(num):
        raise ParameterError(f"{what}: {original!r} is not a finite number")
    frac = fractions.Fraction(num)
    if abs(frac) > FLOAT64_MAX:
        raise RangeError(f"{what}: {original!r} overflows float64 (largest is about 1.8e308)")
    return sympy.Rational(frac.numerator, frac.denominator)
