"""Correct decimal rounding of exact numbers and of certified enclosures.

Rounding is *half up* (ties away from zero), the rule of hand calculation and of
the spec. A value known only as an enclosure [lo, hi] is rounded only when every
number in it rounds the same way; otherwise the answer is "undecided" and the
caller raises the working precision (:func:`with_increasing_precision`, the one
precision loop of the package: certified evaluation, worked examples, audits and the
certified reference all run in it).

Rounding to a fixed number of decimal places and to significant digits are both
monotone, so comparing the roundings of the two endpoints decides the question.

>>> from fractions import Fraction
>>> round_places(Fraction(2755, 10000), 3)
'0.276'
>>> round_places(Fraction(-1, 8), 2)
'-0.13'
>>> round_significant(Fraction(123456, 1000), 4)
'123.5'
>>> round_significant(Fraction(1234), 2), round_significant(Fraction(996, 1000), 2)
('1200', '1.0')
>>> round_enclosure(Fraction(61001, 100000), Fraction(61499, 100000), places=2)
'0.61'
>>> round_enclosure(Fraction(61449, 100000), Fraction(61451, 100000), places=3) is None
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeVar

from symlstm.errors import (
    ArgumentError,
    ParameterError,
    PrecisionError,
    UndecidedBranchError,
    UndecidedError,
)
from symlstm.limits import MAX_PREC, MAX_ROUNDING_DIGITS

__all__ = [
    "MAX_PREC",
    "certified_significant_digits",
    "round_enclosure",
    "round_places",
    "round_significant",
    "stated_places",
    "with_increasing_precision",
]

T = TypeVar("T")

#: The former name of :class:`symlstm.errors.UndecidedError` (the same class).
Undecided = UndecidedError


def _half_up(q: Fraction) -> int:
    n = math.floor(abs(q) + Fraction(1, 2))
    return -n if q < 0 else n


#: The most digits a rounded decimal may have (Python prints ints of at most 4300 digits).
MAX_DIGITS = MAX_ROUNDING_DIGITS  # one table: symlstm.limits


def _check_rounding_arguments(x: Any, n: Any, what: str) -> None:
    if not isinstance(x, Fraction | int) or isinstance(x, bool):
        raise ArgumentError(f"the number must be a Fraction or an int, not {type(x).__name__}")
    if isinstance(n, bool) or not isinstance(n, int):
        raise ArgumentError(f"{what} must be an integer, not {type(n).__name__}")
    if abs(n) > 10 * MAX_DIGITS:
        raise PrecisionError(f"{what} must be within ±{10 * MAX_DIGITS}, not {n}")


def _format(n: int, places: int) -> str:
    """The decimal text of n × 10^(−places)."""
    if max(abs(n).bit_length(), abs(places) * 4) > MAX_DIGITS * 3.32:
        raise PrecisionError(f"a rounded decimal of more than {MAX_DIGITS} digits")
    if places <= 0:
        return str(n * 10 ** (-places))
    sign = "-" if n < 0 else ""
    digits = str(abs(n)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def round_places(x: Fraction, places: int) -> str:
    """Round an exact number half up to ``places`` decimal places (negative: tens, hundreds…)."""
    _check_rounding_arguments(x, places, "places")
    return _format(_half_up(x * Fraction(10) ** places), places)


def _exponent(x: Fraction) -> int:
    """The decimal exponent e with 10^e ≤ |x| < 10^(e+1), computed exactly."""
    a = abs(x)
    e = math.floor(math.log10(a.numerator) - math.log10(a.denominator))
    while Fraction(10) ** e > a:  # float log10 can be off by one near powers of ten
        e -= 1
    while Fraction(10) ** (e + 1) <= a:
        e += 1
    return e


def round_significant(x: Fraction, digits: int) -> str:
    """Round an exact number half up to ``digits`` significant digits."""
    _check_rounding_arguments(x, digits, "significant digits")
    if digits < 1:
        raise PrecisionError(f"significant digits must be >= 1, not {digits}")
    if x == 0:
        return "0." + "0" * (digits - 1) if digits > 1 else "0"
    places = digits - 1 - _exponent(x)
    if len(str(abs(_half_up(x * Fraction(10) ** places)))) > digits:
        # 9.99… rounded up to 10.0…: one digit too many; round one place sooner.
        places -= 1
    return round_places(x, places)


def round_enclosure(
    lo: Fraction, hi: Fraction, *, places: int | None = None, significant: int | None = None
) -> str | None:
    """Round every number in [lo, hi] the same way, or return None if they differ.

    Raises
    ------
    ArgumentError
        If ``lo`` or ``hi`` is not a ``Fraction`` or ``int``, or ``places`` or
        ``significant`` is not an integer.
    PrecisionError
        Unless exactly one of ``places`` and ``significant`` is given, or if it is out
        of range.
    """
    if (places is None) == (significant is None):
        raise PrecisionError("give exactly one of places and significant")
    _check_enclosure(lo, hi)
    if places is not None:
        a, b = round_places(lo, places), round_places(hi, places)
    else:
        if lo <= 0 <= hi and lo != hi:
            return None  # the sign (and so the leading digit) is not known yet
        a, b = round_significant(lo, significant), round_significant(hi, significant)
    return a if a == b else None


def _check_enclosure(lo: Any, hi: Any) -> None:
    for what, x in (("lo", lo), ("hi", hi)):
        if not isinstance(x, Fraction | int) or isinstance(x, bool):
            raise ArgumentError(f"{what} must be a Fraction or an int, not {type(x).__name__}")
    if lo > hi:
        raise PrecisionError(f"an enclosure needs lo <= hi, not lo = {lo}, hi = {hi}")


def certified_significant_digits(lo: Fraction, hi: Fraction) -> int:
    """How many significant digits every number in [lo, hi] shares when rounded.

    >>> certified_significant_digits(Fraction(6201, 10000), Fraction(6202, 10000))
    3

    Raises
    ------
    ArgumentError
        If ``lo`` or ``hi`` is not a ``Fraction`` or ``int``.
    PrecisionError
        If ``lo > hi``.
    """
    _check_enclosure(lo, hi)
    if lo == hi:
        return 10**6  # exact: as many digits as anyone asks for
    digits = 0
    while round_enclosure(lo, hi, significant=digits + 1) is not None:
        digits += 1
    return digits


#: The exponent of a stated decimal: at most 9 digits (beyond any number read).
_EXPONENT = re.compile(r"[+-]?0*[0-9]{1,9}", re.ASCII)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)")


def stated_places(text: str) -> int:
    """The decimal places a number is stated to: ``"0.62"`` → 2, ``"45"`` → 0.

    >>> stated_places("0.603"), stated_places("27.6"), stated_places("45"), stated_places("6e-3")
    (3, 1, 0, 3)

    Raises
    ------
    ArgumentError
        If ``text`` is not a string.
    ParameterError
        If what follows an ``e`` is not a decimal exponent of at most 9 digits.
    """
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a string, not {type(text).__name__}")
    text = text.strip().lower()
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        if not _EXPONENT.fullmatch(exp):
            raise ParameterError(f"{_shown(text)}: {_shown(exp)} is not a decimal exponent")
        return stated_places(mantissa) - int(exp)
    _, dot, frac = text.partition(".")
    return len(frac) if dot else 0


def with_increasing_precision(
    compute: Callable[[int], T],
    *,
    start: int = 64,
    max_prec: int = MAX_PREC,
    what: str = "value",
    next_precision: Callable[[int, UndecidedError], int] | None = None,
    give_up: Callable[[int, UndecidedError], Exception] | None = None,
) -> T:
    """Call ``compute(prec)`` with a rising precision until it stops raising
    :class:`~symlstm.errors.UndecidedError`.

    After an undecided attempt at ``prec`` the next precision is
    ``next_precision(prec, err)`` (by default twice ``prec``), at most ``max_prec``.
    An :class:`~symlstm.errors.UndecidedBranchError` is passed through: no precision
    decides it. Undecided at ``max_prec``, it raises ``give_up(prec, err)`` when given.

    >>> def compute(prec):
    ...     if prec < 256:
    ...         raise UndecidedError
    ...     return prec
    >>> with_increasing_precision(compute), with_increasing_precision(compute, start=100)
    (256, 400)

    Raises
    ------
    ArgumentError
        If ``compute`` is not callable, ``start`` or ``max_prec`` not an integer,
        ``what`` not a string, or ``next_precision`` or ``give_up`` neither callable
        nor None.
    PrecisionError
        If ``max_prec`` bits do not decide it: the value may be exactly a
        rounding tie that only exact arithmetic could settle; or if ``start`` is below
        2 or above ``max_prec``.
    """
    if not callable(compute):
        raise ArgumentError(f"compute must be callable, not {type(compute).__name__}")
    if not isinstance(what, str):
        raise ArgumentError(f"what must be a string, not {type(what).__name__}")
    for name, fn in (("next_precision", next_precision), ("give_up", give_up)):
        if fn is not None and not callable(fn):
            raise ArgumentError(f"{name} must be callable or None, not {type(fn).__name__}")
    for name, bits in (("start", start), ("max_prec", max_prec)):
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise ArgumentError(f"{name} must be an integer, not {type(bits).__name__}")
    if not 2 <= start <= max_prec:
        raise PrecisionError(f"start must be 2..max_prec ({max_prec}), not {start}")
    prec = start
    while True:
        try:
            return compute(prec)
        except UndecidedBranchError:
            raise
        except UndecidedError as err:
            if prec >= max_prec:
                if give_up is not None:
                    raise give_up(prec, err) from None
                raise PrecisionError(
                    f"could not certify the rounding of {what} at {max_prec} bits; "
                    "it may lie exactly on a rounding tie: try fewer digits or a higher max_prec"
                ) from None
            following = 2 * prec if next_precision is None else next_precision(prec, err)
            prec = min(following, max_prec)
