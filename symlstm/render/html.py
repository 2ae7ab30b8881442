"""Web pages: worked examples, derivations, gradients, audits and validations as HTML.

One self-contained file that works offline: math as presentation MathML
(:mod:`symlstm.render.mathml`; current browsers render MathML Core with no script), the
cell drawn as inline SVG at each step of a worked example (:mod:`symlstm.render.diagram`)
and a validation's error along the sequence (:mod:`symlstm.render.plots`),
tables as HTML tables, an audit's verdicts coloured with a legend. No CDN, no
JavaScript. The page is readable on a phone: its content is at most 48 em wide, a
wide formula or table scrolls inside its own block, and the page itself never scrolls
sideways.

Worked examples, audits and validations are written here; derivations and gradients by
:mod:`symlstm.render.derivation` with the same pieces. Every function returns a whole
page (``standalone=True``) or a fragment for a notebook (what ``_repr_html_`` shows).

>>> from symlstm.examples import load_example
>>> from symlstm.render.worked import worked_example
>>> page = worked_html(worked_example(load_example("seed-step")))
>>> page.startswith("<!DOCTYPE html>"), "<math" in page, "<svg" in page
(True, True, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from symlstm.errors import ArgumentError
from symlstm.render.links import printed_chain

__all__ = [
    "CSS",
    "audit_html",
    "page",
    "validation_html",
    "worked_html",
]

#: The page's style sheet (inlined in every page).
CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: "DejaVu Sans", system-ui, sans-serif; line-height: 1.5;
       color: #1b1b1b; background: #fff; }
.symlstm { max-width: 48em; margin: 0 auto; padding: 0 12px 2em; overflow-wrap: anywhere; }
.symlstm h1 { font-size: 1.45em; line-height: 1.25; }
.symlstm h2 { font-size: 1.2em; margin-top: 1.6em; }
.symlstm h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
.symlstm .math { overflow-x: auto; overflow-y: hidden; max-width: 100%; padding: 2px 0; }
.symlstm .math.cont { padding-left: 1.5em; }
.symlstm math { font-size: 1.1em; }
.symlstm .eq { margin: 0.5em 0; }
.symlstm .note { color: #555; font-size: 0.9em; padding-left: 1.5em; }
.symlstm pre { white-space: pre-wrap; overflow-x: auto; font-size: 0.85em; }
.symlstm figure { margin: 1em 0; }
.symlstm figure svg { display: block; width: 100%; max-width: 600px; height: auto; }
.symlstm figcaption { font-size: 0.85em; color: #555; }
.symlstm .table { overflow-x: auto; max-width: 100%; margin: 0.8em 0; }
.symlstm table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.symlstm th, .symlstm td { padding: 0.2em 0.6em; border-bottom: 1px solid #ddd;
                           text-align: right; white-space: nowrap; }
.symlstm td.text, .symlstm th.text { text-align: left; white-space: normal; min-width: 16em; }
.symlstm .holds, .symlstm .pass { background: #e3f4e1; color: #17571a; }
.symlstm .wrong, .symlstm .fail { background: #fbe1e0; color: #8a1c17; }
.symlstm .legend span { display: inline-block; padding: 0 0.5em; margin-right: 0.5em;
                        border-radius: 3px; }
"""


def page(title: str, body: str) -> str:
    """A whole HTML5 page around ``body`` (HTML), with the style sheet inlined.

    >>> print(page("A & B", "<p>x</p>").splitlines()[0])
    <!DOCTYPE html>
    """
    if not isinstance(title, str) or not isinstance(body, str):
        raise ArgumentError("title and body must be strings")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def wrap_page(title: str, parts: Iterable[str], standalone: bool) -> str:
    body = '<div class="symlstm">\n' + "\n".join(parts) + "\n</div>"
    return page(title, body) if standalone else body


def _math(content: str, cls: str = "math") -> str:
    return f'<div class="{cls}"><math displaystyle="true">{content}</math></div>'


def _rel(rel: str) -> str:
    return f"<mo>{escape(rel)}</mo>"


def chain_html(lhs: str, parts: list[tuple[str, str]], note: str = "") -> str:
    """One displayed chain: ``lhs = a`` on a line, each further link on a line of its own."""
    if not parts:
        rows = [_math(lhs)]
    else:
        rows = [_math(f"<mrow>{lhs}{_rel(parts[0][0])}{parts[0][1]}</mrow>")]
        rows += [_math(f"<mrow>{_rel(rel)}{part}</mrow>", "math cont") for rel, part in parts[1:]]
    if note:
        rows.append(f'<div class="note">{escape(note)}</div>')
    return '<div class="eq">' + "".join(rows) + "</div>"


