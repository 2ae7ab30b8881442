"""Generated NumPy code: an LSTM module printed from the cell's SymPy equations.

:func:`generate_numpy` returns the source of a self-contained Python module (it
imports nothing but NumPy) with

``forward(params, x, h0=None, c0=None) -> (y, h_T, c_T, cache)``
    ``x`` is time-major (T, batch, input); ``y`` holds every h_t (T, batch, hidden).
``backward(params, cache, dy, dhT=None, dcT=None) -> grads``
    ``dy`` is ∂L/∂h_t for every step; ``dhT`` and ``dcT`` are extra gradients on the
    final state. ``grads`` has every parameter's gradient by canonical name, and
    ``"x"``, ``"h0"``, ``"c0"``.

The dtype of ``x`` (float32 or float64) decides the dtype of the computation.

How it is printed. The matrix products are the same for every variant: the input
projections of all steps are one GEMM, each step adds one recurrent GEMM, and the
weight gradients are GEMMs over all steps. Everything element-wise — the gate
activations, the peepholes, the cell update and every adjoint of the backward
step — is printed from the step plan (:func:`symlstm.plan.step_plan`: the *scalar*
cell's equations and :func:`symlstm.derive.backward.backward_step`, split into the affine and
the element-wise parts), common subexpressions shared by
:func:`sympy.cse`, each operation written as an in-place NumPy ufunc call into a
buffer allocated once (:class:`~symlstm.codegen.numpy_printer.InPlaceNumPyPrinter`).
Gates with the same activation sit side by side in the stacked weights so that one
call activates them all. The printed step functions are joined with the module's
runtime, the time loops and argument checks that are the same for every variant:
real code in :mod:`symlstm.codegen.numpy_runtime`, whose source is copied.

>>> mod = numpy_module()
>>> mod.GATES
('i', 'f', 'o', 'g')
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> params = {name: rng.normal(size=shape) for name, shape in mod.shapes(3, 2).items()}
>>> y, h_T, c_T, cache = mod.forward(params, rng.normal(size=(4, 5, 2)))
>>> y.shape, h_T.shape
((4, 5, 3), (5, 3))
>>> sorted(mod.backward(params, cache, np.ones_like(y)))[:4]
['U_f', 'U_g', 'U_i', 'U_o']
"""

from __future__ import annotations

import functools
import re
import types

import sympy
from sympy import Symbol

from symlstm.cell import Variant
from symlstm.codegen.common import (
    GatePlan,
    GeneratorPlan,
    activation_key,
    as_variant,
    command_arguments,
    equation_lines,
    parameter_names,
    python_tuple,
    runtime_source,
    shapes_function,
)
from symlstm.codegen.numpy_printer import InPlaceNumPyPrinter
from symlstm.errors import ParameterError, UnknownNameError

__all__ = ["GENERATED_KINDS", "InPlaceNumPyPrinter", "generate_numpy", "numpy_module"]

#: Cell kinds that generate: vector cells of any size, and the scalar and tied
#: cells (weights of size 1; tied: W_k = U_k = w_k).
GENERATED_KINDS: tuple[str, ...] = ("vector", "scalar", "tied")

#: The runtime's functions (:mod:`symlstm.codegen.numpy_runtime`) a module copies: the
#: entry points before the printed step, the helpers after it.
_ENTRY_POINTS = ("forward", "backward")
_HELPERS = (
    "_prepare",
    "_parameters",
    "_scalar_gradients",
    "_array",
    "_sigmoid",
    "_hard_sigmoid",
)


# -- the element-wise steps ------------------------------------------------------------------


def _block(index: int, stop: int | None = None) -> str:
    """The columns of gate block ``index`` (to block ``stop``), sliced as ruff formats it."""
    stop = index + 1 if stop is None else stop
    start = f"{index} * n" if index > 1 else ("n" if index else "0")
    return f"{start}:n" if stop == 1 else f"{start} : {stop} * n"


