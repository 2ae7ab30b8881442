"""A certified, batched LSTM reference in ball arithmetic, for checking float code in ULPs.

:func:`reference` runs a vector cell forward along a batch of sequences and, given
upstream gradients, backward through time, in Arb ball arithmetic (python-flint,
the ``arb`` extra: ``pip install 'symlstm[arb]'``), or, where python-flint is
missing, in mpmath's interval arithmetic (``backend="iv"``, far slower). Every
value is a ball that provably contains the exact result for the exact binary
inputs; the working precision is raised until every output and gradient is known
to ``bits`` relative bits, and each comes back as a double-double
:class:`ReferenceTensor` whose :meth:`~ReferenceTensor.ulps` measures a float32 or
float64 result against it.

Nothing here restates the gate equations. The affine parts W_k x + U_k h + b_k (and,
for a projected cell, h = W_hr m) and their adjoints run as ``arb_mat`` products;
everything else is the equations of the scalar cell of the same variant
(:meth:`symlstm.cell.Cell.equations`) and of its backward step
(:func:`symlstm.derive.calculus.backward_step`), as the step plan splits them
(:func:`symlstm.plan.step_plan`, which the generated NumPy and PyTorch modules are
printed from too), compiled once into closures that apply ball operations to whole
(hidden, batch) arrays.

Kinks: Max, Min and Abs are continuous, so a ball across a kink gives a valid
enclosure. A discontinuous choice (a Piecewise condition, sign, Heaviside) is
made only when the ball decides it; otherwise the precision is raised, and past
``max_prec`` :class:`~symlstm.errors.UndecidedBranchError` names the condition.

>>> cell, params = vector_form(Cell("tied"), {"w_f": 0.5, "w_i": 0.5, "w_g": 0.5,
...                                           "w_o": 0.5, "b": 0})
>>> sorted(params)
['U_f', 'U_g', 'U_i', 'U_o', 'W_f', 'W_g', 'W_i', 'W_o', 'b_f', 'b_g', 'b_i', 'b_o']
"""

from __future__ import annotations

import functools
import math
import operator
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
from sympy import Abs, Heaviside, Max, Min, Piecewise, exp, sign, tanh

from symlstm import budget, limits
from symlstm.cell import Cell, Variant
from symlstm.errors import (
    AccuracyShortfallError,
    ArgumentError,
    MissingDependencyError,
    ParameterError,
    PrecisionError,
    ShapeError,
    SymLSTMError,
    UndecidedBranchError,
    UndecidedError,
    UnknownNameError,
)
from symlstm.functions import hard_sigmoid, sigmoid
from symlstm.numeric import intervals
from symlstm.numeric.rounding import with_increasing_precision
from symlstm.params import parameters
from symlstm.plan import StepEquation, StepPlan, step_plan

__all__ = [
    "DEFAULT_BITS",
    "MAX_PREC",
    "START_PREC",
    "ReferenceResult",
    "ReferenceTensor",
    "normwise_ulps",
    "reference",
    "vector_form",
]

#: Relative accuracy certified by default: a double-double's worth.
DEFAULT_BITS = 106
#: The least working precision of the first attempt (see :func:`reference`), raised
#: until certified.
START_PREC = 128
#: Working precision beyond which :func:`reference` gives up (one table:
#: :data:`symlstm.limits.MAX_REFERENCE_PREC`).
MAX_PREC = limits.MAX_REFERENCE_PREC
# A magnitude of at most 2^-1075 rounds to zero in every float format: it needs no accuracy.
_NEGLIGIBLE_EXPONENT = -1075


def _flint() -> Any:
    try:
        import flint
    except ImportError:
        raise MissingDependencyError(
            "the certified reference needs python-flint: pip install 'symlstm[arb]'"
        ) from None
    return flint


# -- results --------------------------------------------------------------------------------------


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
        dtype = _float_dtype(dtype)
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
        dtype = _float_dtype(c.dtype)
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
    dtype = _check_dtype(dtype)
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


@dataclass(frozen=True)
class ReferenceResult:
    """What :func:`reference` returns.

    ``y`` is (T, B, n), ``h_T`` and ``c_T`` are (B, n). ``grads`` (when upstream
    gradients were given) holds the gradient of every parameter by name, and of
    ``"x"``, ``"h0"`` and ``"c0"``. ``bits`` is the working precision that certified
    them, ``certified_bits`` the relative accuracy asked for.
    """

    y: ReferenceTensor
    h_T: ReferenceTensor
    c_T: ReferenceTensor
    grads: dict[str, ReferenceTensor] | None
    bits: int
    certified_bits: int


def _check_dtype(dtype: Any) -> np.dtype:
    """A float dtype given as such (np.dtype(None) would be float64: refused here)."""
    if dtype is None or isinstance(dtype, bool):
        raise ArgumentError(f"dtype must be a NumPy float dtype, not {dtype!r}")
    try:
        return _float_dtype(dtype)
    except TypeError:
        raise ArgumentError(
            f"dtype must be a NumPy float dtype, not {type(dtype).__name__}"
        ) from None


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise ParameterError(f"expected a float16, float32 or float64 array, not {dtype}")
    return dtype


# -- tied and scalar cells ------------------------------------------------------------------------


