"""Generated PyTorch code: an LSTM forward function printed from the cell's SymPy equations.

:func:`generate_torch` returns the source of a self-contained Python module (it imports
nothing but torch) with

``forward(params, x, h0=None, c0=None) -> (y, h_T, c_T)``
    ``x`` is time-major (T, batch, input); ``y`` holds every h_t (T, batch, hidden);
    ``params`` maps canonical names (``W_k``, ``U_k``, ``b_k``, ``p_k``; ``W_hr`` with a
    projection) to tensors. The dtype of ``x`` (float32 or float64) decides the dtype of
    the computation. Gradients come from torch autograd: no backward pass is printed.

How it is printed. The affine parts a_k = W_k x_t + U_k h_(t-1) + b_k are stacked matrix
products: the input projections of all steps in one ``torch.addmm``, one recurrent
``torch.addmm`` per step. The element-wise step is printed from the same step plan
(:func:`symlstm.plan.step_plan`) that
:mod:`~symlstm.codegen.numpy_code` prints its NumPy module from:
every quantity written in terms of a_k, c_(t-1) and the peepholes, shared
subexpressions named by :func:`sympy.cse` (a shared subexpression that is one of the
cell's quantities takes its name: ``i``, ``c``, …), each printed by :class:`TorchStepPrinter`,
a subclass of SymPy's :class:`~sympy.printing.pytorch.TorchPrinter` (``torch.sigmoid``
for σ, which neither overflows nor loses subnormals; ``torch.clamp`` for the hard sigmoid
and the clip).

>>> source = generate_torch("peephole")
>>> "import torch" in source and "numpy" not in source
True
>>> step = source[source.index("def _step("):source.index("def _prepare(")]
>>> print(step[step.index("    a_i"):].rstrip())
    a_i, a_f, a_g, a_o = a.split(c_prev.shape[1], dim=1)
    p_i = p["p_i"]
    p_f = p["p_f"]
    p_o = p["p_o"]
    f = torch.sigmoid(a_f + c_prev * p_f)
    i = torch.sigmoid(a_i + c_prev * p_i)
    g = torch.tanh(a_g)
    c = c_prev * f + g * i
    o = torch.sigmoid(a_o + c * p_o)
    h = o * torch.tanh(c)
    return h, c
"""

from __future__ import annotations

import ast
import functools
import re
import types

import sympy
from sympy import Max, Number, Symbol
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pytorch import TorchPrinter

from symlstm.cell import Variant
from symlstm.codegen.common import (
    GeneratorPlan,
    as_variant,
    command_arguments,
    equation_lines,
    literal,
    parameter_names,
    python_tuple,
    runtime_source,
    shapes_function,
)
from symlstm.errors import MissingDependencyError, ParameterError, SymLSTMError

__all__ = ["TorchStepPrinter", "generate_torch", "torch_module"]


class TorchStepPrinter(TorchPrinter):
    """SymPy's TorchPrinter with the package's activations, and clips as ``torch.clamp``.

    Numbers print as Python literals (``0.2``, not ``(1/5)``), which torch applies in
    the tensor's own dtype; a node with no rule here is an error, never SymPy's fallback
    text (which would not run).

    >>> from sympy import Max, Min, Rational, Symbol
    >>> from symlstm.functions import hard_sigmoid, sigmoid
    >>> z = Symbol("z")
    >>> p = TorchStepPrinter()
    >>> p.doprint(sigmoid(z)), p.doprint(Min(Rational(3, 2), Max(Rational(-3, 2), z)))
    ('torch.sigmoid(z)', 'torch.clamp(z, -1.5, 1.5)')
    >>> p.doprint(hard_sigmoid(z)), p.doprint(hard_sigmoid(z, Rational(2, 7), Rational(1, 2)))
    ('torch.clamp(z/5 + 0.5, 0, 1)', 'torch.clamp(0.2857142857142857*z + 0.5, 0, 1)')
    """

    def _print_Rational(self, expr: sympy.Rational) -> str:
        return literal(expr)

    _print_Float = _print_Rational

    def _print_sigmoid(self, expr: sympy.Expr) -> str:
        return f"{self._module_format('torch.sigmoid')}({self._print(expr.args[0])})"

    def _print_hard_sigmoid(self, expr: sympy.Expr) -> str:
        # not sympy's a*z + b, which would distribute a over a sum in z; z/6 rather
        # than 0.16666666666666666*z: shorter, and one rounding instead of two
        z = self.parenthesize(expr.args[0], PRECEDENCE["Mul"])
        slope = sympy.Rational(expr.slope)
        scaled = f"{z}/{slope.q}" if slope.p == 1 else f"{literal(slope)}*{z}"
        affine = f"{scaled} + {literal(expr.offset)}"
        return f"{self._module_format('torch.clamp')}({affine}, 0, 1)"

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._bound(expr, "min", "torch.maximum")

    def _print_Min(self, expr: sympy.Expr) -> str:
        inner = [a for a in expr.args if isinstance(a, Max)]
        numbers = [a for a in expr.args if isinstance(a, Number)]
        if len(expr.args) == 2 and len(inner) == 1 and len(numbers) == 1:
            low = [a for a in inner[0].args if isinstance(a, Number)]
            rest = [a for a in inner[0].args if not isinstance(a, Number)]
            if len(low) == 1 and len(rest) == 1:  # Min(C, Max(-C, z)): a clip
                z = self._print(rest[0])
                clamp = self._module_format("torch.clamp")
                return f"{clamp}({z}, {literal(low[0])}, {literal(numbers[0])})"
        return self._bound(expr, "max", "torch.minimum")

    def _bound(self, expr: sympy.Expr, keyword: str, binary: str) -> str:
        """max(x, v) / min(x, v) with a number v as torch.clamp; tensors pairwise."""
        numbers = [a for a in expr.args if isinstance(a, Number)]
        tensors = [a for a in expr.args if not isinstance(a, Number)]
        text = self._print(tensors[0])
        for arg in tensors[1:]:
            text = f"{self._module_format(binary)}({text}, {self._print(arg)})"
        if numbers:  # SymPy folds the numbers of a Max or Min into one
            text = f"{self._module_format('torch.clamp')}({text}, {keyword}={literal(numbers[0])})"
        return text

    def _print_Pow(self, expr: sympy.Expr) -> str:
        if expr.exp == -1:
            return f"1/{self.parenthesize(expr.base, PRECEDENCE['Pow'])}"
        return super()._print_Pow(expr)

    def _print_Function(self, expr: sympy.Expr) -> str:
        if type(expr) not in self.mapping:
            raise SymLSTMError(f"no PyTorch form for {type(expr).__name__} in generated code")
        return super()._print_Function(expr)


