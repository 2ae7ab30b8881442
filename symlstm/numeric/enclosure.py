"""Certified values: an mpmath interval that contains the value, and the exact rational
while one is known (:class:`Enclosure`), rounded to decimals only where every number in
the interval rounds alike.

>>> import mpmath
>>> Enclosure(mpmath.iv.mpf(1) / 3).round(places=5)
'0.33333'
>>> fraction(mpmath.mpf(-0.5))
Fraction(-1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
from mpmath.libmp import to_rational

from symlstm.errors import ArgumentError, RangeError, UndecidedError
from symlstm.numeric.rounding import MAX_PREC, certified_significant_digits, round_enclosure

__all__ = ["TINY_BITS", "Enclosure", "fraction"]

#: An endpoint smaller than 2^-TINY_BITS in magnitude (σ(-2e10) = e^(-2e10) is one) is
#: widened outward to 0 or ±2^-TINY_BITS before it becomes an exact fraction: its exact
#: fraction would have billions of digits, and no rounding the package does (at most
#: MAX_ROUNDING_DIGITS digits) can tell it from 2^-TINY_BITS.
TINY_BITS = 4 * MAX_PREC
_TINY = Fraction(1, 1 << TINY_BITS)


def fraction(x: mpmath.mpf, *, upward: bool | None = None) -> Fraction:
    """The exact value of a finite mpf; with ``upward`` given (the upper or lower end of
    an interval), a value too small to matter is moved outward to 0 or ±2^-TINY_BITS.

    Raises
    ------
    ArgumentError
        If ``x`` is not an mpmath number.
    RangeError
        If ``x`` is infinite, NaN, or far beyond float64's range.
    """
    if not isinstance(x, mpmath.mpf):
        raise ArgumentError(f"x must be an mpmath mpf, not {type(x).__name__}")
    if not mpmath.isfinite(x):
        raise RangeError(f"a value overflowed to {x}")
    sign, man, exp, bc = x._mpf_
    if man and exp + bc < -TINY_BITS and upward is not None:
        if upward:
            return _TINY if not sign else Fraction(0)
        return Fraction(0) if not sign else -_TINY
    if man and exp + bc > MAX_PREC + 1100:  # beyond float64 by far: no digit of it is wanted
        raise RangeError(f"a value of about 2^{exp + bc} is beyond float64's range")
    # Not x.man_exp: it drops the sign (mpf("-0.5").man_exp == (1, -1)).
    p, q = to_rational(x._mpf_)
    return Fraction(p, q)


# -- ----------------------------------


def _tiny(interval: Any) -> bool:
    """Whether both ends of an interval are nonzero and smaller than 2^-TINY_BITS."""
    ends = [mpmath.mp.make_mpf(end)._mpf_ for end in interval._mpi_]
    return all(man and exp + bc < -TINY_BITS for _, man, exp, bc in ends)


def endpoints(interval: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The endpoints of an mpmath interval as plain mpf numbers."""
    # make_mpf keeps every bit; mpmath.mpf(raw) would round to mp.prec (53 bits).
    lo, hi = interval._mpi_
    return mpmath.mp.make_mpf(lo), mpmath.mp.make_mpf(hi)


@dataclass(frozen=True)
class Enclosure:
    """A certified value: an interval that contains it, and the exact rational where known.

    >>> Enclosure(mpmath.iv.mpf(1) / 4, Fraction(1, 4)).round(places=1)
    '0.3'
    """

    interval: Any  # mpmath.iv.mpf
    exact: Fraction | None = None

    @property
    def lo(self) -> Fraction:
        if self.exact is not None:
            return self.exact
        return fraction(endpoints(self.interval)[0], upward=False)

    @property
    def hi(self) -> Fraction:
        if self.exact is not None:
            return self.exact
        return fraction(endpoints(self.interval)[1], upward=True)

    def round(self, *, places: int | None = None, significant: int | None = None) -> str:
        """The correctly rounded decimal, or :class:`~symlstm.errors.UndecidedError` if the
        enclosure is too wide."""
        if significant is not None and self.exact is None and _tiny(self.interval):
            raise RangeError(
                f"a value smaller than 2^-{TINY_BITS} in magnitude (about "
                f"1e-{TINY_BITS * 3 // 10}) cannot be shown to significant digits; it is 0 to "
                "any decimal places"
            )
        text = round_enclosure(self.lo, self.hi, places=places, significant=significant)
        if text is None:
            raise UndecidedError
        return text

    @property
    def digits(self) -> int:
        """How many significant digits are guaranteed."""
        return certified_significant_digits(self.lo, self.hi)

    def __float__(self) -> float:
        return float((self.lo + self.hi) / 2)
