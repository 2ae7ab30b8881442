"""Gradients of a loss along a sequence: backprop through time with the backward step's
equations (:func:`symlstm.derive.backward.backward_step`), exactly, in mpmath, or in
certified interval arithmetic.

>>> from symlstm.cell import Cell
>>> g = certify_gradients(Cell("tied"), {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5",
...                       "w_o": "0.9", "b": "0"}, ["0.5"], "0.2", "0.4",
...                       loss="h_T", significant=10)
>>> g.decimals["w_f"]
'0.03534685923'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy
from sympy import (
    Add,
    Eq,
    Symbol,
)

from symlstm import budget
from symlstm.cell import Cell
from symlstm.derive.backward import adjoint_symbol, backward_step, check_cell
from symlstm.errors import (
    ArgumentError,
    ParameterError,
    PrecisionError,
    ShapeError,
    UnknownNameError,
)
from symlstm.expressions import check_expression, elide, evaluate_checked, parse_expression
from symlstm.functions import sigmoid
from symlstm.limits import MAX_ROUNDING_DIGITS
from symlstm.numeric.evaluation import (
    bind,
    check_dps,
    evaluate,
    evaluate_expression,
    numeric_context,
)
from symlstm.numeric.rounding import MAX_PREC, with_increasing_precision
from symlstm.numeric.sequence import through_time
from symlstm.params import exact_value, parameters

__all__ = ["LOSSES", "MAX_SIGNIFICANT", "Gradients", "Loss", "backprop", "certify_gradients"]

#: The most significant digits :func:`certify_gradients` certifies (its working precision
#: stops at MAX_PREC = 32768 bits, about 9800 digits; Python prints at most 4300).
MAX_SIGNIFICANT = MAX_ROUNDING_DIGITS  # one table: symlstm.limits

# -- losses ------------------------------------------------------------------------------

LOSSES: tuple[str, ...] = ("sum_h", "h_T", "mse")
#: The functions a loss expression may call.
_LOSS_FUNCTIONS = {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sigmoid": sigmoid}


@dataclass(frozen=True)
class Loss:
    """A loss on the outputs h_1 … h_T.

    ``sum_h``
        L = Σ_t Σ_j h_t[j].
    ``h_T``
        L = Σ_j h_T[j], the last output alone.
    ``mse``
        L = (1 / (T n)) Σ_t Σ_j (h_t[j] − y_t[j])², against ``targets`` y.
    an expression
        A SymPy expression of the symbols ``h_1`` … ``h_T`` (scalar cells), for
        example ``h_3**2 - h_1``.
    """

    name: str
    targets: tuple | None = None
    expression: sympy.Expr | None = None

    @classmethod
    def make(
        cls,
        loss: str | sympy.Expr | Loss,
        *,
        steps: int,
        targets: Any = None,
        cell: Cell | None = None,
    ) -> Loss:
        """Validate a loss given by name or expression for a sequence of ``steps``.

        An expression (text or SymPy) is read by :func:`symlstm.expressions.parse_expression`
        within its limits, and refused if undefined everywhere (``1/(h_1 - h_1)``).

        >>> Loss.make("h_2**2 - 3*h_1", steps=2).expression
        -3*h_1 + h_2**2
        >>> Loss.make("log(h_1 - h_1)", steps=2)
        Traceback (most recent call last):
        ...
        symlstm.errors.UndefinedError: the loss 'log(h_1 - h_1)' is undefined (logarithm of 0)
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ArgumentError(f"steps must be a positive integer, not {steps!r}")
        if isinstance(loss, Loss):
            return loss
        if (
            loss == "mse"
            and targets is not None
            and (isinstance(targets, str | bytes) or not hasattr(targets, "__len__"))
        ):
            raise ArgumentError(f"targets must be a sequence, one per step, not {targets!r}")
        if isinstance(loss, str) and loss in LOSSES:
            if loss == "mse":
                if targets is None:
                    raise ParameterError("the mse loss needs targets, one per step")
                if cell is None:
                    raise ParameterError("the mse loss needs the cell to check its targets")
                if len(targets) != steps:
                    raise ShapeError(
                        f"targets: expected {steps} (one per step), got {len(targets)}"
                    )
                shape = cell.shape("h")
                checked = tuple(
                    exact_value(y, shape, f"targets[{t + 1}]") for t, y in enumerate(targets)
                )
                return cls("mse", checked)
            if targets is not None:
                raise ParameterError(f"the {loss} loss takes no targets")
            return cls(loss)
        if isinstance(loss, str):
            if cell is not None and cell.is_vector:
                raise ParameterError(
                    f"the loss {elide(loss)}: a loss expression needs a scalar cell "
                    f"(symbols h_1 … h_T); known losses: {', '.join(LOSSES)}"
                )
            allowed = {f"h_{t}": Symbol(f"h_{t}", real=True) for t in range(1, steps + 1)}
            try:
                expr = parse_expression(
                    loss, symbols=allowed, functions=_LOSS_FUNCTIONS, what="the loss"
                )
            except UnknownNameError as err:
                raise UnknownNameError(f"{err}; or a named loss: {', '.join(LOSSES)}") from None
            return cls(str(expr), expression=expr)
        if isinstance(loss, sympy.Expr):
            check_expression(loss, what="the loss")
            if cell is not None and cell.is_vector:
                raise ParameterError("a loss expression needs a scalar cell (symbols h_1 … h_T)")
            allowed = {Symbol(f"h_{t}", real=True) for t in range(1, steps + 1)}
            plain = {Symbol(f"h_{t}") for t in range(1, steps + 1)}
            real = {Symbol(f"h_{t}"): Symbol(f"h_{t}", real=True) for t in range(1, steps + 1)}
            expr = loss.xreplace(real)
            extra = expr.free_symbols - allowed - plain
            if extra:
                raise UnknownNameError(
                    f"the loss names unknown symbol(s) {', '.join(sorted(map(str, extra)))}; "
                    f"known: {', '.join(f'h_{t}' for t in range(1, steps + 1))}"
                )
            return cls(str(loss), expression=expr)
        raise UnknownNameError(
            f"unknown loss {loss!r}; known: {', '.join(LOSSES)} or an expression"
        )

    def direct(self, t: int, h: list[Any], arith: Any, steps: int, n: int) -> Any:
        """∂L/∂h_t as the loss alone gives it (without what later steps send back)."""
        one, zero = arith.const(sympy.Integer(1)), arith.const(sympy.Integer(0))
        vector = isinstance(h[0], tuple)

        def each(fn):
            return tuple(fn(k) for k in range(n)) if vector else fn(None)

        def comp(value, k):
            return value[k] if k is not None else value

        if self.name == "sum_h":
            return each(lambda k: one)
        if self.name == "h_T":
            return each(lambda k: one if t == steps else zero)
        if self.name == "mse":
            scale = arith.const(sympy.Rational(2, steps * n))
            y = self.targets[t - 1]
            return each(
                lambda k: arith.mul(
                    scale,
                    arith.add(
                        comp(h[t - 1], k),
                        arith.mul(arith.const(sympy.Integer(-1)), arith.const(comp(y, k))),
                    ),
                )
            )
        partial = sympy.diff(self.expression, Symbol(f"h_{t}", real=True))
        env = {Symbol(f"h_{s}", real=True): h[s - 1] for s in range(1, steps + 1)}
        return evaluate_checked(partial, env, arith, what=f"∂L/∂h_{t} of the loss {self.name}:")

    def check(self, h: list[Any], arith: Any) -> None:
        """Refuse a loss expression that is undefined or not finite at the outputs ``h``.

        Raises :class:`~symlstm.errors.UndefinedError` (a division by zero, the
        logarithm of a number that is not positive) or :class:`~symlstm.errors.RangeError`
        (beyond float64's range); with interval values, :class:`~symlstm.errors.UndecidedError`
        where the precision does not decide it yet.

        >>> from symlstm.numeric.evaluation import numeric_context
        >>> loss = Loss.make("log(h_1 - h_2)", steps=2)
        >>> with numeric_context("mpmath") as arith:
        ...     loss.check([arith.const(sympy.Integer(1)), arith.const(sympy.Integer(1))], arith)
        Traceback (most recent call last):
        ...
        symlstm.errors.UndefinedError: the loss log(h_1 - h_2) is undefined (logarithm of 0: ...
        """
        if self.expression is None:
            return
        env = {Symbol(f"h_{s}", real=True): v for s, v in enumerate(h, start=1)}
        evaluate_checked(self.expression, env, arith, what="the loss")

    def symbolic(self, hs: list[sympy.Expr], ys: list[sympy.Expr]) -> sympy.Expr:
        """The loss as an expression of the outputs (scalar cells; ``ys`` symbolic targets)."""
        steps = len(hs)
        if self.name == "sum_h":
            return Add(*hs)
        if self.name == "h_T":
            return hs[-1]
        if self.name == "mse":
            return Add(*((h - y) ** 2 for h, y in zip(hs, ys, strict=True))) / steps
        return self.expression.xreplace(
            {Symbol(f"h_{t}", real=True): h for t, h in enumerate(hs, start=1)}
        )