# -- the element-wise step --------------------------------------------------------------------


def _step_lines(plan: GeneratorPlan, output: str) -> list[str]:
    """One step's element-wise code (see :func:`_cse_lines`), each line within 100 columns
    where naming the pre-activations z_k with extras (peepholes, forget bias) gets it there.
    """
    lines = _cse_lines(plan, output, named_z=False)
    if max(len(line) for line in lines) > _WIDTH:
        lines = _cse_lines(plan, output, named_z=True)
    return lines


#: The widest a line of the step may be: ruff's 100 columns less the loop's indentation.
_WIDTH = 100 - 8


def _cse_lines(plan: GeneratorPlan, output: str, *, named_z: bool) -> list[str]:
    """One step's element-wise code: from a_k, c_prev (and peepholes) to c and ``output``.

    Every quantity of the cell is written out in a_k, c_prev and the parameters; the
    gates, c and h (and with ``named_z`` the z_k that are more than a_k) are handed to
    :func:`sympy.cse` together, and a shared subexpression that is a quantity takes its
    name. What is used once (z_o = a_o + p_o c, s = tanh(c), f = 1 - i) is computed inline.
    """
    s = plan.cell.symbols
    extras = {g.name: g.extra for g in plan.gates}
    full: dict[sympy.Symbol, sympy.Expr] = {}
    for q in plan.cell.quantities:
        affine = q.startswith("z_")  # z_k = a_k + the extras
        rhs = Symbol(f"a_{q[2:]}") + extras[q[2:]] if affine else plan.equations[q]
        full[s[q]] = rhs.xreplace(full)
    names = {}
    for q in plan.cell.quantities:
        names.setdefault(full[s[q]], q)
    # Stored, as in the NumPy module: the gates, c and h (not f = 1 - i, f = 1, s, z_k)
    stored = {"c", "h", *(g.name for g in plan.gates)}
    if named_z:
        stored |= {f"z_{g.name}" for g in plan.gates if g.extra != 0}
    targets = [q for q in plan.cell.quantities if q in stored]
    if targets[-1] != "h" or "c" not in targets:
        raise SymLSTMError(f"the step must compute c and then h, not {targets}")
    temporaries = sympy.numbered_symbols("_x")
    shared, reduced = sympy.cse([full[s[q]] for q in targets], temporaries, order="none")
    rename, expanded = {}, {}
    for sym, expr in shared:  # a shared expression that is a quantity takes its name
        expanded[sym] = expr.xreplace(expanded)
        rename[sym] = Symbol(names.get(expanded[sym], str(sym)))
    printer = TorchStepPrinter({"fully_qualified_modules": True})
    lines = []
    for sym, expr in shared:
        lines.append(_python(f"{rename[sym]} = {printer.doprint(expr.xreplace(rename))}"))
    for q, expr in zip(targets, reduced, strict=True):
        name = output if q == "h" else q
        expr = expr.xreplace(rename)
        if expr != Symbol(name):
            lines.append(_python(f"{name} = {printer.doprint(expr)}"))
    return lines


def _python(line: str) -> str:
    """A printed assignment spaced as ruff formats it (and parsed, so it is Python)."""
    return ast.unparse(ast.parse(line))


# -- the module --------------------------------------------------------------------------------


