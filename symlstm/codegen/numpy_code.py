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
buffer allocated once (:class:`InPlaceNumPyPrinter`). Gates with the same
activation sit side by side in the stacked weights so that one call activates
them all.

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
import textwrap
import types
from typing import Any

import sympy
from sympy import Abs, Add, Max, Min, Mul, Number, Pow, S, Symbol, exp, sign, tanh
from sympy.printing.numpy import NumPyPrinter

from symlstm.cell import Variant
from symlstm.codegen.common import (
    PARAMETER_CHECK,
    PROJECTION_SHAPES,
    GatePlan,
    GeneratorPlan,
    activation_key,
    as_variant,
    command_arguments,
    equation_lines,
    literal,
    parameter_names,
    python_tuple,
    shapes_body,
)
from symlstm.errors import ParameterError, SymLSTMError, UnknownNameError
from symlstm.functions import hard_sigmoid, sigmoid

__all__ = ["GENERATED_KINDS", "InPlaceNumPyPrinter", "generate_numpy", "numpy_module"]

#: Cell kinds that generate: vector cells of any size, and the scalar and tied
#: cells (weights of size 1; tied: W_k = U_k = w_k).
GENERATED_KINDS: tuple[str, ...] = ("vector", "scalar", "tied")


class InPlaceNumPyPrinter(NumPyPrinter):
    """Print an element-wise assignment as in-place NumPy ufunc calls.

    ``names`` maps each symbol to the Python expression of its buffer. Every
    operation writes into ``out`` or into a temporary buffer ``_t<k>``; nothing
    is allocated per call. Node types without an in-place rule fall back to
    NumPyPrinter's ordinary (allocating) form, assigned with ``out[...] =``.

    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> p = InPlaceNumPyPrinter({a: "a", b: "b"})
    >>> print("\\n".join(p.assign("out", a * (1 - a) * b)))
    np.subtract(1, a, out=out)
    np.multiply(out, a, out=out)
    np.multiply(out, b, out=out)
    """

    _default_settings = {**NumPyPrinter._default_settings, "strict": True}

    def __init__(self, names: dict[sympy.Symbol, str], settings: dict | None = None) -> None:
        super().__init__(settings or {})
        self.names = dict(names)
        self._free: list[str] = []
        self.temporaries = 0

    # -- the ordinary printer, with buffers for symbols and ``np`` for ``numpy`` --

    def _module_format(self, fqn: str, register: bool = True) -> str:
        text = super()._module_format(fqn, register)
        return "np" + text[len("numpy") :] if text.startswith("numpy") else text

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        try:
            return self.names[expr]
        except KeyError:
            raise SymLSTMError(f"no buffer for symbol {expr} in generated code") from None

    def _print_Rational(self, expr: sympy.Rational) -> str:
        return literal(expr)

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        if len(expr.args) == 2 and expr.args[1].cond == True:  # noqa: E712 (SymPy's true)
            (value, cond), (other, _) = expr.args
            args = ", ".join(self._print(a) for a in (cond, value, other))
            return f"np.where({args})"
        return super()._print_Piecewise(expr)

    def _print_And(self, expr: sympy.And) -> str:
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Relational(self, expr: sympy.core.relational.Relational) -> str:
        if expr.rel_op in ("<", ">", "<=", ">="):
            return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"
        return super()._print_Relational(expr)

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._fold("np.maximum", expr.args)

    def _print_Min(self, expr: sympy.Expr) -> str:
        return self._fold("np.minimum", expr.args)

    def _fold(self, ufunc: str, args: tuple) -> str:
        """Nested binary calls: NumPyPrinter's functools.reduce needs an import the module lacks."""
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{ufunc}({text}, {self._print(arg)})"
        return text

    def _print_Heaviside(self, expr: sympy.Expr) -> str:
        at_zero = expr.args[1] if len(expr.args) == 2 else S.Half  # SymPy's H(0) = 1/2
        return f"np.heaviside({self._print(expr.args[0])}, {literal(at_zero)})"

    def _print_sigmoid(self, expr: sympy.Expr) -> str:
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_hard_sigmoid(self, expr: sympy.Expr) -> str:
        z = self._print(expr.args[0])
        return f"_hard_sigmoid({z}, {literal(expr.slope)}, {literal(expr.offset)})"

    # -- in-place assignments ------------------------------------------------------

    def _temp(self) -> str:
        if self._free:
            return self._free.pop()
        self.temporaries += 1
        return f"_t{self.temporaries - 1}"

    def _release(self, name: str) -> None:
        self._free.append(name)

    def _leaf(self, expr: sympy.Expr) -> str | None:
        if isinstance(expr, Number):
            return literal(expr)
        if isinstance(expr, Symbol):
            return self._print(expr)
        return None

    def assign(self, out: str, expr: sympy.Expr, alias: sympy.Symbol | None = None) -> list[str]:
        """Lines that compute ``expr`` into the existing buffer ``out``.

        ``alias`` is the symbol whose buffer ``out`` is, if ``expr`` reads it
        (``z = z + p*c`` in place); other buffers must not overlap ``out``.
        """
        lines: list[str] = []
        if alias is not None and alias in expr.free_symbols and not _alias_safe(expr, alias):
            tmp = self._temp()
            self._emit(expr, tmp, lines, None)
            lines.append(f"np.copyto({out}, {tmp})")
            self._release(tmp)
        else:
            self._emit(expr, out, lines, alias)
        return lines

    def _emit(self, expr: sympy.Expr, out: str, lines: list[str], alias: Any) -> None:
        leaf = self._leaf(expr)
        if leaf is not None:
            if expr != alias:
                lines.append(f"np.copyto({out}, {leaf})")
            return
        if isinstance(expr, Add):
            self._emit_chain(expr, out, lines, alias, "add")
        elif isinstance(expr, Mul):
            self._emit_chain(expr, out, lines, alias, "multiply")
        elif isinstance(expr, Pow) and expr.exp == -2:  # 1/x**2, as softsign' has
            squared = Pow(expr.base, 2, evaluate=False)
            self._emit(Pow(squared, -1, evaluate=False), out, lines, alias)
        elif isinstance(expr, Pow) and expr.exp in (2, -1, S.Half):
            ufunc = {2: "square", -1: "reciprocal", S.Half: "sqrt"}[expr.exp]
            base = self._leaf(expr.base)
            if base is None:
                self._emit(expr.base, out, lines, alias)
                base = out
            if ufunc == "reciprocal":  # np.reciprocal is for floats too, but 1/x reads plainer
                lines.append(f"np.divide(1, {base}, out={out})")
            else:
                lines.append(f"np.{ufunc}({base}, out={out})")
        elif isinstance(expr, tanh | exp | Abs | sign | sigmoid | hard_sigmoid):
            arg = self._leaf(expr.args[0])
            if arg is None:
                self._emit(expr.args[0], out, lines, alias)
                arg = out
            if isinstance(expr, sigmoid):
                lines.append(f"_sigmoid({arg}, out={out})")
            elif isinstance(expr, hard_sigmoid):
                a, b = literal(expr.slope), literal(expr.offset)
                lines.append(f"_hard_sigmoid({arg}, {a}, {b}, out={out})")
            else:
                ufunc = {tanh: "tanh", exp: "exp", Abs: "abs", sign: "sign"}[type(expr)]
                lines.append(f"np.{ufunc}({arg}, out={out})")
        elif isinstance(expr, Max | Min) and len(expr.args) == 2:
            ufunc = "maximum" if isinstance(expr, Max) else "minimum"
            self._emit_chain(expr, out, lines, alias, ufunc)
        else:  # Piecewise and the rest: NumPy's own (allocating) form
            lines.append(f"{out}[...] = {self.doprint(expr)}")

    def _emit_chain(self, expr, out, lines, alias, ufunc) -> None:
        """Fold an n-ary Add/Mul (or a binary max/min) into ``out`` one operand at a time."""
        args = list(expr.args)
        coefficient = None
        if ufunc == "multiply" and isinstance(args[0], Number):
            coefficient, args = args[0], args[1:]
            if coefficient == -1:
                coefficient = "negate"

        def split(term):
            # a - b and a / b read better (and cost the same) as one subtract / divide
            if ufunc == "add" and isinstance(term, Mul) and term.args[0] == -1:
                return "subtract", Mul(*term.args[1:])
            if ufunc == "multiply" and isinstance(term, Pow) and term.exp == -1:
                return "divide", term.base
            return ufunc, term

        ops = [split(a) for a in args]

        # The base is computed into ``out`` first: the aliased operand if any, else a
        # compound one (no temporary needed), else the first that is not inverted.
        def base_rank(item):
            op, term = item
            if alias is not None and alias in term.free_symbols:
                return 0  # the operand reading out's own buffer comes first
            if op == ufunc and self._leaf(term) is None:
                return 1
            return 2 if op == ufunc else 3

        ops.sort(key=base_rank)
        (op0, base), rest = ops[0], ops[1:]
        plain = [k for k, (op, term) in enumerate(rest) if op == ufunc and self._leaf(term)]
        if op0 != ufunc and base_rank((op0, base)) == 0 and plain:  # 1 - g**2 into g's buffer
            leaf = self._leaf(rest.pop(plain[0])[1])
            self._emit(base, out, lines, alias)
            lines.append(f"np.{op0}({leaf}, {out}, out={out})")
            op0, base = ufunc, alias
        if op0 != ufunc:  # every operand inverted: -a - b, 1/(a b)
            rest = [(op0, base), *rest]
            base = S.Zero if ufunc == "add" else S.One
        base_leaf = self._leaf(base)
        start = 0
        if base_leaf is not None and base != alias and rest:
            op, term = rest[0]
            term_leaf = self._leaf(term)
            if term_leaf is not None:  # first two operands in one call
                lines.append(f"np.{op}({base_leaf}, {term_leaf}, out={out})")
            else:  # the compound operand into out, then the base folded in: 1 - s**2
                self._emit(term, out, lines, None)
                lines.append(f"np.{op}({base_leaf}, {out}, out={out})")
            start = 1
        elif base_leaf is None or base == alias:
            self._emit(base, out, lines, alias)
        else:
            lines.append(f"np.copyto({out}, {base_leaf})")
        for op, term in rest[start:]:
            leaf = self._leaf(term)
            if leaf is None:
                tmp = self._temp()
                self._emit(term, tmp, lines, None)
                lines.append(f"np.{op}({out}, {tmp}, out={out})")
                self._release(tmp)
            else:
                lines.append(f"np.{op}({out}, {leaf}, out={out})")
        if coefficient == "negate":  # not negative(): wrong on some strided views (NumPy 2.4)
            lines.append(f"np.multiply({out}, -1, out={out})")
        elif coefficient is not None:
            lines.append(f"np.multiply({out}, {literal(coefficient)}, out={out})")


