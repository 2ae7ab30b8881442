"""Elementary functions on mpmath intervals (``mpmath.iv``) from their values at the ends.

An increasing function maps an interval [lo, hi] into [f(lo), f(hi)], so an enclosure of
f at each end, evaluated on a point interval, encloses f over the whole interval, with no
dependency problem. :mod:`symlstm.numeric.evaluation` (worked examples) and the ``iv`` fallback of
:mod:`symlstm.certified.run` both use these; NaN conventions are left to them.

>>> import mpmath
>>> from symlstm.numeric.intervals import tanh
>>> t = tanh(mpmath.iv.mpf([-1, 1]))
>>> float(t.a) < -0.76 < 0.76 < float(t.b)
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import mpmath

from symlstm.errors import ArgumentError, PrecisionError

__all__ = [
    "MAX_BITS",
    "extremum",
    "monotone",
    "point_ends",
    "sigmoid",
    "sigmoid_point",
    "tanh",
    "tanh_point",
    "working_precision",
]

iv = mpmath.iv

#: Widest working precision :func:`working_precision` sets, in bits (about 300,000 digits:
#: far beyond what certification asks for, which gives up at 32768 bits).
MAX_BITS = 1 << 20


def _not_interval(what: str, value: Any) -> ArgumentError:
    return ArgumentError(f"{what} must be an mpmath.iv interval, not {type(value).__name__}")


@contextlib.contextmanager
def working_precision(bits: int) -> Iterator[None]:
    """mpmath.iv's working precision set to ``bits`` for a ``with`` block, then restored
    (mpmath.iv has no workprec of its own).

    >>> with working_precision(200):
    ...     mpmath.iv.prec
    200

    Raises
    ------
    ArgumentError
        If ``bits`` is not an integer.
    PrecisionError
        If it is outside 2 … :data:`MAX_BITS` (mpmath would silently take 0 as 1).
    """
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise ArgumentError(f"bits must be an integer, not {type(bits).__name__}")
    if not 2 <= bits <= MAX_BITS:
        raise PrecisionError(f"bits must be 2..{MAX_BITS}, not {bits}")
    saved = iv.prec
    iv.prec = bits
    try:
        yield
    finally:
        iv.prec = saved


def point_ends(a: Any) -> tuple[Any, Any]:
    """The two ends of an interval as point intervals, every bit kept.

    >>> lo, hi = point_ends(mpmath.iv.mpf([1, 2]))
    >>> (float(lo.a), float(lo.b)), (float(hi.a), float(hi.b))
    ((1.0, 1.0), (2.0, 2.0))
    """
    try:  # raw ends: mpmath.iv.mpf(x) would round them to the working precision
        lo, hi = a._mpi_
    except AttributeError:  # a try costs nothing for an interval
        raise _not_interval("a", a) from None
    return iv.make_mpf((lo, lo)), iv.make_mpf((hi, hi))


def monotone(f: Callable[[Any], Any], a: Any) -> Any:
    """f over the interval a, for an increasing f: the lower end of f at a's lower end to
    the upper end of f at a's upper end.

    >>> x = monotone(mpmath.iv.exp, mpmath.iv.mpf([0, 1]))
    >>> float(x.a), round(float(x.b), 6)
    (1.0, 2.718282)
    """
    if not callable(f):
        raise ArgumentError(f"f must be a function of an interval, not {type(f).__name__}")
    lo, hi = point_ends(a)
    try:
        return iv.make_mpf((f(lo)._mpi_[0], f(hi)._mpi_[1]))
    except AttributeError:
        raise ArgumentError("f must return an mpmath.iv interval") from None


def extremum(pick: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """max or min (``pick``) of two intervals, end by end (both are increasing in each
    argument).

    >>> m = extremum(max, mpmath.iv.mpf([0, 3]), mpmath.iv.mpf([1, 2]))
    >>> float(m.a), float(m.b)
    (1.0, 3.0)
    """
    if pick is not max and pick is not min:
        raise ArgumentError(f"pick must be max or min, not {pick!r}")
    if not hasattr(b, "_mpi_"):
        raise _not_interval("b", b)
    (a_lo, a_hi), (b_lo, b_hi) = point_ends(a), point_ends(b)
    return iv.make_mpf((pick(a_lo, b_lo)._mpi_[0], pick(a_hi, b_hi)._mpi_[1]))


def sigmoid_point(x: Any) -> Any:
    """1/(1 + e^(−x)) at a point interval (mpmath's exponent range does not overflow).

    >>> float(sigmoid_point(mpmath.iv.mpf(0)).a)
    0.5
    """
    try:
        return 1 / (1 + iv.exp(-x))
    except TypeError:
        raise _not_interval("x", x) from None


def tanh_point(x: Any) -> Any:
    """tanh at a point interval, from expm1 of a non-positive argument: finite for ±∞,
    with full relative accuracy near 0.

    >>> float(tanh_point(mpmath.iv.mpf("inf")).a)
    1.0
    """
    try:
        negative = x < 0
    except TypeError:
        raise _not_interval("x", x) from None
    t = iv.expm1(2 * x if negative else -2 * x)  # in [-1, 0]
    return t / (2 + t) if negative else -t / (2 + t)


def sigmoid(a: Any) -> Any:
    """σ over an interval."""
    return monotone(sigmoid_point, a)


def tanh(a: Any) -> Any:
    """tanh over an interval."""
    return monotone(tanh_point, a)
