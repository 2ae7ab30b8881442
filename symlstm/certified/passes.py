"""One attempt of the certified reference at one working precision: the cell's plan
compiled over balls, and the pass forward (and backward) through time in it.

:func:`forward_backward` runs the vector cell along the batch in ball arithmetic at the
precision in force and yields the outputs, then (with upstream gradients) the gradients,
as arrays of balls; :func:`next_precision` is the precision a shortfall asks for next.
:func:`symlstm.certified.run.reference` judges the attempts and raises the precision.

>>> next_precision(304, 100, 126, 1) is None  # 126 bits where 100 were asked: enough
True
>>> next_precision(304, 100, 80, 2)  # 224 bits lost, twice over: 548, rounded up to 32
576
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from symlstm.cell import Variant
from symlstm.certified.balls import Balls, choose_balls
from symlstm.certified.inputs import Inputs
from symlstm.errors import UndecidedError
from symlstm.numeric.compile import Compiled, compile_expression
from symlstm.numeric.sequence import through_time
from symlstm.plan import StepEquation, StepPlan, step_plan

__all__: list[str] = []  # shared with run.py and blocks.py, not part of the API


# -- the plan: the cell's equations, split into matrix and element-wise parts ---------------------


@dataclass(frozen=True)
class Plan:
    """The step plan (:mod:`symlstm.plan`) with its element-wise equations compiled."""

    step: StepPlan
    gates: tuple[str, ...]
    peepholes: tuple[str, ...]
    affine: Mapping[str, sympy.Symbol]  # gate → the symbol standing for W_k x + U_k h + b_k
    forward: tuple[tuple[str, sympy.Basic, Compiled], ...]
    backward: tuple[tuple[str, sympy.Basic, Compiled], ...]
    saved: tuple[sympy.Basic, ...]  # forward values the backward equations read
    symbols: Mapping[str, sympy.Basic]  # h, c, c_prev, dh, dc_next, dc_prev, dz_k, dp_k, p_k


def plan_for(variant: Variant, backend: str = "arb") -> Plan:
    """The step plan of the variant's cell (:func:`symlstm.plan.step_plan`), its
    element-wise equations compiled for ``backend`` ("arb" or "iv")."""
    return _compiled_plan(step_plan(variant), backend)


@functools.lru_cache(maxsize=32)
def _compiled_plan(step: StepPlan, backend: str) -> Plan:
    ctx = choose_balls(backend).context

    def program(equations: Iterable[StepEquation]) -> tuple[tuple[str, sympy.Basic, Compiled], ...]:
        return tuple((eq.name, eq.target, compile_expression(eq.rhs, ctx)) for eq in equations)

    return Plan(
        step,
        step.gate_names,
        step.peepholes,
        step.affine,
        program(step.forward),
        program(step.backward),
        step.saved,
        step.symbols,
    )


# -- one attempt at one working precision ---------------------------------------------------------


def _full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.shape == shape:
        return value
    return np.broadcast_to(np.asarray(value, dtype=object), shape)


def forward_backward(
    plan: Plan,
    data: Inputs,
    ops: Balls,
    floor: int,
    tick: Callable[[str, int, int], None],
    matrices: dict[str, Any] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The outputs, then the gradients, as arrays of balls at the precision in force.

    The factors of the summed gradient products are trimmed to ``floor`` bits or their
    accuracy (see :meth:`Balls.trimmed`), and the products run at that length rather than
    the working precision (with Arb a third cheaper at hidden 64, T 100; still
    enclosures). ``matrices`` keeps the weight matrices from one attempt to the next
    (floats are exact at every precision)."""
    n, steps, batch, gates = data.n, data.steps, data.batch, plan.gates
    rows, state = len(gates) * n, (data.n, data.batch)
    P, sym = data.params, plan.symbols
    kept = {} if matrices is None else matrices

    def weights(name: str, values: Callable[[], np.ndarray]) -> Any:
        if name in kept:
            return kept[name]
        a = values()
        made = ops.point_matrix(a)
        if a.dtype != object:  # Fractions are enclosed at the precision in force
            kept[name] = made
        return made

    w_all = weights("W", lambda: np.concatenate([P[f"W_{k}"] for k in gates]))
    u_all = weights("U", lambda: np.concatenate([P[f"U_{k}"] for k in gates]))
    bias = ops.balls(np.concatenate([P[f"b_{k}"] for k in gates]))
    # W x + b for every step at once, one product per batch row (columns t), so that a
    # row's balls never depend on the other rows (the row blocks of ``workers``).
    wx = np.empty((rows, steps, batch), dtype=object)
    for b in range(batch):
        x_b = data.x[:, b, :].T
        if ops.exact(w_all):
            wx[:, :, b] = ops.by_column(w_all, ops.balls(x_b))
        else:
            wx[:, :, b] = ops.objects(ops.product(ops.plain(w_all), ops.matrix(x_b)), (rows, steps))
    wx += bias[:, None, None]
    peep = {sym[f"p_{k}"]: ops.balls(P[f"p_{k}"])[:, None] for k in plan.peepholes}
    # A projected cell: the element-wise equations' h is m = o ⊙ tanh(c), and h = W_hr m.
    w_hr = weights("W_hr", lambda: P["W_hr"]) if "W_hr" in P else None
    out_state = (data.p, data.batch)

    h, c = ops.balls(data.h0.T), ops.balls(data.c0.T)
    ys, h_prevs, saved, ms = [], [], [], []

    def forward(step: int, state_: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        t = step - 1
        h, c = state_
        affine = wx[:, t, :] + ops.by_column(u_all, h)
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
            h = ops.by_column(w_hr, h)
        ys.append(h)
        if data.gradients:
            saved.append({s: env[s] for s in plan.saved})
        return h, c

    h, c = through_time(steps, forward, (h, c), progress=lambda k, T: tick("forward", k, T))
    yield {"y": np.stack(ys).transpose(0, 2, 1), "h_T": h.T, "c_T": c.T}
    if not data.gradients:
        return

    carry_h = ops.zeros(out_state) if data.dhT is None else ops.balls(data.dhT.T)
    carry_c = ops.zeros(state) if data.dcT is None else ops.balls(data.dcT.T)
    dy = None if data.dy is None else ops.balls(data.dy.transpose(0, 2, 1))
    dz = np.empty((steps, rows, batch), dtype=object)
    dp = {k: ops.zeros((n,)) for k in plan.peepholes}
    u_t = ops.transpose(ops.plain(u_all))
    w_hr_t = None if w_hr is None else ops.transpose(ops.plain(w_hr))
    dhs = np.empty((steps, data.p, batch), dtype=object)  # ∂L/∂h_t in total (projected only)

    def backward(step: int, carry: tuple[np.ndarray, Any]) -> tuple[np.ndarray, Any]:
        t = step - 1
        carry_h, carry_c = carry
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
        return ops.objects(ops.product(u_t, ops.matrix(dz[t])), out_state), env[sym["dc_prev"]]

    carry_h, carry_c = through_time(
        steps,
        backward,
        (carry_h, carry_c),
        reverse=True,
        progress=lambda k, T: tick("backward", k, T),
    )

    # The matrix adjoints, summed over steps and batch by the products themselves.
    x_cols = ops.matrix(data.x.transpose(2, 0, 1).reshape(data.m, steps * batch))
    (dz_cols, h_cols), short = ops.trimmed(
        [
            dz.transpose(1, 0, 2).reshape(rows, steps * batch),
            np.stack(h_prevs, axis=1).reshape(data.p, steps * batch),
        ],
        floor,
    )
    with _products_at(ops, short):
        d_w = ops.objects(ops.product(dz_cols, ops.transpose(x_cols)), (rows, data.m))
        d_u = ops.objects(ops.product(dz_cols, ops.transpose(h_cols)), (rows, data.p))
        d_b = ops.objects(ops.product(dz_cols, ops.matrix(np.ones((steps * batch, 1)))), (rows,))
        d_x = ops.product(ops.transpose(ops.plain(w_all)), dz_cols)
        d_x = ops.objects(d_x, (data.m, steps, batch))
    grads = {}
    for i, k in enumerate(gates):
        part = slice(i * n, (i + 1) * n)
        grads |= {f"W_{k}": d_w[part], f"U_{k}": d_u[part], f"b_{k}": d_b[part]}
    grads |= {f"p_{k}": dp[k] for k in plan.peepholes}
    if w_hr is not None:  # dW_hr = Σ_t dh_t m_tᵀ
        (dh_cols, m_cols), short = ops.trimmed(
            [
                dhs.transpose(1, 0, 2).reshape(data.p, steps * batch),
                np.stack(ms, axis=1).reshape(n, steps * batch),
            ],
            floor,
        )
        with _products_at(ops, short):
            d_hr = ops.product(dh_cols, ops.transpose(m_cols))
        grads["W_hr"] = ops.objects(d_hr, (data.p, n))
    grads |= {"x": d_x.transpose(1, 2, 0), "h0": carry_h.T, "c0": _full(carry_c, state).T}
    yield {f"grad:{k}": v for k, v in grads.items()}


def _products_at(ops: Balls, prec: int | None) -> contextlib.AbstractContextManager[None]:
    """The precision the trimmed factors' products run at (None: the one in force)."""
    return contextlib.nullcontext() if prec is None else ops.context.workprec(prec)


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


def next_precision(prec: int, bits: int, got: int | None, factor: int) -> int | None:
    """The precision that should leave ``bits`` where ``prec`` left ``got``, when the
    rest of the pass loses ``factor`` times what was lost so far; None if ``prec`` should
    do. Without a measure (a non-finite ball, or none of its bits left), double."""
    if got is None or got < 1:
        return 2 * prec
    need = bits + factor * (prec - got)
    if need <= prec and got >= bits:
        return None
    return max(-(-(need + 8) // 32) * 32, prec + 32)
