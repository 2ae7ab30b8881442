"""Step-by-step worked examples, like section 5 of the spec, from the cell's own equations.

For every quantity of every step a worked example shows the general formula, the
formula with the numbers substituted, the evaluated argument of the activation,
its definition where that helps (1/(1 + e^{−z}) for σ), and the rounded result.
Nothing here is written per gate: each line is printed from the cell's SymPy
equations by the printers in :mod:`symlstm.render.printers`, with numbers put in
as :class:`Shown` atoms. Every digit comes from a certified trace.

>>> from symlstm.examples import load_example
>>> worked = worked_example(load_example("seed-step"))
>>> print(worked.text().splitlines()[6])
f_t = σ(W_f·h_{t-1} + W_f·x_t) = σ(0.7 × 0.2 + 0.7 × 0.5) = σ(0.49)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy
from sympy import Add, ImmutableMatrix, MatAdd, Mul, Symbol
from sympy.printing.precedence import PRECEDENCE

from symlstm import budget
from symlstm.errors import ArgumentError, UnknownNameError
from symlstm.examples import Example
from symlstm.functions import hard_sigmoid, sigmoid
from symlstm.numeric.evaluation import Enclosure, Trace, hand_rounds_terms
from symlstm.numeric.rounding import round_places, with_increasing_precision
from symlstm.render.links import APPROX, EQUAL, line_relations, printed_chain
from symlstm.render.printers import LSTMLatexPrinter, LSTMTextPrinter
from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = ["MODES", "Shown", "WorkedExample", "worked_example"]

MODES: tuple[str, ...] = ("exact", "hand")

#: Narration for each stage of a step, keyed by the quantity it ends with.
NARRATION: Mapping[str, str] = {
    "f": "Forget Gate",
    "i": "Input Gate",
    "g": "Candidate Cell Value",
    "c": "Update Cell State",
    "o": "Output Gate",
    "h": "Hidden State",
}
#: Matrices larger than this (rows or columns) are shown with their middle elided.
MAX_SHOWN = 6
#: A LaTeX row wider than this many visible characters puts each link on a row of its own
#: (a 2 cm-margin page holds about 90 characters of display math).
LATEX_ROW_WIDTH = 80
#: A LaTeX table wider than this many visible characters is split into blocks of columns.
LATEX_TABLE_WIDTH = 70
_LATEX_RELATION = {EQUAL: "=", APPROX: r"\approx"}


class Shown(Symbol):
    """A number as a worked example shows it: its decimal text, printed as is.

    >>> from sympy import Mul
    >>> from symlstm.render.printers import text
    >>> text(Mul(Shown("0.7"), Shown("-0.2"), evaluate=False))
    '0.7 × (-0.2)'
    """

    is_shown = True

    @property
    def precedence(self) -> int:
        # A negative number needs parentheses wherever a sum would.
        return PRECEDENCE["Add"] if self.name.startswith("-") else PRECEDENCE["Atom"]

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self.name.replace("⋯", r"\cdots").replace("⋮", r"\vdots").replace("⋱", r"\ddots")

    def _sympystr(self, printer: Any) -> str:
        return self.name


def decimal_text(value: Fraction, places: int) -> str:
    """An exact value as a terminating decimal when it is one, else rounded to ``places``.

    >>> decimal_text(Fraction(49, 100), 3), decimal_text(Fraction(1, 3), 3)
    ('0.49', '0.333')
    """
    d = value.denominator
    for prime in (2, 5):
        while d % prime == 0:
            d //= prime
    if d == 1:
        text = round_places(value, 60).rstrip("0")
        return text.rstrip(".") if text.endswith(".") else text
    return round_places(value, places)


def shown_decimal(enc: Enclosure, places: int) -> str:
    """A certified value rounded to ``places``; an exact value that ends sooner is shown as it
    is (σ(0.49), not σ(0.490)).

    >>> from fractions import Fraction
    >>> shown_decimal(Enclosure(None, Fraction(49, 100)), 3)
    '0.49'
    """
    text = enc.round(places=places)
    if enc.exact is not None and "." in text and Fraction(text) == enc.exact:
        text = text.rstrip("0").rstrip(".")
    return text


def substitute_shown(expr: sympy.Basic, mapping: Mapping) -> sympy.Basic:
    """Put displayed numbers in for symbols, keeping the expression's structure as written."""
    with sympy.evaluate(False):
        return signed(expr.xreplace(mapping))