def _symbol_names(plan: GeneratorPlan, *, backward: bool) -> dict:
    s, p = plan.cell.symbols, plan.cell.parameters
    names: dict = {s["c_prev"]: "c_prev", s["c"]: "c", s["h"]: "h", s["s"]: "s"}
    for g in plan.gates:
        names[s[g.name]] = g.name
        # Forward: a gate's block holds z_k until it is activated in place.
        names[s[f"z_{g.name}"]] = f"Z_{g.name}[t]" if backward else g.name
    for name in ("dh", "dc_next", "dc_prev", *(f"dz_{g.name}" for g in plan.gates)):
        names[Symbol(name, real=True)] = name
    for name in plan.cell.parameters:
        if name.startswith("p_"):
            names[p[name]] = name
    return names


def _forward_lines(plan: GeneratorPlan, printer: InPlaceNumPyPrinter) -> tuple[list[str], set[int]]:
    """The forward step's element-wise code, and the widths (in gates) of its work buffers."""
    s = plan.cell.symbols
    lines: list[str] = []
    widths: set[int] = set()

    def pre_and_activate(gates: list[GatePlan], fuse: bool) -> None:
        for g in gates:
            z = s[f"z_{g.name}"]
            if g.extra != 0:
                lines.append(f"# z_{g.name} = a_{g.name} + {sympy.sstr(g.extra)}")
                lines.extend(printer.assign(printer.names[z], z + g.extra, alias=z))
            if g.name in plan.cached_z:
                lines.append(f"np.copyto(Z_{g.name}[t], {g.name})  # backward reads z_{g.name}")
        # One call for each run of neighbouring gates with the same activation.
        run: list[GatePlan] = []
        for g in [*gates, None]:
            if run and (g is None or not fuse or activation_key(g) != activation_key(run[0])):
                first, last = plan.gates.index(run[0]), plan.gates.index(run[-1])
                z = Symbol("z")
                act = run[0].activation.xreplace({s[f"z_{run[0].name}"]: z})
                view = run[0].name if first == last else f"a[:, {_block(first, last + 1)}]"
                label = ", ".join(r.name for r in run)
                lines.append(f"# {label} = {sympy.sstr(act)}, in place")
                printer.names[z] = view
                work = f"_w{len(run)}"  # contiguous: exp and divide run faster than on views
                printer.sigmoid_work[view] = work
                lines.extend(printer.assign(view, act, alias=z))
                if work in printer.used_work:
                    widths.add(len(run))
                run = []
            if g is not None:
                run.append(g)

    pre_and_activate([g for g in plan.gates if not g.reads_c], fuse=True)
    for q in ("c", "s", "h"):
        rhs = plan.equations[q].xreplace(plan.inline)
        lines.append(f"# {q} = {sympy.sstr(rhs)}")
        lines.extend(printer.assign(printer.names[s[q]], rhs))
        if q == "c":
            pre_and_activate([g for g in plan.gates if g.reads_c], fuse=False)
    return lines, widths


