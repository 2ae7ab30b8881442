"""Proofs that the closed-form gradients equal differentiating the unrolled graph.

:func:`unroll` writes a scalar cell's forward pass for T steps as expressions,
:func:`naive_gradients` differentiates them, :func:`closed_form_gradients` runs the
backward step's recurrences symbolically, and :func:`prove_gradients` shows the two
equal; :func:`structured_gradients` writes BPTT as a chain of named adjoints.

>>> from symlstm.cell import Cell
>>> hs = [s["h"] for s in unroll(Cell("tied"), 2)]
>>> len(hs)
2
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy
from sympy import (
    Add,
    Eq,
    S,
    Symbol,
)

from symlstm.cell import Cell
from symlstm.derive.backward import adjoint_symbol, backward_step, check_cell
from symlstm.derive.gradients import Loss
from symlstm.errors import (
    ArgumentError,
    ParameterError,
    SymLSTMError,
)
from symlstm.limits import MAX_STRUCTURED_STEPS, MAX_SYMBOLIC_STEPS

__all__ = [
    "closed_form_gradients",
    "is_zero_identically",
    "naive_gradients",
    "prove_gradients",
    "structured_gradients",
    "unroll",
]


def _check_steps(steps: Any, limit: int = MAX_SYMBOLIC_STEPS) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise ArgumentError(f"steps must be an integer, not {type(steps).__name__}")
    if not 1 <= steps <= limit:
        raise ParameterError(f"steps must be from 1 to {limit}, not {steps}")
    return steps


# -- proofs: the closed form against differentiating the unrolled graph ----------------------


def unroll(cell: Cell, steps: int) -> list[dict[str, sympy.Expr]]:
    """The forward pass as expressions of the parameters, x_1 … x_T, h_0 and c_0 (scalar cells).

    >>> hs = [s["h"] for s in unroll(Cell("tied"), 2)]
    >>> sorted(map(str, hs[1].free_symbols))[:4]
    ['b_f', 'b_g', 'b_i', 'b_o']
    """
    check_cell(cell)
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
    check_cell(cell)
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
    check_cell(cell)
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
    check_cell(cell)
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
    check_cell(cell)
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