def signed(expr: sympy.Basic) -> sympy.Basic:
    """Negative numbers added in a sum written as subtractions, the way a textbook does:
    ``0.25 - 0.2``, not ``0.25 + -0.2``.

    >>> from symlstm.render.printers import latex
    >>> latex(signed(Add(Shown("0.25"), Shown("-0.2"), evaluate=False)))
    '0.25 - 0.2'
    """
    if (
        not isinstance(expr, sympy.Basic)
        or not expr.args
        or isinstance(expr, Shown | sympy.MatrixBase)
        or getattr(expr, "is_Matrix", False)
    ):
        return expr  # matrices print their entries as they are
    with sympy.evaluate(False):
        args = [signed(a) for a in expr.args]
        if isinstance(expr, Add):
            args = [args[0]] + [_minus(a) for a in args[1:]]
            return Add(*args, evaluate=False)
        return expr.func(*args)


def _minus(term: sympy.Basic) -> sympy.Basic:
    if isinstance(term, Shown) and term.name.startswith("-"):
        return Mul(sympy.S.NegativeOne, Shown(term.name[1:]), evaluate=False)
    return term


@dataclass(frozen=True)
class Line:
    """One displayed chain ``lhs = chain[0] = chain[1] = …``, optionally with a note."""

    lhs: sympy.Basic
    chain: tuple[sympy.Basic, ...]
    note: str = ""


@dataclass(frozen=True)
class Stage:
    """The lines that compute one quantity, with their narration."""

    quantity: str
    heading: str
    lines: tuple[Line, ...]


