"""Check a rendered worked example: is every ``=`` between numbers true of the numbers shown?

A worked example is worth printing only if a reader with a calculator gets what the
page says. This module reads a rendered example back (plain text, Markdown or
LaTeX), finds every chain of numeric expressions (``0.62 × 0.4 + 0.603 × 0.336 =
0.248 + 0.203 = 0.451``) and checks each link from the numbers printed in it:

* a number on the right must be what the expression on its left gives, computed
  exactly from the numbers shown there and rounded half up to the places the
  right-hand number is written to; a right-hand number shown as 0 must be exactly 0;
* where both sides have the same shape (a sum of as many terms, σ of something),
  the parts are checked pairwise: ``σ(0.7 × 0.2 + 0.7 × 0.5) = σ(0.49)``;
* otherwise the two sides must be the same number: a definition such as
  ``σ(0.49) = 1/(1 + exp(-0.49))``.

σ, tanh and exp are evaluated in certified interval arithmetic (the precision is
raised until each rounding is decided), so a verdict is never an artefact of
binary floating point. A link written ``≈`` (``\\approx``) is not a claim of
equality and is not counted as false. Links with elided entries (⋯) cannot be
checked and are reported as such.

One link at a time is :func:`symlstm.render.links.link_holds`; this module reads whole
rendered examples:

>>> report = check_rendered("C_t = 0.09 + 0.20 = 0.30\\nf_t = 1/(1 + exp(-0.49)) = 0.62")
>>> [(c.left, c.right) for c in report.false_links]
[('0.09 + 0.20', '0.30')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from symlstm.errors import (
    ArgumentError,
    UnknownNameError,
)
from symlstm.render.links import EQUAL, Node, link_verdict, parse_numeric

__all__ = ["CheckReport", "LinkCheck", "check_rendered"]

#: The formats :func:`check_rendered` reads.
FORMATS: tuple[str, ...] = ("text", "markdown", "latex")


# -- reading rendered output ------------------------------------------------------------


@dataclass(frozen=True)
class LinkCheck:
    """One checked link ``left relation right`` of a rendered example."""

    line: int  # 1-based line of the rendered text where the right-hand side is
    left: str
    relation: str  # "=" or "≈"
    right: str
    holds: bool | None  # None: cannot be checked from what is shown

    @property
    def false(self) -> bool:
        """An ``=`` that the numbers shown contradict."""
        return self.relation == EQUAL and self.holds is False


@dataclass
class CheckReport:
    """Every numeric link found in a rendered example, with its verdict."""

    links: list[LinkCheck] = field(default_factory=list)

    @property
    def false_links(self) -> list[LinkCheck]:
        return [c for c in self.links if c.false]

    @property
    def unverified(self) -> list[LinkCheck]:
        return [c for c in self.links if c.holds is None]

    @property
    def ok(self) -> bool:
        """No false ``=``."""
        return not self.false_links

    def summary(self) -> str:
        """One line: how many links were checked, how many are false or unverifiable."""
        checked = sum(c.holds is not None for c in self.links)
        return (
            f"{len(self.links)} numeric links: {checked} checked, "
            f"{len(self.false_links)} false '=', {len(self.unverified)} not checkable"
        )


# Each rendered line becomes a list of (relation, text) parts; the first part has no
# relation. Notes are dropped.


def _split_top(text: str, separators: tuple[str, ...]) -> list[tuple[str, str]]:
    """Split at separators outside brackets: [("", first), (sep, part), …]."""
    parts: list[tuple[str, str]] = []
    depth, start, rel, k = 0, 0, "", 0
    while k < len(text):
        ch = text[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            for sep in separators:
                if text.startswith(sep, k):
                    parts.append((rel, text[start:k].strip()))
                    rel, start = sep.strip(), k + len(sep)
                    k += len(sep) - 1
                    break
        k += 1
    parts.append((rel, text[start:].strip()))
    return parts


_TEXT_NOTE = re.compile(r"\s{3}\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$")


def _text_chains(text: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        line = _TEXT_NOTE.sub("", line)
        if " = " not in line and " ≈ " not in line:
            continue
        yield number, _split_top(line, (" = ", " ≈ "))


# LaTeX → the text grammar. Only what the package's printers write needs to be read.
_LATEX_WORDS = [
    (r"\left(", "("),
    (r"\right)", ")"),
    (r"\left[", "["),
    (r"\right]", "]"),
    (r"\left|", "|"),
    (r"\right|", "|"),
    (r"\times", "×"),
    (r"\cdot", "·"),
    (r"\odot", "⊙"),
    (r"\sigma_{\mathrm{hard}}", "σ_hard"),
    (r"\sigma", "σ"),
    (r"\tanh", "tanh"),
    (r"\exp", "exp"),
    (r"\max", "max"),
    (r"\min", "min"),
    (r"\cdots", "⋯"),
    (r"\vdots", "⋮"),
    (r"\ddots", "⋱"),
    (r"\approx", " ≈ "),
    (r"\,", " "),
    (r"\;", " "),
    (r"\!", ""),
    (r"\quad", " "),
    (r"\qquad", " "),
]


def _latex_to_text(tex: str) -> str:
    """One LaTeX expression in the text grammar (matrices as [a, b; c, d])."""
    out: list[str] = []
    k = 0
    matrix_depth = 0
    while k < len(tex):
        if tex.startswith(r"\begin{bmatrix}", k):
            out.append("[")
            matrix_depth += 1
            k += len(r"\begin{bmatrix}")
            continue
        if tex.startswith(r"\end{bmatrix}", k):
            out.append("]")
            matrix_depth -= 1
            k += len(r"\end{bmatrix}")
            continue
        if tex.startswith(r"\frac{", k):
            num, k = _braced(tex, k + len(r"\frac"))
            den, k = _braced(tex, k)
            out.append(f"(({_latex_to_text(num)})/({_latex_to_text(den)}))")
            continue
        if tex.startswith("e^{", k) and (k == 0 or not tex[k - 1].isalpha()):
            arg, k = _braced(tex, k + 2)
            out.append(f"exp({_latex_to_text(arg)})")
            continue
        if tex.startswith("^{", k):
            arg, k = _braced(tex, k + 1)
            out.append(f"^({_latex_to_text(arg)})")
            continue
        if matrix_depth and tex.startswith("\\\\", k):
            out.append(";")
            k += 2
            continue
        if matrix_depth and tex[k] == "&":
            out.append(",")
            k += 1
            continue
        for word, replacement in _LATEX_WORDS:
            if tex.startswith(word, k) and not (
                word[-1].isalpha() and k + len(word) < len(tex) and tex[k + len(word)].isalpha()
            ):
                out.append(replacement)
                k += len(word)
                break
        else:
            ch = tex[k]
            out.append({"{": "(", "}": ")"}.get(ch, ch))
            k += 1
    return "".join(out)


def _braced(tex: str, k: int) -> tuple[str, int]:
    """The text of the brace group starting at tex[k] == '{', and the index after it."""
    if k >= len(tex) or tex[k] != "{":
        raise SyntaxError("expected {")
    depth = 0
    for j in range(k, len(tex)):
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[k + 1 : j], j + 1
    raise SyntaxError("unbalanced braces")


_ENVIRONMENT = re.compile(r"\\begin\{(align\*|aligned)\}(.*?)\\end\{\1\}", re.S)


def _latex_rows(body: str) -> list[str]:
    """Split an align body at its row breaks (``\\\\`` outside matrices and braces)."""
    rows, depth, start, k = [], 0, 0, 0
    while k < len(body):
        if body.startswith(r"\begin{", k):
            depth += 1
        elif body.startswith(r"\end{", k):
            depth -= 1
        elif depth == 0 and body.startswith("\\\\", k):
            rows.append(body[start:k])
            start = k + 2
            k += 2
            continue
        k += 1
    rows.append(body[start:])
    return rows


def _split_alignment(row: str) -> tuple[str, str]:
    """A row's left-hand side and the rest, split at the first ``&`` outside matrices."""
    depth = 0
    for k, ch in enumerate(row):
        if row.startswith(r"\begin{", k):
            depth += 1
        elif row.startswith(r"\end{", k):
            depth -= 1
        elif ch == "&" and depth == 0:
            return row[:k], row[k + 1 :]
    return "", row


