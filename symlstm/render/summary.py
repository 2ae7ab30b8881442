"""An example's equations and certified values, as text, Markdown, LaTeX or JSON.

This is the compact view: the cell's equations in the example's notation, then
every quantity of every step, correctly rounded. Values come from a certified
trace (:func:`symlstm.numeric.evaluation.certify`), so every printed digit is guaranteed.

Every view renders itself: :func:`summary` gives a :class:`Summary` and
:func:`equation_block` an :class:`EquationBlock`, each with ``text()``, ``markdown()`` and
``latex()`` (and ``json()`` for the summary), like every other view of the package.

>>> from symlstm.examples import load_example
>>> ex = load_example("seed-step")
>>> print(summary(ex, ex.certify()).text().splitlines()[-1])
  h_t             =  0.276
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from symlstm.cell import Cell
from symlstm.errors import ArgumentError, ParameterError
from symlstm.examples import Example
from symlstm.numeric.evaluation import Trace
from symlstm.render.printers import latex, text
from symlstm.symbols import notation as get_notation

__all__ = ["FORMATS", "EquationBlock", "Summary", "equation_block", "summary", "summary_data"]

FORMATS: tuple[str, ...] = ("text", "markdown", "latex", "json")


@dataclass(frozen=True)
class EquationBlock:
    """A cell's textbook equations in a notation; render with :meth:`text`,
    :meth:`markdown` (display math) or :meth:`latex` (an ``align*``)."""

    cell: Cell
    notation: Any = "canonical"

    def text(self) -> str:
        """One equation per line, in the notation's text names."""
        return _equations(self.cell, self.notation, "text")

    def markdown(self) -> str:
        """The equations as Markdown display math (``$$ … $$``)."""
        return _equations(self.cell, self.notation, "markdown")

    def latex(self) -> str:
        """The equations as a LaTeX ``align*`` environment."""
        return _equations(self.cell, self.notation, "latex")

    def _repr_markdown_(self) -> str:
        return self.markdown()