def _backward_lines(
    plan: GeneratorPlan, printer: InPlaceNumPyPrinter
) -> tuple[list[str], list[str]]:
    """The backward step's element-wise code: cse'd, each dz_k written over gate k's block.

    The gradients of the pre-activations share the gates' buffer (no second (T, B, 4n)
    array), so each dz_k is written only after the last read of gate k.
    """
    outputs = plan.backward_outputs
    shared, reduced = sympy.cse([e for _, e in outputs], order="none")
    overwrites = {Symbol(f"dz_{g.name}", real=True): plan.cell.symbols[g.name] for g in plan.gates}
    for (target, _), expr in zip(outputs, reduced, strict=True):
        if target not in overwrites and expr in dict(shared) and expr not in printer.names:
            printer.names[expr] = printer.names[target]  # computed in place: no copy
    lines = []
    comments: dict[Symbol, int] = {}  # the line of each shared subexpression's comment
    for sym, expr in shared:
        printer.names.setdefault(sym, f"_{sym}")
        comments[sym] = len(lines)
        lines.append(f"# {sym} = {sympy.sstr(expr)}")
        lines.extend(printer.assign(printer.names[sym], expr))
    merged: dict[Symbol, list[Symbol]] = {}  # outputs computed as a shared subexpression
    pending = [(target, expr) for (target, _), expr in zip(outputs, reduced, strict=True)]
    deferred: list[tuple[str, str]] = []
    while pending:
        index, out = 0, None
        for index, (target, _) in enumerate(pending):  # noqa: B007 (index used after)
            gate = overwrites.get(target)
            later = [e for t, e in pending if t != target]
            if gate is None or not any(gate in e.free_symbols for e in later):
                break
        else:  # dz_i reads g and dz_g reads i: one of them waits in a temporary
            index, out = 0, printer.temporary()
            deferred.append((out, printer.names[pending[0][0]]))
        target, expr = pending.pop(index)
        if printer.names.get(expr) == printer.names[target]:
            merged.setdefault(expr, []).append(target)
            continue
        lines.append(f"# {target} = {sympy.sstr(expr)}")
        if out is None and target in overwrites:
            lines.extend(printer.assign_into_view(printer.names[target], expr))
        elif out is None:
            lines.extend(printer.assign(printer.names[target], expr))
        else:
            lines.extend(printer.assign(out, expr))
    for temporary, target in deferred:
        lines.append(f"np.copyto({target}, {temporary})")
    for sym, expr in shared:  # "# dc_prev = x3 = …": the output is the shared buffer
        if sym in merged:
            names = "".join(f"{target} = " for target in reversed(merged[sym]))
            lines[comments[sym]] = f"# {names}{sym} = {sympy.sstr(expr)}"
    buffers = [printer.names[sym][1:] for sym, _ in shared if printer.names[sym].startswith("_")]
    return lines, buffers


def _gate_views(plan: GeneratorPlan, body: list[str], array: str, prefix: str = "") -> list[str]:
    """``i = a[:, 0:n]``: the gate blocks of a step's row that ``body`` reads."""
    code = "\n".join(line for line in body if not line.lstrip().startswith("#"))
    used = set(re.findall(r"[A-Za-z_]\w*", code))
    views = [(prefix + g.name, f"{array}[:, {_block(k)}]") for k, g in enumerate(plan.gates)]
    return [f"{name} = {view}" for name, view in views if name in used]


def _unpack(names: list[str], value: str) -> list[str]:
    """``a, b = value`` (``(a,) = value``; nothing for no names), as ruff formats it."""
    if not names:
        return []
    return [f"({names[0]},) = {value}" if len(names) == 1 else f"{', '.join(names)} = {value}"]


def _step_function(
    plan: GeneratorPlan,
    name: str,
    signature: str,
    doc: str,
    body: list[str],
    buffers: list[tuple[str, int]],
) -> str:
    """A printed step: its scratch buffers' function ``<name>_work`` and ``<name>_step``."""
    widths = ", ".join(str(width) for _, width in buffers)
    widths = f"({widths},)" if len(buffers) == 1 else f"({widths})"
    code = "\n".join(body)
    peepholes = [
        f'{n} = p["{n}"]'
        for n in plan.cell.parameters
        if n[0] == "p" and re.search(rf"\b{n}\b", code)
    ]
    cached = [f"Z_{k}" for k in plan.cached_z]
    reads_cached = any(re.search(rf"\b{z}\b", code) for z in cached)
    head = [
        "n = c_prev.shape[1]",
        *_unpack([buffer for buffer, _ in buffers], "work"),
        *peepholes,
        *(_unpack(cached, "Z") if reads_cached else []),
    ]
    text = [
        f"def _{name}_work(B, n, dtype):",
        f'    """The scratch buffers of _{name}_step, allocated once a call."""',
        f"    return tuple(np.empty((B, k * n), dtype) for k in {widths})",
        "",
        "",
        f"def _{name}_step({signature}):",
        *(f"    {line}" for line in doc.splitlines()),
        *(f"    {line}" for line in head + body),
    ]
    return "\n".join(line.rstrip() for line in text)