def table_html(
    head: list[str],
    rows: list[list[str]],
    classes: list[str] | None = None,
    text_columns: tuple[int, ...] = (),
) -> str:
    """An HTML table; ``head`` and ``rows`` are HTML already (escape text before);
    ``text_columns`` are left-aligned and wrap."""
    out = ['<div class="table"><table>', "<thead><tr>"]
    out += [
        f'<th class="text">{h}</th>' if k in text_columns else f"<th>{h}</th>"
        for k, h in enumerate(head)
    ]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        cls = f' class="{classes[k]}"' if classes and classes[k] else ""
        cells = (
            f'<td class="text">{c}</td>' if j in text_columns else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def inline_math(markup: str) -> str:
    return f"<math>{markup}</math>"


# -- worked examples -------------------------------------------------------------------------


def worked_html(worked: Any, *, standalone: bool = True, diagram: bool = True) -> str:
    """A worked example (forward, or a worked gradient) as HTML.

    Parameters
    ----------
    worked
        A :class:`~symlstm.render.worked.WorkedExample`.
    standalone
        A whole page (else a fragment, for a notebook).
    diagram
        Draw the cell with the step's values at the start of each step (forward
        examples only).
    """
    if not all(hasattr(worked, a) for a in ("steps", "summary", "notation", "display_title")):
        raise ArgumentError(f"worked must be a WorkedExample, not {type(worked).__name__}")
    return wrap_page(worked.display_title(), worked_parts(worked, diagram), standalone)


def worked_parts(worked: Any, diagram: bool) -> list[str]:
    from symlstm.render.mathml import LSTMMathMLPrinter

    printer = LSTMMathMLPrinter({"notation": worked.notation})
    title = worked.display_title()
    out = [f"<h1>{escape(title)}</h1>"]
    if worked.source_text():
        out.append(f"<p><em>Source:</em> {escape(worked.source_text())}</p>")
    out.append(f"<p>{escape(worked.mode_sentence())}</p>")
    forward = worked.columns is None
    for t, stages in zip(worked.numbers(), worked.steps, strict=True):
        if len(worked.steps) > 1:
            out.append(f"<h2>Time step <math><mi>t</mi><mo>=</mo><mn>{t}</mn></math></h2>")
        if diagram and forward:
            from symlstm.render.diagram import worked_diagram

            svg = worked_diagram(worked, t).svg(ident=f"lstm-step{t}")
            out.append(
                f"<figure>{svg}<figcaption>The cell at t = {t}, every wire labelled with "
                "its value.</figcaption></figure>"
            )
        for k, stage in enumerate(stages, start=1):
            if worked.narration:
                out.append(f"<h3>Step {k} – {escape(stage.heading)}</h3>")
            for line in stage.lines:
                lhs, parts = printed_chain(printer, line)
                out.append(chain_html(lhs, parts, line.note))
    out.append(_worked_summary(worked, printer))
    if forward and len(worked.summary) > 1 and not worked.example.cell.is_vector:
        from symlstm.render.plots import sequence_plot

        out.append(
            f"<figure>{sequence_plot(worked)}<figcaption>The gates, the cell state and the "
            "hidden state along t, as the table shows them.</figcaption></figure>"
        )
    out += [f"<p>{escape(note)}</p>" for note in worked.notes()]
    return out


def _worked_summary(worked: Any, printer: Any) -> str:
    cols = worked.summary_columns()
    head = [escape(worked.row_heading.strip("$")) or ""]
    head += [inline_math(printer.doprint(worked.symbol(q))) for q in cols]
    rows = []
    for t, (label, row) in enumerate(zip(worked.labels(), worked.summary, strict=True), 1):
        cells = [escape(label)]
        cells += [
            escape(row[q].replace("-", "−")) + ("†" if (t, q) in worked.marks else "") for q in cols
        ]
        rows.append(cells)
    parts = [f"<h2>{escape(worked.summary_title)}</h2>", table_html(head, rows)]
    parts += [f"<p>† {escape(note)}</p>" for note in worked.marks.values()]
    return "\n".join(parts)


# -- audits and validations ------------------------------------------------------------------


def audit_html(report: Any, *, standalone: bool = True) -> str:
    """An audit (:class:`~symlstm.claims.audit.AuditReport`) as HTML: one row per claim, coloured
    by its verdict, with a legend; then the possible explanations of the wrong claims."""
    if not all(hasattr(report, a) for a in ("results", "wrong", "examples", "explanations")):
        raise ArgumentError(f"report must be an AuditReport, not {type(report).__name__}")
    title = f"Audit of {report.title}"
    n, bad = len(report.results), len(report.wrong)
    out = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{n} claims: {n - bad} hold, {bad} wrong.</p>",
        '<p class="legend"><span class="holds">holds</span>the claimed number is a correct '
        'rounding (in the modes named) <span class="wrong">WRONG</span>it is not, in either '
        "mode. ✓/✗: the claim against the exact value and against hand calculation.</p>",
    ]
    head = ["line", "t", "quantity", "claimed", "exact", "hand", "verdict", "where"]
    rows, classes = [], []
    mark = {True: "✓", False: "✗"}
    for r in report.results:
        c = r.claim
        verdict = f"holds ({', '.join(r.modes)})" if r.holds else "WRONG"
        rows.append(
            [
                escape(str(c.line or "")),
                str(c.t),
                escape(c.quantity),
                escape(c.claimed),
                f"{escape(r.exact.rounded)} {mark[r.exact.correct]}",
                f"{escape(r.hand.rounded)} {mark[r.hand.correct]}",
                verdict,
                escape(c.where),
            ]
        )
        classes.append("holds" if r.holds else "wrong")
    out.append(table_html(head, rows, classes, text_columns=(7,)))
    out += [
        f"<p>{escape(name)}: {escape(ex.title)} [{escape(ex.source)}]</p>"
        for name, ex in report.examples.items()
    ]
    if report.explanations:
        out.append(
            "<h2>Possible explanations of the wrong claims</h2><p>What would make each hold; "
            "none is a verdict.</p>"
        )
        out += [f"<pre>{escape(e.text())}</pre>" for e in report.explanations]
    return wrap_page(title, out, standalone)


