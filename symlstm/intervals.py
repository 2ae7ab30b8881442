"""Elementary functions on mpmath intervals (``mpmath.iv``) from their values at the ends.

An increasing function maps an interval [lo, hi] into [f(lo), f(hi)], so an enclosure of
f at each end, evaluated on a point interval, encloses f over the whole interval, with no
dependency problem. :mod:`symlstm.evaluate` (worked examples) and the ``iv`` fallback of
:mod:`symlstm.reference` both use these; NaN conventions are left to them.

>>> import mpmath
>>> from symlstm.intervals import tanh
>>> t = tanh(mpmath.iv.mpf([-1, 1]))
>>> float(t.a) < -0.76 < 0.76 < float(t.b)
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import mpmath

__all__ = [
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


@contextlib.contextmanager
def working_precision(bits: int) -> Iterator[None]:
    """mpmath.iv's working precision set to ``bits`` for a ``with`` block, then restored
    (mpmath.iv has no workprec of its own).

    >>> with working_precision(200):
    ...     mpmath.iv.prec
    200
    """
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
    lo, hi = a._mpi_  # raw ends: mpmath.iv.mpf(x) would round them to the working precision
    return iv.make_mpf((lo, lo)), iv.make_mpf((hi, hi))


def monotone(f: Callable[[Any], Any], a: Any) -> Any:
    """f over the interval a, for an increasing f: the lower end of f at a's lower end to
    the upper end of f at a's upper end.

    >>> x = monotone(mpmath.iv.exp, mpmath.iv.mpf([0, 1]))
    >>> float(x.a), round(float(x.b), 6)
    (1.0, 2.718282)
    """
    lo, hi = point_ends(a)
    return iv.make_mpf((f(lo)._mpi_[0], f(hi)._mpi_[1]))


def extremum(pick: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """max or min (``pick``) of two intervals, end by end (both are increasing in each
    argument).

    >>> m = extremum(max, mpmath.iv.mpf([0, 3]), mpmath.iv.mpf([1, 2]))
    >>> float(m.a), float(m.b)
    (1.0, 3.0)
    """
    (a_lo, a_hi), (b_lo, b_hi) = point_ends(a), point_ends(b)
    return iv.make_mpf((pick(a_lo, b_lo)._mpi_[0], pick(a_hi, b_hi)._mpi_[1]))


def sigmoid_point(x: Any) -> Any:
    """1/(1 + e^(−x)) at a point interval (mpmath's exponent range does not overflow)."""
    return 1 / (1 + iv.exp(-x))


def tanh_point(x: Any) -> Any:
    """tanh at a point interval, from expm1 of a non-positive argument: finite for ±∞,
    with full relative accuracy near 0.

    >>> float(tanh_point(mpmath.iv.mpf("inf")).a)
    1.0
    """
    negative = x < 0
    t = iv.expm1(2 * x if negative else -2 * x)  # in [-1, 0]
    return t / (2 + t) if negative else -t / (2 + t)


def sigmoid(a: Any) -> Any:
    """σ over an interval."""
    return monotone(sigmoid_point, a)


def tanh(a: Any) -> Any:
    """tanh over an interval."""
    return monotone(tanh_point, a)