@dataclass
class WorkedExample:
    """A rendered-to-be worked example: stages per step and a summary table.

    Render with :meth:`latex`, :meth:`markdown`, :meth:`text` or :meth:`html`; Jupyter
    shows it through ``_repr_html_``, ``_repr_latex_`` and ``_repr_markdown_``.
    """

    example: Example
    mode: str
    notation: Notation
    steps: list[list[Stage]]
    summary: list[dict[str, str]]  # per step: quantity → rounded text
    differences: list[tuple[int, str, str, str]] = field(default_factory=list)
    marks: dict[tuple[int, str], str] = field(default_factory=dict)  # (t, q) → footnote
    narration: bool = True
    # How the sections and the table are labelled (a backward pass runs t = T … 1 and sums
    # its table over the steps).
    title: str | None = None
    step_numbers: list[int] | None = None
    columns: list[str] | None = None
    summary_title: str = "Final values"
    row_labels: list[str] | None = None
    row_labels_latex: list[str] | None = None  # LaTeX of the row labels, where they need it
    row_heading: str = "$t$"

    def numbers(self) -> list[int]:
        return self.step_numbers or list(range(1, len(self.steps) + 1))

    def labels(self) -> list[str]:
        return self.row_labels or [str(t) for t in range(1, len(self.summary) + 1)]

    def display_title(self) -> str:
        return self.title or self.example.title or self.example.name

    # -- printing -------------------------------------------------------------

    def _latex_printer(self) -> LSTMLatexPrinter:
        return LSTMLatexPrinter({"notation": self.notation, "mat_str": "bmatrix", "mat_delim": ""})

    def _line_latex(self, line: Line, printer: LSTMLatexPrinter) -> str:
        lhs, parts = printed_chain(printer, line)
        if not parts:
            return f"{lhs}"
        # Matrices are wide, and so are long sums: then one link of the chain a row.
        wide = self.example.cell.is_vector or (
            _visible_width(lhs) + sum(_visible_width(p) + 3 for _, p in parts) > LATEX_ROW_WIDTH
        )
        text = f"{lhs} &{_LATEX_RELATION[parts[0][0]]} {parts[0][1]}"
        for rel, part in parts[1:]:
            sep = " \\\\\n&" if wide else " "
            text += f"{sep}{_LATEX_RELATION[rel]} {part}"
        if line.note:
            text += rf" && {_latex_note(line.note)}"
        return text

    def summary_columns(self) -> list[str]:
        wanted = self.columns or ["x", "f", "i", "g", "c", "o", "h"]
        return [q for q in wanted if q in self.summary[0]]

    def latex(self, *, standalone: bool = False, diagram: bool = False) -> str:
        """A LaTeX fragment of ``align*`` environments (or a whole document).

        ``diagram``: draw the cell with each step's values at the start of the step (a
        TikZ picture, :mod:`symlstm.render.diagram`; needs ``\\usepackage{tikz}``, which
        a ``standalone`` document then loads).
        """
        printer = self._latex_printer()
        out: list[str] = []
        if self.source_text():
            out.append(rf"\noindent\textit{{Source:}} {_latex_prose(self.source_text())}\par")
        out.append(rf"\noindent {_latex_prose(self.mode_sentence())}\par")
        for t, stages in zip(self.numbers(), self.steps, strict=True):
            if len(self.steps) > 1:
                out.append(rf"\subsection*{{Time step $t = {t}$}}")
            if diagram:
                from symlstm.render.diagram import worked_diagram

                figure = worked_diagram(self, t).tikz()
                out.append(f"\\begin{{center}}\n{figure}\n\\end{{center}}")
            for k, stage in enumerate(stages, start=1):
                if self.narration:
                    out.append(rf"\paragraph{{Step {k} -- {_latex_text(stage.heading)}}}")
                rows = " \\\\\n".join(self._line_latex(line, printer) for line in stage.lines)
                out.append(f"\\begin{{align*}}\n{rows}\n\\end{{align*}}")
        out.append(self._latex_summary(printer))
        for note in self.notes():
            out.append(rf"\par\medskip\noindent {_latex_prose(note)}\par")
        body = "\n".join(out)
        if not standalone:
            return body
        from symlstm.render.document import standalone as wrap

        return wrap(body, title=self.display_title(), packages=("tikz",) if diagram else ())

    def _latex_summary(self, printer: LSTMLatexPrinter) -> str:
        cols = self.summary_columns()
        labels = self.row_labels_latex or [_latex_text(x) for x in self.labels()]
        cells = {
            q: [
                _latex_number(row[q]) + (r"$^{\dagger}$" if (t, q) in self.marks else "")
                for t, row in enumerate(self.summary, 1)
            ]
            for q in cols
        }
        heads = {q: f"${printer.doprint(self.symbol(q))}$" for q in cols}
        # A wide table is set as several narrower ones, each with the row labels.
        blocks: list[list[str]] = [[]]
        width = max(_visible_width(x) for x in [self.row_heading, *labels])
        used = width
        for q in cols:
            w = max(_visible_width(x) for x in [heads[q], *cells[q]]) + 2
            if blocks[-1] and used + w > LATEX_TABLE_WIDTH:
                blocks.append([])
                used = width
            blocks[-1].append(q)
            used += w
        tables = []
        for block in blocks:
            rows = [
                f"{label} & " + " & ".join(cells[q][k] for q in block) + r" \\"
                for k, label in enumerate(labels)
            ]
            tables.append(
                "\n".join(
                    [
                        rf"\begin{{tabular}}{{r{'r' * len(block)}}}",
                        f"{self.row_heading} & " + " & ".join(heads[q] for q in block) + r" \\",
                        r"\hline",
                        *rows,
                        r"\end{tabular}",
                    ]
                )
            )
        notes = [
            rf"\par\noindent $^{{\dagger}}$ {_latex_prose(note)}" for note in self.marks.values()
        ]
        title = (
            rf"\par\medskip\noindent\textbf{{{self.summary_title}}}\par" if self.narration else ""
        )
        table = "\\begin{center}\n" + "\n\\par\\medskip\n".join(tables) + "\n\\end{center}"
        return "\n".join(filter(None, [title, table, *notes]))

    def markdown(self) -> str:
        """Markdown with ``$$`` display math (GitHub, MyST and Jupyter render it)."""
        printer = self._latex_printer()
        out: list[str] = [f"## {self.display_title()}", ""]
        if self.source_text():
            out += [f"*Source:* {self.source_text()}", ""]
        out += [self.mode_sentence(), ""]
        for t, stages in zip(self.numbers(), self.steps, strict=True):
            if len(self.steps) > 1:
                out += [f"### Time step t = {t}", ""]
            for k, stage in enumerate(stages, start=1):
                if self.narration:
                    out += [f"**Step {k} – {stage.heading}**", ""]
                rows = " \\\\\n".join(self._line_latex(line, printer) for line in stage.lines)
                out += ["$$", "\\begin{aligned}", rows, "\\end{aligned}", "$$", ""]
        cols = self.summary_columns()
        out += [f"**{self.summary_title}**" if self.narration else "", ""]
        heads = " | ".join(f"${printer.doprint(self.symbol(q))}$" for q in cols)
        out.append(f"| {self.row_heading} | {heads} |")
        out.append("|---|" + "---|" * len(cols))
        for t, (label, row) in enumerate(zip(self.labels(), self.summary, strict=True), 1):
            cells = [
                _markdown_number(row[q]) + (" †" if (t, q) in self.marks else "") for q in cols
            ]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out += [""] + [f"† {note}" for note in self.marks.values()]
        for note in self.notes():
            out += ["", note]
        return "\n".join(out).rstrip() + "\n"

    def text(self) -> str:
        """Plain Unicode text."""
        printer = LSTMTextPrinter({"notation": self.notation})
        title = self.display_title()
        out = [title, "=" * len(title)]
        if self.source_text():
            out.append(f"Source: {self.source_text()}")
        out += [self.mode_sentence(), ""]
        for t, stages in zip(self.numbers(), self.steps, strict=True):
            if len(self.steps) > 1:
                out += [f"Time step t = {t}", "-" * 16]
            for k, stage in enumerate(stages, start=1):
                if self.narration:
                    out.append(f"Step {k} – {stage.heading}")
                for line in stage.lines:
                    lhs, parts = printed_chain(printer, line)
                    note = f"   ({line.note})" if line.note else ""
                    links = "".join(f" {rel} {part}" for rel, part in parts)
                    out.append(f"{lhs}{links}{note}")
                out.append("")
        cols = self.summary_columns()
        names = [printer.doprint(self.symbol(q)) for q in cols]
        width = max(8, *(len(r[q]) + 2 for r in self.summary for q in cols))
        out.append(f"{self.summary_title}:" if self.narration else "")
        head = self.row_heading.strip("$")
        out.append(f"{head:>3} " + "".join(f"{n:>{width}}" for n in names))
        for t, (label, row) in enumerate(zip(self.labels(), self.summary, strict=True), 1):
            cells = [row[q] + ("†" if (t, q) in self.marks else "") for q in cols]
            out.append(f"{label:>3} " + "".join(f"{c:>{width}}" for c in cells))
        out += [f"† {note}" for note in self.marks.values()]
        for note in self.notes():
            out += ["", note]
        return "\n".join(out).rstrip() + "\n"

    def _repr_latex_(self) -> str:
        return self.markdown().split("\n", 1)[1]

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def html(self, *, standalone: bool = True, diagram: bool = True) -> str:
        """A web page (or, not ``standalone``, a fragment): MathML, tables and, with
        ``diagram``, the cell drawn at each step (:func:`symlstm.render.html.worked_html`)."""
        from symlstm.render.html import worked_html

        return worked_html(self, standalone=standalone, diagram=diagram)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def symbol(self, name: str) -> sympy.Basic:
        cell = self.example.cell
        return cell.symbols.get(name, cell.parameters.get(name))

    def _has_approx(self) -> bool:
        return any(
            APPROX in line_relations(line)
            for stages in self.steps
            for stage in stages
            for line in stage.lines
        )

    def _approx_text(self) -> str:
        """What ≈ means, said once at the end of an example that uses it."""
        if self.mode == "hand":
            return (
                "≈ marks a result that rounds to 0 at the places shown but is not exactly 0; "
                "every = holds for the numbers shown."
            )
        return (
            "≈ marks a result that is the exact value correctly rounded where the rounded "
            "numbers shown on its left give a different last digit (or a value shown as 0 "
            "that is not exactly 0); every = holds for the numbers shown. Hand calculation "
            "(--hand) makes every line exact arithmetic on the numbers shown."
        )

    def notes(self) -> list[str]:
        """The closing notes: where the modes differ, and what ≈ means."""
        notes = [self._differences_text()] if self.differences else []
        if self._has_approx():
            notes.append(self._approx_text())
        return notes

    def source_text(self) -> str:
        return self.example.source.strip()

    def mode_sentence(self) -> str:
        if self.mode == "hand":
            return (
                "Hand calculation: each value is rounded to the digits shown before later "
                "steps use it."
            )
        return "Every value is the exact value, correctly rounded (certified)."

    def _differences_text(self) -> str:
        other = "hand calculation" if self.mode == "exact" else "exact values"
        names = self.notation.text
        items = "; ".join(
            f"{names.get(q, q)} at t = {t}: {a} here, {b} by {other}"
            for t, q, a, b in self.differences
        )
        return f"Where the two rounding modes differ: {items}."