def validation_html(report: Any, *, standalone: bool = True) -> str:
    """A validation (:class:`~symlstm.validation.ValidationReport`) as HTML: the errors of
    each tensor in a table coloured by its verdict, the error along the sequence drawn
    (:func:`symlstm.render.plots.error_plot`), the verdict and the diagnosis."""
    if not all(hasattr(report, a) for a in ("tensors", "diagnosis", "sizes", "verdict")):
        raise ArgumentError(f"report must be a ValidationReport, not {type(report).__name__}")
    s = report.sizes
    title = f"Validation: {report.layout} layout, {report.verdict.upper()}"
    heading = getattr(report, "heading", None)
    if callable(heading):  # the network, the reference, the initial state, the rows
        what, *more = heading()
        more = [line for line in more if not line.startswith("reference certified")]
    else:
        layer = "" if report.layer is None else f"layer {report.layer}, "
        what = (
            f"{report.layout} layout, {layer}{report.direction}, {report.dtype.name}, "
            f"{report.variant.label()} cell: T={s['T']} batch={s['batch']} "
            f"hidden={s['hidden']} input={s['input']}"
        )
        more = []
    out = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(what)}. Reference certified to {report.certified_bits} bits.</p>",
        *(f"<p>{escape(line[:1].upper() + line[1:])}.</p>" for line in more),
        '<p class="legend"><span class="pass">pass</span>within the tolerance '
        '<span class="fail">fail</span>beyond it (errors in ULPs of '
        f"{escape(report.dtype.name)}; normwise: at the largest exact value)</p>",
    ]
    head = ["tensor", "max abs", "max rel", "max ULP", "normwise", "tolerance", "worst at"]
    head.append("verdict")
    rows, classes = [], []
    for t in report.tensors.values():
        rows.append(
            [
                escape(t.name),
                f"{t.max_abs:.3g}",
                f"{t.max_rel:.3g}",
                f"{t.max_ulp:.3g}",
                f"{t.normwise_ulp:.3g}",
                f"{t.tolerance:g}",
                "-" if t.worst_index is None else escape(str(list(t.worst_index))),
                t.verdict,
            ]
        )
        classes.append(t.verdict)
    out.append(table_html(head, rows, classes))
    from symlstm.render.plots import error_panels, error_plot

    if error_panels(report):
        out.append(
            f"<figure>{error_plot(report)}<figcaption>The largest element-wise error at "
            "each step (log scale), the tolerance dashed, the worst step ringed; the "
            "verdict compares the normwise error with the tolerance.</figcaption></figure>"
        )
    worst = getattr(report, "worst_line", None)
    worst = worst() if callable(worst) else None
    if worst is not None:
        out.append(f"<p>{escape(worst[:1].upper() + worst[1:])}.</p>")
    problems = [f"{t.name}: {p}" for t in report.tensors.values() for p in t.problems]
    if problems:
        out.append("<ul>" + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>")
    if report.diagnosis is not None:
        items = [
            f"<li{' class=pass' if fix.agrees else ''}>{escape(fix.fix)} "
            f"({fix.max_ulp_after:.3g} ULPs)</li>"
            for fix in report.diagnosis
        ]
        out.append("<h2>Diagnosis</h2><ul>" + "".join(items) + "</ul>")
    return wrap_page(title, out, standalone)