def generate_torch(variant: Variant | str | None = None, *, projection: bool = False) -> str:
    """The source of a PyTorch module computing a vector cell's forward pass.

    Parameters
    ----------
    variant
        A :class:`~symlstm.cell.Variant`, its command-line text (``"peephole,coupled"``)
        or None for the textbook cell.
    projection
        A cell with projections (PyTorch's ``proj_size``): the parameters gain ``W_hr``
        (proj, hidden), U_k is (hidden, proj), h0, y and h_T have proj components; the
        element-wise step computes m = o ⊙ tanh(c) and one more matmul h = W_hr m.

    >>> [generate_torch(projection=p).count("PROJECTION = True") for p in (True, False)]
    [1, 0]
    >>> generate_torch(projection="yes")
    Traceback (most recent call last):
    ...
    symlstm.errors.ParameterError: projection must be true or false, not 'yes'
    """
    if not isinstance(projection, bool):
        raise ParameterError(f"projection must be true or false, not {projection!r}")
    return _generate(as_variant(variant), projection)


#: The runtime's functions (:mod:`symlstm.codegen.torch_runtime`) a module copies: the
#: entry point before the printed step, the helpers after it.
_ENTRY_POINTS = ("forward",)
_HELPERS = ("_prepare", "_tensor")


@functools.lru_cache(maxsize=64)
def _generate(variant: Variant, projection: bool) -> str:
    plan = GeneratorPlan(variant, "vector")
    if projection:
        plan.step.check_projection("the generated module")
    parts = [
        _header(plan, variant, projection),
        shapes_function(plan, projection),
        runtime_source("torch_runtime", _ENTRY_POINTS),
        _step_function(plan, projection),
        runtime_source("torch_runtime", _HELPERS),
    ]
    return "\n\n\n".join(parts) + "\n"


def _step_function(plan: GeneratorPlan, projection: bool) -> str:
    """The printed step: from a (the a_k side by side) and c_prev to h (m) and c."""
    output = "m" if projection else "h"
    step = _step_lines(plan, output)
    code = "\n".join(step)
    gates = ", ".join(f"a_{g.name}" for g in plan.gates)
    peepholes = [
        f'{n} = p["{n}"]'
        for n in plan.cell.parameters
        if n[0] == "p" and re.search(rf"\b{n}\b", code)
    ]
    what = "m = o * tanh(c) (forward's matmul makes h = W_hr m)" if projection else "h"
    lines = [
        "def _step(a, c_prev, p):",
        '    """One step, element-wise: a holds a_k = W_k x_t + U_k h_(t-1) + b_k of every gate',
        "    (the order of GATES) side by side, and c_prev = c_(t-1); p holds the parameters.",
        f"    Returns {what} and c.",
        '    """',
        f"    {gates} = a.split(c_prev.shape[1], dim=1)",
        *(f"    {line}" for line in peepholes + step),
        f"    return {output}, c",
    ]
    return "\n".join(lines)


def _header(plan: GeneratorPlan, variant: Variant, projection: bool) -> str:
    """The module's docstring, its import and its constants, printed from the plan."""
    from symlstm import __version__

    args = command_arguments(variant, projection=projection)
    return "\n".join(
        [
            f'"""LSTM forward pass in PyTorch, generated by symlstm {__version__}.',
            "",
            f"Cell: {variant.label()} (vector). Printed by",
            "",
            f"    symlstm codegen torch{args}",
            "",
            "from the cell's SymPy equations. Do not edit: change the cell and generate again. "
            "It imports",
            "nothing but torch. Time-major: x is (T, batch, input); float32 or float64, the dtype "
            "of x",
            "decides. Gradients come from torch autograd.",
            "",
            "One step, element-wise, with a_k = W_k x_t + U_k h_(t-1) + b_k for each gate k:",
            *equation_lines(plan),
            "The stacked weights hold the gates' blocks in the order of GATES.",
            '"""',
            "",
            "import torch",
            "",
            f"GATES = {python_tuple(g.name for g in plan.gates)}",
            f"PARAMETERS = {python_tuple(parameter_names(plan, projection))}",
            f"PROJECTION = {projection}",
        ]
    )


def torch_module(variant: Variant | str | None = None, *, projection: bool = False):
    """The generated module, compiled and ready to call (one per variant and projection).

    Raises :class:`~symlstm.errors.MissingDependencyError` without torch (the
    ``torch`` extra).

    >>> import torch
    >>> lstm = torch_module()
    >>> params = {k: torch.full(s, 0.1, dtype=torch.float64) for k, s in lstm.shapes(3, 2).items()}
    >>> y, h_T, c_T = lstm.forward(params, torch.ones(4, 5, 2, dtype=torch.float64))
    >>> tuple(y.shape), y.dtype, bool((y[-1] == h_T).all())
    ((4, 5, 3), torch.float64, True)
    """
    source = generate_torch(variant, projection=projection)
    return _compile(source)


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> types.ModuleType:
    try:
        import torch  # noqa: F401 (the module imports it; fail here with the remedy)
    except ImportError:
        raise MissingDependencyError(
            "the generated PyTorch module needs torch: pip install 'symlstm[torch]'"
        ) from None
    module = types.ModuleType("symlstm_generated_torch")
    module.__dict__["__source__"] = source
    exec(compile(source, "<symlstm generated torch LSTM>", "exec"), module.__dict__)
    return module