def _latex_text(text: str) -> str:
    from symlstm.render.document import escape_latex

    return escape_latex(text)


def _latex_number(text: str) -> str:
    """A table entry as LaTeX: numbers and tuples of them in math, for a real minus sign."""
    return f"${text}$" if text.startswith(("(", "-")) else text


def _markdown_number(text: str) -> str:
    """A Markdown table entry: a negative number or a tuple in math, for a real minus sign."""
    return f"${text}$" if "-" in text else text


def _latex_prose(text: str) -> str:
    """Prose with numbers in it as LaTeX: negative numbers in math (−0.24 with a real minus),
    ≈ as \\approx, the rest escaped."""
    out, pos = [], 0
    for m in re.finditer(r"(?<![\w.])-\d+(?:\.\d+)?|≈", text):
        out.append(_latex_text(text[pos : m.start()]))
        token = m.group()
        out.append(r"$\approx$" if token == "≈" else f"${token}$")
        pos = m.end()
    out.append(_latex_text(text[pos:]))
    return "".join(out)


def _latex_note(note: str) -> str:
    """A line's note after ``&&`` (in math): its words in ``\\text``, its numbers as math,
    so a minus sign is a real one (and no ``$`` inside ``\\text``, which MathJax does not
    read).

    >>> print(_latex_note("exact value: -0.21"))
    \\text{exact value: }-0.21
    """
    out, pos = [], 0
    for m in re.finditer(r"-?\d+(?:\.\d+)?", note):
        if note[pos : m.start()]:
            out.append(rf"\text{{{_latex_text(note[pos : m.start()])}}}")
        out.append(m.group())
        pos = m.end()
    if note[pos:]:
        out.append(rf"\text{{{_latex_text(note[pos:])}}}")
    return "".join(out)