def _latex_chains(text: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    for env in _ENVIRONMENT.finditer(text):
        first_line = text.count("\n", 0, env.start(2)) + 1
        offset = 0
        chain: list[tuple[str, str]] = []
        chain_line = first_line
        for row in _latex_rows(env.group(2)):
            line = first_line + offset
            offset += row.count("\n")
            row = row.split("&&")[0]  # notes sit after &&
            row = re.sub(r"\\text\{[^{}]*\}", "", row)
            lhs, rest = _split_alignment(row)
            converted = _latex_to_text(lhs).strip()
            parts = _split_top(_latex_to_text(rest), (" ≈ ", "="))
            if not converted and chain:  # a continuation row: &= …
                chain += [(r, p) for r, p in parts if p]
                continue
            if chain:
                yield chain_line, chain
            chain_line = line + row.strip("\n").count("\n")
            chain = [("", converted)] + [(r, p) for r, p in parts if p]
        if chain:
            yield chain_line, chain


def _markdown_chains(text: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    # Display math in $$ … $$ holds aligned environments, read as LaTeX.
    yield from _latex_chains(text)


def check_rendered(rendered: str, fmt: str = "text") -> CheckReport:
    """Check every ``=`` between numbers in a rendered worked example.

    Parameters
    ----------
    rendered
        The output of :meth:`WorkedExample.text`, ``.markdown()`` or ``.latex()``
        (or ``symlstm example`` / ``symlstm grad``).
    fmt
        ``"text"``, ``"markdown"`` or ``"latex"``.

    Returns
    -------
    CheckReport
        Every link between two numeric expressions; ``report.false_links`` lists the
        ``=`` that the numbers shown contradict.

    Lines of the same quantity continue one chain (``f_t = … = σ(0.49)`` then
    ``f_t = 1/(1 + exp(-0.49)) = 0.62``).

    >>> check_rendered("x = 0.1 + 0.2 = 0.3", "text").ok
    True

    Raises
    ------
    ArgumentError
        If ``rendered`` or ``fmt`` is not a string.
    UnknownNameError
        For an unknown format.
    """
    if not isinstance(rendered, str):
        raise ArgumentError(f"rendered must be a string, not {type(rendered).__name__}")
    if not isinstance(fmt, str):
        raise ArgumentError(f"fmt must be a string, not {type(fmt).__name__}")
    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    chains = {
        "text": _text_chains,
        "markdown": _markdown_chains,
        "latex": _latex_chains,
    }[fmt](rendered)
    report = CheckReport()
    previous: tuple[str, tuple[str, Node] | None] | None = None
    for number, parts in chains:
        lhs = parts[0][1]
        numeric = [(rel, text, parse_numeric(text)) for rel, text in parts]
        last: tuple[str, Node] | None = None
        if previous is not None and previous[0] == lhs and numeric[0][2] is None:
            last = previous[1]  # the same quantity's chain goes on from the line above
        for k, (rel, text, node) in enumerate(numeric):
            if node is None:
                if k:  # a symbolic link breaks the chain; a symbolic left-hand side does not
                    last = None
                continue
            if last is not None and rel:
                verdict = (
                    None if "elided" in (last[1].kind, node.kind) else link_verdict(last[1], node)
                )
                report.links.append(LinkCheck(number, last[0], rel, text, verdict))
            last = (text, node)
        previous = (lhs, last)
    return report
