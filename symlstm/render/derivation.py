"""A derivation: the backprop-through-time formulas of a cell, as an object that renders
itself (what ``symlstm derive`` prints, and what a notebook displays); and the HTML pages
of ``symlstm derive`` and ``symlstm grad`` (:func:`derivation_html`, :func:`gradient_html`).

>>> from symlstm.cell import Cell
>>> d = derivation(Cell("tied"), notation="spec")
>>> d.text().splitlines()[0]
'Forward:'
>>> d._repr_html_().startswith('<div class="symlstm">')
True
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from symlstm.cell import Cell
from symlstm.errors import ArgumentError
from symlstm.render.html import chain_html, inline_math, table_html, worked_parts, wrap_page

__all__ = ["Derivation", "derivation", "derivation_html", "gradient_html"]


@dataclass(frozen=True)
class Derivation:
    """The backward formulas of ``cell`` in ``notation``; render with :meth:`text`,
    :meth:`markdown`, :meth:`latex` or :meth:`html` (Jupyter: ``_repr_html_`` and
    ``_repr_markdown_``)."""

    cell: Cell
    notation: Any = "canonical"

    def text(self) -> str:
        from symlstm.render.gradients import render_backward

        return render_backward(self.cell, notation=self.notation, fmt="text")

    def markdown(self) -> str:
        from symlstm.render.gradients import render_backward

        return render_backward(self.cell, notation=self.notation, fmt="markdown")

    def latex(self) -> str:
        from symlstm.render.gradients import render_backward

        return render_backward(self.cell, notation=self.notation, fmt="latex")

    def html(self, *, standalone: bool = True) -> str:
        return derivation_html(self.cell, notation=self.notation, standalone=standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def derivation(cell: Cell, *, notation: Any = "canonical") -> Derivation:
    """The derivation of a cell's backward pass (see :func:`symlstm.derive.calculus.backward_step`).

    Raises
    ------
    ArgumentError
        If ``cell`` is not a :class:`~symlstm.cell.Cell`.
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    return Derivation(cell, notation)


def derivation_html(cell: Any, *, notation: Any = "canonical", standalone: bool = True) -> str:
    """The backprop-through-time formulas of a cell (what ``symlstm derive`` prints) as HTML:
    the forward equations, the backward step and the gradient sums.

    >>> from symlstm.cell import Cell
    >>> "δ" in derivation_html(Cell("tied"), notation="spec", standalone=False)
    True
    """
    from symlstm.cell import Cell
    from symlstm.derive.calculus import adjoint_symbol, backward_step
    from symlstm.render.gradients import adjoint_notation
    from symlstm.render.mathml import LSTMMathMLPrinter

    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    note = adjoint_notation(cell, notation)
    printer = LSTMMathMLPrinter({"notation": note})
    title = f"Backprop through time: {cell.kind} cell, {cell.variant.label()}"
    out = [f"<h1>{escape(title)}</h1>", "<h2>Forward</h2>"]
    for eq in cell.equations(inline=True):
        out.append(chain_html(printer.doprint(eq.lhs), [("=", printer.doprint(eq.rhs))]))
    out.append("<h2>Backward through step t</h2>")
    out.append(
        "<p>δh<sub>t</sub> is ∂L/∂h<sub>t</sub> in total (the loss's own term plus the "
        "δh<sub>t−1</sub> that step t + 1 sends back); δc<sub>t</sub><sup>next</sup> is "
        "what step t + 1 sends back to c<sub>t</sub> (its δc<sub>t−1</sub>). At t = T both "
        "are 0.</p>"
    )
    for eq in backward_step(cell).equations:
        out.append(chain_html(printer.doprint(eq.lhs), [("=", printer.doprint(eq.rhs))]))
    out.append("<h2>Gradients</h2>")
    for name, sym in cell.parameters.items():
        frac = (
            f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>"
            f"{printer.doprint(sym)}</mrow></mfrac>"
        )
        total = (
            "<mrow><munder><mo>∑</mo><mi>t</mi></munder>"
            f"{printer.doprint(adjoint_symbol(cell, name))}</mrow>"
        )
        out.append(chain_html(frac, [("=", total)]))
    return wrap_page(title, out, standalone)


def _check_gradient_arguments(example: Any, grads: Any, worked: Any, standalone: Any) -> None:
    from symlstm.examples import Example
    from symlstm.render.worked import WorkedExample

    if not isinstance(example, Example):
        raise ArgumentError(f"example must be an Example, not {type(example).__name__}")
    if not (hasattr(grads, "loss") and hasattr(grads, "decimals")):
        raise ArgumentError(f"grads must be certified gradients, not {type(grads).__name__}")
    if worked is not None and not isinstance(worked, WorkedExample):
        raise ArgumentError(f"worked must be a WorkedExample or None, not {type(worked).__name__}")
    if not isinstance(standalone, bool):
        raise ArgumentError(f"standalone must be True or False, not {standalone!r}")


def gradient_html(example: Any, grads: Any, worked: Any = None, *, standalone: bool = True) -> str:
    """Certified gradients as HTML (what ``symlstm grad`` prints): the worked backward pass
    where there is one (scalar cells), then every gradient's value in a table."""
    from symlstm.render.gradients import adjoint_notation, gradients_data
    from symlstm.render.mathml import LSTMMathMLPrinter

    _check_gradient_arguments(example, grads, worked, standalone)
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
