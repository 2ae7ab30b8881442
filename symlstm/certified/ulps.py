"""Certified tensors as double-doubles, and distances from them in units in the last place.

A :class:`ReferenceTensor` is what :func:`symlstm.certified.run.reference` returns for
every output and gradient: the exact values as ``hi + lo`` (float64 each), within
2^-``certified_bits`` relatively. :meth:`ReferenceTensor.ulps` measures a float result
element by element; :func:`normwise_ulps` measures a group of them against one unit.

>>> t = ReferenceTensor(np.array([1.0]), np.array([2.0**-60]), 106)
>>> t.max_ulps(np.array([1.0]))
0.00390625
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from symlstm.errors import ArgumentError, ParameterError, ShapeError

__all__ = ["ReferenceTensor", "normwise_ulps"]


@dataclass(frozen=True, eq=False)
class ReferenceTensor:
    """A certified tensor as a double-double: ``hi`` (float64) plus ``lo`` (the residual).

    ``hi`` is the float64 nearest the certified ball's midpoint and ``lo`` the nearest
    float64 to what remains, so ``hi + lo`` carries about 106 bits; the exact value lies
    within 2^-``certified_bits`` of it, relatively (or within 2^-1075 of zero, where the
    exact value rounds to zero in every float format). NaN in ``hi`` marks a value
    that NaN or infinite inputs made undefined.

    >>> t = ReferenceTensor(np.array([1.0, 0.0, np.nan]), np.array([2.0**-25, 0.0, 0.0]), 106)
    >>> t.ulps(np.array([1.0, 0.0, np.nan], dtype=np.float32))
    array([0.25, 0.  , 0.  ])
    >>> t.ulps(np.array([1.0, 2.0**-1074, 1.0]))  # 2^-25 is 2^27 float64 ulps at 1
    array([1.34217728e+08, 1.00000000e+00,            inf])
    """

    hi: np.ndarray
    lo: np.ndarray
    #: The least relative accuracy over the finite, non-negligible elements, in bits
    #: (2^30 when there are none, or all are exact).
    certified_bits: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.hi.shape

    def rounded(self, dtype: Any) -> np.ndarray:
        """The exact values correctly rounded to ``dtype`` (float16, float32 or float64)."""
        dtype = float_dtype(dtype)
        if dtype == np.float64:
            return self.hi.copy()
        # Round to odd at 53 bits, then to nearest at ≤ 24 bits: no double-rounding error.
        s = self.hi.copy()
        nudge = (self.lo != 0) & np.isfinite(s) & (s.view(np.int64) & 1 == 0)
        s[nudge] = np.nextafter(s[nudge], np.where(self.lo[nudge] > 0, np.inf, -np.inf))
        with np.errstate(over="ignore"):
            return s.astype(dtype)

    def ulps(self, computed: Any) -> np.ndarray:
        """The distance of ``computed`` from the exact values, in units in the last place.

        The unit is ``np.spacing`` of the exact value rounded to ``computed``'s dtype
        (the smallest subnormal where that is zero). Both NaN gives 0, one NaN gives inf;
        an exact value that overflows the dtype gives 0 against the same infinity.
        """
        c = np.asarray(computed)
        dtype = float_dtype(c.dtype)
        if c.shape != self.shape:
            raise ShapeError(f"computed: expected shape {self.shape}, got {c.shape}")
        exact = self.rounded(dtype)
        unit = np.abs(np.spacing(exact)).astype(np.float64)
        unit[exact == 0] = np.finfo(dtype).smallest_subnormal
        wide = c.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            # (c − hi) is exact when they are close; lo is the exact value's tail.
            out = np.abs((wide - self.hi) - self.lo) / unit
        overflowed = np.isinf(exact)
        out[overflowed] = np.where(wide[overflowed] == exact[overflowed], 0.0, np.inf)
        nan_c, nan_x = np.isnan(wide), np.isnan(self.hi)
        out[nan_c & nan_x] = 0.0
        out[nan_c ^ nan_x] = np.inf
        return out

    def max_ulps(self, computed: Any) -> float:
        """The largest of :meth:`ulps` (0 for an empty tensor)."""
        u = self.ulps(computed)
        return float(u.max()) if u.size else 0.0


def normwise_ulps(pairs: Iterable[tuple[Any, Any]], dtype: Any) -> float:
    """The worst error ``abs(computed - exact)`` over (exact, computed) pairs, in ULPs of
    ``dtype`` at the largest ``abs(exact)`` of them all (normwise).

    ``exact`` is a :class:`ReferenceTensor` (or anything with its ``hi`` and ``lo``). One
    group of tensors shares one unit: an element that cancellation makes tiny has a large
    error relative to itself in any floating-point evaluation, so element-wise ULPs
    (:meth:`ReferenceTensor.ulps`) are no measure of an implementation's accuracy.

    >>> t = ReferenceTensor(np.array([1.0, 2.0**-20]), np.zeros(2), 106)
    >>> normwise_ulps([(t, np.array([1.0, 0.0], dtype=np.float32))], np.float32)  # 2^-20 / 2^-23
    8.0

    Raises
    ------
    ArgumentError
        If ``pairs`` is not an iterable of (exact, computed) pairs whose exact has ``hi``
        and ``lo``, or ``dtype`` is not a NumPy dtype.
    ParameterError
        If ``dtype`` is not float16, float32 or float64, or a computed value is not an
        array of real numbers.
    ShapeError
        If a computed array's shape does not broadcast with its exact tensor's.
    """
    dtype = check_dtype(dtype)
    if isinstance(pairs, str | bytes | Mapping) or not isinstance(pairs, Iterable):
        raise ArgumentError(
            f"pairs must be an iterable of (exact, computed) pairs, not {type(pairs).__name__}"
        )
    pairs = list(pairs)
    for k, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ArgumentError(f"pairs[{k}] must be an (exact, computed) pair, not {pair!r:.60}")
        if not (hasattr(pair[0], "hi") and hasattr(pair[0], "lo")):
            raise ArgumentError(
                f"pairs[{k}]: the exact value must be a ReferenceTensor (with hi and lo), "
                f"not {type(pair[0]).__name__}"
            )
    try:
        computed = [np.asarray(c, np.float64) for _, c in pairs]
    except (TypeError, ValueError) as err:
        raise ParameterError(f"a computed value is not an array of real numbers: {err}") from None
    for k, ((e, _), c) in enumerate(zip(pairs, computed, strict=True)):
        try:
            np.broadcast_shapes(c.shape, np.shape(e.hi), np.shape(e.lo))
        except ValueError:
            raise ShapeError(
                f"pairs[{k}]: computed shape {c.shape} does not fit the exact {np.shape(e.hi)}"
            ) from None
    errors = [np.abs((c - e.hi) - e.lo).ravel() for (e, _), c in zip(pairs, computed, strict=True)]
    scale = max((float(np.max(np.abs(e.hi), initial=0.0)) for e, _ in pairs), default=0.0)
    unit = np.spacing(dtype.type(scale)) if scale else np.finfo(dtype).smallest_subnormal
    worst = max((float(np.max(e, initial=0.0)) for e in errors), default=0.0)
    return float(worst / unit)


def check_dtype(dtype: Any) -> np.dtype:
    """A float dtype given as such (np.dtype(None) would be float64: refused here)."""
    if dtype is None or isinstance(dtype, bool):
        raise ArgumentError(f"dtype must be a NumPy float dtype, not {dtype!r}")
    try:
        return float_dtype(dtype)
    except TypeError:
        raise ArgumentError(
            f"dtype must be a NumPy float dtype, not {type(dtype).__name__}"
        ) from None


def float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise ParameterError(f"expected a float16, float32 or float64 array, not {dtype}")
    return dtype