def _visible_width(tex: str) -> int:
    """About how many characters wide a LaTeX expression prints (commands and braces not
    counted, a matrix as its widest row, ``\\frac`` as its wider part)."""
    tex = re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", _matrix_width, tex, flags=re.S)
    tex = re.sub(r"\\(left|right)(.)", r"\2", tex)
    tex = re.sub(r"\\(times|cdot|odot|approx|sigma|tanh|tilde|delta|cdots|vdots|ddots)\b", "x", tex)
    tex = re.sub(r"\\[a-zA-Z]+", "", tex)
    tex = re.sub(r"[{}_^]", "", tex)
    return len(tex)


def _matrix_width(m: re.Match) -> str:
    rows = m.group(1).split("\\\\")
    widest = max(sum(_visible_width(c) + 2 for c in row.split("&")) for row in rows)
    return "x" * (widest + 2)


# -- building ---------------------------------------------------------------------


def _drop_zero_terms(expr: sympy.Basic, zeros: set) -> sympy.Basic:
    """Remove the terms of sums that contain a parameter whose value is exactly zero."""
    if not zeros or not expr.args:
        return expr
    if isinstance(expr, Add | MatAdd):
        kept = [a for a in expr.args if not (a.free_symbols & zeros)]
        if not kept and isinstance(expr, MatAdd):
            return expr  # a vector sum of zeros stays a vector: show its terms
        kept = [_drop_zero_terms(a, zeros) for a in kept] or [sympy.S.Zero]
        if len(kept) == 1:
            return kept[0]
        return MatAdd(*kept) if isinstance(expr, MatAdd) else Add(*kept, evaluate=False)
    with sympy.evaluate(False):
        return expr.func(*(_drop_zero_terms(a, zeros) for a in expr.args))


