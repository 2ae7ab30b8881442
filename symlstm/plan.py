"""The step plan: one LSTM step split into matrix products and element-wise equations.

Every numeric consumer of a cell computes a step the same way: the affine parts
a_k = W_k x + U_k h_prev + b_k of the pre-activations as matrix products over the
stacked weights (GEMMs), everything else element-wise, and backward the adjoints of
W_k, U_k, b_k, x and h_prev as matrix products again. :func:`step_plan` derives that
split once per variant, from the *scalar* cell's equations
(:meth:`symlstm.cell.Cell.equations`) and its backward step
(:func:`symlstm.derive.backward.backward_step`), checks it, and caches it. The certified
reference (:mod:`symlstm.certified`), the NumPy generator (:mod:`symlstm.codegen.numpy_code`) and
the PyTorch generator (:mod:`symlstm.codegen.torch_code`) read the plan; each compiles or
prints its SymPy equations itself. Nothing else restates the split.

>>> plan = step_plan("peephole")
>>> plan.gate_names, [g.name for g in plan.gates if g.reads_c]
(('i', 'f', 'g', 'o'), ['o'])
>>> plan.gate("f").extra, plan.gate("f").activation
(c_prev*p_f, sigmoid(z_f))
>>> [str(eq) for eq in plan.forward[:2]]
['z_f = _affine_f + c_prev*p_f', 'f = sigmoid(z_f)']
>>> [(d.parameter, d.gate, d.state) for d in plan.peephole_gradients]
[('p_i', 'i', 'c_prev'), ('p_f', 'f', 'c_prev'), ('p_o', 'o', 'c')]
>>> step_plan(Variant(peephole=True)) is plan  # built once per variant
True

A coupled forget gate has no weights of its own; f = 1 − i has no function in it and is
substituted where it is used (:attr:`StepPlan.inline`):

>>> coupled = step_plan("coupled")
>>> coupled.gate_names, dict(coupled.inline)
(('i', 'g', 'o'), {f: 1 - i})
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

import sympy

from symlstm.cell import Cell, Variant
from symlstm.derive.backward import adjoint_symbol, backward_step
from symlstm.errors import ArgumentError, SymLSTMError, UnknownNameError

__all__ = ["GatePlan", "PeepholeGradient", "Projection", "StepEquation", "StepPlan", "step_plan"]


class StepEquation(NamedTuple):
    """One element-wise equation of the plan: ``target = rhs``, in evaluation order."""

    name: str  # the quantity ("z_f", "c") or the adjoint ("dz_f", "dp_o", "dc_prev")
    target: sympy.Symbol
    rhs: sympy.Expr

    def __str__(self) -> str:
        return f"{self.target} = {sympy.sstr(self.rhs)}"


@dataclass(frozen=True)
class GatePlan:
    """A gate with weights of its own: k = activation(z_k), z_k = a_k + extra."""

    name: str  # "i", "f", "g" or "o"
    activation: sympy.Expr  # the gate's equation's right-hand side, in the symbol z_k
    extra: sympy.Expr  # z_k − (W_k x + U_k h_prev + b_k): peepholes, the forget bias, or 0
    reads_c: bool  # the pre-activation reads c_t (the output gate's peephole)


@dataclass(frozen=True)
class PeepholeGradient:
    """dp_k = Σ over steps and batch of dz_k ⊙ state, with state c_prev or c."""

    parameter: str  # "p_i"
    gate: str  # "i"
    state: str  # "c_prev" (i and f) or "c" (o)
    expr: sympy.Expr  # one step's contribution, e.g. dz_i*c_prev


@dataclass(frozen=True)
class Projection:
    """A projected cell (``proj_size``): what the element-wise step computes as h is m
    (``output``), and h = W_hr m (``weight``) is one more matrix product; backward,
    dm = W_hrᵀ dh and dW_hr = Σ dh mᵀ.

    ``holds`` says whether the projected vector cell's equations are exactly that: its last
    equation h = W_hr m, and m the unprojected cell's h = o ⊙ tanh(c).
    """

    weight: str
    output: str
    holds: bool


@dataclass(frozen=True, eq=False)
class StepPlan:
    """Everything a numeric consumer needs to run one step of a variant's cell.

    Built by :func:`step_plan` (once per variant); every mapping is read-only. Symbols are
    those of the scalar cell (``cell``); the affine part of gate k is the symbol
    ``affine[k]``, which a consumer binds to its GEMM's result.
    """

    variant: Variant
    #: The scalar cell of the variant, whose equations the plan is derived from.
    cell: Cell
    #: The gates with weights, in the cell's order (``cell.gates_with_parameters``).
    gates: tuple[GatePlan, ...]
    #: The gates with a peephole p_k.
    peepholes: tuple[str, ...]
    #: Gate → the symbol standing for W_k x + U_k h_prev + b_k.
    affine: Mapping[str, sympy.Symbol]
    #: Quantity → the right-hand side of its equation in the cell (``doit()`` applied).
    equations: Mapping[str, sympy.Expr]
    #: The forward step, element-wise, in evaluation order: z_k = affine[k] + extra, then
    #: the cell's own equations. Reads c_prev, the affine symbols, the peepholes and
    #: earlier targets only.
    forward: tuple[StepEquation, ...]
    #: The backward step, element-wise, in evaluation order: the equations of
    #: :func:`~symlstm.derive.backward.backward_step` less the matrix ones (:attr:`gemm_adjoints`).
    #: Reads dh, dc_next, forward values (:attr:`saved`), peepholes and earlier targets.
    backward: tuple[StepEquation, ...]
    #: Name → the form backward_step's adjoint was checked to have: dW_k = dz_k x,
    #: dU_k = dz_k h_prev, db_k = dz_k, dx = Σ W_k dz_k, dh_prev = Σ U_k dz_k.
    gemm_adjoints: Mapping[str, sympy.Expr]
    #: The peepholes' gradients, in the cell's parameter order.
    peephole_gradients: tuple[PeepholeGradient, ...]
    #: The forward values (and c_prev) the backward equations read, sorted by name.
    saved: tuple[sympy.Symbol, ...]
    #: Quantities that are not a gate, a pre-activation, c, s or h: no function in them
    #: (the coupled gate's f = 1 − i, f = 1 without a forget gate). Generated code
    #: substitutes them where they are used instead of storing them.
    inline: Mapping[sympy.Symbol, sympy.Expr]
    #: The symbols a consumer binds: h, c, c_prev, dh, dc_next, dc_prev, dz_k, dp_k, p_k.
    symbols: Mapping[str, sympy.Symbol]

    @property
    def gate_names(self) -> tuple[str, ...]:
        """The gates' names, in the cell's order."""
        return tuple(g.name for g in self.gates)

    def gate(self, name: str) -> GatePlan:
        """The gate called ``name``."""
        for g in self.gates:
            if g.name == name:
                return g
        raise UnknownNameError(
            f"no gate {name!r} with weights; known: {', '.join(self.gate_names)}"
        )

    @cached_property
    def closed_forms(self) -> Mapping[str, sympy.Expr]:
        """dz_k for every gate and dc_prev as closed forms: every earlier adjoint and every
        :attr:`inline` quantity substituted, so that each reads dh, dc_next, forward values
        and peepholes only.

        >>> step_plan().closed_forms["dc_prev"]
        f*(dc_next + dh*o*(1 - s**2))
        """
        adjoint = {eq.target: eq.rhs for eq in self.backward}

        def resolved(expr: sympy.Expr) -> sympy.Expr:
            while True:
                new = expr.xreplace(adjoint).xreplace(self.inline)
                if new == expr:
                    return new
                expr = new

        out = {f"dz_{k}": resolved(adjoint[self.symbols[f"dz_{k}"]]) for k in self.gate_names}
        out["dc_prev"] = resolved(adjoint[self.symbols["dc_prev"]])
        return MappingProxyType(out)

    @cached_property
    def projection(self) -> Projection:
        """The facts of a projected cell of this variant (see :class:`Projection`)."""
        vector = Cell("vector", self.variant, proj_size=1)
        s, eqs = vector.symbols, vector.equations()
        plain = Cell("vector", self.variant).equations()
        holds = (
            eqs[-1].rhs == sympy.MatMul(vector.parameters["W_hr"], s["m"])
            and eqs[-2].lhs == s["m"]
            and eqs[-2].rhs == plain[-1].rhs
        )
        return Projection("W_hr", "m", holds)

    def check_projection(self, consumer: str) -> None:
        """Raise :class:`~symlstm.errors.SymLSTMError` unless a projected cell computes
        h = W_hr m from the element-wise step's m (``consumer``, e.g. "the reference",
        relies on it and is named in the message).

        >>> step_plan().check_projection("the reference")
        """
        if not self.projection.holds:
            raise SymLSTMError(f"{consumer} computes a projected cell's h as W_hr m")

    def check_tied(self) -> None:
        """Raise :class:`~symlstm.errors.SymLSTMError` unless the tied cell of the variant is
        this scalar cell with W_k = U_k = w_k (what code generated for tied cells relies on).

        >>> step_plan("coupled").check_tied()
        """
        tied = Cell("tied", self.variant)
        p = self.cell.parameters
        for k in self.gate_names:
            w = tied.parameters[f"w_{k}"]
            subs = {p[f"W_{k}"]: w, p[f"U_{k}"]: w}
            same = self.cell.preactivation(k).doit().xreplace(subs) - tied.preactivation(k).doit()
            if sympy.expand(same) != 0:
                raise SymLSTMError(f"the tied cell's z_{k} is not the scalar one's with W = U")


def step_plan(variant: Variant | str | None = None) -> StepPlan:
    """The step plan of a variant's cell, derived and checked once, then cached.

    ``variant`` is a :class:`~symlstm.cell.Variant`, its command-line text
    (``"peephole,coupled"``) or None for the textbook cell. ``step_plan.cache_clear()``
    empties the cache.

    Raises
    ------
    SymLSTMError
        When the cell's equations do not split into the affine parts and element-wise rest,
        or its backward step does not give the matrix adjoints the consumers compute as
        GEMMs (no variant symlstm defines does this).

    >>> step_plan().gate_names
    ('i', 'f', 'g', 'o')
    >>> step_plan(3)
    Traceback (most recent call last):
    ...
    symlstm.errors.ArgumentError: variant must be a Variant, its text or None, not int
    """
    if variant is None:
        variant = Variant()
    elif isinstance(variant, str):
        variant = Variant.parse(variant)
    elif not isinstance(variant, Variant):
        raise ArgumentError(
            f"variant must be a Variant, its text or None, not {type(variant).__name__}"
        )
    return _step_plan(variant)


@functools.lru_cache(maxsize=64)
def _step_plan(variant: Variant) -> StepPlan:
    return _derive(variant)


step_plan.cache_clear = _step_plan.cache_clear  # type: ignore[attr-defined]
step_plan.cache_info = _step_plan.cache_info  # type: ignore[attr-defined]


def _derive(variant: Variant) -> StepPlan:
    """Split the scalar cell's equations and backward step; check every form relied on."""
    cell = Cell("scalar", variant)
    s, p = cell.symbols, cell.parameters
    gates, peepholes = cell.gates_with_parameters, cell.peephole_gates
    expected_names = {f"{w}_{k}" for k in gates for w in "WUb"} | {f"p_{k}" for k in peepholes}
    if set(p) != expected_names:
        raise SymLSTMError(
            f"the {variant.label()} cell has parameters {', '.join(p)}; the reference knows "
            "W_k, U_k, b_k and p_k only"
        )
    matrix_part = {s["x"], s["h_prev"], *(p[n] for n in p if not n.startswith("p_"))}
    affine = {k: sympy.Symbol(f"_affine_{k}", real=True) for k in gates}

    # -- forward: z_k = affine + element-wise rest; the rest as the cell has it
    cell_equations = cell.equations()
    equations = {
        name: eq.rhs.doit() for name, eq in zip(cell.quantities, cell_equations, strict=True)
    }
    known = {s["c_prev"], *affine.values(), *(p[f"p_{k}"] for k in peepholes)}
    forward, extras = [], {}
    for name, eq in zip(cell.quantities, cell_equations, strict=True):
        rhs = equations[name]
        if name.startswith("z_"):
            k = name[2:]
            linear = p[f"W_{k}"] * s["x"] + p[f"U_{k}"] * s["h_prev"] + p[f"b_{k}"]
            extras[k] = sympy.expand(rhs - linear)
            rhs = affine[k] + extras[k]
        if rhs.free_symbols & matrix_part:
            raise SymLSTMError(
                f"{name} = {equations[name]} is not W_{name[2:]} x + U h + b plus element-wise "
                "terms; the reference cannot split it into matrix and element-wise parts"
            )
        forward.append(StepEquation(name, eq.lhs, _known(rhs, known, name)))
        known.add(eq.lhs)
    gate_plans = tuple(
        GatePlan(k, equations[k], extras[k], s["c"] in extras[k].free_symbols) for k in gates
    )
    stored = {"c", "s", "h", *gates, *(f"z_{k}" for k in gates)}
    inline = {s[q]: equations[q] for q in cell.quantities if q not in stored}

    # -- backward: the matrix adjoints checked against their GEMM forms, the rest element-wise
    dz = {k: adjoint_symbol(cell, f"z_{k}") for k in gates}
    gemm = {
        "x": sympy.Add(*(p[f"W_{k}"] * dz[k] for k in gates)),
        "h_prev": sympy.Add(*(p[f"U_{k}"] * dz[k] for k in gates)),
    }
    for k in gates:
        gemm |= {f"W_{k}": dz[k] * s["x"], f"U_{k}": dz[k] * s["h_prev"], f"b_{k}": dz[k]}
    forbidden = matrix_part | {adjoint_symbol(cell, n) for n in gemm}
    step = backward_step(cell)
    known |= {adjoint_symbol(cell, "h"), adjoint_symbol(cell, "c_next")}
    backward = []
    for eq in step.equations:
        name, rhs = str(eq.lhs), eq.rhs.doit()
        if name[1:] in gemm:
            if sympy.expand(rhs - gemm[name[1:]]) != 0:
                raise SymLSTMError(
                    f"backward_step gives {name} = {rhs} for the {variant.label()} cell; the "
                    f"reference computes {name} = {gemm[name[1:]]} with matrix products"
                )
        elif rhs.free_symbols & forbidden:
            raise SymLSTMError(
                f"backward_step gives {name} = {rhs}: not element-wise, and not one of the "
                "matrix forms the reference knows"
            )
        else:
            backward.append(StepEquation(name, eq.lhs, _known(rhs, known, name)))
            known.add(eq.lhs)

    symbols = {name: s[name] for name in ("h", "c", "c_prev")} | {
        "dh": adjoint_symbol(cell, "h"),
        "dc_next": adjoint_symbol(cell, "c_next"),
        "dc_prev": adjoint_symbol(cell, "c_prev"),
    }
    symbols |= {f"dz_{k}": dz[k] for k in gates}
    symbols |= {f"dp_{k}": adjoint_symbol(cell, f"p_{k}") for k in peepholes}
    symbols |= {f"p_{k}": p[f"p_{k}"] for k in peepholes}
    computed = {eq.target for eq in backward} | {adjoint_symbol(cell, n) for n in gemm}
    needed = [v for k, v in symbols.items() if k.startswith(("dz_", "dp_", "dc_prev"))]
    missing = [str(v) for v in needed if v not in computed]
    if missing:
        raise SymLSTMError(f"backward_step gives no equation for {', '.join(missing)}")

    by_target = {eq.target: eq.rhs for eq in backward}
    peephole_gradients = tuple(
        _peephole_gradient(f"p_{k}", by_target[symbols[f"dp_{k}"]], dz, s) for k in peepholes
    )
    targets = {eq.target for eq in forward} | {s["c_prev"]}
    read = set().union(*(eq.rhs.free_symbols for eq in step.equations))
    return StepPlan(
        variant=variant,
        cell=cell,
        gates=gate_plans,
        peepholes=peepholes,
        affine=MappingProxyType(affine),
        equations=MappingProxyType(equations),
        forward=tuple(forward),
        backward=tuple(backward),
        gemm_adjoints=MappingProxyType(gemm),
        peephole_gradients=peephole_gradients,
        saved=tuple(sorted(targets & read, key=str)),
        inline=MappingProxyType(inline),
        symbols=MappingProxyType(symbols),
    )


def _known(rhs: sympy.Expr, known: set[sympy.Basic], name: str) -> sympy.Expr:
    """``rhs``, checked to read only values computed before it."""
    unknown = rhs.free_symbols - known
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise SymLSTMError(f"the equation of {name} reads {names} before it is computed")
    return rhs


def _peephole_gradient(
    name: str, expr: sympy.Expr, dz: dict[str, sympy.Symbol], s: dict[str, sympy.Expr]
) -> PeepholeGradient:
    """dp_k's one-step contribution, checked to be dz_k times c_prev or c."""
    states = {s["c_prev"]: "c_prev", s["c"]: "c"}
    if isinstance(expr, sympy.Mul) and len(expr.args) == 2:
        factor, state = sorted(expr.args, key=lambda a: not str(a).startswith("dz_"))
        gate = str(factor)[3:]
        if state in states and dz.get(gate) == factor:
            return PeepholeGradient(name, gate, states[state], expr)
    raise SymLSTMError(f"d{name} = {expr}: no rule for this peephole gradient")
