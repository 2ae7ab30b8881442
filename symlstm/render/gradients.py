"""Backprop formulas and gradient values as text, Markdown, LaTeX or JSON.

The general formulas of a cell and variant (the forward equations, the backward step
derived from them by :func:`symlstm.derive.backward.backward_step`, and the gradients as
sums over the steps) are what :class:`symlstm.render.derivation.Derivation` renders;
:func:`gradient_table` renders certified gradient values, and :func:`worked_gradient` a
worked backward pass with numbers. Adjoints are written δq (``\\delta q`` in LaTeX): δh_t
is ∂L/∂h_t in total, δc_t^next what step t + 1 sends back to c_t.

>>> from symlstm.cell import Cell
>>> print(backward_formulas(Cell("tied"), notation="spec", fmt="text").splitlines()[9])
δtanh(C_t) = δh_t·o_t
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from html import escape
from typing import Any

from symlstm.cell import Cell
from symlstm.derive.backward import adjoint_symbol, backward_step
from symlstm.derive.gradients import Gradients
from symlstm.errors import ArgumentError, ParameterError, UnknownNameError
from symlstm.examples import Example
from symlstm.limits import MAX_SHOWN_DIGITS
from symlstm.render.printers import latex, text
from symlstm.render.summary import equation_block
from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = [
    "FORMATS",
    "GradientTable",
    "adjoint_notation",
    "gradient_table",
    "worked_gradient",
]

FORMATS: tuple[str, ...] = ("text", "markdown", "latex", "json")
#: The most significant digits a worked derivation shows.
MAX_WORKED_DIGITS = MAX_SHOWN_DIGITS  # one table: symlstm.limits


def adjoint_notation(cell: Cell, notation: str | Notation) -> Notation:
    """The notation extended with δ names for every adjoint of the cell.

    >>> adjoint_notation(Cell("tied"), "spec").latex["dz_f"]
    '\\\\delta z_{f,t}'
    """
    _check_types(cell=(cell, Cell))
    base = get_notation(notation)
    names = {**cell.symbols, **cell.parameters}
    latex_names, text_names = {}, {}
    for name, sym in names.items():
        latex_names[f"d{name}"] = rf"\delta {latex(sym, notation=base)}"
        text_names[f"d{name}"] = f"δ{text(sym, notation=base)}"
    c = cell.symbols["c"]
    latex_names["dc_next"] = rf"\delta {latex(c, notation=base)}^{{\mathrm{{next}}}}"
    text_names["dc_next"] = f"δ{text(c, notation=base)}^next"
    return base.with_names(latex=latex_names, text=text_names)


def _check(fmt: str, allowed: tuple[str, ...]) -> None:
    if not isinstance(fmt, str):
        raise ArgumentError(f"fmt must be a string, not {type(fmt).__name__}")
    if fmt not in allowed:
        raise UnknownNameError(f"unknown format {fmt!r}; known: {', '.join(allowed)}")


def backward_formulas(
    cell: Cell, *, notation: str | Notation = "canonical", fmt: str = "latex"
) -> str:
    """The forward equations, the backward step and the gradient sums of a cell, in
    ``fmt`` (text, markdown or latex): what :class:`~symlstm.render.derivation.Derivation`
    renders (use that; this is its printer, not part of the API)."""
    _check_types(cell=(cell, Cell))
    _check(fmt, ("text", "markdown", "latex"))
    note = adjoint_notation(cell, notation)
    eqs = backward_step(cell).equations
    sums = [
        (
            f"∂L/∂{text(sym, notation=note)} = Σ_t δ{text(sym, notation=note)}",
            rf"\frac{{\partial L}}{{\partial {latex(sym, notation=note)}}} &= \sum_t "
            rf"{latex(adjoint_symbol(cell, name), notation=note)}",
        )
        for name, sym in cell.parameters.items()
    ]
    intro = (
        "Backward through step t: δh_t is ∂L/∂h_t in total (the loss's own term plus "
        "δh_{t-1} sent back by step t + 1), δc_t^next is what step t + 1 sends back to c_t "
        "(its δc_{t-1}); at t = T both extra terms are 0."
    )
    equations = equation_block(cell, notation=notation)
    forward = equations.text() if fmt == "text" else equations.latex()
    if fmt == "text":
        backward = "\n".join(text(eq, notation=note) for eq in eqs)
        return "\n".join(
            ["Forward:", forward, "", intro, backward, "", "Gradients:", *(s for s, _ in sums)]
        )
    rows = " \\\\\n".join(
        f"{latex(eq.lhs, notation=note)} &= {latex(eq.rhs, notation=note)}" for eq in eqs
    )
    grads = " \\\\\n".join(row for _, row in sums)
    if fmt == "latex":
        intro_tex = (
            r"$\delta h_t$ is $\partial L / \partial h_t$ in total (the loss's own term plus "
            r"the $\delta h_{t-1}$ that step $t + 1$ sends back); $\delta c_t^{\mathrm{next}}$ "
            r"is what step $t + 1$ sends back to $c_t$ (its $\delta c_{t-1}$). At $t = T$ both "
            r"are 0."
        )
        body = [
            r"\paragraph{Forward}",
            forward,
            r"\paragraph{Backward through step $t$}",
            intro_tex,
            f"\\begin{{align*}}\n{rows}\n\\end{{align*}}",
            r"\paragraph{Gradients}",
            f"\\begin{{align*}}\n{grads}\n\\end{{align*}}",
        ]
        return "\n".join(body)
    forward_md = forward.replace(r"\begin{align*}", "$$\n\\begin{aligned}").replace(
        r"\end{align*}", "\\end{aligned}\n$$"
    )
    return "\n".join(
        [
            "**Forward**",
            "",
            forward_md,
            "",
            "**Backward through step t**",
            "",
            intro,
            "",
            "$$",
            "\\begin{aligned}",
            rows,
            "\\end{aligned}",
            "$$",
            "",
            "**Gradients**",
            "",
            "$$",
            "\\begin{aligned}",
            grads,
            "\\end{aligned}",
            "$$",
        ]
    )


def _check_types(**values: tuple[Any, type]) -> None:
    """Refuse an argument of the wrong type, naming it."""
    for name, (value, kind) in values.items():
        if not isinstance(value, kind):
            raise ArgumentError(f"{name} must be {kind.__name__}, not {type(value).__name__}")


def _flat(value: Any) -> Any:
    return [_flat(v) for v in value] if isinstance(value, tuple) else value


def gradients_data(example: Example, grads: Gradients) -> dict[str, Any]:
    """The JSON contract of ``symlstm grad``: decimal strings, parameter names as in the file."""
    d = grads.decimals
    return {
        "example": example.name,
        "loss": grads.loss.name,
        "certified": True,
        "working_precision_bits": grads.precision,
        "gradients": {name: _flat(d[name]) for name in grads.parameters},
        "initial_state": {"h0": _flat(d["h0"]), "c0": _flat(d["c0"])},
        "inputs": _flat(d["x"]),
    }


@dataclass(frozen=True)
class GradientTable:
    """Certified gradient values of an example's loss (what ``symlstm grad`` prints after
    the worked derivation); render with :meth:`text`, :meth:`markdown`, :meth:`latex`,
    :meth:`json` or :meth:`html`."""

    example: Example
    grads: Gradients

    def text(self) -> str:
        """A title, then ``∂L/∂w = value`` per parameter and initial state."""
        return _gradient_values(self.example, self.grads, "text")

    def markdown(self) -> str:
        """A Markdown table of parameter and gradient."""
        return _gradient_values(self.example, self.grads, "markdown")

    def latex(self) -> str:
        """An ``align*`` of the scalar gradients."""
        return _gradient_values(self.example, self.grads, "latex")

    def json(self) -> str:
        """:func:`gradients_data` as indented JSON."""
        return _gradient_values(self.example, self.grads, "json")

    def html(self, worked: Any = None, *, standalone: bool = True) -> str:
        """The table as an HTML page, after the worked backward pass ``worked`` (a
        :class:`~symlstm.render.worked.WorkedExample` from :func:`worked_gradient`) if
        given."""
        return _gradient_html(self.example, self.grads, worked, standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)


def gradient_table(example: Example, grads: Gradients) -> GradientTable:
    """Certified gradient values (``grads`` from :func:`symlstm.certify_gradients`), to
    render in one format.

    >>> import symlstm
    >>> ex = symlstm.load_example("seed-step")
    >>> grads = symlstm.certify_gradients(
    ...     ex.cell, ex.parameters, ex.inputs, ex.h0, ex.c0, significant=6
    ... )
    >>> gradient_table(ex, grads).text().splitlines()[6]
    '∂L/∂W_f   = 0.0353469'

    Raises
    ------
    ArgumentError
        If ``example`` is not an Example or ``grads`` not certified gradients.
    """
    _check_types(example=(example, Example), grads=(grads, Gradients))
    if grads.decimals is None:
        raise ArgumentError("grads has no certified decimals: use certify_gradients()")
    return GradientTable(example, grads)


def _gradient_values(example: Example, grads: Gradients, fmt: str) -> str:
    data = gradients_data(example, grads)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    note = adjoint_notation(example.cell, example.notation_with_names())
    rows = [(name, value) for name, value in data["gradients"].items()]
    rows += [("h0", data["initial_state"]["h0"]), ("c0", data["initial_state"]["c0"])]
    title = f"Gradients of the loss {grads.loss.name} for {example.title or example.name}"

    def label(name: str, style: str) -> str:
        sym = example.cell.parameters.get(name)
        if sym is None:
            return {"h0": "h_0", "c0": "c_0"}[name]
        return latex(sym, notation=note) if style == "latex" else text(sym, notation=note)

    def show(value: Any) -> str:
        return str(value) if not isinstance(value, list) else json.dumps(value)

    if fmt == "text":
        width = max(len(label(n, "text")) for n, _ in rows) + 2
        lines = [title, "=" * len(title), "certified: every digit shown is correct", ""]
        lines += [f"∂L/∂{label(n, 'text'):<{width}} = {show(v)}" for n, v in rows]
        return "\n".join(lines)
    if fmt == "markdown":
        lines = [f"## {title}", "", "| parameter | gradient |", "|---|---|"]
        lines += [f"| ${label(n, 'latex')}$ | {show(v)} |" for n, v in rows]
        return "\n".join(lines)
    body = " \\\\\n".join(
        rf"\frac{{\partial L}}{{\partial {label(n, 'latex')}}} &= {show(v)}"
        for n, v in rows
        if not isinstance(v, list)
    )
    return f"% {title}\n\\begin{{align*}}\n{body}\n\\end{{align*}}"


def _check_html_arguments(worked: Any, standalone: Any) -> None:
    from symlstm.render.worked import WorkedExample

    if worked is not None and not isinstance(worked, WorkedExample):
        raise ArgumentError(f"worked must be a WorkedExample or None, not {type(worked).__name__}")
    if not isinstance(standalone, bool):
        raise ArgumentError(f"standalone must be True or False, not {standalone!r}")


def _gradient_html(example: Example, grads: Gradients, worked: Any, standalone: Any) -> str:
    """Certified gradients as HTML (what ``symlstm grad`` prints): the worked backward pass
    where there is one (scalar cells), then every gradient's value in a table."""
    from symlstm.render.html import inline_math, table_html, worked_parts, wrap_page
    from symlstm.render.mathml import LSTMMathMLPrinter

    _check_html_arguments(worked, standalone)
    data = gradients_data(example, grads)
    note = adjoint_notation(example.cell, example.notation_with_names())
    printer = LSTMMathMLPrinter({"notation": note})
    title = f"Gradients of the loss {grads.loss.name} for {example.title or example.name}"
    out: list[str] = []
    if worked is not None:
        out += worked_parts(worked, diagram=False)
    out += [f"<h2>{escape(title)}</h2>", "<p>Certified: every digit shown is correct.</p>"]
    rows = []
    items = list(data["gradients"].items())
    items += [("h0", data["initial_state"]["h0"]), ("c0", data["initial_state"]["c0"])]
    for name, value in items:
        sym = example.cell.parameters.get(name)
        label = (
            printer.doprint(sym)
            if sym is not None
            else f"<msub><mi>{name[0]}</mi><mn>0</mn></msub>"
        )
        frac = f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>{label}</mrow></mfrac>"
        rows.append([inline_math(frac), escape(_flat_text(value))])
    out.append(table_html(["parameter", "gradient"], rows))
    return wrap_page(title, out, standalone)


