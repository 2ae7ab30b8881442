"""Numeric contexts: one interface to the arithmetics the package computes in.

In the spirit of mpmath's contexts, a :class:`Context` is where numbers live: it makes
constants, combines values (``add``, ``sub``, ``mul``, ``power``), applies the
activations (σ, tanh, exp, the hard sigmoid, Heaviside, sign, abs, max/min), compares
(three-valued: a comparison an enclosure does not decide raises
:class:`~symlstm.errors.UndecidedError`) and scopes a working precision. Every
function is defined once here, for every context, and the parametrised ones read
their parameters from the SymPy function (``hard_sigmoid(x, slope, offset)``,
``Heaviside(x, H0)``; see :mod:`symlstm.numeric.compile`).

``ExactContext``
    SymPy's own arithmetic: rationals stay rationals, σ(49/100) stays σ(49/100).
``MpContext``
    mpmath numbers at the working precision in force.
``IntervalContext``
    mpmath interval arithmetic; every value is an :class:`Enclosure`, which also keeps
    the exact rational while the computation is rational (so ties round by the rule).
``IvContext``
    raw ``mpmath.iv`` intervals, with Arb's NaN conventions (the certified reference's
    fallback where python-flint is missing).
``ArbContext``
    python-flint's Arb balls (optional: :class:`~symlstm.errors.MissingDependencyError`
    without it).

>>> import sympy
>>> ctx = context("interval")
>>> with ctx.workprec(100):
...     ctx.sigmoid(ctx.const(sympy.Rational(1, 2))).round(places=25)
'0.6224593312018545646389006'
>>> x = ctx.const(sympy.Rational(1, 2))
>>> ctx.hard_sigmoid(x, ctx.const(sympy.Rational(1, 6)), ctx.const(sympy.S.Half)).exact
Fraction(7, 12)
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from symlstm.errors import (
    ArgumentError,
    MissingDependencyError,
    PrecisionError,
    UndecidedError,
    UnknownNameError,
)
from symlstm.functions import sigmoid as sympy_sigmoid
from symlstm.numeric import intervals
from symlstm.numeric.enclosure import Enclosure, endpoints, fraction

__all__ = [
    "CONTEXTS",
    "ArbContext",
    "Context",
    "ExactContext",
    "IntervalContext",
    "IvContext",
    "MpContext",
    "context",
]

# Decision codes, per value: a relation is TRUE or FALSE; a sign POSITIVE, NEGATIVE or
# ZERO; UNDECIDED where an enclosure straddles the answer, NAN for a NaN operand.
TRUE, FALSE, UNDECIDED, NAN = 1, 0, -1, -2
POSITIVE, NEGATIVE, ZERO = 1, 2, 3

#: The relations a condition may use, with the relation that is true exactly when it is
#: false (for enclosures: certainly false).
RELATIONS: dict[Callable[[Any, Any], Any], Callable[[Any, Any], Any]] = {
    operator.lt: operator.ge,
    operator.le: operator.gt,
    operator.gt: operator.le,
    operator.ge: operator.lt,
}

#: Python's operators, which these contexts' values (and NumPy object arrays of them)
#: support: a context whose ``operators`` is true uses them for add, sub, neg, mul, power.
OPERATORS = {
    "add": operator.add,
    "sub": operator.sub,
    "neg": operator.neg,
    "mul": operator.mul,
    "power": operator.pow,
}


def _rational(value: Any) -> tuple[int, int]:
    """(p, q) of a SymPy rational, Fraction or int."""
    if isinstance(value, sympy.Rational):
        return int(value.p), int(value.q)
    if isinstance(value, Fraction | int) and not isinstance(value, bool):
        return value.numerator, value.denominator
    raise ArgumentError(
        f"a constant must be a SymPy rational, a Fraction or an int, not {type(value).__name__}"
    )


class Context:
    """The interface; subclasses give each arithmetic's values.

    Subclasses define :meth:`const`, the elementary functions (:meth:`sigmoid`,
    :meth:`tanh`, :meth:`exp`, :meth:`abs`, :meth:`max`, :meth:`min`), the decisions
    (:meth:`relation_code`, :meth:`sign_code`) and :meth:`workprec`; everything else
    (hard sigmoid, Heaviside, sign, comparisons) is defined once, here, from those.
    """

    #: The context's name (:data:`CONTEXTS`).
    name: str = ""
    #: Values support Python's + - * ** and unary − (also element-wise in object arrays).
    operators: bool = True

    # -- numbers ------------------------------------------------------------------------

    def const(self, value: Any) -> Any:
        """An exact rational (SymPy rational, Fraction or int) as a value of this context."""
        raise NotImplementedError

    def nan(self) -> Any:
        """The value standing for "undefined" (balls from NaN inputs)."""
        raise UndecidedError("this context has no NaN")

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def sub(self, a: Any, b: Any) -> Any:
        return a - b

    def neg(self, a: Any) -> Any:
        return -a

    def mul(self, a: Any, b: Any) -> Any:
        return a * b

    def power(self, a: Any, n: int) -> Any:
        return a**n

    # -- functions ----------------------------------------------------------------------

    def sigmoid(self, a: Any) -> Any:
        raise NotImplementedError

    def tanh(self, a: Any) -> Any:
        raise NotImplementedError

    def exp(self, a: Any) -> Any:
        raise NotImplementedError

    def log(self, a: Any) -> Any:
        """The natural logarithm, of a positive value (callers check the sign first)."""
        raise NotImplementedError

    def abs(self, a: Any) -> Any:
        return abs(a)

    def max(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def min(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def hard_sigmoid(self, a: Any, slope: Any, offset: Any) -> Any:
        """max(0, min(1, slope·a + offset)): continuous, so an enclosure across a kink is
        still an enclosure."""
        return self.max(
            self.const(0), self.min(self.const(1), self.add(self.mul(slope, a), offset))
        )

    def sign(self, a: Any) -> Any:
        """−1, 0 or 1; :class:`~symlstm.errors.UndecidedError` where not decided."""
        return self.step(self.sign_code(a), self.const(-1), self.const(0))

    def heaviside(self, a: Any, at_zero: Any) -> Any:
        """0 below zero, 1 above, ``at_zero`` (the function's H0) at exactly zero."""
        return self.step(self.sign_code(a), self.const(0), at_zero)

    def step(self, code: int, below: Any, at_zero: Any) -> Any:
        """The value of a step function (sign, Heaviside) for a sign code."""
        if code == POSITIVE:
            return self.const(1)
        if code == NEGATIVE:
            return below
        if code == ZERO:
            return at_zero
        if code == NAN:
            return self.nan()
        raise UndecidedError("the sign is not decided at this precision")

    def function(self, name: str, a: Any, *params: Any) -> Any:
        """A function by name (``"sigmoid"``, ``"tanh"``, ``"exp"``, ``"abs"``, ``"sign"``,
        ``"hard_sigmoid"``), for callers that dispatch by name."""
        if name not in _FUNCTION_NAMES:
            raise UnknownNameError(
                f"unknown function {name!r}; known: {', '.join(sorted(_FUNCTION_NAMES))}"
            )
        return getattr(self, name)(a, *params)

    def extremum(self, name: str, a: Any, b: Any) -> Any:
        """``max`` or ``min`` by name."""
        return self.max(a, b) if name == "max" else self.min(a, b)

    # -- decisions ----------------------------------------------------------------------

    def is_finite(self, a: Any) -> bool:
        return True

    def is_zero(self, a: Any) -> bool:
        """Exactly zero (a point at 0)."""
        return bool(a == 0)

    def relation_code(self, op: Callable[[Any, Any], Any], a: Any, b: Any) -> int:
        """TRUE, FALSE, UNDECIDED or NAN for ``op(a, b)`` (op one of < <= > >=)."""
        if op(a, b):
            return TRUE
        if RELATIONS[op](a, b):
            return FALSE
        return NAN if not (self.is_finite(a) and self.is_finite(b)) else UNDECIDED

    def sign_code(self, a: Any) -> int:
        """POSITIVE, NEGATIVE, ZERO, UNDECIDED or NAN."""
        if a > 0:
            return POSITIVE
        if a < 0:
            return NEGATIVE
        if self.is_zero(a):
            return ZERO
        return NAN if not self.is_finite(a) else UNDECIDED

    def compare(self, op: Callable[[Any, Any], Any], a: Any, b: Any) -> bool:
        """``op(a, b)`` decided; :class:`~symlstm.errors.UndecidedError` where not."""
        if op not in RELATIONS:
            raise ArgumentError(f"op must be one of operator.lt, le, gt, ge, not {op!r}")
        code = self.relation_code(op, a, b)
        if code in (UNDECIDED, NAN):
            raise UndecidedError(f"cannot decide the comparison of {a} and {b}")
        return code == TRUE

    def magnitude(self, a: Any) -> Fraction:
        """An upper bound of ``abs(a)`` as an exact fraction (0 where it cannot overflow)."""
        return Fraction(0)

    # -- precision ----------------------------------------------------------------------

    def workprec(self, bits: int) -> contextlib.AbstractContextManager[None]:
        """The working precision set to ``bits`` inside a ``with`` block, then restored."""
        return contextlib.nullcontext()


_FUNCTION_NAMES = frozenset({"sigmoid", "tanh", "exp", "abs", "sign", "hard_sigmoid"})


# -- exact ------------------------------------------------------------------------------------


class ExactContext(Context):
    """SymPy's own arithmetic: rationals stay rationals, σ(49/100) stays σ(49/100).

    >>> ctx = ExactContext()
    >>> ctx.sigmoid(ctx.const(0)), ctx.tanh(ctx.const(Fraction(1, 2)))
    (1/2, tanh(1/2))
    """

    name = "exact"

    def const(self, value: Any) -> Any:
        p, q = _rational(value)
        return sympy.Rational(p, q)

    def sigmoid(self, a: Any) -> Any:
        return sympy_sigmoid(a)

    def tanh(self, a: Any) -> Any:
        return sympy.tanh(a)

    def exp(self, a: Any) -> Any:
        return sympy.exp(a)

    def log(self, a: Any) -> Any:
        return sympy.log(a)

    def abs(self, a: Any) -> Any:
        return sympy.Abs(a)

    def max(self, a: Any, b: Any) -> Any:
        return sympy.Max(a, b)

    def min(self, a: Any, b: Any) -> Any:
        return sympy.Min(a, b)

    def is_zero(self, a: Any) -> bool:
        return bool(sympy.S(a).is_zero)

    def relation_code(self, op: Callable[[Any, Any], Any], a: Any, b: Any) -> int:
        decided = op(a, b)
        if decided is sympy.true or decided is True:
            return TRUE
        if decided is sympy.false or decided is False:
            return FALSE
        return UNDECIDED

    def sign_code(self, a: Any) -> int:
        s = sympy.sign(a)
        if s.is_Number:
            return {1: POSITIVE, -1: NEGATIVE, 0: ZERO}[int(s)]
        return UNDECIDED


# -- mpmath ----------------------------------------------------------------------------------


class MpContext(Context):
    """mpmath numbers at mpmath's working precision (``mp.prec``).

    >>> ctx = MpContext()
    >>> with ctx.workprec(80):
    ...     mpmath.nstr(ctx.sigmoid(ctx.const(Fraction(1, 2))), 20)
    '0.62245933120185456464'
    """

    name = "mpmath"

    def const(self, value: Any) -> Any:
        p, q = _rational(value)
        return mpmath.mpf(p) / q

    def nan(self) -> Any:
        return mpmath.mpf("nan")

    def sigmoid(self, a: Any) -> Any:
        return 1 / (1 + mpmath.exp(-a))

    def tanh(self, a: Any) -> Any:
        return mpmath.tanh(a)

    def exp(self, a: Any) -> Any:
        return mpmath.exp(a)

    def log(self, a: Any) -> Any:
        return mpmath.log(a)

    def max(self, a: Any, b: Any) -> Any:
        return max(a, b)

    def min(self, a: Any, b: Any) -> Any:
        return min(a, b)

    def is_finite(self, a: Any) -> bool:
        return bool(mpmath.isfinite(a))

    def magnitude(self, a: Any) -> Fraction:
        return Fraction(0) if not mpmath.isfinite(a) else abs(fraction(a))

    def workprec(self, bits: int) -> contextlib.AbstractContextManager[None]:
        return mpmath.workprec(_check_bits(bits))

    def workdps(self, digits: int) -> contextlib.AbstractContextManager[None]:
        """The working precision in decimal digits (mpmath's ``workdps``)."""
        if isinstance(digits, bool) or not isinstance(digits, int) or digits <= 0:
            raise PrecisionError(f"dps must be a positive integer, not {digits!r}")
        return mpmath.workdps(digits)


def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise ArgumentError(f"bits must be an integer, not {type(bits).__name__}")
    if not 2 <= bits <= intervals.MAX_BITS:
        raise PrecisionError(f"bits must be 2..{intervals.MAX_BITS}, not {bits}")
    return bits


# -- intervals that keep the exact rational -------------------------------------------------


class IntervalContext(Context):
    """mpmath interval arithmetic whose values are :class:`Enclosure` objects, carrying the
    exact rational while one is known (0 × anything is exactly 0, σ(0) exactly 1/2).

    >>> ctx = IntervalContext()
    >>> ctx.add(ctx.const(Fraction(1, 3)), ctx.const(Fraction(1, 6))).exact
    Fraction(1, 2)
    """

    name = "interval"
    operators = False
    iv = mpmath.iv

    def _from_fraction(self, q: Fraction) -> Enclosure:
        return Enclosure(self.iv.mpf(q.numerator) / q.denominator, q)

    def const(self, value: Any) -> Enclosure:
        p, q = _rational(value)
        return self._from_fraction(Fraction(p, q))

    def _binary(self, op: Callable[[Any, Any], Any], a: Enclosure, b: Enclosure) -> Enclosure:
        if a.exact is not None and b.exact is not None:
            return self._from_fraction(op(a.exact, b.exact))
        return Enclosure(op(a.interval, b.interval))

    def add(self, a: Enclosure, b: Enclosure) -> Enclosure:
        return self._binary(operator.add, a, b)

    def sub(self, a: Enclosure, b: Enclosure) -> Enclosure:
        return self._binary(operator.sub, a, b)

    def neg(self, a: Enclosure) -> Enclosure:
        if a.exact is not None:
            return self._from_fraction(-a.exact)
        return Enclosure(-a.interval)

    def mul(self, a: Enclosure, b: Enclosure) -> Enclosure:
        if a.exact == 0 or b.exact == 0:
            # 0 × anything is exactly 0: keeping it exact lets a later tie (a saturated
            # gate times a transcendental value, then added) be decided by the rule.
            return self._from_fraction(Fraction(0))
        return self._binary(operator.mul, a, b)

    def power(self, a: Enclosure, n: int) -> Enclosure:
        if a.exact is not None:
            return self._from_fraction(a.exact**n)
        return Enclosure(a.interval**n)

    def _at_zero(self, a: Enclosure, value: Fraction, f: Callable[[Any], Any]) -> Enclosure:
        if a.exact == 0:
            return self._from_fraction(value)
        return Enclosure(f(a.interval))

    def sigmoid(self, a: Enclosure) -> Enclosure:
        return self._at_zero(a, Fraction(1, 2), intervals.sigmoid)

    def tanh(self, a: Enclosure) -> Enclosure:
        return self._at_zero(a, Fraction(0), intervals.tanh)

    def exp(self, a: Enclosure) -> Enclosure:
        return self._at_zero(a, Fraction(1), self.iv.exp)

    def log(self, a: Enclosure) -> Enclosure:
        if a.exact == 1:
            return self._from_fraction(Fraction(0))
        return Enclosure(self.iv.log(a.interval))

    def abs(self, a: Enclosure) -> Enclosure:
        if a.exact is not None:
            return self._from_fraction(abs(a.exact))
        lo, hi = endpoints(a.interval)
        if lo >= 0:
            return a
        if hi <= 0:
            return Enclosure(-a.interval)
        return Enclosure(self.iv.mpf([0, max(-lo, hi)]))

    def _extremum(self, pick: Callable[..., Any], a: Enclosure, b: Enclosure) -> Enclosure:
        if a.exact is not None and b.exact is not None:
            return self._from_fraction(pick(a.exact, b.exact))
        return Enclosure(intervals.extremum(pick, a.interval, b.interval))

    def max(self, a: Enclosure, b: Enclosure) -> Enclosure:
        return self._extremum(max, a, b)

    def min(self, a: Enclosure, b: Enclosure) -> Enclosure:
        return self._extremum(min, a, b)

    def is_zero(self, a: Enclosure) -> bool:
        return a.lo == a.hi == 0

    def relation_code(self, op: Callable[[Any, Any], Any], a: Enclosure, b: Enclosure) -> int:
        """Decided when the relation agrees at every corner of the two enclosures (enough:
        each relation is monotone in both arguments)."""
        at_corners = {op(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)}
        if len(at_corners) == 1:
            return TRUE if at_corners.pop() else FALSE
        return UNDECIDED

    def sign_code(self, a: Enclosure) -> int:
        lo, hi = a.lo, a.hi
        if lo > 0:
            return POSITIVE
        if hi < 0:
            return NEGATIVE
        if lo == hi == 0:
            return ZERO
        return UNDECIDED

    def magnitude(self, a: Enclosure) -> Fraction:
        return max(abs(a.lo), abs(a.hi))

    def workprec(self, bits: int) -> contextlib.AbstractContextManager[None]:
        return intervals.working_precision(bits)


# -- balls: raw mpmath.iv intervals and Arb ---------------------------------------------------


class IvContext(Context):
    """Raw ``mpmath.iv`` intervals with Arb's NaN conventions: an interval with an infinite
    end (other than the points ±∞) stands for NaN, and the functions give NaN for it, not a
    finite enclosure of the whole line.

    >>> ctx = IvContext()
    >>> float(ctx.tanh(mpmath.iv.mpf("inf")).a)
    1.0
    """

    name = "iv"

    def __init__(self) -> None:
        from mpmath import libmp

        self.iv, self.libmp = mpmath.iv, libmp
        self._nan = (libmp.fninf, libmp.finf)
        self._infinite = (libmp.finf, libmp.fninf, libmp.fnan)

    def const(self, value: Any) -> Any:
        p, q = _rational(value)
        return self.iv.mpf(p) / q

    def nan(self) -> Any:
        return self.iv.make_mpf(self._nan)

    def is_finite(self, a: Any) -> bool:
        lo, hi = a._mpi_
        return lo not in self._infinite and hi not in self._infinite

    def is_zero(self, a: Any) -> bool:
        return a._mpi_ == (self.libmp.fzero, self.libmp.fzero)

    def is_nan(self, a: Any) -> bool:
        lo, hi = a._mpi_
        return not self.is_finite(a) and not (lo == hi and lo in self._nan)

    def _monotone(self, f: Callable[[Any], Any], a: Any) -> Any:
        return self.nan() if self.is_nan(a) else intervals.monotone(f, a)

    def sigmoid(self, a: Any) -> Any:
        return self._monotone(intervals.sigmoid_point, a)

    def tanh(self, a: Any) -> Any:
        return self._monotone(intervals.tanh_point, a)

    def exp(self, a: Any) -> Any:
        return self._monotone(self.iv.exp, a)

    def log(self, a: Any) -> Any:
        return self._monotone(self.iv.log, a)

    def abs(self, a: Any) -> Any:
        return self.nan() if self.is_nan(a) else abs(a)

    def max(self, a: Any, b: Any) -> Any:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan()
        return intervals.extremum(max, a, b)

    def min(self, a: Any, b: Any) -> Any:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan()
        return intervals.extremum(min, a, b)

    def workprec(self, bits: int) -> contextlib.AbstractContextManager[None]:
        return intervals.working_precision(bits)


def flint() -> Any:
    """python-flint, or :class:`~symlstm.errors.MissingDependencyError`.

    >>> import pytest
    >>> _ = pytest.importorskip("flint")
    >>> flint().arb(1) + 1
    2.00000000000000
    """
    try:
        import flint as module
    except ImportError:
        raise MissingDependencyError(
            "the certified reference needs python-flint: pip install 'symlstm[arb]'"
        ) from None
    return module


class ArbContext(Context):
    """Arb balls (python-flint) at python-flint's working precision (``ctx.prec``).

    >>> import pytest
    >>> _ = pytest.importorskip("flint")
    >>> ctx = ArbContext()
    >>> with ctx.workprec(100):
    ...     ctx.sigmoid(ctx.const(0)).is_exact(), float(ctx.sigmoid(ctx.const(0)))
    (True, 0.5)
    """

    name = "arb"

    def __init__(self) -> None:
        module = flint()
        self.flint, self.arb = module, module.arb
        self.fmpq = module.fmpq
        self._one = module.arb(1)
        self.exp = module.arb.exp
        self.tanh = module.arb.tanh
        self.max = module.arb.max
        self.min = module.arb.min
        self.is_finite = module.arb.is_finite
        self.is_zero = module.arb.is_zero

    def const(self, value: Any) -> Any:
        p, q = _rational(value)
        return self.arb(p) / q

    def nan(self) -> Any:
        return self.arb("nan")

    def sigmoid(self, a: Any) -> Any:
        one = self._one
        return one / (one + (-a).exp())

    def log(self, a: Any) -> Any:
        return a.log()

    def precision(self) -> int:
        """python-flint's working precision in bits."""
        return self.flint.ctx.prec

    @contextlib.contextmanager
    def workprec(self, bits: int) -> Iterator[None]:
        _check_bits(bits)
        ctx = self.flint.ctx
        saved = ctx.prec
        ctx.prec = bits
        try:
            yield
        finally:
            ctx.prec = saved


#: The contexts by name.
CONTEXTS: dict[str, type[Context]] = {
    "exact": ExactContext,
    "mpmath": MpContext,
    "interval": IntervalContext,
    "iv": IvContext,
    "arb": ArbContext,
}


def context(name: str) -> Context:
    """A context by name: ``"exact"``, ``"mpmath"``, ``"interval"``, ``"iv"`` or ``"arb"``.

    >>> context("mpmath").name
    'mpmath'

    Raises
    ------
    ArgumentError
        If ``name`` is not a string.
    UnknownNameError
        For a name not in :data:`CONTEXTS`.
    MissingDependencyError
        For ``"arb"`` without python-flint.
    """
    if not isinstance(name, str):
        raise ArgumentError(f"name must be a string, not {type(name).__name__}")
    if name not in CONTEXTS:
        raise UnknownNameError(f"unknown context {name!r}; known: {', '.join(CONTEXTS)}")
    return CONTEXTS[name]()