def _elide(rows: list[list[str]]) -> list[list[str]]:
    """Keep the first and last entries of long rows and columns, with ⋯ ⋮ ⋱ between."""

    def cut(seq: list, filler: Any) -> list:
        if len(seq) <= MAX_SHOWN:
            return seq
        half = (MAX_SHOWN - 1) // 2
        return [*seq[:half], filler, *seq[-half:]]

    rows = [cut(r, "⋯") for r in rows]
    width = len(rows[0])
    filler_row = ["⋱" if r == "⋯" else "⋮" for r in rows[0]] if width else []
    return cut(rows, filler_row)


class _Builder:
    def __init__(
        self,
        example: Example,
        trace: Trace,
        other: Trace | None,
        mode: str,
        note: Notation,
        drop_zeros: bool,
    ) -> None:
        self.example, self.trace, self.other, self.mode = example, trace, other, mode
        self.cell = example.cell
        self.notation = note
        self.zeros = set()
        if drop_zeros:
            for name, value in example.parameters.items():
                flat = _flatten(value)
                if all(v == 0 for v in flat):
                    self.zeros.add(self.cell.parameters[name])

    # shown values ------------------------------------------------------------

    def places(self, quantity: str) -> int:
        return self.example.places(quantity)

    def decimal(self, enc: Enclosure, places: int, *, trim: bool = False) -> str:
        """The rounded value; with ``trim``, as :func:`shown_decimal` gives it."""
        return shown_decimal(enc, places) if trim else enc.round(places=places)

    def shown(self, name: str, t: int) -> sympy.Basic:
        """The displayed value of a symbol at step t: a Shown atom or a matrix of them."""
        if name in self.example.parameters:
            value = self.example.parameters[name]
            texts = _map(
                value, lambda v: decimal_text(Fraction(int(v.p), int(v.q)), self.places("default"))
            )
        else:
            places = self.places({"h_prev": "h", "c_prev": "c"}.get(name, name))
            given = {
                "x": self.example.inputs[t - 1],
                "h_prev": self.example.h0,
                "c_prev": self.example.c0,
            }
            if name == "x" or (t == 1 and name in given):
                texts = _map(
                    given[name], lambda v: decimal_text(Fraction(int(v.p), int(v.q)), places)
                )
            else:
                texts = _map(self.trace[name, t], lambda e: self.decimal(e, places, trim=True))
        return _as_shown(texts)

    def substitute(self, expr: sympy.Basic, t: int) -> sympy.Basic:
        names = {**self.cell.parameters, **self.cell.symbols}
        mapping = {
            sym: self.shown(name, t)
            for name, sym in names.items()
            if sym in expr.free_symbols or _has_matrix_symbol(expr, sym)
        }
        return substitute_shown(expr, mapping)

    # stages ------------------------------------------------------------------

    def value_text(self, quantity: str, t: int, trace: Trace | None = None) -> str:
        trace = trace or self.trace
        return _show_text(
            _map(trace[quantity, t], lambda e: self.decimal(e, self.places(quantity)))
        )

    def result(self, quantity: str, t: int) -> tuple[sympy.Basic, str]:
        texts = _map(self.trace[quantity, t], lambda e: self.decimal(e, self.places(quantity)))
        note = ""
        if self.other is not None:
            other = self.value_text(quantity, t, self.other)
            if other != _show_text(texts):
                which = "hand calculation" if self.mode == "exact" else "exact value"
                note = f"{which}: {other}"
        return _as_shown(texts), note

    def stage(self, quantity: str, t: int) -> Stage:
        eqs = {str(eq.lhs): eq for eq in self.cell.equations()}
        inline = {str(eq.lhs): eq for eq in self.cell.equations(inline=True)}
        sym = self.cell.symbols[quantity]
        lines: list[Line] = []
        if f"z_{quantity}" in eqs:
            z = self.cell.symbols[f"z_{quantity}"]
            formula = _drop_zero_terms(inline[quantity].rhs, self.zeros)
            substituted = self.substitute(formula, t)
            act = eqs[quantity].rhs
            z_shown = self.shown(f"z_{quantity}", t)
            evaluated = substitute_shown(act, {z: z_shown})
            lines.append(Line(sym, (formula, substituted, evaluated)))
            expanded = _expanded(evaluated)
            value, note = self.result(quantity, t)
            chain = (expanded, value) if expanded is not None else (value,)
            lines.append(Line(sym if expanded is not None else evaluated, chain, note))
        else:
            rhs = eqs[quantity].rhs
            if quantity == "h":  # the spec computes tanh(C_t) first, then h_t
                lines.append(self.stage("s", t).lines[0])
            formula = _drop_zero_terms(rhs, self.zeros)
            chain: list[sympy.Basic] = [formula] if formula.free_symbols else []
            if formula.free_symbols:
                chain.append(self.substitute(formula, t))
            terms = self.term_values(formula, t, quantity)
            if terms is not None:
                chain.append(terms)
            value, note = self.result(quantity, t)
            chain.append(value)
            lines.append(Line(sym, tuple(chain), note))
        return Stage(quantity, NARRATION.get(quantity, quantity), tuple(lines))

    def term_values(self, formula: sympy.Basic, t: int, quantity: str) -> sympy.Basic | None:
        """0.248 + 0.203: each product of a sum, rounded at the quantity's places; shown
        exactly where hand calculation rounds them (one rule for both)."""
        if not isinstance(formula, Add) or not hand_rounds_terms(self.cell, quantity):
            return None
        texts = [
            self.decimal(self.trace.enclose(term, t), self.places(quantity))
            for term in formula.args
        ]
        return signed(Add(*(Shown(s) for s in texts), evaluate=False))

    def steps(self) -> list[list[Stage]]:
        order = [q for q in ("f", "i", "g", "c", "o", "h") if q in self.cell.quantities]
        if self.cell.variant.forget_gate != "standard":
            order.remove("f")
            order.insert(order.index("i") + 1, "f")
        steps = len(self.trace)
        out = []
        for t in range(1, steps + 1):
            budget.progress(t, steps)
            out.append([self.stage(q, t) for q in order])
        return out

    def summary(self) -> list[dict[str, str]]:
        rows = []
        for t in range(1, len(self.trace) + 1):
            row = {"x": _show_text(_as_text(self.shown("x", t)))}
            for q in ("f", "i", "g", "c", "o", "h"):
                row[q] = self.value_text(q, t)
            rows.append(row)
        return rows


