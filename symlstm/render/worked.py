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
from dataclasses import dataclass, field
from typing import Any

import sympy

from symlstm import budget
from symlstm.errors import ArgumentError, UnknownNameError
from symlstm.examples import Example
from symlstm.numeric.evaluation import Trace
from symlstm.numeric.rounding import with_increasing_precision
from symlstm.render.links import APPROX, EQUAL, line_relations, printed_chain
from symlstm.render.printers import LSTMLatexPrinter, LSTMTextPrinter
from symlstm.render.worked_lines import Builder, Line, Stage
from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = ["MODES", "WorkedExample", "worked_example"]

MODES: tuple[str, ...] = ("exact", "hand")

#: A LaTeX row wider than this many visible characters puts each link on a row of its own
#: (a 2 cm-margin page holds about 90 characters of display math).
LATEX_ROW_WIDTH = 80
#: A LaTeX table wider than this many visible characters is split into blocks of columns.
LATEX_TABLE_WIDTH = 70
_LATEX_RELATION = {EQUAL: "=", APPROX: r"\approx"}


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
    # The certified trace of the exact values the example was worked from (its precision
    # decided every digit shown), for views that need more of it (the diagram's products).
    exact_trace: Trace | None = field(default=None, repr=False, compare=False)

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
        builder = Builder(example, trace, other, mode, note, drop_zero_terms)
        steps = builder.steps()
        summary = builder.summary()
        other_builder = Builder(example, other, None, mode, note, drop_zero_terms)
        other_summary = other_builder.summary()
        differences = [
            (t, q, row[q], orow[q])
            for t, (row, orow) in enumerate(zip(summary, other_summary, strict=True), start=1)
            for q in ("f", "i", "g", "c", "o", "h")
            if row[q] != orow[q]
        ]
        return WorkedExample(
            example, mode, note, steps, summary, differences, {}, narration, exact_trace=exact
        )

    steps = len(example.inputs)
    with budget.work("worked", example.cell, steps, allow_large=allow_large):
        worked = with_increasing_precision(attempt, what=f"the worked example {example.name}")
        worked.marks = _claim_marks(example, claims, mode)
    return worked
