"""What the NumPy and the PyTorch generators share.

:mod:`symlstm.codegen.numpy_code` and :mod:`symlstm.codegen.torch_code` print modules from the same
:class:`GeneratorPlan`: the cell's :class:`~symlstm.plan.StepPlan` with its gates in the
order the generated modules stack them. They share the modules' docstring equations, the
parameter names and the printed ``shapes`` function, the command line that prints a module
again, how numbers and tuples are written as Python source, and :func:`runtime_source`,
which copies a generated module's runtime (real code: ``numpy_runtime``, ``torch_runtime``).

Nothing here is part of the API: the names are public so that the two generators share
them without reaching into each other's private names.

>>> plan = GeneratorPlan(Variant(peephole=True), "vector")
>>> [g.name for g in plan.gates]  # the gates that read c_t last
['i', 'f', 'g', 'o']
>>> command_arguments(Variant(peephole=True), "tied")
" --variant 'peephole' --kind tied"
>>> literal(sympy.Rational(1, 5)), literal(3), python_tuple(["i", "f"])
('0.2', '3', '("i", "f")')
"""

from __future__ import annotations

import ast
import importlib.resources
from collections.abc import Iterable
from typing import Any

import sympy
from sympy import Symbol

from symlstm.cell import Cell, Variant
from symlstm.errors import SymLSTMError, UnknownNameError
from symlstm.plan import GatePlan, PeepholeGradient, step_plan

#: Internal to the generators: see the module's docstring.
__all__: list[str] = []


def literal(value: Any) -> str:
    """A number as Python source: integers as integers, other numbers as floats."""
    value = sympy.sympify(value)
    if value.is_Integer:
        return str(int(value))
    return repr(float(value))


def python_tuple(names: Iterable[str]) -> str:
    """A tuple of strings as ruff formats it after ``NAME = ``: one line, or one per line."""
    items = [f'"{n}"' for n in names]
    one_line = "(" + ", ".join(items) + ")"
    return one_line if len(one_line) < 80 else "(\n" + "".join(f"    {i},\n" for i in items) + ")"


def as_variant(variant: Variant | str | None) -> Variant:
    """A variant given as a :class:`~symlstm.cell.Variant`, its text or None (textbook)."""
    if variant is None:
        return Variant()
    if isinstance(variant, str):
        return Variant.parse(variant)
    if isinstance(variant, Variant):
        return variant
    raise UnknownNameError(f"a variant is a Variant or its text, not {type(variant).__name__}")


def command_arguments(variant: Variant, kind: str = "vector", projection: bool = False) -> str:
    """The ``symlstm codegen`` options that print a module for these settings again."""
    args = "" if variant == Variant() else f" --variant '{variant_text(variant)}'"
    args += "" if kind == "vector" else f" --kind {kind}"
    return args + (" --projection" if projection else "")


def variant_text(variant: Variant) -> str:
    """A variant as the words of ``--variant`` (``"peephole,coupled"``)."""
    words = []
    if variant.peephole:
        words.append("peephole")
    words += {"coupled": ["coupled"], "none": ["no-forget"]}.get(variant.forget_gate, [])
    if variant.forget_bias != 0:
        words.append(f"forget-bias={variant.forget_bias}")
    if variant.clip is not None:
        words.append(f"clip={variant.clip}")
    for key in ("gate", "candidate", "output"):
        value = getattr(variant, f"{key}_activation")
        if value != Variant.__dataclass_fields__[f"{key}_activation"].default:
            words.append(f"{key}={value}")
    return ",".join(words)


def activation_key(gate: GatePlan) -> str:
    """What gates activated by one call share: the activation's function (or none)."""
    return sympy.srepr(gate.activation.func) if gate.activation.args else "identity"


