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

import dataclasses
import functools
import math
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

    def point_matrix(self, values: np.ndarray) -> Any:
        """A 2-D array of exact numbers (floats) prepared for :meth:`by_column`; Arb also
        keeps a large one as integers (see :meth:`exact`)."""
        return self.matrix(values)

    def by_column(self, matrix: Any, columns: np.ndarray) -> np.ndarray:
        """``matrix`` (from :meth:`point_matrix`) times each column of the 2-D object array
        ``columns`` of balls, each column on its own: a column's balls never depend on the
        other columns.

        >>> balls = choose_balls("iv")
        >>> with balls.context.workprec(64):
        ...     m = balls.point_matrix(np.array([[1.0, 2.0]]))
        ...     out = balls.by_column(m, balls.balls(np.array([[1.0, 0.5], [0.25, 2.0]])))
        >>> [float(v.a) for v in out.ravel()]
        [1.5, 4.5]
        """
        rows = self.shape(matrix)[0]
        out = np.empty((rows, columns.shape[1]), dtype=object)
        for j in range(columns.shape[1]):
            column = self.matrix(columns[:, j : j + 1])
            out[:, j] = self.objects(self.product(self.plain(matrix), column), (rows,))
        return out

    def plain(self, matrix: Any) -> Any:
        """The backend's own matrix (for :meth:`product`) of a :meth:`point_matrix`."""
        return matrix

    def exact(self, matrix: Any) -> bool:
        """Whether :meth:`by_column` multiplies ``matrix`` exactly in integers."""
        return False

    def shape(self, matrix: Any) -> tuple[int, int]:
        """(rows, columns) of a backend matrix or a :meth:`point_matrix`."""
        return matrix.shape

    def objects(self, matrix: Any, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def accuracy(self, values: np.ndarray, finite: bool) -> int | None:
        raise NotImplementedError

    def double_double(
        self, values: np.ndarray, finite: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def trimmed(self, arrays: list[np.ndarray], floor: int) -> tuple[list[Any], int | None]:
        """2-D ``arrays`` as matrices, where the backend gains by shorter midpoints: each
        rounded to 16 bits beyond the least relative accuracy among them all (at least
        ``floor`` bits, at most the working precision). That widens a ball by at most
        about 2^-16 of the least accurate one's radius, relatively, or to ``floor`` bits;
        they are factors of one product, whose accuracy the least accurate bounds.

        Also returns the precision their products may run at (the trimmed length, whose
        products cost less; None: the working precision). A product at lower precision
        is still an enclosure, rounded once more into its radius."""
        return [self.matrix(a) for a in arrays], None


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

    def trimmed(self, arrays: list[np.ndarray], floor: int) -> tuple[list[Any], int | None]:
        # arb_mat products cost by the midpoints' lengths and the precision they run at
        flats = [a.ravel().tolist() for a in arrays]
        prec = self.context.precision()
        accuracy = self.arb.rel_accuracy_bits  # very negative for a non-finite ball
        least = min((min(map(accuracy, f), default=prec) for f in flats), default=prec)
        target = min(prec, max(floor, least + 16))
        matrices = [self.arb_mat(*a.shape, f) for a, f in zip(arrays, flats, strict=True)]
        if target < prec:
            with self.context.workprec(target):
                one = self.arb(1)
                matrices = [m * one for m in matrices]  # each entry rounded to target bits
        return matrices, target

    def transpose(self, a: Any) -> Any:
        return a.transpose()

    def shape(self, matrix: Any) -> tuple[int, int]:
        if isinstance(matrix, _PointMatrix):
            return matrix.arb.nrows(), matrix.arb.ncols()
        return matrix.nrows(), matrix.ncols()

    def plain(self, matrix: Any) -> Any:
        return matrix.arb if isinstance(matrix, _PointMatrix) else matrix

    def exact(self, matrix: Any) -> bool:
        return isinstance(matrix, _PointMatrix)

    def point_matrix(self, values: np.ndarray) -> Any:
        """An arb_mat, and for a large matrix of floats also its exact integer form (an
        ``fmpz_mat`` and a power of two) and its absolute values, for :meth:`by_column`."""
        values = np.asarray(values)
        arb_matrix = self.matrix(values)
        if values.dtype != np.float64 or values.shape[1] < EXACT_PRODUCT_MIN:
            return arb_matrix
        if not np.isfinite(values).all():
            return arb_matrix
        nonzero = values[values != 0]
        if not nonzero.size:
            return arb_matrix
        mantissas, exponents = np.frexp(nonzero)  # |m| in [1/2, 1): 53 bits below 2^0
        units = (mantissas * 2.0**53).astype(np.int64)
        low = exponents - 53 + _trailing_zeros(units)  # each number's last bit
        scale = int(low.min())
        bits = int((exponents - scale).max())
        if bits > EXACT_PRODUCT_BITS:
            return arb_matrix
        integers = np.ldexp(values, -scale)  # exact: a power of two, integers of ≤ bits bits
        rows, cols = values.shape
        exact = self.flint.fmpz_mat(rows, cols, [int(v) for v in integers.ravel().tolist()])
        return _PointMatrix(arb_matrix, exact, scale, bits, np.abs(values))

    def by_column(self, matrix: Any, columns: np.ndarray) -> np.ndarray:
        if not isinstance(matrix, _PointMatrix):
            return super().by_column(matrix, columns)
        return _exact_by_column(self, matrix, columns)

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


#: Inner dimensions from which :meth:`ArbBalls.by_column` multiplies exactly in integers
#: (below it an arb_mat product per column is as fast).
EXACT_PRODUCT_MIN = 128
#: The widest integer form of a matrix that :meth:`ArbBalls.point_matrix` prepares (wider:
#: weights whose exponents spread too far; the arb_mat product is used).
EXACT_PRODUCT_BITS = 62
#: Bits of the chunks the columns' midpoints are cut into (whole bytes): products of
#: chunks and of the matrix's integers (at most EXACT_PRODUCT_BITS) summed over the inner
#: dimension stay in FLINT's fast small-integer matrix product.
CHUNK_BITS = 56
#: Bits a column's midpoints keep below the column's largest, beyond the working
#: precision; what lies below is dropped and added to the radius.
GUARD_BITS = 32
#: Where every ball of a column has a radius, its midpoints keep no bits below 2^-TRIM_BITS
#: of the least radius: the radii grow by at most that fraction, and midpoints as long as
#: the balls' accuracy make the integer product that much cheaper.
TRIM_BITS = 16


@dataclasses.dataclass(frozen=True, eq=False)
class _PointMatrix:
    """A matrix of floats as an arb_mat, and exactly as ``exact`` · 2^``scale`` (integers
    of at most ``bits`` bits), with its absolute values in float64."""

    arb: Any
    exact: Any
    scale: int
    bits: int
    magnitudes: np.ndarray


def _trailing_zeros(units: np.ndarray) -> np.ndarray:
    """Trailing zero bits of non-zero int64s."""
    lowest = units & -units  # the lowest set bit, as a power of two
    return np.frexp(lowest.astype(np.float64))[1] - 1


def _exact_by_column(ops: ArbBalls, matrix: _PointMatrix, columns: np.ndarray) -> np.ndarray:
    """``matrix`` times each column of balls: the midpoints' products exact, in integers.

    Column j's midpoints are put on one grid 2^g_j: GUARD_BITS beyond the working
    precision below the column's largest, or the coarsest grid they all lie on, or
    TRIM_BITS below the column's least radius, whichever is coarsest (what lies below the
    grid is dropped, less than 2^g_j each, and added to the radii), cut into signed
    chunks of CHUNK_BITS bits, and multiplied by the matrix's integers in FLINT's
    integer matrix product, exactly; the sums are rounded to the working precision once
    (into the radius). The radius adds Σ_k |a_ik| (r_kj + 2^g_j), computed in float64
    and rounded up: a float64 sum of n non-negative terms is within a factor
    (1 ± n 2^-53) of the exact one (plus n + 1 smallest subnormals where terms
    underflow), and the bound adds (n + 2) 2^-52 of it, n + 1 smallest subnormals and an
    ulp. A column with a non-finite ball, or midpoints or radii beyond float64's range
    (2^g_j or a radius outside 2^±1000 or so), is multiplied as an arb_mat instead. Each
    step is the column's own (the sums are exact and rounded entry by entry, the radii
    summed column by column), so a column's balls never depend on the other columns.
    """
    flint, arb = ops.flint, ops.arb
    inner, count = columns.shape
    rows = matrix.arb.nrows()
    keep = flint.ctx.prec + GUARD_BITS
    out = np.empty((rows, count), dtype=object)
    exact_columns: list[int] = []
    grids: list[int] = []
    radii: list[np.ndarray] = []
    chunked: list[np.ndarray] = []  # per column: (inner, chunks) int64
    step = CHUNK_BITS // 8  # bytes a chunk

    def as_arb_mat(j: int) -> None:
        column = ops.matrix(columns[:, j : j + 1])
        out[:, j] = ops.objects(ops.product(matrix.arb, column), (rows,))

    for j in range(count):
        balls = columns[:, j].tolist()
        if not all(map(arb.is_finite, balls)):
            as_arb_mat(j)
            continue
        pairs = [b.mid().man_exp() for b in balls]
        mans = [int(m) for m, _ in pairs]
        exps = [int(e) for _, e in pairs]
        rad = np.array([float(b.rad()) for b in balls])
        tops = [e + abs(m).bit_length() for m, e in zip(mans, exps, strict=True) if m]
        lows = [e for m, e in zip(mans, exps, strict=True) if m]
        grid = max(max(tops) - keep, min(lows)) if tops else 0
        if tops and (rad > 0).all():  # no finer than 2^-TRIM_BITS of the least radius
            grid = max(grid, math.frexp(rad.min())[1] - 1 - TRIM_BITS)
        positive = rad[rad > 0]
        if not -1000 < grid < 900 or not ((positive < 1e300) & (positive > 1e-300)).all():
            as_arb_mat(j)  # 2^grid or a radius near the ends of float64's range
            continue
        integers = [
            m << (e - grid) if e >= grid else m >> (grid - e)
            for m, e in zip(mans, exps, strict=True)
        ]
        # float(rad) is within half an ulp (or below the subnormals): one ulp up bounds it
        radius = np.where(rad > 0, np.nextafter(rad, np.inf), 0.0)
        if any(e < grid for e in exps):  # floored: each within 2^grid
            radius = np.nextafter(radius + math.ldexp(1.0, grid), np.inf)
        widest = max(abs(v).bit_length() for v in integers)
        pieces = max(1, -(-widest // (8 * step)))
        raw = b"".join(abs(v).to_bytes(pieces * step, "little") for v in integers)
        digits = np.frombuffer(raw, dtype=np.uint8).reshape(inner, pieces, step).astype(np.int64)
        chunks = (digits << (8 * np.arange(step, dtype=np.int64))).sum(axis=2)
        chunks *= np.sign(np.array([1 if v >= 0 else -1 for v in integers]))[:, None]
        exact_columns.append(j)
        grids.append(grid)
        radii.append(radius)
        chunked.append(chunks)
    if not exact_columns:
        return out
    width = len(exact_columns)
    pieces = max(c.shape[1] for c in chunked)
    stacked = np.zeros((inner, pieces, width), dtype=np.int64)
    for c, chunks in enumerate(chunked):
        stacked[:, : chunks.shape[1], c] = chunks
    # One product for every chunk of every column (columns (chunk k, column c)); one more
    # sums column c's chunks times 2^(CHUNK_BITS k + g_c - g), g the least grid: exact.
    low = min(grids)
    shifts = [
        1 << (8 * step * k + grids[c] - low) if c == d else 0
        for k in range(pieces)
        for c in range(width)
        for d in range(width)
    ]
    parts = matrix.exact * flint.fmpz_mat(inner, pieces * width, stacked.ravel().tolist())
    sums = parts * flint.fmpz_mat(pieces * width, width, shifts)
    bounds = np.empty((rows, width))
    slack, tiny = 1.0 + (inner + 2) * 2.0**-52, (inner + 1) * 5e-324
    for c, radius in enumerate(radii):
        if radius.any():
            bounds[:, c] = np.nextafter((matrix.magnitudes @ radius) * slack + tiny, np.inf)
        else:  # every ball a point: the sums are exact
            bounds[:, c] = 0.0
    scale = arb((1, matrix.scale + low))  # a power of two
    mids = flint.arb_mat(sums) * scale  # rounded once, entry by entry
    spread = flint.arb_mat(rows, width, bounds.ravel().tolist()) * arb(0, 1)  # [0 ± bound]
    out[:, exact_columns] = ops.objects(mids + spread, (rows, width))
    return out


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