def _alias_safe(expr: sympy.Expr, alias: sympy.Symbol) -> bool:
    """Whether ``expr`` can be computed into ``alias``'s own buffer.

    True when ``alias`` is read only at the start of a chain of in-place
    operations: ``alias``, f(…) of such, or an Add/Mul where exactly one operand
    reads ``alias`` and that operand is itself safe.
    """
    if expr == alias:
        return True
    if isinstance(expr, Add | Mul | Max | Min):
        reading = [a for a in expr.args if alias in a.free_symbols]
        return len(reading) == 1 and _alias_safe(reading[0], alias)
    if isinstance(expr, tanh | exp | Abs | sign | sigmoid | hard_sigmoid):
        return _alias_safe(expr.args[0], alias)
    if isinstance(expr, Pow) and expr.exp.is_Number:
        return _alias_safe(expr.base, alias)
    return False


# -- printing the module ---------------------------------------------------------------------


def _block(index: int, stop: int | None = None) -> str:
    """The columns of gate block ``index`` (to block ``stop``), sliced as ruff formats it."""
    stop = index + 1 if stop is None else stop
    start = f"{index} * n" if index > 1 else ("n" if index else "0")
    return f"{start}:n" if stop == 1 else f"{start} : {stop} * n"


def _views(plan: GeneratorPlan, array: str, prefix: str = "") -> str:
    """``i, f = a[:, 0:n], a[:, n:2 * n]``: one name per gate block of a step's row."""
    targets = ", ".join(prefix + g.name for g in plan.gates)
    blocks = ", ".join(f"{array}[:, {_block(k)}]" for k in range(len(plan.gates)))
    return f"{targets} = {blocks}"