def _flatten(value: Any) -> list:
    if isinstance(value, tuple):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _map(value: Any, fn: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_map(v, fn) for v in value)
    return fn(value)


def _as_shown(texts: Any) -> sympy.Basic:
    if not isinstance(texts, tuple):
        return Shown(texts)
    rows = [list(r) for r in texts] if isinstance(texts[0], tuple) else [[v] for v in texts]
    rows = _elide(rows)
    return ImmutableMatrix([[Shown(v) for v in row] for row in rows])


def _as_text(shown: sympy.Basic) -> Any:
    if isinstance(shown, Shown):
        return shown.name
    return tuple(str(v) for v in shown)


def _show_text(texts: Any) -> str:
    if isinstance(texts, tuple):
        flat = [t for t in _flatten(texts)]
        return "(" + ", ".join(flat) + ")"
    return texts


def _has_matrix_symbol(expr: sympy.Basic, sym: sympy.Basic) -> bool:
    return isinstance(sym, sympy.MatrixSymbol) and expr.has(sym)


def _expanded(evaluated: sympy.Basic) -> sympy.Basic | None:
    """The definition of the activation at its argument, where one helps: 1/(1 + e^{−z})."""
    if isinstance(evaluated, sigmoid) and isinstance(evaluated.args[0], Shown):
        z = evaluated.args[0]
        with sympy.evaluate(False):
            # e^{0.36} for z = −0.36, not e^{− −0.36}
            power = Shown(z.name[1:]) if z.name.startswith("-") else -z
            return 1 / (1 + sympy.exp(power))
    if isinstance(evaluated, hard_sigmoid) and isinstance(evaluated.args[0], Shown):
        with sympy.evaluate(False):
            return sympy.Max(
                0, sympy.Min(1, Mul(evaluated.slope, evaluated.args[0]) + evaluated.offset)
            )
    return None