# -- gradients of a sequence ------------------------------------------------------------------


@dataclass(frozen=True)
class Gradients:
    """Gradients of a loss: every parameter, the initial state and every input.

    Values are numbers (scalar cells), tuples (vectors) or tuples of tuples
    (matrices), in the arithmetic of the evaluation method: SymPy expressions,
    mpmath numbers or :class:`~symlstm.numeric.evaluation.Enclosure` objects.
    """

    loss: Loss
    method: str
    precision: int | None
    parameters: dict[str, Any]
    h0: Any
    c0: Any
    x: tuple[Any, ...]
    decimals: dict[str, Any] | None = None
    #: With ``record=True``: per step (index t − 1), every adjoint by name (``"dz_f"`` …).
    steps: tuple[dict[str, Any], ...] | None = None

    def all(self) -> dict[str, Any]:
        """Parameters, then ``h0``, ``c0`` and ``x`` (one entry per step)."""
        return {**self.parameters, "h0": self.h0, "c0": self.c0, "x": self.x}


def _explicit(cell: Cell, eqs: tuple[Eq, ...]) -> list[tuple[sympy.Expr, sympy.Expr]]:
    """(target, scalar expression) pairs: the equations element by element for vector cells."""
    out = []
    for eq in eqs:
        if not cell.is_vector:
            out.append((eq.lhs, eq.rhs.doit()))
            continue
        rhs = eq.rhs.as_explicit()
        rows, cols = eq.lhs.shape
        out += [(eq.lhs[r, c], rhs[r, c]) for r in range(rows) for c in range(cols)]
    return out