def _bind(plan: GeneratorPlan, body: list[str], arrays: dict[str, str]) -> list[str]:
    """The lines naming a step's views (gate blocks, states) that ``body`` reads."""
    code = "\n".join(line for line in body if not line.lstrip().startswith("#"))
    used = set(re.findall(r"[A-Za-z_]\w*", code))
    lines = []
    for array, prefix in arrays.items():
        if array in ("a", "dz"):
            names = [
                (prefix + g.name, f"{array}[:, {_block(k)}]") for k, g in enumerate(plan.gates)
            ]
        else:
            names = [(array, prefix)]
        lines += [f"{name} = {value}" for name, value in names if name in used]
    return lines


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
                for line in printer.assign(view, act, alias=z):
                    if line == f"_sigmoid({view}, out={view})":
                        line = f"_sigmoid({view}, out={view}, work={work})"
                        widths.add(len(run))
                    lines.append(line)
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
    for sym, expr in shared:
        printer.names.setdefault(sym, f"_{sym}")
        lines.append(f"# {sym} = {sympy.sstr(expr)}")
        lines.extend(printer.assign(printer.names[sym], expr))
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
            index, out = 0, printer._temp()
            deferred.append((out, printer.names[pending[0][0]]))
        target, expr = pending.pop(index)
        if printer.names.get(expr) == printer.names[target]:
            lines = [line.replace(f"# {expr} =", f"# {target} = {expr} =") for line in lines]
            continue
        lines.append(f"# {target} = {sympy.sstr(expr)}")
        if out is None and target in overwrites:
            lines.extend(_into_view(printer, printer.names[target], expr))
        elif out is None:
            lines.extend(printer.assign(printer.names[target], expr))
        else:
            lines.extend(printer.assign(out, expr))
    for temporary, target in deferred:
        lines.append(f"np.copyto({target}, {temporary})")
    buffers = [printer.names[sym][1:] for sym, _ in shared if printer.names[sym].startswith("_")]
    return lines, buffers