class GeneratorPlan:
    """The step plan of a variant (:func:`symlstm.plan.step_plan`), as generated code lays
    it out for a cell ``kind`` ("vector", "scalar" or "tied").

    ``gates`` is the order of the gates' blocks in the stacked weights: gates that read
    c_t last (they are computed after c), gates with the same activation side by side (so
    that one call activates them all), otherwise i, f, g, o. ``backward_outputs`` are the
    closed forms of dz_k (in that order) and dc_prev; ``cached_z`` the gates whose z_k
    the backward step reads (a generated module keeps them).
    """

    def __init__(self, variant: Variant, kind: str) -> None:
        step = step_plan(variant)
        self.step = step
        self.kind = kind
        self.cell: Cell = step.cell
        order = {"i": 0, "f": 1, "g": 2, "o": 3}
        self.gates: tuple[GatePlan, ...] = tuple(
            sorted(step.gates, key=lambda g: (g.reads_c, activation_key(g), order[g.name]))
        )
        self.inline = step.inline
        self.equations = step.equations
        closed = step.closed_forms
        self.backward_outputs: list[tuple[Symbol, sympy.Expr]] = [
            (step.symbols[f"dz_{g.name}"], closed[f"dz_{g.name}"]) for g in self.gates
        ]
        self.backward_outputs.append((step.symbols["dc_prev"], closed["dc_prev"]))
        self.peephole_gradients: tuple[PeepholeGradient, ...] = step.peephole_gradients
        reads = set().union(*(e.free_symbols for _, e in self.backward_outputs))
        s = self.cell.symbols
        self.cached_z = tuple(g.name for g in self.gates if s[f"z_{g.name}"] in reads)
        if kind == "tied":  # the tied cell is the scalar one with W_k = U_k = w_k
            step.check_tied()

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The cell's parameters as a generated module names them (tied: w_k, b_k)."""
        names = tuple(self.cell.parameters)
        if self.kind == "tied":
            return tuple(n.replace("W_", "w_") for n in names if not n.startswith("U_"))
        return names


def parameter_names(plan: GeneratorPlan, projection: bool = False) -> tuple[str, ...]:
    """A generated module's PARAMETERS: the cell's, then W_hr for a projected cell."""
    return (*plan.parameter_names, *(("W_hr",) if projection else ()))


def equation_lines(plan: GeneratorPlan) -> list[str]:
    """The step's equations for a module's docstring, z_k as a_k (the affine part) + extras."""
    equations = []
    for eq in plan.cell.equations():
        rhs = eq.rhs.doit()
        lhs = str(eq.lhs)
        if lhs.startswith("z_"):
            k = lhs[2:]
            rhs = Symbol(f"a_{k}") + plan.step.gate(k).extra
        equations.append(f"    {lhs} = {sympy.sstr(rhs)}")
    return equations


def shapes_body(plan: GeneratorPlan, projection: bool = False) -> str:
    """The body of a generated module's ``shapes(hidden, input[, proj])``."""
    if plan.kind == "vector":
        recurrent = "(hidden, proj)" if projection else "(hidden, hidden)"
        lines = []
        for name in plan.cell.parameters:
            shape = {"W": "(hidden, input)", "U": recurrent}.get(name[0], "(hidden,)")
            lines.append(f'        "{name}": {shape},')
        if projection:
            lines.append('        "W_hr": (proj, hidden),')
        return "\n".join(["    return {", *lines, "    }"])
    listed = [f'        "{name}": (),' for name in plan.parameter_names]
    return "\n".join(
        [
            "    if (hidden, input) != (1, 1):",
            f'        raise ValueError("a {plan.kind} cell has hidden and input size 1")',
            "    return {",
            *listed,
            "    }",
        ]
    )


def shapes_function(plan: GeneratorPlan, projection: bool = False) -> str:
    """A generated module's ``shapes(hidden, input[, proj])``, printed from the plan."""
    args, doc = (
        ("hidden, input, proj", " (and the projection size: proj_size)")
        if projection
        else ("hidden, input", "")
    )
    return "\n".join(
        [
            f"def shapes({args}):",
            f'    """The shape of every parameter for a hidden size and an input size{doc}."""',
            shapes_body(plan, projection),
        ]
    )


def runtime_source(module: str, names: Iterable[str]) -> str:
    """The source of the functions ``names`` of a runtime module, in that order, as written.

    A generated module's runtime is real code (``numpy_runtime``, ``torch_runtime`` in this
    package): its file is read (not imported: printing a PyTorch module needs no torch) and
    each function copied whole, docstring and comments included, two blank lines apart.

    >>> print(runtime_source("numpy_runtime", ["_array"]).splitlines()[0])
    def _array(value, dtype, shape, name):
    """
    source = importlib.resources.files("symlstm.codegen").joinpath(f"{module}.py").read_text()
    lines = source.splitlines(keepends=True)
    functions = {
        node.name: "".join(lines[node.lineno - 1 : node.end_lineno]).rstrip("\n")
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    }
    try:
        return "\n\n\n".join(functions[name] for name in names)
    except KeyError as err:
        raise SymLSTMError(f"the runtime {module} has no function {err}") from None