def _collect(cell: Cell, sym: sympy.Expr, env: Mapping, name: str) -> Any:
    if not cell.is_vector:
        return env[sym]
    rows, cols = sym.shape
    if name.startswith(("dW_", "dU_")):
        return tuple(tuple(env[sym[r, c]] for c in range(cols)) for r in range(rows))
    return tuple(env[sym[r, 0]] for r in range(rows))


def _plus(arith: Any, a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(_plus(arith, u, v) for u, v in zip(a, b, strict=True))
    return arith.add(a, b)


def backprop(
    cell: Cell,
    params: Mapping[str, Any],
    xs: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    loss: str | sympy.Expr | Loss = "sum_h",
    targets: Any = None,
    method: str = "exact",
    dps: int = 15,
    prec: int = 64,
    record: bool = False,
    allow_large: bool = False,
) -> Gradients:
    """Gradients of a loss by the closed-form backward recurrences (BPTT).

    With ``record``, ``steps`` keeps every adjoint of every step (for worked derivations).
    Work estimated over the work budget (:mod:`symlstm.budget`) raises
    :class:`~symlstm.errors.WorkBudgetError` before it starts, unless ``allow_large``.

    The forward pass is :func:`symlstm.numeric.evaluation.evaluate` with the same method; then
    the backward step's equations run from t = T down to 1.

    >>> from symlstm.cell import Cell
    >>> g = backprop(Cell("tied"), {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9",
    ...              "b": "0"}, ["0.5"], "0.2", "0.4", loss="h_T", method="mpmath", dps=20)
    >>> import mpmath
    >>> mpmath.nstr(g.parameters["w_f"], 15)
    '0.0353468592268'
    """
    check_cell(cell)
    if not isinstance(record, bool):
        raise ArgumentError(f"record must be True or False, not {record!r}")
    with budget.work("gradient", cell, _count(xs), allow_large=allow_large):
        return _backprop(cell, params, xs, h0, c0, loss, targets, method, dps, prec, record)


def _count(xs: Any) -> int:
    try:
        return len(xs)
    except TypeError:
        return 0


def _backprop(cell, params, xs, h0, c0, loss, targets, method, dps, prec, record) -> Gradients:
    exact_params = parameters(cell, params)
    trace = evaluate(cell, exact_params, xs, h0, c0, method=method, dps=dps, prec=prec)
    steps = len(trace)
    the_loss = Loss.make(loss, steps=steps, targets=targets, cell=cell)
    program = _explicit(cell, backward_step(cell).equations)
    n = cell.shape("h")[0] if cell.is_vector else 1  # components of h: p when projected
    with numeric_context(method, dps=dps, prec=prec) as arith:
        env: dict = {}
        for name, value in exact_params.items():
            env.update(bind(cell, name, value, arith.const))
        hs = trace.series("h")
        zero = arith.const(sympy.Integer(0))
        carry_h = tuple(zero for _ in range(n)) if cell.is_vector else zero
        carry_c = tuple(zero for _ in range(cell.hidden_size)) if cell.is_vector else zero
        grads: dict[str, Any] = {}
        dxs: list[Any] = [None] * steps
        recorded: list[dict[str, Any]] = [{} for _ in range(steps)]
        backward_names = ["h", "c_next", *(str(eq.lhs)[1:] for eq in backward_step(cell).equations)]

        def one_step(t: int, carry: tuple[Any, Any]) -> tuple[Any, Any]:
            carry_h, carry_c = carry
            for name, value in trace.steps[t - 1].items():
                env.update(bind(cell, name, value, lambda v: v))
            if t == steps:
                the_loss.check(hs, arith)
            direct = the_loss.direct(t, hs, arith, steps, n)
            env.update(_bind_adjoint(cell, "h", _plus(arith, direct, carry_h)))
            env.update(_bind_adjoint(cell, "c_next", carry_c))
            for target, expr in program:
                env[target] = evaluate_expression(expr, env, arith)
            for name in cell.parameters:
                value = _collect(cell, adjoint_symbol(cell, name), env, f"d{name}")
                grads[name] = value if name not in grads else _plus(arith, grads[name], value)
            dxs[t - 1] = _collect(cell, adjoint_symbol(cell, "x"), env, "dx")
            if record:
                recorded[t - 1] = {
                    f"d{name}": _collect(cell, adjoint_symbol(cell, name), env, f"d{name}")
                    for name in backward_names
                }
                recorded[t - 1]["direct"] = direct
                recorded[t - 1]["from_next"] = carry_h
            return (
                _collect(cell, adjoint_symbol(cell, "h_prev"), env, "dh_prev"),
                _collect(cell, adjoint_symbol(cell, "c_prev"), env, "dc_prev"),
            )

        carry_h, carry_c = through_time(
            steps, one_step, (carry_h, carry_c), reverse=True, progress=budget.progress
        )
    return Gradients(
        the_loss,
        method,
        trace.precision,
        grads,
        carry_h,
        carry_c,
        tuple(dxs),
        steps=tuple(recorded) if record else None,
    )


def _bind_adjoint(cell: Cell, name: str, value: Any) -> dict:
    sym = adjoint_symbol(cell, name)
    if not cell.is_vector:
        return {sym: value}
    return {sym[r, 0]: v for r, v in enumerate(value)}


def certify_gradients(
    cell: Cell,
    params: Mapping[str, Any],
    xs: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    significant: int,
    loss: str | sympy.Expr | Loss = "sum_h",
    targets: Any = None,
    max_prec: int = MAX_PREC,
    allow_large: bool = False,
) -> Gradients:
    """Gradients in interval arithmetic, with precision raised until each is certified to
    ``significant`` digits; ``decimals`` holds them as decimal strings.

    Work estimated over the work budget (:mod:`symlstm.budget`) raises
    :class:`~symlstm.errors.WorkBudgetError` before it starts, unless ``allow_large``.

    >>> from symlstm.cell import Cell
    >>> g = certify_gradients(Cell("tied"), {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5",
    ...                       "w_o": "0.9", "b": "0"}, ["0.5"], "0.2", "0.4",
    ...                       loss="h_T", significant=20)
    >>> g.decimals["w_f"]
    '0.035346859226800033348'
    """
    check_cell(cell)
    check_dps(significant, what="significant digits")
    if significant > MAX_SIGNIFICANT:
        raise PrecisionError(
            f"significant digits must be at most {MAX_SIGNIFICANT}, not {significant}"
        )

    def text(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(text(v) for v in value)
        if value.exact is not None and value.exact == 0:
            return "0"
        return value.round(significant=significant)

    def attempt(prec: int) -> Gradients:
        g = backprop(
            cell, params, xs, h0, c0, loss=loss, targets=targets, method="interval", prec=prec
        )
        decimals = {name: text(v) for name, v in g.all().items()}
        return Gradients(g.loss, g.method, prec, g.parameters, g.h0, g.c0, g.x, decimals)

    with budget.work("gradient", cell, _count(xs), allow_large=allow_large):
        return with_increasing_precision(attempt, max_prec=max_prec, what="the gradients")