def vector_form(cell: Cell, params: Mapping[str, Any]) -> tuple[Cell, dict[str, np.ndarray]]:
    """A tied or scalar cell and its parameters as a vector cell with n = m = 1.

    The tied cell's w_k becomes both W_k and U_k; b_k and p_k become vectors of one.
    Values are validated as :func:`symlstm.params.parameters` does (the shorthand
    ``b`` included) and converted to float64: floats exactly, decimal strings to the
    nearest float64. Inputs follow suit: x of shape (T,) becomes ``x[:, None, None]``.

    >>> cell, p = vector_form(Cell("tied"), {"w_f": 0.7, "w_i": 0.6, "w_g": 0.5, "w_o": 0.9,
    ...                                      "b": 0})
    >>> cell.hidden_size, p["W_f"], p["U_f"], p["b_f"]
    (1, array([[0.7]]), array([[0.7]]), array([0.]))
    """
    if not isinstance(cell, Cell):
        raise ParameterError(f"expected a Cell, not {type(cell).__name__}")
    if cell.is_vector:
        raise ParameterError("vector_form() is for tied and scalar cells; this one is a vector")
    exact = parameters(cell, params)
    vector = Cell("vector", cell.variant, hidden_size=1, input_size=1)
    out = {}
    for name in vector.parameters:
        source = f"w_{name[2:]}" if cell.kind == "tied" and name[0] in "WU" else name
        value = exact[source]
        out[name] = np.full(_shape(vector, name), float(Fraction(int(value.p), int(value.q))))
    return vector, out


# -- backends: Arb balls (python-flint) and mpmath intervals ---------------------------------------


class _Backend:
    """The ball arithmetic one attempt runs in: element operations for the compiled
    equations, matrix products for the affine parts, and certification of the results.

    Matrices are whatever :meth:`matrix` makes (arb_mat, or object arrays of intervals).
    """

    name: str

    def precision(self) -> int:
        raise NotImplementedError

    def set_precision(self, prec: int) -> None:
        raise NotImplementedError

    def balls(self, a: np.ndarray) -> np.ndarray:
        """Floats (taken exactly) or Fractions (enclosed) as an object array of balls."""
        out = np.empty(a.shape, dtype=object)
        if a.size:
            out.ravel()[:] = [self.ball(v) for v in a.ravel().tolist()]
        return out

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.const(0, 1), dtype=object)

    def trimmed(self, arrays: list[np.ndarray], floor: int) -> list[Any]:
        """2-D ``arrays`` as matrices, where the backend gains by shorter midpoints: each
        rounded to 16 bits beyond the least relative accuracy among them all (at least
        ``floor`` bits, at most the working precision). That widens a ball by at most
        about 2^-16 of the least accurate one's radius, relatively, or to ``floor`` bits;
        they are factors of one product, whose accuracy the least accurate bounds."""
        return [self.matrix(a) for a in arrays]


class _ArbBackend(_Backend):
    """Arb balls and arb_mat products (python-flint)."""

    name = "arb"

    def __init__(self) -> None:
        flint = _flint()
        from flint import fmpq

        self.flint, self.arb, self.arb_mat, self.fmpq = flint, flint.arb, flint.arb_mat, fmpq
        one = flint.arb(1)
        self.tiny = flint.arb(2) ** _NEGLIGIBLE_EXPONENT
        self.exp, self.tanh = flint.arb.exp, flint.arb.tanh
        self.max, self.min = flint.arb.max, flint.arb.min
        self.abs = abs
        self.sigmoid = lambda z: one / (one + (-z).exp())
        self.is_finite, self.is_zero = flint.arb.is_finite, flint.arb.is_zero

    def precision(self) -> int:
        return self.flint.ctx.prec

    def set_precision(self, prec: int) -> None:
        self.flint.ctx.prec = prec

    def const(self, p: int, q: int) -> Any:
        return self.arb(p) / q

    def nan(self) -> Any:
        return self.arb("nan")

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


class _IntervalBackend(_Backend):
    """mpmath's ``iv`` intervals, with products as sums of interval products: the fallback
    where python-flint is missing, far slower.

    An interval with an infinite end (other than the points ±∞) stands for NaN, as Arb's
    NaN ball does: the functions below give NaN for it, not a finite enclosure of the
    whole line.
    """

    name = "iv"

    def __init__(self) -> None:
        import mpmath
        from mpmath import libmp

        self.iv, self.libmp = mpmath.iv, libmp
        self._nan = (libmp.fninf, libmp.finf)
        self._infinite = (libmp.finf, libmp.fninf, libmp.fnan)
        iv = mpmath.iv
        self.max = self._extremum(max)
        self.min = self._extremum(min)
        self.exp = self._monotone(iv.exp)
        self.sigmoid = self._monotone(intervals.sigmoid_point)
        self.tanh = self._monotone(intervals.tanh_point)

    def precision(self) -> int:
        return self.iv.prec

    def set_precision(self, prec: int) -> None:
        self.iv.prec = prec

    def const(self, p: int, q: int) -> Any:
        return self.iv.mpf(p) / q

    def nan(self) -> Any:
        return self.iv.make_mpf(self._nan)

    def ball(self, v: Any) -> Any:
        if isinstance(v, Fraction):
            return self.iv.mpf(v.numerator) / v.denominator
        return self.iv.mpf(float(v))

    def is_finite(self, a: Any) -> bool:
        lo, hi = a._mpi_
        return lo not in self._infinite and hi not in self._infinite

    def is_zero(self, a: Any) -> bool:
        return a._mpi_ == (self.libmp.fzero, self.libmp.fzero)

    def _is_nan(self, a: Any) -> bool:
        lo, hi = a._mpi_
        return not self.is_finite(a) and not (lo == hi and lo in self._nan)

    def _monotone(self, f: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """An increasing function on intervals, from enclosures of it at the two ends."""

        def apply(a: Any) -> Any:
            return self.nan() if self._is_nan(a) else intervals.monotone(f, a)

        return apply

    def abs(self, a: Any) -> Any:
        return self.nan() if self._is_nan(a) else abs(a)

    def _extremum(self, pick: Callable[..., Any]) -> Callable[[Any, Any], Any]:
        def apply(a: Any, b: Any) -> Any:
            if self._is_nan(a) or self._is_nan(b):
                return self.nan()
            return intervals.extremum(pick, a, b)

        return apply

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
        tiny = lm.mpf_shift(lm.fone, _NEGLIGIBLE_EXPONENT)
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


BACKENDS = ("auto", "arb", "iv")


@functools.cache
def _backend(name: str) -> _Backend:
    return _ArbBackend() if name == "arb" else _IntervalBackend()


def _choose_backend(name: Any) -> _Backend:
    if name not in BACKENDS:
        raise ParameterError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {name!r}"
        )
    if name == "auto":
        try:
            _flint()
        except MissingDependencyError:
            warnings.warn(
                "python-flint is not installed: the certified reference runs in mpmath's "
                "interval arithmetic, which is far slower; pip install 'symlstm[arb]'",
                RuntimeWarning,
                stacklevel=3,
            )
            return _backend("iv")
        return _backend("arb")
    if name == "arb":
        _flint()  # raises MissingDependencyError, also once the backend is cached
    return _backend(name)