def equation_block(cell: Cell, *, notation: Any = "canonical") -> EquationBlock:
    """The cell's textbook equations, to render as text, Markdown or LaTeX.

    >>> print(equation_block(Cell("tied"), notation="spec").text())
    f_t = σ(W_f·h_{t-1} + W_f·x_t + b_f)
    i_t = σ(W_i·h_{t-1} + W_i·x_t + b_i)
    C̃_t = tanh(W_C·h_{t-1} + W_C·x_t + b_C)
    C_t = f_t·C_{t-1} + i_t·C̃_t
    o_t = σ(W_o·h_{t-1} + W_o·x_t + b_o)
    h_t = o_t·tanh(C_t)

    Raises
    ------
    ArgumentError
        If ``cell`` is not a :class:`~symlstm.cell.Cell`.
    UnknownNameError
        For an unknown notation.
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    get_notation(notation)  # an unknown notation is refused here, not when rendered
    return EquationBlock(cell, notation)


def _equations(cell: Cell, notation: Any, fmt: str) -> str:
    eqs = cell.equations(inline=True)
    if fmt == "text":
        return "\n".join(text(eq, notation=notation) for eq in eqs)
    rows = [
        f"{latex(eq.lhs, notation=notation)} &= {latex(eq.rhs, notation=notation)}" for eq in eqs
    ]
    body = " \\\\\n".join(rows)
    if fmt == "latex":
        return f"\\begin{{align*}}\n{body}\n\\end{{align*}}"
    return f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$"


#: Vectors longer than this are shown in the LaTeX and Markdown tables with their middle
#: elided (the text lists every entry; the JSON has them all).
MAX_SHOWN = 6


def _flat(value: Any) -> list[str]:
    """The entries of a decimal value: a string, or a (nested) tuple of strings."""
    if isinstance(value, tuple):
        return [entry for part in value for entry in _flat(part)]
    return [value]


def _show(value: Any, fmt: str = "text") -> str:
    """A decimal value as a table cell: ``0.276`` or, for a vector, ``(0.150, 0.115)``.

    In LaTeX the cell is math (so ``-0.629`` gets a real minus sign) and a vector longer
    than :data:`MAX_SHOWN` keeps its first and last entries around ``\\ldots``; in
    Markdown the same, with math only where a minus sign needs it.

    >>> _show(("0.454", "-0.629"))
    '(0.454, -0.629)'
    >>> _show(("0.454", "-0.629"), "latex")
    '$(0.454, -0.629)$'
    >>> _show(tuple(str(k) for k in range(9)), "markdown")
    '(0, 1, …, 7, 8)'
    >>> print(_show(tuple(str(-k) for k in range(9)), "markdown"))
    $(0, -1, \\ldots, -7, -8)$
    """
    entries = _flat(value)
    math = fmt == "latex" or (fmt == "markdown" and any("-" in e for e in entries))
    if fmt != "text" and len(entries) > MAX_SHOWN:
        half = (MAX_SHOWN - 1) // 2
        entries = [*entries[:half], r"\ldots" if math else "…", *entries[-half:]]
    shown = f"({', '.join(entries)})" if isinstance(value, tuple) else value
    return f"${shown}$" if math else shown


def _check_certified(example: Any, trace: Any) -> None:
    """An Example and a certified Trace of its cell (``Example.certify``), or an error."""
    if not isinstance(example, Example):
        raise ArgumentError(f"example must be an Example, not {type(example).__name__}")
    if not isinstance(trace, Trace):
        raise ArgumentError(f"trace must be a Trace, not {type(trace).__name__}")
    if not trace.decimals:
        raise ParameterError("the trace has no certified decimals: use Example.certify")
    if _cell_key(trace.cell) != _cell_key(example.cell):
        raise ParameterError("the trace is of another cell than the example's")


def _cell_key(cell: Cell) -> tuple:
    return (cell.kind, cell.variant, cell.hidden_size, cell.input_size, cell.shape("h"))


def summary_data(example: Example, trace: Trace) -> dict[str, Any]:
    """The JSON contract of ``symlstm example --format json``: decimal strings throughout.

    Raises
    ------
    ArgumentError
        If ``example`` is not an :class:`~symlstm.examples.Example` or ``trace`` not a
        :class:`~symlstm.numeric.evaluation.Trace`.
    ParameterError
        If the trace is not certified (no ``decimals``) or is of another cell.
    """
    _check_certified(example, trace)
    steps = []
    for t, row in enumerate(trace.decimals, start=1):
        values = {name: (list(v) if isinstance(v, tuple) else v) for name, v in row.items()}
        steps.append({"t": t, "values": values})
    return {
        "example": example.name,
        "title": example.title,
        "source": example.source,
        "cell": {
            "kind": example.cell.kind,
            "variant": example.cell.variant.to_dict(),
            "hidden_size": example.cell.hidden_size,
            "input_size": example.cell.input_size,
        },
        "mode": "hand" if trace.hand_places else "exact",
        "certified": True,
        "working_precision_bits": trace.precision,
        # the fewest digits any value of the trace is guaranteed to (exact values count as many)
        "guaranteed_significant_digits": min(
            min(v.digits for v in (value if isinstance(value, tuple) else (value,)))
            for step in trace.steps
            for value in step.values()
        ),
        "steps": steps,
    }


@dataclass(frozen=True)
class Summary:
    """An example's equations, then every certified value of every step (what
    ``symlstm example --compact`` and ``--format json`` print); render with :meth:`text`,
    :meth:`markdown`, :meth:`latex` or :meth:`json`."""

    example: Example
    trace: Trace

    def text(self) -> str:
        """The equations, then one block of values per step."""
        return _summary(self.example, self.trace, "text")

    def markdown(self) -> str:
        """The equations as display math and the values as a table (a column per step)."""
        return _summary(self.example, self.trace, "markdown")

    def latex(self) -> str:
        """The equations as an ``align*`` and the values as a ``tabular``."""
        return _summary(self.example, self.trace, "latex")

    def json(self) -> str:
        """:func:`summary_data` as indented JSON."""
        return _summary(self.example, self.trace, "json")

    def _repr_markdown_(self) -> str:
        return self.markdown()


def summary(example: Example, trace: Trace) -> Summary:
    """Equations, then every certified value of every step, to render in one format.

    ``trace`` is a certified trace of the example (:meth:`~symlstm.examples.Example.certify`).

    Raises
    ------
    ArgumentError, ParameterError
        As :func:`summary_data`.
    """
    _check_certified(example, trace)
    return Summary(example, trace)


def _summary(example: Example, trace: Trace, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(summary_data(example, trace), indent=2, ensure_ascii=False)
    note = get_notation(example.notation)
    names = [q for q in example.cell.quantities if q in trace.decimals[0]]
    mode = "hand calculation" if trace.hand_places else "exact values, correctly rounded"
    title = example.title or example.name
    if fmt == "text":
        lines = [
            title,
            "=" * len(title),
            f"cell: {example.cell.kind} ({example.cell.variant.label()})",
            "",
            _equations(example.cell, example.notation, "text"),
            "",
        ]
        for t, row in enumerate(trace.decimals, start=1):
            lines.append(f"Step t = {t} ({mode}):")
            shown = {n: _show(row[n]) for n in names if n in row}
            width = max(6, *map(len, shown.values()))
            lines += [f"  {note.text.get(n, n):<15} = {v:>{width}}" for n, v in shown.items()]
        return "\n".join(lines)
    eq = _equations(example.cell, example.notation, fmt)
    head = "| quantity | " + " | ".join(f"t = {t}" for t in range(1, len(trace) + 1)) + " |"
    if fmt == "markdown":
        rule = "|---|" + "---|" * len(trace)
        rows = [
            f"| ${note.latex.get(n, n)}$ | "
            + " | ".join(_show(r[n], fmt) for r in trace.decimals)
            + " |"
            for n in names
        ]
        return "\n".join([f"## {title}", "", eq, "", f"Values ({mode}):", "", head, rule, *rows])
    cols = "l" + "r" * len(trace)
    rows = [
        f"${note.latex.get(n, n)}$ & "
        + " & ".join(_show(r[n], fmt) for r in trace.decimals)
        + r" \\"
        for n in names
    ]
    heading = "quantity & " + " & ".join(f"$t = {t}$" for t in range(1, len(trace) + 1)) + r" \\"
    table = [rf"\begin{{tabular}}{{{cols}}}", heading, r"\hline", *rows, r"\end{tabular}"]
    return "\n".join([f"% {title} ({mode})", eq, "", *table])