def _into_view(printer: InPlaceNumPyPrinter, view: str, expr: sympy.Expr) -> list[str]:
    """Compute ``expr`` in a contiguous (batch, n) temporary; only the last call writes ``view``.

    A gate's block is a strided view (rows of n in rows of 4 n), and NumPy runs a ufunc on
    such a view one row at a time: each call costs about three times a call on a contiguous
    array of the same size. So the intermediate results stay contiguous.
    """
    scratch = printer._temp()
    lines = printer.assign(scratch, expr)
    last = lines[-1]
    if last.endswith(f"out={scratch})"):
        lines[-1] = last[: -len(f"out={scratch})")] + f"out={view})"
    else:
        lines.append(f"np.copyto({view}, {scratch})")
    printer._release(scratch)
    return lines


_TEMPLATE = '''\
"""LSTM forward and backward pass, generated by symlstm {version}.

Cell: {label} ({kind}). Printed by

    symlstm codegen numpy{args}

from the cell's SymPy equations and their derived backward step. Do not edit: change the
cell and generate again. It imports nothing but NumPy. Time-major: x is (T, batch, input);
float32 or float64, the dtype of x decides.

One step, element-wise, with a_k = W_k x_t + U_k h_(t-1) + b_k for each gate k:
{equations}
The stacked weights hold the gates' blocks in the order of GATES (gates with the same
activation side by side, so that one call activates them).
"""

import numpy as np

GATES = {gates}
PARAMETERS = {parameters}


def _sigmoid(z, out=None, work=None):
    """1/(1 + exp(-z)) into out (work: a scratch array like z); no overflow, subnormals kept."""
    if out is None:
        out = np.empty_like(z)
    e = np.empty_like(z) if work is None else work
    np.multiply(z, -1, out=e)  # not negative(): see "A NumPy defect" in the docs
    with np.errstate(over="raise"):  # detected by the exp itself: no pass to look for it
        try:
            np.exp(e, out=e)
        except FloatingPointError:  # z < -709 (float64), -88 (float32): exp(-z) overflows;
            e = np.exp(np.abs(z) * -1)  # there sigmoid(z) = exp(z)/(1 + exp(z)), subnormal or 0
            out[...] = np.where(z >= 0, 1, e) / (1 + e)
            return out
    e += 1
    np.divide(1, e, out=out)
    return out


def _hard_sigmoid(z, alpha, beta, out=None):
    """max(0, min(1, alpha z + beta)), written into out."""
    if out is None:
        out = np.empty_like(z)
    np.multiply(z, alpha, out=out)
    out += beta
    np.clip(out, 0, 1, out=out)
    return out


def shapes({shapes_args}):
    """The shape of every parameter for a hidden size and an input size{shapes_doc}."""
{shapes}


{prepare}

def forward(params, x, h0=None, c0=None):
    """Run the cell over x (T, batch, input) from h0, c0 (batch, hidden; zeros if None).

    Returns y (T, batch, hidden: every h_t), h_T, c_T and the cache backward needs.
    """
    p, x, h0, c0 = _prepare(params, x, h0, c0)
    dtype = x.dtype
    T, B, m = x.shape
{forward_sizes}
    W = np.concatenate([p["W_" + k] for k in GATES])  # ({gate_count} n, m)
    U = np.concatenate([p["U_" + k] for k in GATES])
    b = np.concatenate([p["b_" + k] for k in GATES])
{peepholes}
    # Input projections of all steps in one GEMM, the bias included (x gets a column of
    # ones, W the column b); each step adds U h_(t-1) and its gates are computed in place,
    # so G ends up holding the activated gates.
    X1 = np.empty((T * B, m + 1), dtype)
    X1[:, :m] = x.reshape(T * B, m)
    X1[:, m] = 1
    G = np.matmul(X1, np.concatenate([W, b[:, None]], axis=1).T).reshape(T, B, {gate_count} * n)
    C = np.empty((T + 1, B, n), dtype)
    H = np.empty((T + 1, B, {h_width}), dtype)
    S = np.empty((T, B, n), dtype)
    C[0] = c0
    H[0] = h0
{projection_setup}{cached_z}
    r = np.empty((B, {gate_count} * n), dtype)
{forward_temporaries}
    for t in range(T):
        a = G[t]
        np.matmul(H[t], U.T, out=r)
        a += r
{forward_body}
    cache = {{"X1": X1, "W": W, "U": U, "G": G, "C": C, "H": H, "S": S, "fresh": True}}
{cache_z}
    return H[1:], H[T], C[T], cache


def backward(params, cache, dy, dhT=None, dcT=None):
    """Gradients from dy = dL/dh_t (T, batch, hidden) and extra dL/dh_T, dL/dc_T.

    Returns a dict: the gradient of every parameter by name, and of x, h0 and c0.
    """
    X1, W, U, G, H = (cache[k] for k in ("X1", "W", "U", "G", "H"))
{cached_read}
    dtype = G.dtype
    T, B = G.shape[:2]
    m = X1.shape[1] - 1
{backward_sizes}
{backward_parameters}
    dy = _array(dy, dtype, (T, B, {h_width}), "dy")
    if cache.pop("fresh", False) is not True:
        raise ValueError("this cache was used by backward already: run forward again")
    dZ = G  # dL/dz_t overwrites the gates step by step: no second (T, B, 4 n) buffer
{dh_next}
    dc_next = np.zeros((B, n), dtype) if dcT is None else _array(dcT, dtype, (B, n), "dcT").copy()
    dc_prev = np.empty((B, n), dtype)
    dh = np.empty((B, n), dtype)
{backward_temporaries}
    for t in range(T - 1, -1, -1):
        a = G[t]
        dz = dZ[t]
{backward_dh}
{backward_body}
        np.matmul(dz, U, out=dh_next)
        dc_next, dc_prev = dc_prev, dc_next
    flat = dZ.reshape(T * B, {gate_count} * n)
    # The weight gradients over all steps as X1^T dZ and H^T dZ, whose transposes are dW
    # (db in the column of x's ones) and dU: OpenBLAS runs these a quarter faster than
    # dZ^T X1 and dZ^T H. The gradients are views of them.
    dWb = np.matmul(X1.T, flat).T
    dW, db = dWb[:, :m], dWb[:, m].copy()
    dU = np.matmul(H[:-1].reshape(T * B, {h_width}).T, flat).T
    grads = {{}}
    for index, k in enumerate(GATES):
        rows = slice(index * n, (index + 1) * n)
        grads["W_" + k], grads["U_" + k], grads["b_" + k] = dW[rows], dU[rows], db[rows]
{peephole_gradients}{projection_gradient}
    grads["x"] = np.matmul(flat, W).reshape(T, B, m)
    grads["h0"] = dh_next
    grads["c0"] = dc_next
    return {untie}


def _array(value, dtype, shape, name):
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{{name}} must hold numbers, not {{array.dtype}}")
    array = array.astype(dtype, copy=False)
    if array.shape != shape:
        raise ValueError(f"{{name}} has shape {{array.shape}}, expected {{shape}}")
    return array


def _parameters(params, dtype, m, n):
{parameter_check}{untied_parameters}
'''