def _claim_marks(example: Example, claims: Any, trace_mode: str) -> dict[tuple[int, str], str]:
    """Footnotes for summary entries that a document claims wrongly (by the audit)."""
    if claims is None:
        return {}
    from symlstm.claims.audit import audit

    report = audit(claims)
    marks = {}
    for r in report.results:
        ex = report.examples.get(r.claim.example)
        if ex is None or ex.name != example.name or r.holds:
            continue
        marks[(r.claim.t, r.claim.quantity)] = (
            f"{r.claim.where}: the document claims {r.claim.claimed}; "
            f"the exact value rounds to {r.exact.rounded}, hand calculation gives "
            f"{r.hand.rounded}"
        )
    return marks


def worked_example(
    example: Example,
    *,
    mode: str = "exact",
    notation: str | Notation | None = None,
    narration: bool = True,
    drop_zero_terms: bool = True,
    claims: Any = None,
    allow_large: bool = False,
) -> WorkedExample:
    """Build the worked example of an example, every digit certified.

    Parameters
    ----------
    example
        A loaded example (:func:`symlstm.examples.load_example`).
    mode
        ``"exact"``: every value is the exact value correctly rounded;
        ``"hand"``: each value is rounded before later steps use it, as the spec does.
        Where the other mode gives different digits the line says so.
    notation
        ``"spec"``, ``"canonical"`` or a :class:`~symlstm.symbols.Notation`;
        default: the example's.
    narration
        Headings such as "Step 1 – Forget Gate"; off gives a bare derivation.
    drop_zero_terms
        Leave out terms whose parameter is exactly zero (the spec's b = 0).
    claims
        A claims file (or :class:`~symlstm.claims.audit.ClaimsDocument`) to audit: summary
        entries it claims wrongly are marked.
    allow_large
        Build it even if its estimated time is over the work budget
        (:mod:`symlstm.budget`); otherwise such an example raises
        :class:`~symlstm.errors.WorkBudgetError` before any work.

    >>> from symlstm.examples import load_example
    >>> w = worked_example(load_example("seed-step"), mode="hand", narration=False)
    >>> [row["c"] for row in w.summary]
    ['0.451']

    Raises
    ------
    ArgumentError
        If ``example`` is not an :class:`~symlstm.examples.Example`, ``mode`` not a
        string, or ``narration`` or ``drop_zero_terms`` not a bool.
    UnknownNameError
        For an unknown mode or notation.
    WorkBudgetError
        If the example's steps and cell size are over the work budget (``allow_large``).
    """
    if not isinstance(example, Example):
        raise ArgumentError(f"example must be an Example, not {type(example).__name__}")
    if not isinstance(mode, str):
        raise ArgumentError(f"mode must be a string, not {type(mode).__name__}")
    for what, flag in (("narration", narration), ("drop_zero_terms", drop_zero_terms)):
        if not isinstance(flag, bool):
            raise ArgumentError(f"{what} must be True or False, not {type(flag).__name__}")
    if mode not in MODES:
        raise UnknownNameError(f"unknown rounding mode {mode!r}; known: {', '.join(MODES)}")
    note = get_notation(notation) if notation is not None else example.notation_with_names()

    def attempt(prec: int) -> WorkedExample:
        exact = example.evaluate(method="interval", prec=prec)
        hand = example.evaluate(method="interval", prec=prec, hand_places=example.hand_places)
        trace, other = (exact, hand) if mode == "exact" else (hand, exact)
        builder = _Builder(example, trace, other, mode, note, drop_zero_terms)
        steps = builder.steps()
        summary = builder.summary()
        other_builder = _Builder(example, other, None, mode, note, drop_zero_terms)
        other_summary = other_builder.summary()
        differences = [
            (t, q, row[q], orow[q])
            for t, (row, orow) in enumerate(zip(summary, other_summary, strict=True), start=1)
            for q in ("f", "i", "g", "c", "o", "h")
            if row[q] != orow[q]
        ]
        return WorkedExample(example, mode, note, steps, summary, differences, {}, narration)

    steps = len(example.inputs)
    with budget.work("worked", example.cell, steps, allow_large=allow_large):
        worked = with_increasing_precision(attempt, what=f"the worked example {example.name}")
        worked.marks = _claim_marks(example, claims, mode)
    return worked