def _forward_step(plan: GeneratorPlan, projection: bool) -> str:
    """The printed forward step: from a_k (in a's gate blocks) to the gates, c, s and h."""
    printer = InPlaceNumPyPrinter(_symbol_names(plan, backward=False))
    body, widths = _forward_lines(plan, printer)
    body = _gate_views(plan, body, "a") + body
    buffers = [(f"_t{k}", 1) for k in range(printer.temporaries)]
    buffers += [(f"_w{k}", k) for k in sorted(widths)]
    projected = (
        "\nWith the projection h is m = o * s; forward's GEMM makes h = W_hr m." * projection
    )
    doc = f'''"""One step forward, element-wise and in place.

a holds a_k = W_k x_t + U_k h_(t-1) + b_k in the gates' blocks (the order of GATES) and
ends up holding the gates; c, s = tanh(c) and h receive the step's values.{projected}
Z keeps z_k at step t for the gates in CACHED_Z; p holds the parameters.
"""'''
    signature = "a, c_prev, c, s, h, t, Z, p, work"
    return _step_function(plan, "forward", signature, doc, body, buffers)


def _backward_step(plan: GeneratorPlan, projection: bool) -> str:
    """The printed backward step: from dh, dc_next to every dz_k and dc_prev."""
    printer = InPlaceNumPyPrinter(_symbol_names(plan, backward=True))
    body, shared = _backward_lines(plan, printer)
    body = _gate_views(plan, body, "dz") + _gate_views(plan, body, "dz", "dz_") + body
    buffers = [(f"_t{k}", 1) for k in range(printer.temporaries)] + [(f"_{s}", 1) for s in shared]
    dh = "dL/dm_t = W_hr^T dL/dh_t" if projection else "dL/dh_t"
    doc = f'''"""One step backward (the derived backward step), element-wise and in place.

dz holds step t's gates (the order of GATES) and ends up holding dL/dz_k in their blocks;
dc_prev receives dL/dc_(t-1). dh is {dh} and dc_next dL/dc_t;
c_prev, c and s are the forward step's values, Z the saved z_k, p the parameters.
"""'''
    signature = "dz, c_prev, c, s, dh, dc_next, dc_prev, t, Z, p, work"
    return _step_function(plan, "backward", signature, doc, body, buffers)


# -- the module --------------------------------------------------------------------------------


def _header(plan: GeneratorPlan, variant: Variant, projection: bool) -> str:
    """The module's docstring, its import and its constants, printed from the plan."""
    from symlstm import __version__

    args = command_arguments(variant, plan.kind, projection)
    equations = "\n".join(equation_lines(plan))
    gradients = [
        f'    ("{d.parameter}", "{d.gate}", "{d.state}"),  # d{d.parameter}: sum of {d.expr}'
        for d in plan.peephole_gradients
    ]
    cached = ", ".join(f'"{k}"' for k in plan.cached_z)
    return "\n".join(
        [
            f'"""LSTM forward and backward pass, generated by symlstm {__version__}.',
            "",
            f"Cell: {variant.label()} ({plan.kind}). Printed by",
            "",
            f"    symlstm codegen numpy{args}",
            "",
            "from the cell's SymPy equations and their derived backward step. Do not edit: "
            "change the",
            "cell and generate again. It imports nothing but NumPy. Time-major: x is "
            "(T, batch, input);",
            "float32 or float64, the dtype of x decides.",
            "",
            "One step, element-wise, with a_k = W_k x_t + U_k h_(t-1) + b_k for each gate k:",
            equations,
            "The stacked weights hold the gates' blocks in the order of GATES (gates with the same",
            "activation side by side, so that one call activates them).",
            '"""',
            "",
            "import numpy as np",
            "",
            f"GATES = {python_tuple(g.name for g in plan.gates)}",
            f"PARAMETERS = {python_tuple(parameter_names(plan, projection))}",
            f'KIND = "{plan.kind}"',
            f"PROJECTION = {projection}",
            f"CACHED_Z = ({cached}{',' if len(plan.cached_z) == 1 else ''})"
            "  # z_k that backward reads",
            "PEEPHOLE_GRADIENTS = ("
            + ("\n" + "\n".join(gradients) + "\n" if gradients else "")
            + ")",
        ]
    )


