"""Arrays of balls for the certified reference: matrices, products and certification.

The element-wise arithmetic is a numeric context's (:class:`~symlstm.numeric.contexts.
ArbContext` or :class:`~symlstm.numeric.contexts.IvContext`); a :class:`Balls` adds what
the reference does with whole arrays: matrices and their products (``arb_mat``, or
object arrays of intervals), the accuracy of a tensor in bits, and its double-double.

>>> balls = choose_balls("iv")
>>> with balls.context.workprec(64):
...     m = balls.matrix(np.array([[0.5, 1.0]]))
...     balls.accuracy(balls.objects(balls.product(m, balls.transpose(m)), (1,)), True)
1073741824
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from fractions import Fraction
from typing import Any

import numpy as np

from symlstm.errors import MissingDependencyError, ParameterError
from symlstm.numeric.contexts import ArbContext, Context, IvContext, flint

__all__ = ["BACKENDS", "Balls", "choose_balls"]

#: The backends :func:`choose_balls` knows ("auto": Arb where python-flint imports).
BACKENDS = ("auto", "arb", "iv")
# A magnitude of at most 2^-1075 rounds to zero in every float format: it needs no accuracy.
NEGLIGIBLE_EXPONENT = -1075


class Balls:
    """The ball arithmetic one attempt runs in: a context for the element operations,
    matrix products for the affine parts, and certification of the results."""

    name: str
    context: Context

    def ball(self, v: Any) -> Any:
        raise NotImplementedError

    def balls(self, a: np.ndarray) -> np.ndarray:
        """Floats (taken exactly) or Fractions (enclosed) as an object array of balls."""
        out = np.empty(a.shape, dtype=object)
        if a.size:
            out.ravel()[:] = [self.ball(v) for v in a.ravel().tolist()]
        return out

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.context.const(0), dtype=object)

    def matrix(self, values: np.ndarray) -> Any:
        raise NotImplementedError

    def product(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def transpose(self, a: Any) -> Any:
        raise NotImplementedError

    def objects(self, matrix: Any, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def accuracy(self, values: np.ndarray, finite: bool) -> int | None:
        raise NotImplementedError

    def double_double(
        self, values: np.ndarray, finite: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def trimmed(self, arrays: list[np.ndarray], floor: int) -> list[Any]:
        """2-D ``arrays`` as matrices, where the backend gains by shorter midpoints: each
        rounded to 16 bits beyond the least relative accuracy among them all (at least
        ``floor`` bits, at most the working precision). That widens a ball by at most
        about 2^-16 of the least accurate one's radius, relatively, or to ``floor`` bits;
        they are factors of one product, whose accuracy the least accurate bounds."""
        return [self.matrix(a) for a in arrays]


class ArbBalls(Balls):
    """Arb balls and arb_mat products (python-flint)."""

    name = "arb"

    def __init__(self) -> None:
        self.context = ArbContext()
        module = flint()
        self.flint, self.arb, self.arb_mat, self.fmpq = (
            module,
            module.arb,
            module.arb_mat,
            module.fmpq,
        )
        self.tiny = module.arb(2) ** NEGLIGIBLE_EXPONENT

    def ball(self, v: Any) -> Any:  # a Fraction is a ball around it (a point when it is dyadic)
        if isinstance(v, Fraction):
            return self.arb(self.fmpq(v.numerator, v.denominator))
        return self.arb(v)

    def balls(self, a: np.ndarray) -> np.ndarray:
        if a.dtype != object:
            out = np.empty(a.shape, dtype=object)
            if a.size:
                out.ravel()[:] = list(map(self.arb, a.ravel().tolist()))
            return out
        return super().balls(a)

    def matrix(self, values: np.ndarray) -> Any:
        """A 2-D array (of balls or floats) as an arb_mat, row-major."""
        rows, cols = values.shape
        return self.arb_mat(rows, cols, values.ravel().tolist())

    def product(self, a: Any, b: Any) -> Any:
        return a * b

    def trimmed(self, arrays: list[np.ndarray], floor: int) -> list[Any]:
        # arb_mat products cost by the midpoints' lengths, not by the working precision
        flats = [a.ravel().tolist() for a in arrays]
        ctx = self.flint.ctx
        prec = ctx.prec
        accuracy = self.arb.rel_accuracy_bits  # very negative for a non-finite ball
        least = min((min(map(accuracy, f), default=prec) for f in flats), default=prec)
        target = min(prec, max(floor, least + 16))
        if target < prec:
            ctx.prec = target
            try:
                flats = [list(map(operator.pos, f)) for f in flats]  # rounded to target
            finally:
                ctx.prec = prec
        return [self.arb_mat(*a.shape, f) for a, f in zip(arrays, flats, strict=True)]

    def transpose(self, a: Any) -> Any:
        return a.transpose()

    def objects(self, matrix: Any, shape: tuple[int, ...]) -> np.ndarray:
        count = matrix.nrows() * matrix.ncols()
        return np.fromiter(matrix.entries(), dtype=object, count=count).reshape(shape)

    def accuracy(self, values: np.ndarray, finite: bool) -> int | None:
        """The least relative accuracy (bits) of the balls; None if one is non-finite from
        finite inputs (then only more precision can help)."""
        tiny, least = self.tiny, 1 << 30
        for a in values.ravel().tolist():
            bits = a.rel_accuracy_bits()
            if bits < least:
                if not a.is_finite():
                    if finite:
                        return None
                    continue
                if not a.abs_upper() <= tiny:
                    least = bits
        return least

    def double_double(
        self, values: np.ndarray, finite: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        flat = values.ravel().tolist()
        hi = np.array(list(map(float, flat)), dtype=np.float64)  # the midpoints, rounded
        lo = np.array(list(map(float, map(self.arb.__sub__, flat, hi.tolist()))))
        if not finite:  # a ball of infinite radius may have a finite midpoint
            finite_balls = map(self.arb.is_finite, flat)
            hi[~np.fromiter(finite_balls, dtype=bool, count=len(flat))] = np.nan
        lo[~np.isfinite(hi)] = 0.0  # a midpoint may also overflow float64
        return hi, lo


class IvBalls(Balls):
    """mpmath's ``iv`` intervals, with products as sums of interval products: the fallback
    where python-flint is missing, far slower (NaN conventions: :class:`IvContext`)."""

    name = "iv"

    def __init__(self) -> None:
        self.context = IvContext()
        self.iv, self.libmp = self.context.iv, self.context.libmp
        lm = self.libmp
        self._infinite = (lm.finf, lm.fninf, lm.fnan)

    def ball(self, v: Any) -> Any:
        if isinstance(v, Fraction):
            return self.iv.mpf(v.numerator) / v.denominator
        return self.iv.mpf(float(v))

    def matrix(self, values: np.ndarray) -> np.ndarray:
        return values if values.dtype == object else self.balls(values)

    def product(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.matmul(a, b)  # sums of interval products

    def transpose(self, a: np.ndarray) -> np.ndarray:
        return a.T

    def objects(self, matrix: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return matrix.reshape(shape)

    def _bits(self, a: Any) -> int | None:
        """Relative accuracy in bits (a lower bound), None when not finite; very negative
        for an interval that is centred on zero."""
        lm = self.libmp
        lo, hi = a._mpi_
        if lo in self._infinite or hi in self._infinite:
            return None
        if lo == hi:
            return 1 << 30
        radius = lm.mpf_shift(lm.mpf_sub(hi, lo), -1)  # exact
        if lm.mpf_sign(lo) != lm.mpf_sign(hi) and lm.mpf_sign(lo) and lm.mpf_sign(hi):
            middle = lm.mpf_shift(lm.mpf_add(lo, hi), -1)
            if middle == lm.fzero:
                return -(1 << 30)
            low = lm.mpf_abs(middle)
        else:
            low = min(lm.mpf_abs(lo), lm.mpf_abs(hi), key=functools.cmp_to_key(lm.mpf_cmp))
        if low == lm.fzero:
            return -(1 << 30)
        # 2^(e + bc - 1) <= |x| < 2^(e + bc) for x = man 2^e with bc bits
        return (low[2] + low[3] - 1) - (radius[2] + radius[3])

    def accuracy(self, values: np.ndarray, finite: bool) -> int | None:
        lm, least = self.libmp, 1 << 30
        tiny = lm.mpf_shift(lm.fone, NEGLIGIBLE_EXPONENT)
        for a in values.ravel().tolist():
            bits = self._bits(a)
            if bits is None:
                if finite:
                    return None
                continue
            lo, hi = a._mpi_
            if bits < least and (
                lm.mpf_gt(lm.mpf_abs(lo), tiny) or lm.mpf_gt(lm.mpf_abs(hi), tiny)
            ):
                least = bits
        return least

    def double_double(
        self, values: np.ndarray, finite: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        lm = self.libmp
        hi, lo = [], []
        for a in values.ravel().tolist():
            a_lo, a_hi = a._mpi_
            if a_lo in self._infinite or a_hi in self._infinite:
                hi.append(math.nan)
                lo.append(0.0)
                continue
            middle = lm.mpf_shift(lm.mpf_add(a_lo, a_hi), -1)  # exact
            head = lm.to_float(middle, rnd=lm.round_nearest)
            hi.append(head)
            if math.isfinite(head):
                lo.append(
                    lm.to_float(lm.mpf_sub(middle, lm.from_float(head)), rnd=lm.round_nearest)
                )
            else:
                lo.append(0.0)
        return np.array(hi, dtype=np.float64), np.array(lo, dtype=np.float64)


@functools.cache
def _balls(name: str) -> Balls:
    return ArbBalls() if name == "arb" else IvBalls()


def choose_balls(name: Any) -> Balls:
    """The ball arithmetic by backend name: ``"arb"``, ``"iv"``, or ``"auto"`` (Arb where
    python-flint imports, otherwise mpmath with a :class:`RuntimeWarning`).

    >>> choose_balls("iv").name
    'iv'

    Raises
    ------
    ParameterError
        For a name not in :data:`BACKENDS`.
    MissingDependencyError
        For ``"arb"`` without python-flint.
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ParameterError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {name!r}"
        )
    if name == "auto":
        try:
            flint()
        except MissingDependencyError:
            warnings.warn(
                "python-flint is not installed: the certified reference runs in mpmath's "
                "interval arithmetic, which is far slower; pip install 'symlstm[arb]'",
                RuntimeWarning,
                stacklevel=3,
            )
            return _balls("iv")
        return _balls("arb")
    if name == "arb":
        flint()  # raises MissingDependencyError, also once the backend is cached
    return _balls(name)
