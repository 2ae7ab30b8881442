"""A derivation: the backprop-through-time formulas of a cell, as an object that renders
itself (what ``symlstm derive`` prints, and what a notebook displays).

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
from symlstm.render.html import chain_html, wrap_page

__all__ = ["Derivation", "derivation"]


@dataclass(frozen=True)
class Derivation:
    """The backward formulas of ``cell`` in ``notation``; render with :meth:`text`,
    :meth:`markdown`, :meth:`latex` or :meth:`html` (Jupyter: ``_repr_html_`` and
    ``_repr_markdown_``)."""

    cell: Cell
    notation: Any = "canonical"

    def text(self) -> str:
        """The forward equations, the backward step and the gradient sums, as text."""
        from symlstm.render.gradients import backward_formulas

        return backward_formulas(self.cell, notation=self.notation, fmt="text")

    def markdown(self) -> str:
        """The same in Markdown, the formulas as display math."""
        from symlstm.render.gradients import backward_formulas

        return backward_formulas(self.cell, notation=self.notation, fmt="markdown")

    def latex(self) -> str:
        """The same in LaTeX (``\\paragraph`` headings, ``align*`` environments)."""
        from symlstm.render.gradients import backward_formulas

        return backward_formulas(self.cell, notation=self.notation, fmt="latex")

    def html(self, *, standalone: bool = True) -> str:
        """The same as an HTML page (MathML), or a fragment with ``standalone=False``.

        >>> from symlstm.cell import Cell
        >>> "δ" in derivation(Cell("tied"), notation="spec").html(standalone=False)
        True
        """
        if not isinstance(standalone, bool):
            raise ArgumentError(f"standalone must be True or False, not {standalone!r}")
        return _derivation_html(self.cell, self.notation, standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def derivation(cell: Cell, *, notation: Any = "canonical") -> Derivation:
    """The derivation of a cell's backward pass (see :func:`symlstm.derive.backward.backward_step`).

    Raises
    ------
    ArgumentError
        If ``cell`` is not a :class:`~symlstm.cell.Cell`.
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    return Derivation(cell, notation)


def _derivation_html(cell: Cell, notation: Any, standalone: bool) -> str:
    from symlstm.derive.backward import adjoint_symbol, backward_step
    from symlstm.render.gradients import adjoint_notation
    from symlstm.render.mathml import LSTMMathMLPrinter

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