def generate_numpy(
    variant: Variant | str | None = None, *, kind: str = "vector", projection: bool = False
) -> str:
    """The source of a NumPy module computing the cell's forward and backward pass.

    Parameters
    ----------
    variant
        A :class:`~symlstm.cell.Variant`, its command-line text (``"peephole,coupled"``)
        or None for the textbook cell.
    kind
        ``"vector"`` (any hidden and input size), ``"scalar"`` or ``"tied"`` (the
        spec's cell: parameters ``w_k``, ``b_k`` as scalars, sizes 1).
    projection
        A vector cell with projections (PyTorch's ``proj_size``; see
        :class:`~symlstm.cell.Cell`): the parameters gain ``W_hr`` (proj, hidden), U_k is
        (hidden, proj), h0, y and h_T have proj components. The element-wise step writes
        m = o ⊙ tanh(c); one more GEMM per step gives h = W_hr m, and one more per step
        backward dm = W_hrᵀ dh; dW_hr is one GEMM over all steps.

    >>> source = generate_numpy("peephole")
    >>> "import numpy as np" in source and "import sympy" not in source
    True
    >>> generate_numpy(kind="matrix")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown kind 'matrix' for generated code; known: vector, ...
    """
    if kind not in GENERATED_KINDS:
        known = ", ".join(GENERATED_KINDS)
        raise UnknownNameError(f"unknown kind {kind!r} for generated code; known: {known}")
    if not isinstance(projection, bool):
        raise ParameterError(f"projection must be true or false, not {projection!r}")
    if projection and kind != "vector":
        raise ParameterError(f"a {kind} cell has no projection (proj_size is for vector cells)")
    variant = as_variant(variant)
    return _generate(variant, kind, projection)


@functools.lru_cache(maxsize=64)
def _generate(variant: Variant, kind: str, projection: bool = False) -> str:
    plan = GeneratorPlan(variant, kind)
    if projection:
        plan.step.check_projection("the generated module")
    parts = [
        _header(plan, variant, projection),
        shapes_function(plan, projection),
        runtime_source("numpy_runtime", _ENTRY_POINTS),
        _forward_step(plan, projection),
        _backward_step(plan, projection),
        runtime_source("numpy_runtime", _HELPERS),
    ]
    return "\n\n\n".join(parts) + "\n"


def numpy_module(
    variant: Variant | str | None = None, *, kind: str = "vector", projection: bool = False
) -> types.ModuleType:
    """The generated module, compiled and ready to call (one per variant, kind and projection).

    >>> mod = numpy_module(kind="tied")
    >>> mod.PARAMETERS
    ('w_i', 'b_i', 'w_f', 'b_f', 'w_g', 'b_g', 'w_o', 'b_o')
    """
    source = generate_numpy(variant, kind=kind, projection=projection)
    return _compile(source, kind)


@functools.lru_cache(maxsize=64)
def _compile(source: str, kind: str) -> types.ModuleType:
    module = types.ModuleType(f"symlstm_generated_{kind}")
    module.__dict__["__source__"] = source
    exec(compile(source, f"<symlstm generated {kind} LSTM>", "exec"), module.__dict__)
    return module
