"""SymPy expressions compiled to closures over a numeric context.

:func:`compile_expression` turns an expression into a function of an environment
(symbol → value) that computes it in a :class:`~symlstm.numeric.contexts.Context`.
Values may be scalars or NumPy object arrays of them: every operation applies element
by element (Python's operators on object arrays, ``np.frompyfunc`` for the rest), so
one compiled step runs a worked example's scalars and the certified reference's
(hidden, batch) arrays alike.

Piecewise conditions are three-valued per element: true, false, or undecided where an
enclosure straddles the boundary; a choice still undecided raises
:class:`~symlstm.errors.UndecidedError` (naming the element of an array), and the
caller raises the precision. sign and Heaviside are decided the same way; Heaviside's
value at zero is its own H0, and the hard sigmoid's slope and offset are its own
arguments.

>>> import sympy
>>> from symlstm.numeric.contexts import context
>>> x = sympy.Symbol("x")
>>> f = compile_expression(sympy.Piecewise((x, x > 0), (-x / 2, True)), context("exact"))
>>> f({x: sympy.Rational(-1, 3)})
1/6
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy
from sympy import Abs, Heaviside, Max, Min, Piecewise, exp, sign, tanh
from sympy.matrices.expressions.matexpr import MatrixElement

from symlstm.errors import ArgumentError, SymLSTMError, UndecidedError
from symlstm.functions import hard_sigmoid, sigmoid
from symlstm.numeric.contexts import (
    FALSE,
    NAN,
    NEGATIVE,
    OPERATORS,
    POSITIVE,
    TRUE,
    UNDECIDED,
    ZERO,
    Context,
)

__all__ = ["Compiled", "Guard", "compile_expression"]

Env = Mapping[sympy.Basic, Any]
#: A compiled expression: a function of an environment.
Compiled = Callable[[Env], Any]

_RELATIONS = {
    sympy.StrictLessThan: operator.lt,
    sympy.LessThan: operator.le,
    sympy.StrictGreaterThan: operator.gt,
    sympy.GreaterThan: operator.ge,
}

_UNARY = ((sigmoid, "sigmoid"), (tanh, "tanh"), (exp, "exp"), (Abs, "abs"))

_NUMPY = {"add": np.add, "sub": np.subtract, "neg": np.negative, "mul": np.multiply}


class Guard:
    """Checks a compiled expression makes as it runs, for values that may be undefined
    (users' expressions: :func:`symlstm.expressions.evaluate_checked`). Each method
    returns nothing or raises; the default checks nothing.

    With a guard, every distinct subexpression is computed once per call (a user's
    expression may share subtrees).
    """

    def value(self, node: sympy.Basic, value: Any) -> None:
        """After ``node`` is computed (a finite value, for example)."""

    def divisor(self, node: sympy.Pow, base: Any) -> None:
        """Before ``node`` = base ** (negative integer) is computed."""

    def logarithm(self, node: sympy.log, argument: Any) -> None:
        """Before the logarithm ``node`` of ``argument`` is computed."""

    def unsupported(self, node: sympy.Basic) -> None:
        """At compile time, for a node the compiler cannot compute."""


def compile_expression(expr: sympy.Basic, ctx: Context, *, guard: Guard | None = None) -> Compiled:
    """A closure computing ``expr`` in ``ctx`` from an environment of symbol → value.

    Symbols and matrix elements are looked up in the environment; rationals become the
    context's constants at the precision in force when the closure is called. The
    result is a value of the context, or an object array of them when the environment
    holds arrays.

    >>> import sympy
    >>> from symlstm.numeric.contexts import context
    >>> x = sympy.Symbol("x")
    >>> f = compile_expression(hard_sigmoid(x, sympy.Rational(1, 6), sympy.S.Half),
    ...                        context("interval"))
    >>> ctx = context("interval")
    >>> f({x: ctx.const(1)}).exact
    Fraction(2, 3)

    ``guard`` (a :class:`Guard`) checks the values as they are computed; a guarded
    closure is compiled anew (not cached).

    Raises
    ------
    ArgumentError
        If ``expr`` is not a SymPy expression, ``ctx`` not a context or ``guard`` not a
        Guard.
    """
    if not isinstance(expr, sympy.Basic):
        raise ArgumentError(f"expr must be a SymPy expression, not {type(expr).__name__}")
    if not isinstance(ctx, Context):
        raise ArgumentError(f"ctx must be a numeric context, not {type(ctx).__name__}")
    if guard is None:
        return _compiled(expr, ctx)
    if not isinstance(guard, Guard):
        raise ArgumentError(f"guard must be a Guard or None, not {type(guard).__name__}")
    compiler = _Compiler(ctx, guard)
    run = compiler.compile(expr)

    def guarded(env: Env) -> Any:
        compiler.memo = {}  # each distinct subexpression once per call
        try:
            return run(env)
        finally:
            compiler.memo = {}

    return guarded


@functools.lru_cache(maxsize=4096)
def _compiled(expr: sympy.Basic, ctx: Context) -> Compiled:
    return _Compiler(ctx).compile(expr)


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _decide(codes: np.ndarray, what: sympy.Basic) -> None:
    undecided = codes == UNDECIDED
    if undecided.any():
        if codes.ndim == 0:
            raise UndecidedError(f"{what}")
        raise UndecidedError(f"{what} at element {_first_index(undecided)} (row, batch)")


def _negated(expr: sympy.Basic) -> bool:
    """``expr`` is −1 times a product."""
    return bool(expr.is_Mul and expr.args[0] is sympy.S.NegativeOne)


def _three_valued_and(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.where((a == FALSE) | (b == FALSE), FALSE, np.minimum(a, b))
    return np.where((a == NAN) | (b == NAN), NAN, out).astype(np.int8)


def _three_valued_or(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.where((a == TRUE) | (b == TRUE), TRUE, np.minimum(a, b))
    return np.where((a == NAN) | (b == NAN), NAN, out).astype(np.int8)


def _three_valued_not(a: np.ndarray) -> np.ndarray:
    return np.where(a == TRUE, FALSE, np.where(a == FALSE, TRUE, a)).astype(np.int8)


class _Compiler:
    def __init__(self, ctx: Context, guard: Guard | None = None) -> None:
        self.ctx = ctx
        self.guard = guard
        self.memo: dict[sympy.Basic, Any] = {}  # a guarded call's values
        self.compiled: dict[sympy.Basic, Compiled] = {}  # a guarded compile's closures
        if ctx.operators:  # NumPy's ufuncs where an operand is an array (also on the right)
            self.ops = {
                name: _either(fn, _NUMPY.get(name, np.power)) for name, fn in OPERATORS.items()
            }
        else:  # element-wise methods of the context, also over object arrays
            self.ops = {
                name: _lift(getattr(ctx, name), 1 if name == "neg" else 2)
                for name in ("add", "sub", "neg", "mul")
            }
            power = np.frompyfunc(ctx.power, 2, 1)
            self.ops["power"] = power
        self.functions = {name: _lift(getattr(ctx, name), 1) for _, name in _UNARY}
        self.max, self.min = _lift(ctx.max, 2), _lift(ctx.min, 2)
        self.hard = _lift(ctx.hard_sigmoid, 3)
        self.sign_code = np.frompyfunc(ctx.sign_code, 1, 1)

    def compile(self, expr: sympy.Basic) -> Compiled:
        if self.guard is None:
            return self._compile(expr)
        if expr in self.compiled:
            return self.compiled[expr]
        run, guard, memo_of = self._compile(expr), self.guard, self

        def checked(env: Env) -> Any:
            memo = memo_of.memo
            if expr in memo:
                return memo[expr]
            value = run(env)
            guard.value(expr, value)
            memo[expr] = value
            return value

        self.compiled[expr] = checked
        return checked

    def _compile(self, expr: sympy.Basic) -> Compiled:
        ctx, ops, guard = self.ctx, self.ops, self.guard
        if isinstance(expr, sympy.Symbol | MatrixElement | sympy.Indexed):

            def look_up(env: Env) -> Any:
                try:
                    return env[expr]
                except KeyError:
                    raise SymLSTMError(f"no value for {expr}") from None

            return look_up
        if expr.is_Rational:
            return lambda env: ctx.const(expr)  # at the precision in force when called
        if expr is sympy.E:
            return lambda env: ctx.exp(ctx.const(1))
        if isinstance(expr, Piecewise):
            return self.piecewise(expr)
        if expr.is_Add:  # a − b as one subtraction, not a + (−1)·b; the terms in order
            terms = [(_negated(a), self.compile(-a if _negated(a) else a)) for a in expr.args]
            add, sub, neg = ops["add"], ops["sub"], ops["neg"]

            def total(env: Env) -> Any:
                minus, first = terms[0]
                value = neg(first(env)) if minus else first(env)
                for minus, f in terms[1:]:
                    value = sub(value, f(env)) if minus else add(value, f(env))
                return value

            return total
        if _negated(expr):
            rest, neg = self.compile(-expr), ops["neg"]
            return lambda env: neg(rest(env))
        if expr.is_Mul:
            factors, mul = [self.compile(a) for a in expr.args], ops["mul"]
            return lambda env: functools.reduce(mul, (f(env) for f in factors))
        if expr.is_Pow and expr.exp.is_Integer:
            base, n, power = self.compile(expr.base), int(expr.exp), ops["power"]
            if guard is not None and n < 0:

                def divided(env: Env) -> Any:
                    value = base(env)
                    guard.divisor(expr, value)
                    return power(value, n)

                return divided
            return lambda env: power(base(env), n)
        if isinstance(expr, sympy.log) and len(expr.args) == 1:
            argument, log = self.compile(expr.args[0]), _lift(ctx.log, 1)

            def logarithm(env: Env) -> Any:
                value = argument(env)
                if guard is not None:
                    guard.logarithm(expr, value)
                return log(value)

            return logarithm
        if isinstance(expr, hard_sigmoid):
            x, slope, offset = map(self.compile, (expr.args[0], expr.slope, expr.offset))
            hard = self.hard
            return lambda env: hard(x(env), slope(env), offset(env))
        for func, name in _UNARY:
            if isinstance(expr, func):
                arg, fn = self.compile(expr.args[0]), self.functions[name]
                return lambda env: fn(arg(env))
        if isinstance(expr, Max | Min):
            args = [self.compile(a) for a in expr.args]
            pick = self.max if isinstance(expr, Max) else self.min
            return lambda env: functools.reduce(pick, (f(env) for f in args))
        if isinstance(expr, sign | Heaviside):
            return self.step(expr)

        if guard is not None:
            guard.unsupported(expr)

        def unsupported(env: Env) -> Any:
            raise SymLSTMError(f"cannot evaluate {type(expr).__name__} numerically: {expr}")

        return unsupported

    def step(self, expr: sympy.Basic) -> Compiled:
        """sign(x) or Heaviside(x, H0): discontinuous at 0, so decided or refused."""
        ctx, arg, codes_of = self.ctx, self.compile(expr.args[0]), self.sign_code
        if isinstance(expr, Heaviside):
            h0 = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
            at_zero, below = self.compile(h0), 0
        else:
            at_zero, below = (lambda env: ctx.const(0)), -1

        def run(env: Env) -> Any:
            codes = np.asarray(codes_of(arg(env)), dtype=np.int8)
            _decide(codes, expr)
            values = {
                POSITIVE: ctx.const(1),
                NEGATIVE: ctx.const(below),
                ZERO: at_zero(env) if (codes == ZERO).any() else None,
                NAN: ctx.nan() if (codes == NAN).any() else None,
            }
            if codes.ndim == 0:
                return values[int(codes)]
            return np.frompyfunc(values.__getitem__, 1, 1)(codes)

        return run

    def condition(self, cond: sympy.Basic) -> Callable[[Env], np.ndarray]:
        """A Piecewise condition as int8 decision codes per element."""
        if cond is sympy.true or cond is sympy.false:
            value = np.int8(TRUE if cond is sympy.true else FALSE)
            return lambda env: value
        if isinstance(cond, sympy.And | sympy.Or | sympy.Not):
            parts = [self.condition(c) for c in cond.args]
            if isinstance(cond, sympy.Not):
                return lambda env: _three_valued_not(parts[0](env))
            combine = _three_valued_and if isinstance(cond, sympy.And) else _three_valued_or
            return lambda env: functools.reduce(combine, (p(env) for p in parts))
        op = _RELATIONS.get(type(cond))
        if op is None:

            def unsupported(env: Env) -> Any:
                raise SymLSTMError(f"cannot decide the condition {cond}")

            return unsupported
        code = np.frompyfunc(functools.partial(self.ctx.relation_code, op), 2, 1)
        lhs, rhs = self.compile(cond.lhs), self.compile(cond.rhs)
        return lambda env: np.asarray(code(lhs(env), rhs(env)), dtype=np.int8)

    def piecewise(self, expr: Piecewise) -> Compiled:
        """Conditions in order; each only while some element is still pending, and each
        piece's value only where it is chosen somewhere."""
        ctx = self.ctx
        pieces = [(self.compile(v), self.condition(c), c) for v, c in expr.args]

        def run(env: Env) -> Any:
            pending: Any = None
            nan: Any = None
            out: Any = None
            for value, condition, text in pieces:
                code = np.asarray(condition(env))
                if pending is None:
                    shape = code.shape
                    pending = np.ones(shape, dtype=bool)
                    nan = np.zeros(shape, dtype=bool)
                    out = np.empty(shape, dtype=object)
                elif code.shape != pending.shape:
                    shape = np.broadcast_shapes(code.shape, pending.shape)
                    pending, nan = np.broadcast_to(pending, shape), np.broadcast_to(nan, shape)
                    pending, nan = pending.copy(), nan.copy()
                    grown = np.empty(shape, dtype=object)
                    grown[...] = out
                    out = grown
                code = np.broadcast_to(code, pending.shape)
                _decide(np.where(pending, code, FALSE), text)
                nan |= pending & (code == NAN)
                take = pending & (code == TRUE)
                if take.any():
                    chosen = np.broadcast_to(np.asarray(value(env), dtype=object), out.shape)
                    out[take] = chosen[take]
                pending &= code == FALSE
                if not pending.any():
                    break
            if pending is None or pending.any():
                at = pending is not None and pending.ndim
                where = f" at {_first_index(pending)}" if at else ""
                raise SymLSTMError(f"no piece of {expr} applies{where}")
            if nan.any():
                out[nan] = ctx.nan()
            return out if out.ndim else out[()]

        return run


def _either(scalar: Callable[..., Any], ufunc: Callable[..., Any]) -> Callable[..., Any]:
    """``ufunc`` where an operand is an array, ``scalar`` (an operator) otherwise: an mpmath
    interval on the left of an object array would not defer to it."""

    def apply(*args: Any) -> Any:
        if any(isinstance(a, np.ndarray) for a in args):
            return ufunc(*args)
        return scalar(*args)

    return apply


def _lift(fn: Callable[..., Any], nargs: int) -> Callable[..., Any]:
    """``fn`` element by element over object arrays; on scalars, ``fn`` itself."""
    vectorized = np.frompyfunc(fn, nargs, 1)

    def apply(*args: Any) -> Any:
        if any(isinstance(a, np.ndarray) for a in args):
            return vectorized(*args)
        return fn(*args)

    return apply