# -- SymPy expressions as closures over ball arrays ----------------------------------------------

# A decision per element: 1 true, 0 false, -1 undecided by the balls, -2 NaN operand.
_TRUE, _FALSE, _UNDECIDED, _NAN = 1, 0, -1, -2

_RELATIONS = {  # relation → (certainly true, certainly false) on balls
    sympy.StrictLessThan: (operator.lt, operator.ge),
    sympy.LessThan: (operator.le, operator.gt),
    sympy.StrictGreaterThan: (operator.gt, operator.le),
    sympy.GreaterThan: (operator.ge, operator.lt),
}


Env = Mapping[sympy.Basic, Any]
Compiled = Callable[[Env], Any]


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _decide(codes: np.ndarray, what: sympy.Basic) -> None:
    undecided = codes == _UNDECIDED
    if undecided.any():
        raise UndecidedError(f"{what} at element {_first_index(undecided)} (row, batch)")


def _compile(expr: sympy.Basic, ops: _Backend) -> Compiled:
    """A closure evaluating ``expr`` on ball arrays, from an env of symbol → array or ball."""
    if isinstance(expr, sympy.Symbol):
        return lambda env: env[expr]
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        return lambda env: ops.const(p, q)  # at the precision in force when called
    if isinstance(expr, Piecewise):
        return _compile_piecewise(expr, ops)
    if isinstance(expr, hard_sigmoid):
        return _compile(expr.rewrite(Max), ops)  # max(0, min(1, αx + β)): continuous
    if expr.is_Add:  # a − b as one subtraction, not a + (−1)·b
        plus = [_compile(a, ops) for a in expr.args if not _negated(a)]
        minus = [_compile(-a, ops) for a in expr.args if _negated(a)]
        if not plus:
            return lambda env: np.negative(functools.reduce(np.add, (f(env) for f in minus)))
        total = lambda env: functools.reduce(np.add, (f(env) for f in plus))  # noqa: E731
        if not minus:
            return total
        return lambda env: functools.reduce(np.subtract, (f(env) for f in minus), total(env))
    if _negated(expr):
        rest = _compile(-expr, ops)
        return lambda env: np.negative(rest(env))
    args = [_compile(a, ops) for a in expr.args]
    if expr.is_Mul:
        return lambda env: functools.reduce(np.multiply, (f(env) for f in args))
    if expr.is_Pow and expr.exp.is_Integer:
        base, power = args[0], int(expr.exp)
        return lambda env: np.power(base(env), power)
    for func, name in ((sigmoid, "sigmoid"), (tanh, "tanh"), (exp, "exp"), (Abs, "abs")):
        if isinstance(expr, func):
            ufunc = np.frompyfunc(getattr(ops, name), 1, 1)
            return lambda env, u=ufunc: u(args[0](env))
    if isinstance(expr, Max | Min):
        pick = np.frompyfunc(ops.max if isinstance(expr, Max) else ops.min, 2, 1)
        return lambda env: functools.reduce(pick, (f(env) for f in args))
    if isinstance(expr, sign | Heaviside):
        return _compile_step(expr, args, ops)
    raise SymLSTMError(f"cannot evaluate {type(expr).__name__} on balls: {expr}")


_POSITIVE, _NEGATIVE, _ZERO = 1, 2, 3  # a ball's sign, where it is decided


def _negated(expr: sympy.Basic) -> bool:
    """``expr`` is −1 times a product."""
    return bool(expr.is_Mul and expr.args[0] is sympy.S.NegativeOne)