def _flat_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flat_text(v) for v in value) + "]"
    return str(value).replace("-", "−")


# -- worked derivations with numbers ---------------------------------------------------------

#: Which forward stage an adjoint belongs to, for the narration of a backward step.
_BACKWARD_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Output", ("ds", "do", "dz_o")),
    ("Cell State", ("dc",)),
    ("Candidate Cell Value", ("dg", "dz_g")),
    ("Input Gate", ("di", "dz_i")),
    ("Forget Gate", ("df", "dz_f")),
    ("Back to Step t - 1", ("dx", "dh_prev", "dc_prev")),
)


def worked_gradient(
    example: Example,
    *,
    loss: str = "h_T",
    targets: Any = None,
    digits: int = 4,
    narration: bool = True,
) -> Any:
    """The backward pass of an example worked with numbers, like its forward worked example.

    Every adjoint of every step, from t = T back to 1: its formula, the formula with the
    numbers put in and its value (``digits`` significant digits), then each parameter's
    gradient. Forward values are shown at the example's digits; every digit is certified.

    >>> from symlstm.examples import load_example
    >>> w = worked_gradient(load_example("seed-step"), loss="h_T")
    >>> w.summary[0]["w_f"]
    '0.03535'
    """
    from sympy import Add as SymAdd

    from symlstm.derive.gradients import backprop
    from symlstm.numeric.rounding import with_increasing_precision
    from symlstm.render.worked import WorkedExample
    from symlstm.render.worked_lines import (
        Line,
        Shown,
        Stage,
        decimal_text,
        shown_decimal,
        substitute_shown,
    )

    _check_types(example=(example, Example), loss=(loss, str), narration=(narration, bool))
    if isinstance(digits, bool) or not isinstance(digits, int):
        raise ArgumentError(f"digits must be an integer, not {type(digits).__name__}")
    if not 1 <= digits <= MAX_WORKED_DIGITS:
        raise ParameterError(f"digits must be from 1 to {MAX_WORKED_DIGITS}, not {digits}")
    cell = example.cell
    if cell.is_vector:
        raise UnknownNameError("worked gradients are for scalar and tied cells")
    note = adjoint_notation(cell, example.notation_with_names())
    eqs = {str(eq.lhs): eq.rhs for eq in backward_step(cell).equations}
    targets = targets if targets is not None else example.targets

    def attempt(prec: int) -> WorkedExample:
        grads = backprop(
            cell,
            example.parameters,
            example.inputs,
            example.h0,
            example.c0,
            loss=loss,
            targets=targets if loss == "mse" else None,
            method="interval",
            prec=prec,
            record=True,
        )
        trace = example.evaluate(method="interval", prec=prec)
        steps = []
        for t in range(len(trace), 0, -1):
            adj = grads.steps[t - 1]

            def sig(enc: Any) -> str:
                if enc.exact is not None and enc.exact == int(enc.exact):
                    return str(int(enc.exact))  # 1, not 1.000
                return enc.round(significant=digits)

            shown = {}
            for name, sym in cell.parameters.items():
                value = example.parameters[name]
                shown[sym] = Shown(decimal_text(Fraction(int(value.p), int(value.q)), 6))
            for name, value in trace.steps[t - 1].items():
                key = {"h_prev": "h", "c_prev": "c"}.get(name, name)
                shown[cell.symbols[name]] = Shown(shown_decimal(value, example.places(key)))
            for name, value in adj.items():
                if name not in ("direct", "from_next"):
                    shown[adjoint_symbol(cell, name[1:])] = Shown(sig(value))
            stages = []
            carried = adj["dh"]
            first = Line(
                adjoint_symbol(cell, "h"),
                (
                    SymAdd(
                        Shown(sig(adj["direct"])),
                        Shown(sig(adj["from_next"])),
                        evaluate=False,
                    ),
                    Shown(sig(carried)),
                ),
                "the loss's term + what step t + 1 sends back",
            )
            stages.append(Stage("h", "Loss", (first,)))
            for heading, names in _BACKWARD_STAGES:
                lines = []
                for name in names:
                    if name not in eqs:
                        continue
                    rhs = eqs[name]
                    chain = (
                        rhs,
                        substitute_shown(rhs, shown),
                        shown[adjoint_symbol(cell, name[1:])],
                    )
                    lines.append(Line(adjoint_symbol(cell, name[1:]), chain))
                if lines:
                    stages.append(Stage(heading, heading, tuple(lines)))
            params = [
                Line(
                    adjoint_symbol(cell, n),
                    (
                        eqs[f"d{n}"],
                        substitute_shown(eqs[f"d{n}"], shown),
                        shown[adjoint_symbol(cell, n)],
                    ),
                )
                for n in cell.parameters
            ]
            stages.append(Stage("params", "Parameter Contributions", tuple(params)))
            steps.append(stages)
        summary = [{name: sig(value) for name, value in grads.parameters.items()}]
        title = f"Backprop through time: loss {grads.loss.name}, {example.title or example.name}"
        return WorkedExample(
            example,
            "exact",
            note,
            steps,
            summary,
            narration=narration,
            title=title,
            step_numbers=list(range(len(trace), 0, -1)),
            columns=list(cell.parameters),
            summary_title="Gradients (sums over the steps)",
            row_labels=["Σ_t"],
            row_labels_latex=[r"$\sum_t$"],
            row_heading="",
        )

    return with_increasing_precision(attempt, what=f"the gradients of {example.name}")