_PREPARE = """\
def _prepare(params, x, h0, c0):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, not {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"x must be (T, batch, input), not of shape {x.shape}")
    _, B, m = x.shape
    n = np.shape(params["U_" + GATES[0]])[0] if "U_" + GATES[0] in params else 1
    p = _parameters(params, x.dtype, m, n)
    zeros = np.zeros((B, n), x.dtype)
    h0 = zeros if h0 is None else _array(h0, x.dtype, (B, n), "h0")
    c0 = zeros if c0 is None else _array(c0, x.dtype, (B, n), "c0")
    return p, x, h0, c0
"""

#: A projected cell's _prepare: h0 has q (proj_size) components, c0 n.
_PREPARE_PROJECTED = _PREPARE.replace(
    """    zeros = np.zeros((B, n), x.dtype)
    h0 = zeros if h0 is None else _array(h0, x.dtype, (B, n), "h0")
    c0 = zeros if c0 is None else _array(c0, x.dtype, (B, n), "c0")""",
    """    q = p["W_hr"].shape[0]
    h0 = np.zeros((B, q), x.dtype) if h0 is None else _array(h0, x.dtype, (B, q), "h0")
    c0 = np.zeros((B, n), x.dtype) if c0 is None else _array(c0, x.dtype, (B, n), "c0")""",
)