def _compile_step(expr: sympy.Basic, args: list[Compiled], ops: _Backend) -> Compiled:
    """sign(x) or Heaviside(x, H0): discontinuous at 0, so decided by the ball or refused."""
    at_zero = args[1] if isinstance(expr, Heaviside) else (lambda env: ops.const(0, 1))
    below = -1 if isinstance(expr, sign) else 0

    def code(a: Any) -> int:
        if a > 0:
            return _POSITIVE
        if a < 0:
            return _NEGATIVE
        if ops.is_zero(a):  # exactly zero: a radius-0 ball at 0
            return _ZERO
        return _NAN if not ops.is_finite(a) else _UNDECIDED

    vcode = np.frompyfunc(code, 1, 1)

    def run(env: Env) -> Any:
        codes = np.asarray(vcode(args[0](env)), dtype=np.int8)
        _decide(codes, expr)
        values = {
            _POSITIVE: ops.const(1, 1),
            _NEGATIVE: ops.const(below, 1),
            _ZERO: at_zero(env),
            _NAN: ops.nan(),
        }
        return np.frompyfunc(values.__getitem__, 1, 1)(codes)

    return run


def _compile_condition(cond: sympy.Basic, ops: _Backend) -> Callable[[Env], np.ndarray]:
    """A Piecewise condition as int8 decision codes per element."""
    if cond is sympy.true or cond is sympy.false:
        value = np.int8(_TRUE if cond is sympy.true else _FALSE)
        return lambda env: value
    if isinstance(cond, sympy.And | sympy.Or | sympy.Not):
        parts = [_compile_condition(c, ops) for c in cond.args]
        if isinstance(cond, sympy.Not):
            return lambda env: _three_valued_not(parts[0](env))
        combine = _three_valued_and if isinstance(cond, sympy.And) else _three_valued_or
        return lambda env: functools.reduce(combine, (p(env) for p in parts))
    relation = _RELATIONS.get(type(cond))
    if relation is None:
        raise SymLSTMError(f"cannot decide the condition {cond} on balls")
    is_true, is_false = relation

    def code(a: Any, b: Any) -> int:
        if is_true(a, b):
            return _TRUE
        if is_false(a, b):
            return _FALSE
        return _NAN if not (ops.is_finite(a) and ops.is_finite(b)) else _UNDECIDED

    vcode = np.frompyfunc(code, 2, 1)
    lhs, rhs = _compile(cond.lhs, ops), _compile(cond.rhs, ops)
    return lambda env: np.asarray(vcode(lhs(env), rhs(env)), dtype=np.int8)


