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

from dataclasses import dataclass
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

from symlstm.cell import Cell, elementwise_apply
from symlstm.errors import (
    ArgumentError,
    SymLSTMError,
    UnknownNameError,
)

__all__ = ["INCOMING", "BackwardStep", "adjoint_symbol", "backward_step", "local_derivatives"]


def check_cell(cell: Any) -> Cell:
    """``cell`` if it is a Cell; :class:`~symlstm.errors.ArgumentError` otherwise.

    >>> check_cell(Cell("tied")).kind
    'tied'
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    return cell


#: The adjoints a backward step receives: (name, the quantity whose shape it has).
INCOMING: tuple[tuple[str, str], ...] = (("h", "h"), ("c_next", "c"))


def adjoint_symbol(cell: Cell, name: str) -> sympy.Expr:
    """The symbol ``d<name>`` of an adjoint, shaped like the quantity it belongs to.

    >>> adjoint_symbol(Cell("tied"), "z_f")
    dz_f
    """
    check_cell(cell)
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
    check_cell(cell)
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
        # the argument z and the output φ(z), real (|z|' is sign(z), not parts re and im)
        d, y = sympy.Dummy("d", real=True), sympy.Dummy("d", real=True)
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
            local_parts.append(elementwise_apply(output, sympy.Lambda(y, Mul(*of_output))))
        if of_input:
            local_parts.append(elementwise_apply(expr.expr, sympy.Lambda(d, Mul(*of_input))))
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
    check_cell(cell)
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