#: The template's parts that differ with a projection h = W_hr m (proj_size q): (without, with).
_PROJECTION_PARTS = {
    **PROJECTION_SHAPES,
    "forward_sizes": ("    n = h0.shape[1]", "    n, q = c0.shape[1], h0.shape[1]"),
    "h_width": ("n", "q"),
    "projection_setup": (
        "",
        "    # h = W_hr m: the element-wise step writes m = o * s into M[t], then one GEMM\n"
        "    M = np.empty((T, B, n), dtype)\n"
        '    WhrT = np.ascontiguousarray(p["W_hr"].T)\n',
    ),
    "backward_sizes": (
        "    n = H.shape[2]",
        '    n, q = G.shape[2] // len(GATES), H.shape[2]\n    M, Whr = cache["M"], cache["Whr"]',
    ),
    "dh_next": (
        "    dh_next = np.zeros((B, n), dtype) if dhT is None else "
        '_array(dhT, dtype, (B, n), "dhT").copy()',
        "    dh_next = np.zeros((B, q), dtype) if dhT is None else "
        '_array(dhT, dtype, (B, q), "dhT").copy()\n'
        "    DH = np.empty((T, B, q), dtype)  # dL/dh_t in total, for dW_hr",
    ),
    "backward_dh": (
        "        np.add(dy[t], dh_next, out=dh)",
        "        np.add(dy[t], dh_next, out=DH[t])\n"
        "        np.matmul(DH[t], Whr, out=dh)  # dm = W_hr^T dh: the element-wise step's dh",
    ),
    "projection_gradient": (
        "",
        "\n    # dW_hr = sum over steps and batch of dh m^T\n"
        '    grads["W_hr"] = np.matmul(M.reshape(T * B, n).T, DH.reshape(T * B, q)).T',
    ),
}