def _three_valued_and(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.where((a == _FALSE) | (b == _FALSE), _FALSE, np.minimum(a, b))
    return np.where((a == _NAN) | (b == _NAN), _NAN, out).astype(np.int8)


def _three_valued_or(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.where((a == _TRUE) | (b == _TRUE), _TRUE, np.minimum(a, b))
    return np.where((a == _NAN) | (b == _NAN), _NAN, out).astype(np.int8)


def _three_valued_not(a: np.ndarray) -> np.ndarray:
    return np.where(a == _TRUE, _FALSE, np.where(a == _FALSE, _TRUE, a)).astype(np.int8)


def _compile_piecewise(expr: Piecewise, ops: _Backend) -> Compiled:
    pieces = [(_compile(v, ops), _compile_condition(c, ops), c) for v, c in expr.args]

    def run(env: Env) -> Any:
        codes = [np.asarray(cond(env)) for _, cond, _ in pieces]
        shape = np.broadcast_shapes(*(c.shape for c in codes))
        pending = np.ones(shape, dtype=bool)
        nan = np.zeros(shape, dtype=bool)
        out = np.empty(shape, dtype=object)
        for (value, _, text), code in zip(pieces, codes, strict=True):
            code = np.broadcast_to(code, shape)
            _decide(np.where(pending, code, _FALSE), text)
            nan |= pending & (code == _NAN)
            take = pending & (code == _TRUE)
            if take.any():
                out[take] = np.broadcast_to(np.asarray(value(env), dtype=object), shape)[take]
            pending &= code == _FALSE
        if pending.any():
            raise SymLSTMError(f"no piece of {expr} applies at {_first_index(pending)}")
        out[nan] = ops.nan()
        return out if shape else out[()]

    return run


# -- the plan: the cell's equations, split into matrix and element-wise parts ---------------------


@dataclass(frozen=True)
class _Plan:
    """The step plan (:mod:`symlstm.plan`) with its element-wise equations compiled."""

    step: StepPlan
    gates: tuple[str, ...]
    peepholes: tuple[str, ...]
    affine: Mapping[str, sympy.Symbol]  # gate → the symbol standing for W_k x + U_k h + b_k
    forward: tuple[tuple[str, sympy.Basic, Compiled], ...]
    backward: tuple[tuple[str, sympy.Basic, Compiled], ...]
    saved: tuple[sympy.Basic, ...]  # forward values the backward equations read
    symbols: Mapping[str, sympy.Basic]  # h, c, c_prev, dh, dc_next, dc_prev, dz_k, dp_k, p_k


def _plan(variant: Variant, backend: str = "arb") -> _Plan:
    """The step plan of the variant's cell (:func:`symlstm.plan.step_plan`), its
    element-wise equations compiled for ``backend`` ("arb" or "iv")."""
    return _compiled_plan(step_plan(variant), backend)


@functools.lru_cache(maxsize=32)
def _compiled_plan(step: StepPlan, backend: str) -> _Plan:
    ops = _backend(backend)

    def program(equations: Iterable[StepEquation]) -> tuple[tuple[str, sympy.Basic, Compiled], ...]:
        return tuple((eq.name, eq.target, _compile(eq.rhs, ops)) for eq in equations)

    return _Plan(
        step,
        step.gate_names,
        step.peepholes,
        step.affine,
        program(step.forward),
        program(step.backward),
        step.saved,
        step.symbols,
    )


# -- inputs ---------------------------------------------------------------------------------------


def _array(value: Any, shape: tuple[int, ...] | None, what: str, ndim: int = 0) -> np.ndarray:
    """``value`` as a float64 array holding exactly the same numbers, shape-checked.

    An object array of :class:`fractions.Fraction` (and floats), as
    :func:`symlstm.frameworks.layouts.to_canonical` gives for exactly summed biases, stays exact.
    """
    a = np.asarray(value)
    if a.dtype == object and all(isinstance(v, Fraction | float | int) for v in a.ravel()):
        if shape is not None and a.shape != shape:
            raise ShapeError(f"{what}: expected shape {shape}, got {a.shape}")
        return a
    if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
        raise ParameterError(f"{what}: expected a float32 or float64 array, not {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ShapeError(f"{what}: expected shape {shape}, got {a.shape}")
    if shape is None and a.ndim != ndim:
        raise ShapeError(f"{what}: expected {ndim} dimensions, got shape {a.shape}")
    out = a.astype(np.float64)
    if a.dtype.kind in "iu" and np.any(np.abs(out) > 2.0**53):
        raise ParameterError(f"{what}: integers beyond 2^53 are not exact in float64")
    return out


def _shape(cell: Cell, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in cell.shape(name))  # SymPy Integers → ints


@dataclass(frozen=True)
class _Data:
    n: int
    m: int
    p: int  # components of h: the projection size, or n
    steps: int
    batch: int
    params: dict[str, np.ndarray]
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    dy: np.ndarray | None
    dhT: np.ndarray | None
    dcT: np.ndarray | None
    finite: bool  # every input finite: then a non-finite ball is a failure, not a NaN

    @property
    def gradients(self) -> bool:
        return self.dy is not None or self.dhT is not None or self.dcT is not None


def _validate(cell: Any, params: Any, x, h0, c0, dy, dhT, dcT) -> _Data:
    if not isinstance(cell, Cell):
        raise ParameterError(f"expected a Cell, not {type(cell).__name__}")
    if not cell.is_vector:
        raise ParameterError(
            f"reference() needs a vector cell, not a {cell.kind} one; vector_form() converts it"
        )
    if not cell.sized:
        raise ParameterError("give the vector cell's hidden_size and input_size")
    if not isinstance(params, Mapping):
        raise ParameterError(f"params: expected a mapping of name → array, not {type(params)}")
    unknown = [k for k in params if k not in cell.parameters]
    if unknown:
        raise UnknownNameError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for the "
            f"{cell.variant.label()} cell; expected: {', '.join(cell.parameters)}"
        )
    missing = [k for k in cell.parameters if k not in params]
    if missing:
        raise ParameterError(f"missing parameter(s): {', '.join(missing)}")
    n, m = cell.hidden_size, cell.input_size
    p = _shape(cell, "h")[0]
    arrays = {k: _array(params[k], _shape(cell, k), k) for k in cell.parameters}
    xs = _array(x, None, "x", ndim=3)
    if xs.shape[2] != m or xs.shape[0] < 1 or xs.shape[1] < 1:
        raise ShapeError(f"x: expected shape (T, B, {m}) time-major with T, B ≥ 1, got {xs.shape}")
    steps, batch = xs.shape[:2]

    def optional(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
        return None if value is None else _array(value, shape, what)

    h0_, c0_ = optional(h0, (batch, p), "h0"), optional(c0, (batch, n), "c0")
    dy_ = optional(dy, (steps, batch, p), "dy")
    dhT_, dcT_ = optional(dhT, (batch, p), "dhT"), optional(dcT, (batch, n), "dcT")
    given = [*arrays.values(), xs, *(a for a in (h0_, c0_, dy_, dhT_, dcT_) if a is not None)]
    return _Data(
        n,
        m,
        p,
        steps,
        batch,
        arrays,
        xs,
        np.zeros((batch, p)) if h0_ is None else h0_,
        np.zeros((batch, n)) if c0_ is None else c0_,
        dy_,
        dhT_,
        dcT_,
        all(np.isfinite(a.astype(np.float64)).all() for a in given),  # Fractions are finite
    )


# -- one attempt at one working precision ---------------------------------------------------------


def _full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.shape == shape:
        return value
    return np.broadcast_to(np.asarray(value, dtype=object), shape)


class _Progress:
    """One status line on stderr, shown once a reference has run for ``delay`` seconds.

    Rewritten in place (``\\r``) at most every ``interval`` seconds; cleared at the end.
    """

    def __init__(
        self, enabled: bool, stream: Any = None, delay: float = 2.0, *, backend: str = "arb"
    ) -> None:
        self.enabled, self.stream, self.delay = enabled, stream or sys.stderr, delay
        self.backend = "" if backend == "arb" else " (mpmath.iv)"
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.prec = 0

    def __call__(self, phase: str, t: int, steps: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.delay or now - self.last < 0.2:
            return
        self.last, self.shown = now, True
        line = f"symlstm reference: {phase} step {t}/{steps} at {self.prec} bits{self.backend}"
        self.stream.write(f"\r{line:<60}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _attempt(
    plan: _Plan, data: _Data, ops: _Backend, floor: int, tick: Callable[[str, int, int], None]
) -> Iterator[dict[str, np.ndarray]]:
    """The outputs, then the gradients, as arrays of balls at the precision in force.

    The factors of the summed gradient products are trimmed to ``floor`` bits or their
    accuracy (see :meth:`_Backend.trimmed`)."""
    n, steps, batch, gates = data.n, data.steps, data.batch, plan.gates
    rows, state = len(gates) * n, (data.n, data.batch)
    P, sym = data.params, plan.symbols
    w_all = ops.matrix(np.concatenate([P[f"W_{k}"] for k in gates]))
    u_all = ops.matrix(np.concatenate([P[f"U_{k}"] for k in gates]))
    bias = ops.balls(np.concatenate([P[f"b_{k}"] for k in gates]))
    x_cols = ops.matrix(data.x.transpose(2, 0, 1).reshape(data.m, steps * batch))
    # W x + b for every step at once; columns are (t, b).
    wx = ops.objects(ops.product(w_all, x_cols), (rows, steps, batch)) + bias[:, None, None]
    peep = {sym[f"p_{k}"]: ops.balls(P[f"p_{k}"])[:, None] for k in plan.peepholes}
    # A projected cell: the element-wise equations' h is m = o ⊙ tanh(c), and h = W_hr m.
    w_hr = ops.matrix(P["W_hr"]) if "W_hr" in P else None
    out_state = (data.p, data.batch)

    h, c = ops.balls(data.h0.T), ops.balls(data.c0.T)
    ys, h_prevs, saved, ms = [], [], [], []
    for t in range(steps):
        tick("forward", t + 1, steps)
        affine = wx[:, t, :] + ops.objects(ops.product(u_all, ops.matrix(h)), (rows, batch))
        env: dict[sympy.Basic, Any] = {
            plan.affine[k]: affine[i * n : (i + 1) * n] for i, k in enumerate(gates)
        }
        env |= peep
        env[sym["c_prev"]] = c
        _run_equations(plan.forward, env, state, t)
        h_prevs.append(h)
        h, c = env[sym["h"]], env[sym["c"]]
        if w_hr is not None:
            ms.append(h)
            h = ops.objects(ops.product(w_hr, ops.matrix(h)), out_state)
        ys.append(h)
        if data.gradients:
            saved.append({s: env[s] for s in plan.saved})
    yield {"y": np.stack(ys).transpose(0, 2, 1), "h_T": h.T, "c_T": c.T}
    if not data.gradients:
        return

    carry_h = ops.zeros(out_state) if data.dhT is None else ops.balls(data.dhT.T)
    carry_c = ops.zeros(state) if data.dcT is None else ops.balls(data.dcT.T)
    dy = None if data.dy is None else ops.balls(data.dy.transpose(0, 2, 1))
    dz = np.empty((steps, rows, batch), dtype=object)
    dp = {k: ops.zeros((n,)) for k in plan.peepholes}
    u_t = ops.transpose(u_all)
    w_hr_t = None if w_hr is None else ops.transpose(w_hr)
    dhs = np.empty((steps, data.p, batch), dtype=object)  # ∂L/∂h_t in total (projected only)
    for t in reversed(range(steps)):
        tick("backward", steps - t, steps)
        env = dict(saved[t]) | peep
        dh = carry_h if dy is None else carry_h + dy[t]
        if w_hr_t is not None:  # dm = W_hrᵀ dh: the element-wise step's "dh" is dm
            dhs[t] = dh
            dh = ops.objects(ops.product(w_hr_t, ops.matrix(dh)), state)
        env[sym["dh"]] = dh
        env[sym["dc_next"]] = carry_c
        _run_equations(plan.backward, env, state, t)
        for i, k in enumerate(gates):
            dz[t, i * n : (i + 1) * n] = env[sym[f"dz_{k}"]]
        for k in plan.peepholes:
            dp[k] = dp[k] + np.sum(env[sym[f"dp_{k}"]], axis=1)
        carry_h = ops.objects(ops.product(u_t, ops.matrix(dz[t])), out_state)
        carry_c = env[sym["dc_prev"]]

    # The matrix adjoints, summed over steps and batch by the products themselves.
    dz_cols, h_cols = ops.trimmed(
        [
            dz.transpose(1, 0, 2).reshape(rows, steps * batch),
            np.stack(h_prevs, axis=1).reshape(data.p, steps * batch),
        ],
        floor,
    )
    d_w = ops.objects(ops.product(dz_cols, ops.transpose(x_cols)), (rows, data.m))
    d_u = ops.objects(ops.product(dz_cols, ops.transpose(h_cols)), (rows, data.p))
    d_b = ops.objects(ops.product(dz_cols, ops.matrix(np.ones((steps * batch, 1)))), (rows,))
    d_x = ops.objects(ops.product(ops.transpose(w_all), dz_cols), (data.m, steps, batch))
    grads = {}
    for i, k in enumerate(gates):
        part = slice(i * n, (i + 1) * n)
        grads |= {f"W_{k}": d_w[part], f"U_{k}": d_u[part], f"b_{k}": d_b[part]}
    grads |= {f"p_{k}": dp[k] for k in plan.peepholes}
    if w_hr is not None:  # dW_hr = Σ_t dh_t m_tᵀ
        dh_cols, m_cols = ops.trimmed(
            [
                dhs.transpose(1, 0, 2).reshape(data.p, steps * batch),
                np.stack(ms, axis=1).reshape(n, steps * batch),
            ],
            floor,
        )
        grads["W_hr"] = ops.objects(ops.product(dh_cols, ops.transpose(m_cols)), (data.p, n))
    grads |= {"x": d_x.transpose(1, 2, 0), "h0": carry_h.T, "c0": _full(carry_c, state).T}
    yield {f"grad:{k}": v for k, v in grads.items()}


def _run_equations(
    program: tuple[tuple[str, sympy.Basic, Compiled], ...],
    env: dict[sympy.Basic, Any],
    shape: tuple[int, ...],
    t: int,
) -> None:
    for name, target, fn in program:
        try:
            env[target] = _full(fn(env), shape)
        except UndecidedError as err:
            raise UndecidedError(f"{err} in the equation of {name} at step {t + 1}") from None


# -- certification --------------------------------------------------------------------------------


def _attempt_certified(
    plan: _Plan,
    data: _Data,
    ops: _Backend,
    bits: int,
    prec: int,
    first: int,
    predict: bool,
    tick: Any,
) -> tuple[dict[str, np.ndarray], dict[str, int | None]]:
    """One attempt at ``prec``: balls and accuracies, all certified to ``bits``; or
    :class:`~symlstm.errors.AccuracyShortfallError` naming the first tensor short of
    ``bits`` and the precision to try next. ``first`` is the first attempt's precision:
    the least length the gradient products' factors are trimmed to grows from
    ``bits + 24`` with every retry.

    The forward part is checked first, so that an attempt it fails skips the backward.
    With ``predict``, the backward is also skipped when the forward's loss says it will
    fail: the gradients were measured to lose at most about twice the bits the forward
    loses (the error of h_1 reaches h_T, then goes back to dh_0).
    """
    balls: dict[str, np.ndarray] = {}
    accuracy: dict[str, int | None] = {}
    factor = 2 if data.gradients else 1
    floor = bits + 24 + prec - first
    for part in _attempt(plan, data, ops, floor, tick):
        for name, values in part.items():
            accuracy[name] = got = ops.accuracy(values, data.finite)
            if got is None or got < bits:
                raise AccuracyShortfallError(
                    f"{name} has {got} of {bits} bits",
                    quantity=name,
                    got=got,
                    next_prec=_next_precision(prec, bits, got, factor),
                )
            balls[name] = values
        if predict and "y" in part:
            got = min(accuracy[name] for name in part)
            retry = _next_precision(prec, bits, got, factor)
            if retry is not None:
                raise AccuracyShortfallError(
                    f"the forward pass predicts fewer than {bits} bits",
                    quantity=None,
                    got=got,
                    next_prec=retry,
                )
        factor = 1
    return balls, accuracy


def _predicted_precision(prec: int, err: UndecidedError) -> int:
    """The precision loop's next precision: the one a shortfall predicts; double after an
    undecided kink, where nothing was measured."""
    return err.next_prec if isinstance(err, AccuracyShortfallError) else 2 * prec


def _next_precision(prec: int, bits: int, got: int | None, factor: int) -> int | None:
    """The precision that should leave ``bits`` where ``prec`` left ``got``, when the
    rest of the pass loses ``factor`` times what was lost so far; None if ``prec`` should
    do. Without a measure (a non-finite ball, or none of its bits left), double."""
    if got is None or got < 1:
        return 2 * prec
    need = bits + factor * (prec - got)
    if need <= prec and got >= bits:
        return None
    return max(-(-(need + 8) // 32) * 32, prec + 32)


def _tensor(values: np.ndarray, bits: int, ops: _Backend, finite: bool) -> ReferenceTensor:
    """``finite``: every ball is known to be finite (certified from finite inputs)."""
    hi, lo = ops.double_double(values, finite)
    return ReferenceTensor(hi.reshape(values.shape), lo.reshape(values.shape), bits)


def reference(
    cell: Cell,
    params: Mapping[str, Any],
    x: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    dy: Any = None,
    dhT: Any = None,
    dcT: Any = None,
    bits: int = DEFAULT_BITS,
    start_prec: int | None = None,
    max_prec: int = MAX_PREC,
    progress: bool | None = None,
    backend: str = "auto",
    allow_large: bool = False,
) -> ReferenceResult:
    """Run a vector cell along a batch of sequences in certified ball arithmetic.

    Parameters
    ----------
    cell
        A sized vector :class:`~symlstm.cell.Cell`, any variant (see :func:`vector_form`
        for tied and scalar cells).
    params
        Name → float32 or float64 array: W_k (n, m), U_k (n, n), b_k (n,), p_k (n,);
        exactly the names of ``cell.parameters``. Each float is taken exactly. A
        projected cell (``proj_size`` p) has U_k (n, p) and ``W_hr`` (p, n), and h has
        p components wherever it appears below (y, h0, h_T, dy, dhT).
    x
        Inputs, (T, B, m), time-major.
    h0, c0
        Initial states, (B, n); zeros when left out.
    dy, dhT, dcT
        Upstream gradients: ∂L/∂h_t for every step (T, B, n), and extra gradients on
        the final h and c (B, n). Giving any of them asks for the gradients (the rest
        are zeros).
    bits
        Relative accuracy to certify every output and gradient to: each ball's radius
        is at most 2^-bits of its smallest magnitude, or the ball lies within 2^-1075
        of zero (it rounds to zero in every float format, so it cannot matter).
    start_prec, max_prec
        First and largest working precision in bits. The default first precision is
        a guess from the balls' measured widening, at most about 2 bits a step over
        forward and backward: ``bits + 2 T`` rounded up to 16 bits, at least
        ``START_PREC``. After a shortfall the next precision adds the bits lost
        (twice the forward's loss, when the forward decides it, before the backward
        runs) and a margin; it doubles where nothing was measured (a non-finite ball,
        a kink undecided). It is the backend's global precision (python-flint's
        ``ctx.prec``, or ``mpmath.iv.prec``) while this runs, restored afterwards,
        also on error, so do not run two references at once in threads.
    progress
        A status line on stderr (step and working precision) for references that
        run longer than two seconds; None (the default) shows it only when stderr
        is a terminal.
    backend
        ``"arb"``: python-flint's Arb balls (the ``arb`` extra). ``"iv"``: mpmath's
        interval arithmetic, the same equations and certification, far slower (see the
        benchmarks). ``"auto"`` (the default): Arb where python-flint imports, otherwise
        mpmath with a :class:`RuntimeWarning` (and "mpmath.iv" in the progress line).
    allow_large
        Run a reference whose estimated time (steps × batch × cell size,
        :mod:`symlstm.budget`) is over the work budget; otherwise it raises
        :class:`~symlstm.errors.WorkBudgetError` before any work.

    Returns
    -------
    ReferenceResult
        ``y``, ``h_T``, ``c_T`` and, with upstream gradients, ``grads``.

    Raises
    ------
    PrecisionError
        When ``max_prec`` does not certify a tensor (named in the message);
        :class:`~symlstm.errors.UndecidedBranchError` when it does not decide a kink.
    ShapeError, ParameterError, UnknownNameError
        For bad shapes, missing or unknown parameter names, or a cell that is not a
        sized vector cell.
    MissingDependencyError
        For ``backend="arb"`` without python-flint.

    >>> import pytest
    >>> flint = pytest.importorskip("flint")  # the arb extra
    >>> cell = Cell("vector", hidden_size=2, input_size=1)
    >>> params = {name: np.full(cell.shape(name), 0.5, dtype=np.float32)
    ...           for name in cell.parameters}
    >>> x = np.ones((3, 1, 1), dtype=np.float32)
    >>> r = reference(cell, params, x, dy=np.ones((3, 1, 2)))
    >>> r.y.hi[-1]
    array([[0.78876583, 0.78876583]])
    >>> r.y.max_ulps(r.y.hi.astype(np.float32)) <= 0.5
    True
    >>> sorted(r.grads)[:3], r.grads["b_o"].hi.shape
    (['U_f', 'U_g', 'U_i'], (2,))
    """
    for name, value in (("bits", bits), ("max_prec", max_prec)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentError(f"{name} must be an integer, not {type(value).__name__}")
    ops = _choose_backend(backend)
    if start_prec is None:
        steps = np.shape(x)[0] if np.ndim(x) else 0
        start_prec = max(START_PREC, -(-(bits + 2 * steps) // 16) * 16)
    for name, value in (("bits", bits), ("start_prec", start_prec), ("max_prec", max_prec)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PrecisionError(f"{name} must be a positive integer, not {value!r}")
    if not bits < max_prec:
        raise PrecisionError(f"max_prec ({max_prec}) must exceed bits ({bits})")
    data = _validate(cell, params, x, h0, c0, dy, dhT, dcT)
    cost = "reference" if ops.name == "arb" else "evaluation"  # mpmath.iv: far slower
    with budget.work(cost, cell, data.steps, batch=data.batch, allow_large=allow_large):
        return _reference(cell, data, ops, bits, start_prec, max_prec, progress)


def _reference(cell, data, ops, bits, start_prec, max_prec, progress) -> ReferenceResult:
    plan = _plan(cell.variant, ops.name)
    if cell.projected:  # the one equation the element-wise plan does not cover
        plan.step.check_projection("the reference")
    saved_prec = ops.precision()
    first = min(start_prec, max_prec)
    tick = _Progress(sys.stderr.isatty() if progress is None else progress, backend=ops.name)

    def attempt(prec: int) -> tuple[dict[str, np.ndarray], dict[str, int | None], int]:
        ops.set_precision(prec)
        tick.prec = prec
        balls, accuracy = _attempt_certified(
            plan, data, ops, bits, prec, first, prec < max_prec, tick
        )
        return balls, accuracy, prec

    def give_up(prec: int, err: UndecidedError) -> PrecisionError:
        if not isinstance(err, AccuracyShortfallError):
            return UndecidedBranchError(
                f"cannot decide {err} even at {prec} bits: the value lies on a kink of "
                "a piecewise function (or within 2^-prec of one)"
            )
        if err.got is None:
            short = "a ball is not finite"
        elif err.got < -(1 << 20):
            short = "a value is not told apart from zero"
        else:
            short = f"only {err.got} bits"
        failed = str(err.quantity).replace("grad:", "the gradient of ")
        return PrecisionError(
            f"could not certify {failed} to {bits} bits at {prec} bits working precision "
            f"({short}); raise max_prec or ask for fewer bits"
        )

    try:
        balls, accuracy, prec = with_increasing_precision(
            attempt,
            start=first,
            max_prec=max_prec,
            next_precision=_predicted_precision,
            give_up=give_up,
        )
        tensors = {name: _tensor(v, accuracy[name], ops, data.finite) for name, v in balls.items()}
    finally:
        ops.set_precision(saved_prec)
        tick.close()
    grads = {k.removeprefix("grad:"): v for k, v in tensors.items() if k.startswith("grad:")}
    return ReferenceResult(
        tensors["y"],
        tensors["h_T"],
        tensors["c_T"],
        grads if data.gradients else None,
        prec,
        bits,
    )
