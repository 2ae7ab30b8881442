"""Closed-form derivatives of the cell: local partials and backprop through time (BPTT).

Everything is derived from the cell's own equations (:meth:`symlstm.cell.Cell.equations`)
by reverse-mode differentiation of one step, so every variant gets its formulas
without any being written by hand. Derivatives come out in their familiar forms,
written with the gates' own symbols: σ' = σ(1 − σ) is f(1 − f), tanh' is 1 − g².

One backward step takes what reaches step t from the loss and from step t + 1,

* ``dh`` — ∂L/∂h_t in total: the loss's own term plus what step t + 1 sends back;
* ``dc_next`` — ∂L/∂c_t through step t + 1 (that step's ``dc_prev``),

and gives the adjoint ``d<q>`` of every quantity q of the step, what it sends to
step t − 1 (``dh_prev``, ``dc_prev``), ``dx``, and each parameter's contribution
at step t (``dW_i`` …; the gradient is the sum over the steps).

>>> from sympy import sstr
>>> from symlstm.cell import Cell
>>> bw = backward_step(Cell("tied"))
>>> for eq in bw.equations[:5]:
...     print(sstr(eq, order="none"))
Eq(ds, dh*o)
Eq(do, dh*s)
Eq(dz_o, do*o*(1 - o))
Eq(dc, dc_next + ds*(1 - s**2))
Eq(dg, dc*i)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import sympy
from sympy import (
    Add,
    Eq,
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    Mul,
    OneMatrix,
    S,
    Symbol,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symlstm import budget
from symlstm.cell import Cell
from symlstm.errors import (
    ArgumentError,
    ParameterError,
    PrecisionError,
    ShapeError,
    SymLSTMError,
    UnknownNameError,
)
from symlstm.expressions import check_expression, elide, evaluate_checked, parse_expression
from symlstm.functions import sigmoid
from symlstm.limits import MAX_ROUNDING_DIGITS, MAX_STRUCTURED_STEPS, MAX_SYMBOLIC_STEPS
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

__all__ = [
    "INCOMING",
    "LOSSES",
    "BackwardStep",
    "Gradients",
    "Loss",
    "adjoint_symbol",
    "backprop",
    "backward_step",
    "certify_gradients",
    "closed_form_gradients",
    "is_zero_identically",
    "local_derivatives",
    "naive_gradients",
    "prove_gradients",
    "structured_gradients",
    "unroll",
]

#: The most steps the symbolic functions unroll (:func:`unroll`, :func:`naive_gradients`,
#: :func:`prove_gradients` …; the benchmarks unroll 32). Expanding or differentiating the
#: unrolled graph grows exponentially with the steps: beyond a few, expect it to be slow.
#: The most significant digits :func:`certify_gradients` certifies (its working precision
#: stops at MAX_PREC = 32768 bits, about 9800 digits; Python prints at most 4300).
MAX_SIGNIFICANT = MAX_ROUNDING_DIGITS  # one table: symlstm.limits
#: The most steps :func:`structured_gradients` writes out (its size grows linearly).


def _check_cell(cell: Any) -> Cell:
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    return cell


def _check_steps(steps: Any, limit: int = MAX_SYMBOLIC_STEPS) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise ArgumentError(f"steps must be an integer, not {type(steps).__name__}")
    if not 1 <= steps <= limit:
        raise ParameterError(f"steps must be from 1 to {limit}, not {steps}")
    return steps


#: The adjoints a backward step receives: (name, the quantity whose shape it has).
INCOMING: tuple[tuple[str, str], ...] = (("h", "h"), ("c_next", "c"))


def adjoint_symbol(cell: Cell, name: str) -> sympy.Expr:
    """The symbol ``d<name>`` of an adjoint, shaped like the quantity it belongs to.

    >>> adjoint_symbol(Cell("tied"), "z_f")
    dz_f
    """
    _check_cell(cell)
    if not isinstance(name, str):
        raise ArgumentError(f"name must be a string, not {type(name).__name__}")
    shape_of = dict(INCOMING).get(name, name)
    base = {**cell.symbols, **cell.parameters}.get(shape_of)
    if base is None:
        raise UnknownNameError(f"no quantity or parameter {name!r} in this cell")
    if isinstance(base, MatrixSymbol):
        return MatrixSymbol(f"d{name}", *base.shape)
    return Symbol(f"d{name}", real=True)


def _familiar(derivative: sympy.Expr, applied: sympy.Expr, output: sympy.Expr) -> sympy.Expr:
    """σ'(z) as y(1 − y) and tanh'(z) as 1 − y², with y the symbol the equation defines."""
    return derivative.xreplace({applied: output})


def _scalar_partials(rhs: sympy.Expr, output: sympy.Expr) -> dict[sympy.Expr, sympy.Expr]:
    """∂rhs/∂a for every free symbol a of a scalar right-hand side, in familiar form."""
    rhs = rhs.doit()  # unevaluated textbook-order products → ordinary ones
    out = {}
    for sym in sorted(rhs.free_symbols, key=lambda s: s.name):
        partial = sympy.diff(rhs, sym)
        if partial != 0:
            out[sym] = _familiar(partial, rhs, output)
    return out


def local_derivatives(cell: Cell) -> dict[tuple[str, str], sympy.Expr]:
    """Every nonzero partial derivative of a step quantity with respect to its direct arguments.

    Keys are ``(quantity, argument)`` with canonical names; scalar and tied cells.

    >>> d = local_derivatives(Cell("tied"))
    >>> d["f", "z_f"], d["g", "z_g"], d["c", "c_prev"], d["h", "o"]
    (f*(1 - f), 1 - g**2, f, s)
    >>> d["z_f", "w_f"]
    h_prev + x
    """
    _check_cell(cell)
    if cell.is_vector:
        raise SymLSTMError("local_derivatives() is for scalar cells; see backward_step()")
    names = {sym: name for name, sym in {**cell.symbols, **cell.parameters}.items()}
    return {
        (names[eq.lhs], names[sym]): partial
        for eq in cell.equations()
        for sym, partial in _scalar_partials(eq.rhs, eq.lhs).items()
    }


def _matrix_adjoints(
    expr: MatrixExpr, upstream: MatrixExpr, output: MatrixExpr
) -> list[tuple[MatrixSymbol, MatrixExpr]]:
    """The adjoint contributions to a matrix expression's symbols (matrix calculus rules).

    ``output`` is the symbol the expression defines, so that φ'(z) can be written
    with φ(z): σ' as o ⊙ (1 − o).
    """
    if isinstance(expr, MatrixSymbol):
        return [(expr, upstream)]
    if isinstance(expr, OneMatrix | ZeroMatrix | Identity):
        return []
    if isinstance(expr, MatAdd):
        return [c for arg in expr.args for c in _matrix_adjoints(arg, upstream, output)]
    if isinstance(expr, MatMul):
        scalar = Mul(*(a for a in expr.args if not isinstance(a, MatrixExpr)))
        mats = [a for a in expr.args if isinstance(a, MatrixExpr)]
        up = upstream if scalar == 1 else scalar * upstream
        if len(mats) == 1:  # c·A
            return _matrix_adjoints(mats[0], up, output)
        if len(mats) == 2:  # A B: δA = δY Bᵀ, δB = Aᵀ δY
            a, b = mats
            return [
                *_matrix_adjoints(a, MatMul(up, b.T), output),
                *_matrix_adjoints(b, MatMul(a.T, up), output),
            ]
    if isinstance(expr, HadamardProduct) and len(expr.args) == 2:
        a, b = expr.args
        return [
            *_matrix_adjoints(a, HadamardProduct(upstream, b), output),
            *_matrix_adjoints(b, HadamardProduct(upstream, a), output),
        ]
    if isinstance(expr, ElementwiseApplyFunction):
        d, y = sympy.Dummy("d"), sympy.Dummy("d")  # the argument z and the output φ(z)
        body = expr.function(d)
        derivative = sympy.diff(body, d)
        in_output = derivative.xreplace({body: y})
        # φ'(z) as a product of factors in y = φ(z) (σ' = σ ⊙ (1 − σ)) and factors in z
        # (a clip's Heaviside(C − max(−C, z)), relu's Heaviside(z)); a factor in neither
        # alone falls back to φ'(z) in z (e.g. the hard sigmoid).
        of_output, of_input = [], []
        for factor in sympy.Mul.make_args(in_output):
            if factor.free_symbols <= {y} and not factor.has(type(body)):
                of_output.append(factor)
            elif factor.free_symbols <= {d} and not factor.has(body):
                of_input.append(factor)
            else:
                of_output, of_input = [], [derivative]
                break
        local_parts = []
        if of_output and Mul(*of_output) != 1:
            local_parts.append(output.applyfunc(sympy.Lambda(y, Mul(*of_output))))
        if of_input:
            local_parts.append(expr.expr.applyfunc(sympy.Lambda(d, Mul(*of_input))))
        if not local_parts:  # φ' = 1: the identity
            return _matrix_adjoints(expr.expr, upstream, output)
        local = local_parts[0] if len(local_parts) == 1 else HadamardProduct(*local_parts)
        return _matrix_adjoints(expr.expr, HadamardProduct(upstream, local), output)
    raise SymLSTMError(f"no adjoint rule for {type(expr).__name__}: {expr}")


@dataclass(frozen=True)
class BackwardStep:
    """The backward equations of one step, in evaluation order.

    ``equations`` are ``Eq(d<name>, expression)``: the adjoints of the step's
    quantities from h back to the pre-activations, then of the inputs (``dx``,
    ``dh_prev``, ``dc_prev``), then the parameters' contributions. Expressions use
    forward symbols, the incoming ``dh`` and ``dc_next``, and earlier adjoints.
    """

    cell: Cell
    equations: tuple[Eq, ...]

    @cached_property
    def _by_name(self) -> dict[str, sympy.Expr]:
        return {str(eq.lhs)[1:]: eq.rhs for eq in self.equations}

    def adjoint(self, name: str) -> sympy.Expr:
        """One adjoint with the earlier adjoints substituted: an expression of dh, dc_next
        and forward values only.

        >>> backward_step(Cell("tied")).adjoint("c_prev")
        f*(dc_next + dh*o*(1 - s**2))
        """
        if name not in self._by_name:
            raise UnknownNameError(f"no adjoint of {name!r}; known: {', '.join(self._by_name)}")
        subs = {adjoint_symbol(self.cell, n): e for n, e in self._by_name.items()}
        expr = self._by_name[name]
        while True:
            new = expr.xreplace(subs)
            if new == expr:
                return sympy.factor_terms(new.doit()) if not self.cell.is_vector else new
            expr = new


def backward_step(cell: Cell) -> BackwardStep:
    """Derive the backward equations of one step of ``cell`` (any kind, any variant).

    >>> bw = backward_step(Cell("vector", forget_gate="coupled"))
    >>> [str(eq.lhs) for eq in bw.equations][:5]
    ['ds', 'do', 'dz_o', 'dc', 'dg']
    """
    _check_cell(cell)
    symbols = {**cell.symbols, **cell.parameters}
    names = {sym: name for name, sym in symbols.items()}
    zero = (lambda sym: ZeroMatrix(*sym.shape)) if cell.is_vector else (lambda sym: S.Zero)
    total = (lambda *t: MatAdd(*t)) if cell.is_vector else (lambda *t: Add(*t, evaluate=False))
    terms: dict[sympy.Expr, list[sympy.Expr]] = {
        cell.symbols["h"]: [adjoint_symbol(cell, "h")],
        cell.symbols["c"]: [adjoint_symbol(cell, "c_next")],
    }
    out: list[Eq] = []
    for eq in reversed(cell.equations()):
        q = eq.lhs
        d_q = adjoint_symbol(cell, names[q])
        if q != cell.symbols["h"]:  # dh is given, every other adjoint gets an equation
            got = terms.get(q, [])
            value = total(*got) if len(got) > 1 else (got[0] if got else zero(q))
            out.append(Eq(d_q, value, evaluate=False))
        if cell.is_vector:
            pushed = _matrix_adjoints(eq.rhs, d_q, q)
        else:
            pushed = [(s, Mul(d_q, p)) for s, p in _scalar_partials(eq.rhs, q).items()]
        for sym, term in pushed:
            terms.setdefault(sym, []).append(term)
    for name in ("x", "h_prev", "c_prev", *cell.parameters):
        sym = symbols[name]
        got = terms.get(sym, [])
        value = total(*got) if len(got) > 1 else (got[0] if got else zero(sym))
        out.append(Eq(adjoint_symbol(cell, name), value, evaluate=False))
    return BackwardStep(cell, tuple(out))


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
    _check_cell(cell)
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
    _check_cell(cell)
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


# -- proofs: the closed form against differentiating the unrolled graph ----------------------


def unroll(cell: Cell, steps: int) -> list[dict[str, sympy.Expr]]:
    """The forward pass as expressions of the parameters, x_1 … x_T, h_0 and c_0 (scalar cells).

    >>> hs = [s["h"] for s in unroll(Cell("tied"), 2)]
    >>> sorted(map(str, hs[1].free_symbols))[:4]
    ['b_f', 'b_g', 'b_i', 'b_o']
    """
    _check_cell(cell)
    _check_steps(steps)
    if cell.is_vector:
        raise SymLSTMError("unroll() is for scalar cells")
    h, c = Symbol("h_0", real=True), Symbol("c_0", real=True)
    out = []
    for t in range(1, steps + 1):
        env = {
            cell.symbols["x"]: Symbol(f"x_{t}", real=True),
            cell.symbols["h_prev"]: h,
            cell.symbols["c_prev"]: c,
        }
        for eq in cell.equations():
            env[eq.lhs] = eq.rhs.doit().xreplace(env)
        out.append({name: env[sym] for name, sym in cell.symbols.items()})
        h, c = env[cell.symbols["h"]], env[cell.symbols["c"]]
    return out


def _symbolic_targets(steps: int) -> list[sympy.Expr]:
    return [Symbol(f"y_{t}", real=True) for t in range(1, steps + 1)]


def closed_form_gradients(cell: Cell, steps: int, loss: str | sympy.Expr = "sum_h") -> dict:
    """Gradients by the backward recurrences, as expressions of the primitive symbols."""
    _check_cell(cell)
    _check_steps(steps)
    forward = unroll(cell, steps)
    the_loss = _symbolic_loss(loss, steps)
    eqs = backward_step(cell).equations
    grads: dict[str, sympy.Expr] = dict.fromkeys(cell.parameters, S.Zero)
    carry_h = carry_c = S.Zero
    xs = {}
    for t in range(steps, 0, -1):
        env = {cell.symbols[name]: value for name, value in forward[t - 1].items()}
        env[adjoint_symbol(cell, "h")] = _direct_symbolic(the_loss, forward, t) + carry_h
        env[adjoint_symbol(cell, "c_next")] = carry_c
        env.update({sym: sym for sym in cell.parameters.values()})
        for eq in eqs:
            env[eq.lhs] = eq.rhs.doit().xreplace(env)
        for name in cell.parameters:
            grads[name] += env[adjoint_symbol(cell, name)]
        xs[f"x_{t}"] = env[adjoint_symbol(cell, "x")]
        carry_h = env[adjoint_symbol(cell, "h_prev")]
        carry_c = env[adjoint_symbol(cell, "c_prev")]
    return {**grads, "h_0": carry_h, "c_0": carry_c, **xs}


def _symbolic_loss(loss: str | sympy.Expr, steps: int) -> Loss:
    if loss == "mse":
        return Loss("mse", tuple(_symbolic_targets(steps)))
    return Loss.make(loss, steps=steps)


def _direct_symbolic(loss: Loss, forward: list[dict], t: int) -> sympy.Expr:
    """∂L/∂h_t with the other outputs held fixed: L differentiated in a symbol for h_t,
    then the outputs put in (never by replacing h_t's expression, which h_{t+1} contains)."""
    steps = len(forward)
    hs = [Symbol(f"h_{s}", real=True) for s in range(1, steps + 1)]
    partial = sympy.diff(loss.symbolic(hs, _symbolic_targets(steps)), hs[t - 1])
    return partial.xreplace({h: step["h"] for h, step in zip(hs, forward, strict=True)})


def naive_gradients(cell: Cell, steps: int, loss: str | sympy.Expr = "sum_h") -> dict:
    """Gradients by sympy.diff of the fully unrolled loss (the reference the proofs use)."""
    _check_cell(cell)
    _check_steps(steps)
    forward = unroll(cell, steps)
    total = _symbolic_loss(loss, steps).symbolic(
        [s["h"] for s in forward], _symbolic_targets(steps)
    )
    wrt = {
        **cell.parameters,
        "h_0": Symbol("h_0", real=True),
        "c_0": Symbol("c_0", real=True),
        **{f"x_{t}": Symbol(f"x_{t}", real=True) for t in range(1, steps + 1)},
    }
    return {name: sympy.diff(total, sym) for name, sym in wrt.items()}


def _atomize(expr: sympy.Expr, table: dict, memo: dict | None = None) -> sympy.Expr:
    """Replace every function application (σ, tanh, …) by a symbol, inside out, so that an
    identity between expressions becomes a polynomial identity. Shared subtrees are
    visited once (``memo``): unrolled expressions repeat them many times."""
    memo = {} if memo is None else memo
    if not expr.args:
        return expr
    done = memo.get(expr)
    if done is not None:
        return done
    args = [_atomize(a, table, memo) for a in expr.args]
    if isinstance(expr, sympy.Function | sympy.Piecewise | sympy.Abs):
        key = expr.func(*args)
        if key not in table:
            table[key] = Symbol(f"_a{len(table)}")
        result = table[key]
    else:
        result = expr.func(*args)
    memo[expr] = result
    return result


def is_zero_identically(expr: sympy.Expr) -> bool:
    """True if ``expr`` is 0 as a polynomial in its symbols and function applications.

    This is a proof, not a numerical check: each distinct function application is
    treated as an independent variable, so identical zero there implies zero
    everywhere. The expansion uses symengine where it is installed (the ``fast``
    extra; about 20× faster on unrolled LSTM graphs), SymPy otherwise.

    >>> from sympy import Symbol, tanh
    >>> x = Symbol("x")
    >>> is_zero_identically((1 - tanh(x)) * (1 + tanh(x)) - (1 - tanh(x) ** 2))
    True
    >>> is_zero_identically(tanh(x) ** 2 - tanh(x))
    False
    """
    if not isinstance(expr, sympy.Basic | int | Fraction):
        raise ArgumentError(f"expr must be a SymPy expression, not {type(expr).__name__}")
    polynomial = _atomize(sympy.sympify(expr), {})
    try:
        import symengine
    except ImportError:
        return sympy.expand(polynomial) == 0
    return symengine.expand(symengine.sympify(polynomial)) == 0


def prove_gradients(cell: Cell, steps: int, loss: str | sympy.Expr = "sum_h") -> dict[str, bool]:
    """For each gradient: is the closed form minus sympy.diff of the unrolled graph zero?

    >>> all(prove_gradients(Cell("tied"), 2).values())
    True
    """
    _check_cell(cell)
    _check_steps(steps)
    closed = closed_form_gradients(cell, steps, loss)
    naive = naive_gradients(cell, steps, loss)
    return {name: is_zero_identically(closed[name] - naive[name]) for name in naive}


def structured_gradients(cell: Cell, steps: int) -> list[Eq]:
    """The whole forward and backward pass as equations between time-indexed symbols.

    This is the structured closed form: each step's equations with its quantities as
    symbols (``f_2``, ``dz_f_2`` …), so its size grows linearly with the number of
    steps, where differentiating the unrolled expression grows exponentially. The
    last equations give each parameter's gradient as a sum over the steps.

    >>> eqs = structured_gradients(Cell("tied"), 2)
    >>> [str(eq.lhs) for eq in eqs][-2:]
    ['grad_b_o', 'grad_h_0']
    """
    _check_cell(cell)
    _check_steps(steps, MAX_STRUCTURED_STEPS)
    if cell.is_vector:
        raise SymLSTMError("structured_gradients() is for scalar cells")

    def at(name: str, t: int) -> Symbol:
        return Symbol(f"{name}_{t}", real=True)

    out: list[Eq] = []
    forward = cell.equations()
    for t in range(1, steps + 1):
        env = {
            cell.symbols["x"]: at("x", t),
            cell.symbols["h_prev"]: at("h", t - 1),
            cell.symbols["c_prev"]: at("c", t - 1),
        }
        env.update({eq.lhs: at(str(eq.lhs), t) for eq in forward})
        out += [Eq(env[eq.lhs], eq.rhs.doit().xreplace(env)) for eq in forward]
    backward = backward_step(cell).equations
    for t in range(steps, 0, -1):
        env = {
            cell.symbols["x"]: at("x", t),
            cell.symbols["h_prev"]: at("h", t - 1),
            cell.symbols["c_prev"]: at("c", t - 1),
        }
        env.update(
            {
                sym: at(name, t)
                for name, sym in cell.symbols.items()
                if name not in ("x", "h_prev", "c_prev")
            }
        )
        env.update({eq.lhs: at(str(eq.lhs), t) for eq in backward})
        # dh_t = the loss's term (sum of h: 1) + what step t + 1 sends back
        incoming = S.One + (at("dh_prev", t + 1) if t < steps else S.Zero)
        out.append(Eq(at("dh", t), incoming))
        env[adjoint_symbol(cell, "h")] = at("dh", t)
        env[adjoint_symbol(cell, "c_next")] = at("dc_prev", t + 1) if t < steps else S.Zero
        out += [Eq(env[eq.lhs], eq.rhs.doit().xreplace(env)) for eq in backward]
    for name in cell.parameters:
        out.append(
            Eq(Symbol(f"grad_{name}"), Add(*(at(f"d{name}", t) for t in range(1, steps + 1))))
        )
    out.append(Eq(Symbol("grad_h_0"), at("dh_prev", 1)))
    return out