def _peephole_gradient_lines(plan: GeneratorPlan) -> list[str]:
    arrays = {"c_prev": "C[:-1]", "c": "C[1:]"}
    lines = []
    for d in plan.peephole_gradients:  # dp_k = Σ dz_k ⊙ state, checked by the step plan
        index = [g.name for g in plan.gates].index(d.gate)
        lines.append(f"# d{d.parameter} = sum over steps and batch of {d.expr}")
        lines.append(
            f'grads["{d.parameter}"] = np.einsum("tbn,tbn->n", dZ[:, :, {_block(index)}], '
            f"{arrays[d.state]})"
        )
    return lines


def _parameter_lines(plan: GeneratorPlan, projection: bool = False) -> tuple[str, list[str], str]:
    """Shapes, the conversion of given parameters to vector form, and the gradients' keys."""
    shapes = shapes_body(plan, projection)
    if plan.kind == "vector":
        sizes = 'n, m, np.shape(p["W_hr"])[0] if p["W_hr"].ndim else 0' if projection else "n, m"
        convert = [
            "    p = {k: _array(v, dtype, np.shape(v), k) for k, v in params.items()}",
            f"    for k, v in shapes({sizes}).items():",
            "        if p[k].shape != v:",
            '            raise ValueError(f"{k} has shape {p[k].shape}, expected {v}")',
            "    return p",
        ]
        return shapes, convert, "grads"
    convert = [
        "    p = {}",
        "    for k in PARAMETERS:",
        "        v = _array(params[k], dtype, (), k)",
    ]
    if plan.kind == "tied":
        convert += [
            '        if k.startswith("w_"):  # tied: W_k = U_k = w_k',
            '            p["W" + k[1:]] = p["U" + k[1:]] = v.reshape(1, 1)',
            "            continue",
        ]
    convert += ['        p[k] = v.reshape((1, 1) if k[0] in "WU" else (1,))']
    convert += [
        "    return p",
        "",
        "",
        "def _scalar_gradients(grads):",
        '    out = {k: grads[k] for k in ("x", "h0", "c0")}',
        "    for k in PARAMETERS:",
        '        if k.startswith("w_"):  # W_k = U_k = w_k: dw_k = dW_k + dU_k',
        '            out[k] = (grads["W" + k[1:]] + grads["U" + k[1:]]).reshape(())',
        "        else:",
        "            out[k] = grads[k].reshape(())",
        "    return out",
    ]
    return shapes, convert, "_scalar_gradients(grads)"


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
    from symlstm import __version__

    plan = GeneratorPlan(variant, kind)
    forward_printer = InPlaceNumPyPrinter(_symbol_names(plan, backward=False))
    body, widths = _forward_lines(plan, forward_printer)
    # With a projection the element-wise h is m = o ⊙ s (M[t]); h = W_hr m is a GEMM.
    states = {
        "c_prev": "C[t]",
        "c": "C[t + 1]",
        "s": "S[t]",
        "h": "M[t]" if projection else "H[t + 1]",
    }
    forward = _bind(plan, body, {"a": "", **states}) + body
    if projection:
        plan.step.check_projection("the generated module")
        forward += ["# h = W_hr m", "np.matmul(M[t], WhrT, out=H[t + 1])"]
    backward_printer = InPlaceNumPyPrinter(_symbol_names(plan, backward=True))
    body, shared = _backward_lines(plan, backward_printer)
    backward = _bind(plan, body, {"a": "", "dz": "dz_", **states}) + body
    shapes, convert, untie = _parameter_lines(plan, projection)
    parts = {key: pair[projection] for key, pair in _PROJECTION_PARTS.items()}
    cache_z = [f'    cache["Z_{k}"] = Z_{k}' for k in plan.cached_z]
    if projection:
        cache_z += ['    cache["M"], cache["Whr"] = M, p["W_hr"]']

    def temporaries(printer: InPlaceNumPyPrinter, extra: list[str] = ()) -> str:
        buffers = [f"_t{k}" for k in range(printer.temporaries)] + [f"_{s}" for s in extra]
        return "\n".join(f"    {b} = np.empty((B, n), dtype)" for b in buffers)

    equations = equation_lines(plan)
    peepholes = "\n".join(f'    {n} = p["{n}"]' for n in plan.cell.parameters if n[0] == "p")
    return _TEMPLATE.format(
        label=variant.label(),
        kind=kind,
        args=command_arguments(variant, kind, projection),
        version=__version__,
        equations="\n".join(equations),
        gates=python_tuple(g.name for g in plan.gates),
        parameters=python_tuple(parameter_names(plan, projection)),
        parameter_check=PARAMETER_CHECK,
        gate_count=len(plan.gates),
        shapes=shapes,
        prepare=(_PREPARE_PROJECTED if projection else _PREPARE)
        if kind == "vector"
        else _PREPARE.replace(
            'n = np.shape(params["U_" + GATES[0]])[0] if "U_" + GATES[0] in params else 1', "n = 1"
        ),
        peepholes=peepholes,
        backward_parameters=(
            "    p = _parameters(params, dtype, m, n)\n" + peepholes
            if peepholes
            else "    _parameters(params, dtype, m, n)  # checks them"
        ),
        cached_z="\n".join(
            f"    Z_{k} = np.empty((T, B, n), dtype)  # z_{k}, read by backward"
            for k in plan.cached_z
        ),
        cache_z="\n".join(cache_z),
        cached_read="\n".join(
            f'    {k} = cache["{k}"]'
            for k in ("C", "S", *(f"Z_{z}" for z in plan.cached_z))
            if re.search(rf"\b{k}\b", "\n".join(backward + _peephole_gradient_lines(plan)))
        ),
        forward_temporaries="\n".join(
            [temporaries(forward_printer)]
            + [f"    _w{k} = np.empty((B, {k} * n), dtype)" for k in sorted(widths)]
        ).strip("\n"),
        forward_body=textwrap.indent("\n".join(forward), " " * 8),
        backward_temporaries=temporaries(backward_printer, shared),
        backward_body=textwrap.indent("\n".join(backward), " " * 8),
        peephole_gradients=textwrap.indent("\n".join(_peephole_gradient_lines(plan)), " " * 4),
        untie=untie,
        untied_parameters="\n".join(convert),
        **parts,
    )


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
