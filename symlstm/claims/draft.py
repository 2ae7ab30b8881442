"""Drafting a claims file from a document: find its numbers, say what each one is.

:func:`draft_claims` reads a text, Markdown or LaTeX document, finds the decimal
numbers it states, and matches each against every quantity of the given examples
at every step, by *certified rounding at the number's own places*: ``0.603``
matches a quantity whose exact value rounds half up to 0.603 at 3 places, in exact
or in hand-calculation mode (:mod:`symlstm.claims.audit` checks the same two modes). The
result is a claims file for ``symlstm audit``, to be checked and edited by a
person: one claim per matched number; numbers that are inputs of an example
(weights, x, initial state) left out and listed; numbers that match nothing listed
with the nearest quantity and how far off it is (where a wrong claim shows up).

Which numbers are read
    A decimal number with a decimal point (``0.62``, ``.5``, ``-0.49``,
    ``1.5e-3``), and an integer or decimal followed by ``%`` (``45%``, ``27.6\\%``;
    in LaTeX only ``\\%``: a bare ``%`` starts a comment). Skipped: integers
    (list and section numbers, years, ``t = 3``), numbers with two or more dots
    (``5.2.1``, ``12.03.2024``), numbers glued to letters (``1.5em``,
    ``0.8\\textwidth``, ``x1.5``), subscripts (``x_3``), heading numbers at the
    start of a line (``5.2 Forget gate``), numbers in web addresses and, in LaTeX,
    in a command's ``[options]``. A minus sign (``-`` or ``−``) belongs to the
    number when it touches the digits and does not follow an operand
    (``e^{-0.49}``, not ``1-0.5``).
What each number may be
    Every quantity of each example at each step (:attr:`Cell.quantities
    <symlstm.cell.Cell.quantities>`, components ``h[0]`` of vector cells; ``h`` and
    ``c`` answer to ``h_{t-1}`` and ``C_{t-1}`` too), the products a worked example
    prints (``f*c_prev``, ``i*g``), the negated pre-activations of ``e^{-0.49}``
    (``-z_f``) and, for a percentage, ``100*q`` for q in c, h, f, i, o. An input
    (a parameter, an x, the initial h or c) is recognised by exact equality.
How a choice is made
    When several of those fit, they are ranked by the document's own words,
    one test after another (the first that tells them apart decides):

    1. a table's column header names the quantity (``Forget Gate f_t``);
    2. the closest symbol in the number's clause that names any of them
       (``C_1 = 0.05``: ``C_1``), on its left before its right, not counting
       a symbol inside brackets the number is outside of; clauses end at
       ``,``, ``;``, ``\\quad``, ``&``, table cells, "and", "but" and full stops;
    3. an input equal to the number exactly, before a rounding;
    4. the function the number is the argument of (``σ(0.49)``: a gate's
       pre-activation; ``tanh(0.451)``: ``z_g`` or ``c``) or the value of
       (``tanh(0.35) = 0.336``: ``g`` or ``s``), made precise by the gate the
       clause names;
    5. the step: from the symbol's subscript (``h_3``), the table row (the row
       whose x is an input x_t, else the row's place), ``t = N`` on the line, or
       the last ``t = N`` of the section;
    6. any symbol or word on the line (``f_t``, ``C̃_t``, "forget gate", "cell
       memory", "hidden output" …);
    7. the example the text is about: the one its last uniquely identified number
       belonged to.

    Candidates still tied are all listed, in a comment above the claim, which
    takes the first (quantities before inputs, products, percentages and
    negations; then the examples' order, the step and the cell's order).

>>> from symlstm.examples import load_example
>>> import pathlib, tempfile
>>> doc = pathlib.Path(tempfile.mkdtemp()) / "notes.md"
>>> _ = doc.write_text("With $x_t = 0.5$ the forget gate is $f_t = 0.62$, "
...                    "the input gate $i_t = 0.61$.\\n")
>>> draft = draft_claims(doc, ["seed-step"])
>>> [(c.line, c.quantity, c.claimed) for c in draft.claims]
[(1, 'f', '0.62')]
>>> [(n.number.text, n.nearest.quantity, n.rounded) for n in draft.unmatched]
[('0.61', 'i', '0.60')]
>>> [(n.number.text, n.candidate.quantity) for n in draft.inputs]
[('0.5', 'x')]
>>> print(draft.to_toml().split("[[claims]]")[1])
<BLANKLINE>
where = "With $x_t = 0.5$ the forget gate is $f_t = 0.62$, the input gate $i_t = 0.61$."
line = 1
example = "seed-step"
t = 1
quantity = "f"
claimed = "0.62"
<BLANKLINE>
# line 1: 0.61 — nearest: seed-step t=1 i = 0.6035 (rounds to 0.60; off by 0.0065): ...
#
"""

from __future__ import annotations

import bisect
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

from symlstm.errors import ArgumentError, ExampleFileError, UndecidedError
from symlstm.examples import Example, is_builtin_name, load_example
from symlstm.limits import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_NUMBER_DIGITS,
    MAX_DOCUMENT_NUMBER_EXPONENT,
    MAX_DOCUMENT_NUMBERS,
)
from symlstm.numeric.evaluation import Enclosure
from symlstm.numeric.rounding import (
    MAX_PREC,
    round_enclosure,
    round_places,
    stated_places,
    with_increasing_precision,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_NUMBERS",
    "Candidate",
    "Draft",
    "DraftedClaim",
    "InputNumber",
    "Number",
    "UnmatchedNumber",
    "draft_claims",
    "find_numbers",
]

#: The largest document read, in bytes.
#: The most numbers one document may state.
MAX_NUMBERS = MAX_DOCUMENT_NUMBERS  # one table: symlstm.limits
#: The most digits of one number, and the largest decimal exponent, the reader matches.
MAX_NUMBER_DIGITS = MAX_DOCUMENT_NUMBER_DIGITS  # one table: symlstm.limits
MAX_NUMBER_EXPONENT = MAX_DOCUMENT_NUMBER_EXPONENT  # one table: symlstm.limits
#: Where text is cut to this many characters, around the number.
WHERE_CHARS = 80
#: Quantities whose percentages are matched (``45%`` against ``100*c``).
PERCENT_QUANTITIES = ("c", "h", "f", "i", "o")
_LATEX_SUFFIXES = (".tex", ".ltx", ".latex")


# -- numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number as the document states it."""

    line: int  # counted from 1
    column: int  # of its first character (the sign, if any), counted from 0
    text: str  # as written, with a Unicode minus as "-" and without the "%"
    percent: bool = False

    @cached_property
    def value(self) -> Fraction:
        return Fraction(self.text)

    @cached_property
    def places(self) -> int:
        """The decimal places it is stated to."""
        return stated_places(self.text)


_TOKEN = re.compile(
    r"(?P<body>\.?\d(?:[\d.,]*\d)?)"
    r"(?P<exp>[eE][-+]?\d+(?![\w.]))?"
    r"(?P<tail>[^\W\d_]+|\\(?:text|line|column|paper)(?:width|height)|\\[a-z]*skip|\\hsize)?"
    r"(?P<pct>\s*+(?:\\[,;: ]|~)?+\s*+\\?%)?",
)
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_URL = re.compile(r"(?:https?://|www\.)\S++|[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_HEADING_NUMBER = re.compile(r"\s*(?:#+\s*|>\s*)?[1-9]\d?\.[1-9]\d?\.?\s+[A-Z(]")
_LATEX_OPTIONS = re.compile(r"\\[A-Za-z@]++\*?\s*+\[[^\]\n]{0,200}+\]")
_OPERAND = re.compile(r"[\w)\]}|!.]")


def _blank(text: str, pattern: re.Pattern) -> str:
    """``text`` with each match of ``pattern`` replaced by spaces (columns kept)."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _latex_comment_start(line: str) -> int:
    """Where an unescaped ``%`` starts a LaTeX comment, or the line's length."""
    k = 0
    while k < len(line):
        if line[k] == "\\":
            k += 2
            continue
        if line[k] == "%":
            return k
        k += 1
    return len(line)


def _not_parsed(line: int, text: str, why: str) -> ExampleFileError:
    shown = text if len(text) <= 40 else text[:37] + "…"
    return ExampleFileError(f"line {line}: cannot read the number {shown!r}: {why}")


def find_numbers(lines: Sequence[str], *, latex: bool = False) -> list[Number]:
    """The numbers a document states, line by line (see the module's notes on which).

    Parameters
    ----------
    lines
        The document's lines.
    latex
        Read as LaTeX: ``%`` starts a comment and only ``\\%`` is a percent sign.

    Raises
    ------
    ExampleFileError
        For a number the reader cannot read exactly: written with non-ASCII digits
        (``０.６２``), with digit grouping (``1,234.5``), or with more than
        :data:`MAX_NUMBER_DIGITS` digits or an exponent beyond ±:data:`MAX_NUMBER_EXPONENT`;
        or for more than :data:`MAX_NUMBERS` numbers.

    >>> [n.text + "%" * n.percent for n in find_numbers(["5. Step 2: σ(0.42) = 0.603, "
    ...     "45% (C_1 = .5) e^{-0.49} 1.5em v1.2 1.2.3 2024 x_3 10.5cm 1-0.25"])]
    ['0.42', '0.603', '45%', '.5', '-0.49', '0.25']
    >>> find_numbers(["costs 1,234.50 in total"])
    Traceback (most recent call last):
    ...
    symlstm.errors.ExampleFileError: line 1: cannot read the number '1,234.50': digit grouping ...
    """
    if isinstance(lines, str) or not isinstance(lines, Sequence):
        raise ArgumentError(f"lines must be a list of lines, not {type(lines).__name__}")
    if not all(isinstance(line, str) for line in lines):
        raise ArgumentError("lines must be a list of text lines")
    if not isinstance(latex, bool):
        raise ArgumentError(f"latex must be True or False, not {type(latex).__name__}")
    out: list[Number] = []
    for k, raw in enumerate(lines, start=1):
        line = raw[: _latex_comment_start(raw)] if latex else raw
        line = _blank(line, _URL)
        if latex:
            line = _blank(line, _LATEX_OPTIONS)
        heading = _HEADING_NUMBER.match(line)
        for m in _TOKEN.finditer(line):
            start = m.start()
            if start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_.\\"):
                continue  # part of a name, a subscript (x_3) or a dotted number
            body = m.group("body")
            if any(not ("0" <= ch <= "9") for ch in body if ch.isdigit()):
                if "." in body or m.group("pct"):
                    raise _not_parsed(k, m.group(), "written with digits other than 0-9")
                continue
            if heading and start < heading.end() and start == len(line) - len(line.lstrip("#> ")):
                continue
            percent = bool(m.group("pct")) and (not latex or "\\%" in m.group("pct"))
            if _GROUPED.fullmatch(body) and ("." in body or percent):
                raise _not_parsed(k, body, "digit grouping is not read (write 1234.5, not 1,234.5)")
            if m.group("tail"):
                continue  # a length (1.5em, 0.8\textwidth) or part of a name
            parts = body.split(",")
            column = start
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                number = _number(k, line, column, part, m.group("exp") if last else None,
                                 percent and last)  # fmt: skip
                if number is not None:
                    out.append(number)
                    if len(out) > MAX_NUMBERS:
                        raise ExampleFileError(
                            f"line {k}: more than {MAX_NUMBERS} numbers in one document "
                            "(MAX_NUMBERS in symlstm.claims.draft)"
                        )
                column += len(part) + 1
    return out


def _number(k: int, line: str, column: int, body: str, exp: str | None, percent: bool):
    if not body or body.count(".") > 1 or body.endswith("."):
        return None
    if "." not in body and not percent:
        return None  # integers are list numbers, years, steps: not claims
    digits = len(body.replace(".", "").lstrip("0"))
    if digits > MAX_NUMBER_DIGITS:
        raise _not_parsed(k, body, f"more than {MAX_NUMBER_DIGITS} digits")
    if exp and abs(int(exp[1:])) > MAX_NUMBER_EXPONENT:
        raise _not_parsed(k, body + exp, f"an exponent beyond ±{MAX_NUMBER_EXPONENT}")
    sign = ""
    unary = column == 1 or (column > 1 and not _OPERAND.fullmatch(line[column - 2]))
    if column > 0 and line[column - 1] in "-−+" and unary:
        sign = "-" if line[column - 1] in "-−" else "+"
        column -= 1
    return Number(k, column, sign + body + (exp or ""), percent)


# -- the document ------------------------------------------------------------------------


def read_document(path: str | os.PathLike) -> tuple[list[str], bool]:
    """The lines of a text, Markdown or LaTeX document, and whether it is LaTeX.

    Raises
    ------
    ExampleFileError
        If the file is missing, larger than :data:`MAX_DOCUMENT_BYTES`, binary
        (NUL bytes) or not UTF-8.
    """
    if not isinstance(path, str | os.PathLike):
        raise ArgumentError(f"document must be a path, not {type(path).__name__}")
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ExampleFileError(f"{name}: no such file") from None
    except (OSError, ValueError) as err:
        raise ExampleFileError(
            f"{name}: cannot read: {getattr(err, 'strerror', None) or err}"
        ) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ExampleFileError(
            f"{name}: larger than {MAX_DOCUMENT_BYTES:,} bytes "
            "(MAX_DOCUMENT_BYTES in symlstm.claims.draft)"
        )
    if b"\x00" in raw:
        raise ExampleFileError(f"{name}: not a text document (it holds NUL bytes: binary?)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ExampleFileError(
            f"{name}: not a text document: not UTF-8 "
            f"(byte {err.start}: {raw[err.start : err.start + 1]!r})"
        ) from None
    text = unicodedata.normalize("NFC", text)
    latex = Path(name).suffix.lower() in _LATEX_SUFFIXES or "\\documentclass" in text
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), latex


# -- what the text says around a number ----------------------------------------------------


@dataclass(frozen=True)
class _Mention:
    """A symbol, word or function of a line, and the quantity names it stands for."""

    start: int
    end: int
    names: frozenset[str]
    step: int | None = None  # a digit subscript: C_1, h_{3}
    function: str | None = None  # "sigmoid", "tanh", "exp": then ``arg`` is its brackets
    arg: tuple[int, int] | None = None


_SUB = r"\s*_\s*(?:\{\s*(?P<sub>[^{}]{1,9}?)\s*\}|(?P<sub1>[A-Za-z0-9]))"
_NOT_AFTER = r"(?<![A-Za-z\\{])"
_GATE = {"f": "f", "i": "i", "o": "o", "g": "g", "c": "g", "C": "g"}
_SYMBOLS: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"(?:\\(?:wide)?tilde\s*\{\s*C\s*\}|\\tilde\s*C|C\u0303|\\hat\s*\{\s*C\s*\}|Ĉ)(?:"
         + _SUB + ")?", "g"),
        (_NOT_AFTER + r"(?P<base>[WUw])\s*_\s*\{?\s*(?P<gate>[fiocgC])(?![A-Za-z])", "weight"),
        (_NOT_AFTER + r"b\s*_\s*\{?\s*(?P<gate>[fiocgC])(?![A-Za-z])", "bias"),
        (_NOT_AFTER + r"b(?=\s*=)", "biases"),
        (_NOT_AFTER + r"z\s*_\s*\{?\s*(?P<gate>[fiocgC])(?![A-Za-z])", "z"),
        (_NOT_AFTER + r"(?P<base>[fiogCchx])" + _SUB, "state"),
    )
)  # fmt: skip
_WORDS: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), name)
    for pattern, name in (
        (r"\bcandidate(?:\s+cell)?(?:\s+(?:value|state|memory))?", "g"),
        (r"\bforget\s+gate", "f"),
        (r"\binput\s+gate", "i"),
        (r"\boutput\s+gate", "o"),
        (r"\bhidden\s+(?:state|output|value)s?", "h"),
        (r"\b(?:cell\s+(?:state|memory|value)s?|(?:long-term\s+)?memory)", "c"),
    )
)  # fmt: skip
_FUNCTIONS = (
    (re.compile(r"(?:σ|\\sigma\b|\bsigmoid\b|\bsigma\b)\s*(?:\\left)?\s*(?=\()"), "sigmoid"),
    (re.compile(r"(?:\\tanh\b|\btanh\b)\s*(?:\\left)?\s*(?=\()"), "tanh"),
    (re.compile(r"(?:\be\s*\^\s*(?=\{)|\\exp\s*(?=\()|\bexp\s*(?=\())"), "exp"),
)
#: What a function's argument and value are, for each gate a clause names (None: any).
_FUNCTION_NAMES = {
    "sigmoid": ({"f": "z_f", "i": "z_i", "o": "z_o"}, {"f": "f", "i": "i", "o": "o"}),
    "tanh": ({"g": "z_g", "c": "c"}, {"g": "g", "c": "s"}),
    "exp": ({"f": "-z_f", "i": "-z_i", "o": "-z_o", "g": "-z_g"}, {}),
}
#: How many symbols on each side of a number, and functions before it, are looked at.
_NEAREST = 8
_CLAUSE_END = re.compile(r",|;|\\q?quad\b|\\\\|&|\||\t|\band\b|\bbut\b|\.(?=\s|$)")
_STEP_WORDS = re.compile(r"(?<![A-Za-z_])t\s*=\s*(\d+)\b|\btime\s*step\s+(\d+)\b", re.IGNORECASE)
_HEADING = re.compile(r"\s*(?:#+\s|\d+(?:\.\d+)*\.?\s+[A-Z]|\\(?:sub)*section\*?\{|\\chapter\b)")


def _subscript(match: re.Match) -> tuple[str, int | None]:
    """ "t", "prev" or "step" for a subscript, and the step number of a digit subscript."""
    sub = (match.group("sub") or match.group("sub1") or "").replace(" ", "").replace("−", "-")
    if sub.isdigit() and len(sub) <= 4:
        return "step", int(sub)
    return ("prev", None) if sub == "t-1" else ("t", None)


def _symbol(match: re.Match, kind: str) -> _Mention:
    start, end = match.span()
    if kind in ("weight", "bias", "z"):
        gate = _GATE[match.group("gate")]
        if kind == "weight":
            base = match.group("base")
            names = {f"U_{gate}"} if base == "U" else {f"w_{gate}", f"W_{gate}"}
        else:
            names = {f"{'b' if kind == 'bias' else 'z'}_{gate}"}
        return _Mention(start, end, frozenset(names))
    if kind == "biases":
        return _Mention(start, end, frozenset(f"b_{k}" for k in "fiog"))
    base = "g" if kind == "g" else match.group("base").lower()
    where, step = ("t", None)
    if kind == "g" and match.group("sub") is None and match.group("sub1") is None:
        return _Mention(start, end, frozenset({"g"}))
    where, step = _subscript(match)
    if base in ("h", "c") and (where == "prev" or step == 0):
        return _Mention(start, end, frozenset({f"{base}_prev"}), 1 if step == 0 else None)
    return _Mention(start, end, frozenset({base}), step)


def _matching_brackets(text: str) -> dict[int, int]:
    """Each opening bracket's position → its closing bracket's (the text's end if none)."""
    pairs, stack = {}, []
    for k, ch in enumerate(text):
        if ch in "([{":
            stack.append(k)
        elif ch in ")]}" and stack:
            pairs[stack.pop()] = k
    pairs.update((k, len(text)) for k in stack)
    return pairs


def _mentions(text: str) -> list[_Mention]:
    """The symbols, words and functions of one line (or table cell), left to right."""
    found: list[_Mention] = []
    taken = [False] * (len(text) + 1)
    for pattern, kind in _SYMBOLS:
        for m in pattern.finditer(text):
            if not any(taken[m.start() : m.end()]):
                found.append(_symbol(m, kind))
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
    for pattern, name in _WORDS:
        for m in pattern.finditer(text):
            if not any(taken[m.start() : m.end()]):
                found.append(_Mention(m.start(), m.end(), frozenset({name})))
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
    found.sort(key=lambda m: m.start)
    gate_letters = {"f", "i", "o", "g", "c"}
    gates = [(g.end, next(iter(sorted(g.names & gate_letters)))) for g in found
             if g.names & gate_letters]  # fmt: skip
    gate_ends = [end for end, _ in gates]
    brackets = _matching_brackets(text) if any(p.search(text) for p, _ in _FUNCTIONS) else {}
    functions = []
    for pattern, name in _FUNCTIONS:
        for m in pattern.finditer(text):
            open_at = m.end()
            close = brackets.get(open_at, len(text))
            # the gate the clause names before the function: f_t = σ(…) is about f
            k = bisect.bisect_right(gate_ends, m.start())
            gate = gates[k - 1][1] if k else None
            arg, value = _FUNCTION_NAMES[name]
            names = {arg[gate]} if gate in arg else set(arg.values())
            functions.append(
                _Mention(
                    m.start(), close + 1, frozenset(names), function=name, arg=(open_at, close)
                )
            )
            if name != "exp":
                result = {value[gate]} if gate in value else set(value.values())
                functions.append(_Mention(close, close + 1, frozenset(result), function="=" + name))
    return sorted(found + functions, key=lambda m: m.start)


def _groups(text: str) -> list[int]:
    """For each character, where the innermost brackets around it open (-1: none); a
    bracket itself belongs to the group outside it."""
    out, stack = [], [-1]
    for k, ch in enumerate(text):
        if ch in ")]}" and len(stack) > 1:
            stack.pop()
        out.append(stack[-1])
        if ch in "([{":
            stack.append(k)
    out.append(stack[-1])
    return out


@dataclass
class _Line:
    """What one line says: its mentions, clauses, bracket groups, table cell and step."""

    text: str
    mentions: list[_Mention]
    clauses: list[int]
    groups: list[int]
    step: int | None  # from "t = N" or digit subscripts, when the line has exactly one
    cells: list[tuple[int, int]] = field(default_factory=list)  # a table row's cells
    header: list[frozenset[str]] | None = None  # its table's column names
    row: int | None = None  # its place among the table's rows

    def __post_init__(self) -> None:
        self.plain = [m for m in self.mentions if not m.function]
        self.plain_starts = [m.start for m in self.plain]
        self.functions = [m for m in self.mentions if m.function]
        self.function_starts = [m.start for m in self.functions]
        self.names = frozenset(x for m in self.plain for x in m.names)

    @classmethod
    def read(cls, text: str) -> _Line:
        clauses, clause = [], 0
        ends = {m.start() for m in _CLAUSE_END.finditer(text)}
        for k in range(len(text) + 1):
            if k in ends:
                clause += 1
            clauses.append(clause)
        mentions = _mentions(text)
        steps = {int(a or b) for a, b in _STEP_WORDS.findall(text)}
        steps |= {m.step for m in mentions if m.step is not None}
        return cls(text, mentions, clauses, _groups(text), steps.pop() if len(steps) == 1 else None)

    def visible(self, mention: _Mention, number: Number) -> bool:
        """In the number's clause and in the same brackets: ``C_t`` in ``(C_t = 0.451)``,
        not ``f_t`` for the 0.7 of ``f_t = σ(0.7 × 0.2)`` (a part of the argument)."""
        n = number.column
        if self.clauses[mention.start] != self.clauses[n] and (
            mention.end > n or self.clauses[mention.end - 1] != self.clauses[n]
        ):
            return False
        return self.groups[mention.start] == self.groups[n]

    def cell(self, number: Number) -> int | None:
        k = bisect.bisect_right([a for a, _ in self.cells], number.column) - 1
        return k if k >= 0 and number.column < self.cells[k][1] else None


def _table_cells(text: str, latex: bool) -> list[tuple[int, int]]:
    """The cells of a table row (tab, ``|`` or LaTeX ``&`` separated), or []."""
    if "\t" in text.strip():
        sep = "\t"
    elif text.strip().startswith("|") or text.count("|") >= 2:
        sep = "|"
    elif "&" in text and (latex or "\\\\" in text):
        sep = "&"
    else:
        return []
    cells, start = [], 0
    for k, ch in enumerate(text + sep):
        if ch == sep and (sep != "&" or k == 0 or text[k - 1 : k] != "\\"):
            if text[start:k].strip():
                cells.append((start, k))
            start = k + 1
    return cells if len(cells) >= 2 else []


def _read_lines(lines: Sequence[str], latex: bool) -> dict[int, _Line]:
    """Every line read, with tables' headers and rows marked (line number → _Line)."""
    read = {k: _Line.read(text) for k, text in enumerate(lines, start=1)}
    k = 1
    while k <= len(lines):
        cells = _table_cells(lines[k - 1], latex)
        if not cells:
            k += 1
            continue
        block = []
        while k <= len(lines):
            row = _table_cells(lines[k - 1], latex)
            if ("---" in lines[k - 1] and not set(lines[k - 1]) - set("|:- \t")) or lines[
                k - 1
            ].strip() == "\\hline":
                k += 1
                continue
            if len(row) != len(cells):
                break
            block.append(k)
            k += 1
        first = block[0]
        header = None
        if not find_numbers([lines[first - 1]], latex=latex):
            text = lines[first - 1]
            header = [
                frozenset(n for m in _mentions(text[a:b]) if not m.function for n in m.names)
                for a, b in _table_cells(text, latex)
            ]
            block = block[1:]
        for r, n in enumerate(block, start=1):
            read[n].cells = _table_cells(lines[n - 1], latex)
            read[n].header = header
            read[n].row = r
    return read


# -- what a number may be ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A quantity (or input) of an example that a number may state."""

    example: str  # as the claims file names it: a built-in name or a relative path
    t: int | None  # None for a parameter
    quantity: str  # as a claims file writes it: "f", "h[0]", "f*c_prev", "100*c", "-z_f"
    kind: str  # "quantity", "product", "percent", "negation" or "input"
    modes: tuple[str, ...] = ()  # where it matches: "exact", "hand"; () for inputs

    def label(self) -> str:
        step = "" if self.t is None else f" t={self.t}"
        return f"{self.example}{step} {self.quantity}"


_KIND_ORDER = ("quantity", "input", "product", "percent", "negation")


@dataclass(frozen=True)
class _Base:
    """A value of an example: a quantity at a step (both modes), or an exact input."""

    example: int  # index among the examples
    t: int | None
    quantity: str
    kind: str
    names: frozenset[str]
    order: int  # the quantity's place in the cell's order
    bounds: tuple[tuple[Fraction, Fraction], ...]  # (lo, hi) in exact, hand mode; inputs: 1

    @cached_property
    def approx(self) -> tuple[float, float]:
        """Floats below and above every bound: a quick first test of a match."""
        return (
            min(_float(lo) for lo, _ in self.bounds),
            max(_float(hi) for _, hi in self.bounds),
        )


def _float(q: Fraction) -> float:
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def _components(value: Any) -> list[tuple[str, Any]]:
    """("", v) for a scalar; ("[k]", v_k) for a vector; ("[r,k]", v_rk) for a matrix."""
    if not isinstance(value, tuple):
        return [("", value)]
    out = []
    for r, row in enumerate(value):
        if isinstance(row, tuple):
            out += [(f"[{r},{k}]", v) for k, v in enumerate(row)]
        else:
            out.append((f"[{r}]", row))
    return out


def _bounds(value: Any) -> tuple[Fraction, Fraction]:
    if isinstance(value, Enclosure):
        return value.lo, value.hi
    q = Fraction(int(value.p), int(value.q)) if hasattr(value, "p") else Fraction(value)
    return q, q


def _product(a: Enclosure, b: Enclosure, prec: int) -> Enclosure:
    from symlstm.numeric import intervals

    if a.exact is not None and b.exact is not None:
        q = a.exact * b.exact
        return Enclosure(None, q)
    with intervals.working_precision(prec):
        return Enclosure(a.interval * b.interval)


class _Values:
    """Every value of the examples, certified at a working precision (cached by precision)."""

    def __init__(self, examples: Sequence[Example], refs: Sequence[str]) -> None:
        self.examples, self.refs = examples, refs
        self._cache: dict[int, list[_Base] | UndecidedError] = {}
        self.inputs = [b for k, ex in enumerate(examples) for b in self._inputs(k, ex)]

    def _inputs(self, k: int, ex: Example) -> list[_Base]:
        out = []
        values = [(name, None, value) for name, value in ex.parameters.items()]
        values += [("h_prev", 1, ex.h0), ("c_prev", 1, ex.c0)]
        values += [("x", t, x) for t, x in enumerate(ex.inputs, start=1)]
        for name, t, value in values:
            for suffix, v in _components(value):
                q = _bounds(v)
                out.append(_Base(k, t, name + suffix, "input", frozenset({name}), 0, (q,)))
        return out

    def at(self, prec: int) -> list[_Base]:
        """The quantities of every example at ``prec`` bits; :class:`UndecidedError` if a
        hand-mode rounding needs more."""
        cached = self._cache.get(prec)
        if isinstance(cached, UndecidedError):
            raise UndecidedError
        if cached is None:
            try:
                cached = [b for k, ex in enumerate(self.examples) for b in self._bases(k, ex, prec)]
            except UndecidedError as err:
                self._cache[prec] = err
                raise
            self._cache[prec] = cached
        return cached

    def _bases(self, k: int, ex: Example, prec: int) -> list[_Base]:
        traces = (
            ex.evaluate(method="interval", prec=prec),
            ex.evaluate(method="interval", prec=prec, hand_places=ex.hand_places),
        )
        cell = ex.cell
        order = {q: n for n, q in enumerate(cell.quantities)}
        out = []
        for t in range(1, len(ex.inputs) + 1):
            steps = [trace.steps[t - 1] for trace in traces]
            for q in cell.quantities:
                # h and c are also the next step's h_prev and c_prev: one candidate, two names
                names = frozenset({q, f"{q}_prev"} if q in ("h", "c") else {q})
                parts = [_components(step[q]) for step in steps]
                for (suffix, exact), (_, hand) in zip(*parts, strict=True):
                    bounds = (_bounds(exact), _bounds(hand))
                    out.append(_Base(k, t, q + suffix, "quantity", names, order[q], bounds))
            for a, b in (("f", "c_prev"), ("i", "g")):
                if a not in order or b not in steps[0]:
                    continue
                pairs = [
                    list(zip(_components(s[a]), _components(s[b]), strict=True)) for s in steps
                ]
                for ((suffix, ea), (_, eb)), ((_, ha), (_, hb)) in zip(*pairs, strict=True):
                    out.append(
                        _Base(k, t, f"{a}{suffix}*{b}{suffix}", "product", frozenset({f"{a}*{b}"}),
                              order[a], (_bounds(_product(ea, eb, prec)),
                                         _bounds(_product(ha, hb, prec))))
                    )  # fmt: skip
        return out


# -- matching and ranking --------------------------------------------------------------------


def _matching_modes(number: Number, base: _Base, transform: str) -> tuple[str, ...]:
    """The modes ("exact", "hand") in which the number is the correct rounding of the value;
    ``("exact",)`` for an input equal to it. :class:`UndecidedError` when an enclosure is too
    wide to say."""
    value, places = number.value, number.places
    fv, fhalf = _float(value), 0.5 * 10.0 ** -min(max(places, -300), 300)
    lo, hi = base.approx
    factor = 100 if transform == "percent" else 1
    lo, hi = (-hi, -lo) if transform == "negation" else (factor * lo, factor * hi)
    slack = fhalf + 1e-9 * (abs(fv) + fhalf)  # floats are within 1e-16 of the bounds
    if hi < fv - slack or lo > fv + slack:
        return ()
    target = round_places(value, places)
    half = Fraction(1, 2) / Fraction(10) ** places
    modes = []
    for mode, (lo, hi) in zip(("exact", "hand"), base.bounds, strict=False):
        if transform == "percent":
            lo, hi = 100 * lo, 100 * hi
        elif transform == "negation":
            lo, hi = -hi, -lo
        if hi < value - half or lo > value + half:
            continue  # too far to round to it
        if base.kind == "input":
            if lo == hi == value:
                modes.append(mode)
            continue
        rounded = round_enclosure(lo, hi, places=places)
        if rounded is None:
            raise UndecidedError
        if rounded == target:
            modes.append(mode)
    return tuple(modes)


def _distance(number: Number, base: _Base, transform: str) -> Fraction:
    """How far the value is from the number (the nearer mode)."""
    out = []
    for lo, hi in base.bounds:
        mid = (lo + hi) / 2
        mid = 100 * mid if transform == "percent" else -mid if transform == "negation" else mid
        out.append(abs(mid - number.value))
    return min(out)


def _transforms(number: Number, base: _Base, in_exp: bool) -> list[str]:
    """How the number may state the value: as it is, as a percentage, or negated
    (the exponent of e^{-0.49})."""
    if number.percent:
        bare = base.quantity.split("[")[0]
        ok = base.kind == "quantity" and bare in PERCENT_QUANTITIES
        return ["percent"] if ok else []
    out = ["plain"]
    if in_exp and base.kind == "quantity" and base.quantity.startswith("z_"):
        out.append("negation")
    return out


def _quantity_text(base: _Base, transform: str) -> str:
    if transform == "percent":
        return f"100*{base.quantity}"
    if transform == "negation":
        return f"-{base.quantity}"
    return base.quantity


@dataclass(frozen=True)
class _Hints:
    """What the text around one number says it is."""

    column: frozenset[str]
    own: list[_Mention]  # symbols and words of its clause, closest first (left, then right)
    function: frozenset[str]
    step: int | None  # from its own symbol; else the table row, the line, the section
    row_step: int | None
    line: frozenset[str]
    in_exp: bool


def _hints(number: Number, line: _Line, step: int | None) -> _Hints:
    n = number.column
    column: frozenset[str] = frozenset()
    if line.header is not None:
        k = line.cell(number)
        if k is not None and k < len(line.header):
            column = line.header[k]
    # The closest symbols and words of its clause (a table's cell), at most _NEAREST a side.
    if line.cells:
        k = line.cell(number)
        a, b = line.cells[k] if k is not None else (n, n)

        def near(m: _Mention) -> bool:
            return a <= m.start < b

    else:

        def near(m: _Mention) -> bool:
            return line.visible(m, number)

    at = bisect.bisect_left(line.plain_starts, n)
    left = [m for m in line.plain[max(at - _NEAREST, 0) : at][::-1] if near(m)]
    right = [m for m in line.plain[at : at + _NEAREST] if near(m)]
    # The function it is the argument of (the innermost) or the value of.
    function: frozenset[str] = frozenset()
    in_exp = False
    at = bisect.bisect_left(line.function_starts, n)
    for m in line.functions[max(at - _NEAREST, 0) : at]:
        if m.arg and m.arg[0] < n < m.arg[1]:
            function, in_exp = m.names, m.function == "exp"  # the innermost wins: last
        elif (
            m.function.startswith("=")
            and n - m.start < 20
            and re.fullmatch(r"\s*\$*\s*=\s*\$*\s*", line.text[m.start + 1 : n])
        ):
            function = m.names
    own = left + right
    return _Hints(
        column=column,
        own=own,
        function=function,
        step=step,
        row_step=line.row,
        line=line.names,
        in_exp=in_exp,
    )  # fmt: skip


@dataclass(frozen=True)
class _Scored:
    base: _Base
    transform: str
    modes: tuple[str, ...]
    score: tuple[int, ...]

    @property
    def names(self) -> frozenset[str]:
        if self.transform == "negation":
            return frozenset({"-" + self.base.quantity})
        return self.base.names

    def key(self) -> tuple:
        b = self.base
        return (self.score, -_KIND_ORDER.index(b.kind), -b.example, -(b.t or 0), -b.order)


def _rank(
    found: list[tuple[_Base, str, tuple[str, ...]]],
    hints: _Hints,
    step: int | None,
    context: int | None,
    *,
    with_context: bool = True,
) -> list[_Scored]:
    """The candidates, best first, each with its score (see the module's notes)."""
    everything = frozenset().union(*(b.names for b, _, _ in found)) | {
        "-" + b.quantity for b, tr, _ in found if tr == "negation"
    }
    own_names: frozenset[str] = frozenset()
    own_step = None
    for m in hints.own:
        if m.names & everything:
            own_names, own_step = m.names, m.step
            break
    if own_step is not None:
        step = own_step
    out = []
    for base, transform, modes in found:
        s = _Scored(base, transform, modes, ())
        names = s.names
        step_score = 0 if step is None or base.t is None else 1 if base.t == step else -1
        score = (
            int(bool(names & hints.column)),
            int(bool(names & own_names)),
            int(base.kind == "input"),
            int(bool(names & hints.function)),
            step_score,
            int(bool(names & hints.line)),
            int(with_context and base.example == context),
        )
        out.append(_Scored(base, transform, modes, score))
    return sorted(out, key=_Scored.key, reverse=True)


def _top(ranked: list[_Scored]) -> list[_Scored]:
    """The candidates tied for first place."""
    return [s for s in ranked if s.score == ranked[0].score]


# -- the draft -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftedClaim:
    """A number that states a quantity: a claim for the claims file."""

    number: Number
    where: str
    candidate: Candidate
    #: Other candidates the text does not tell apart from ``candidate`` (ambiguous if any).
    alternatives: tuple[Candidate, ...] = ()

    @property
    def line(self) -> int:
        return self.number.line

    @property
    def claimed(self) -> str:
        return self.number.text

    @property
    def example(self) -> str:
        return self.candidate.example

    @property
    def t(self) -> int:
        return self.candidate.t or 1

    @property
    def quantity(self) -> str:
        return self.candidate.quantity


@dataclass(frozen=True)
class InputNumber:
    """A number that is an input of an example (a parameter, an x, the initial state)."""

    number: Number
    where: str
    candidate: Candidate
    alternatives: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class UnmatchedNumber:
    """A number that is the correct rounding of nothing: its nearest quantity, and how far."""

    number: Number
    where: str
    nearest: Candidate | None
    value: str = ""  # the nearest quantity, certified, two places more than the number
    rounded: str = ""  # its correct rounding at the number's places (exact mode)
    hand: str = ""  # the same in hand-calculation mode
    off: str = ""  # |value − number|

    def comment(self) -> str:
        n = self.number
        shown = n.text + ("%" if n.percent else "")
        if self.nearest is None:
            return f"line {n.line}: {shown} — no quantity to compare it with"
        rounds = f"rounds to {self.rounded}"
        if self.hand != self.rounded:
            rounds += f", by hand {self.hand}"
        return (
            f"line {n.line}: {shown} — nearest: {self.nearest.label()} = {self.value} "
            f"({rounds}; off by {self.off}): not a correct rounding"
        )


@dataclass
class Draft:
    """A drafted claims file: the claims, the inputs and the numbers that match nothing."""

    document: str
    title: str
    examples: dict[str, Example]
    claims: list[DraftedClaim]
    inputs: list[InputNumber]
    unmatched: list[UnmatchedNumber]

    @property
    def ambiguous(self) -> list[DraftedClaim]:
        return [c for c in self.claims if c.alternatives]

    def summary(self) -> str:
        """``20 claims (0 ambiguous), 1 number matching nothing, 15 inputs``."""
        return (
            f"{_count(len(self.claims), 'claim')} ({len(self.ambiguous)} ambiguous), "
            f"{_count(len(self.unmatched), 'number')} matching nothing, "
            f"{_count(len(self.inputs), 'input')}"
        )

    def to_toml(self) -> str:
        """The claims file, TOML for ``symlstm audit``: claims in the document's order,
        each unmatched number as a commented-out claim at its place, the inputs at the end."""
        names = ", ".join(self.examples)
        head = [
            f"# Claims drafted by `symlstm claims draft` from {_comment(self.document)}",
            f"# against {_comment(names)}: {self.summary()}.",
            "# A draft: check each claim. Ambiguous ones list the other candidates above them.",
            "# A number that matches nothing is commented out with its nearest quantity (a wrong",
            "# claim, or one the draft cannot place): uncomment it for `symlstm audit` to check.",
            f"title = {_toml_string(self.title)}",
            f"source = {_toml_string(self.document)}",
        ]
        entries: list[tuple[tuple[int, int], list[str]]] = []
        for c in self.claims:
            lines = []
            if c.alternatives:
                labels = ", ".join(x.label() for x in (c.candidate, *c.alternatives))
                lines.append(
                    f"# line {c.line}: {c.claimed} is the rounding of "
                    f"{1 + len(c.alternatives)} quantities that the text does not tell apart: "
                    f"{_comment(labels)} (the claim takes the first)"
                )
            lines += ["[[claims]]", *_claim_lines(c.where, c.number, c.candidate)]
            entries.append(((c.line, c.number.column), lines))
        for u in self.unmatched:
            lines = [f"# {_comment(u.comment())}"]
            if u.nearest is not None:
                lines += [
                    f"# {x}" for x in ["[[claims]]", *_claim_lines(u.where, u.number, u.nearest)]
                ]
            entries.append(((u.number.line, u.number.column), lines))
        body = []
        for _, lines in sorted(entries, key=lambda e: e[0]):
            body += ["", *lines]
        tail = []
        if self.inputs:
            tail = [
                "",
                "# Inputs of the examples (parameters, x, initial state), so not claims:",
            ]
            for i in self.inputs:
                shown = i.number.text + ("%" if i.number.percent else "")
                also = "".join(f", or {a.label()}" for a in i.alternatives)
                tail.append(
                    f"# line {i.number.line}: {shown} = {_comment(i.candidate.label() + also)}"
                )
        return "\n".join(head + body + tail) + "\n"


def _claim_lines(where: str, number: Number, c: Candidate) -> list[str]:
    return [
        f"where = {_toml_string(where)}",
        f"line = {number.line}",
        f"example = {_toml_string(c.example)}",
        f"t = {c.t or 1}",
        f"quantity = {_toml_string(c.quantity)}",
        f"claimed = {_toml_string(number.text)}",
    ]


def _toml_string(text: str) -> str:
    """A TOML basic string."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\t":
            out.append("\\t")
        elif unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029\x7f":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    """Text for a TOML comment: one line, no control characters."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)


def _where(text: str, column: int) -> str:
    """The number's line, trimmed, whitespace collapsed, cut to :data:`WHERE_CHARS` around it."""
    reach = 4 * WHERE_CHARS  # enough to fill the window after whitespace is collapsed
    head, tail = text[max(column - reach, 0) : column], text[column : column + reach]
    if column > reach:
        head = "…" + head
    if column + reach < len(text):
        tail = tail + "…"
    head = re.sub(r"\s+", " ", head).lstrip()
    tail = re.sub(r"\s+", " ", tail).rstrip()
    if len(head) + len(tail) <= WHERE_CHARS:
        return head + tail
    keep = WHERE_CHARS - 2
    before = min(len(head), max(keep // 3, keep - len(tail)))
    after = keep - before
    left = "…" + head[len(head) - before :] if before < len(head) else head
    right = tail[:after] + "…" if after < len(tail) else tail
    return left + right


def _example_ref(ref: str | os.PathLike, base_dir: Path) -> str:
    """How a claims file in ``base_dir`` names the example: its built-in name, or its path
    relative to ``base_dir`` (where ``symlstm audit`` looks for it)."""
    text = os.fspath(ref)
    if isinstance(ref, str) and is_builtin_name(text) and not Path(text).exists():
        return text
    return Path(os.path.relpath(os.path.abspath(text), os.path.abspath(base_dir))).as_posix()


def draft_claims(
    document: str | os.PathLike,
    examples: Sequence[str | os.PathLike],
    *,
    base_dir: str | os.PathLike | None = None,
) -> Draft:
    """Draft a claims file from a document: match each of its numbers against the examples.

    Parameters
    ----------
    document
        A text, Markdown or LaTeX file (LaTeX: a ``.tex`` suffix or ``\\documentclass``).
    examples
        Built-in example names or example files, in the order of preference for
        numbers the text does not place.
    base_dir
        The folder the claims file will be written to: example files are named
        relative to it (default: the current folder).

    Returns
    -------
    Draft
        Its ``claims``, ``inputs`` and ``unmatched`` numbers, and :meth:`Draft.to_toml`.

    Raises
    ------
    ExampleFileError
        If the document cannot be read as text, is too large, or states a number the
        reader cannot read (see :func:`find_numbers`); or an example file is bad.
    UnknownNameError
        For an example that does not exist.
    """
    if isinstance(examples, str | os.PathLike) or not isinstance(examples, Iterable):
        raise ArgumentError("examples must be a list of example names or paths")
    refs = list(dict.fromkeys(os.fspath(e) if isinstance(e, os.PathLike) else e for e in examples))
    if not refs:
        raise ArgumentError("give at least one example to match the document against")
    for ref in refs:
        if not isinstance(ref, str):
            raise ArgumentError(f"an example must be a name or a path, not {type(ref).__name__}")
    if base_dir is not None and not isinstance(base_dir, str | os.PathLike):
        raise ArgumentError(f"base_dir must be a path or None, not {type(base_dir).__name__}")
    lines, latex = read_document(document)
    try:
        numbers = find_numbers(lines, latex=latex)
    except ExampleFileError as err:
        raise ExampleFileError(f"{os.fspath(document)}: {err}") from None
    loaded = [load_example(ref) for ref in refs]
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    names = [_example_ref(ref, base) for ref in refs]
    values = _Values(loaded, names)
    read = _read_lines(lines, latex)
    by_line: dict[int, list[Number]] = {}
    for n in numbers:
        by_line.setdefault(n.line, []).append(n)
    draft = Draft(
        document=os.fspath(document),
        title=_title(lines) or Path(document).name,
        examples=dict(zip(names, loaded, strict=True)),
        claims=[],
        inputs=[],
        unmatched=[],
    )
    carried: int | None = None
    context: int | None = None
    for k, text in enumerate(lines, start=1):
        line = read[k]
        if _HEADING.match(text):
            carried = None
        step = line.step if line.step is not None else carried
        if line.row is not None:
            step = _row_step(by_line.get(k, []), values) or line.row
        for number in by_line.get(k, []):
            context = _place(number, line, step, context, values, names, draft)
        if line.step is not None and line.row is None:
            carried = line.step
    return draft


def _title(lines: Sequence[str]) -> str:
    """The document's title: a LaTeX ``\\title{…}``, else its first line of text."""
    for line in lines:
        m = re.search(r"\\title\{(.*)\}", line)
        if m:
            return _where(m.group(1), 0)
    for line in lines:
        text = line.strip().lstrip("#").strip()
        if text and not text.startswith(("\\", "%", "---", "<")):
            return _where(text, 0)
    return ""


def _count(n: int, what: str) -> str:
    """``1 number``, ``2 numbers``."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _row_step(numbers: list[Number], values: _Values) -> int | None:
    """The step of a table row whose numbers include an x of exactly one step."""
    steps = {
        b.t
        for n in numbers
        if not n.percent
        for b in values.inputs
        if b.quantity == "x" and b.bounds[0][0] == n.value
    }
    return steps.pop() if len(steps) == 1 else None


def _candidate(s: _Scored, names: Sequence[str]) -> Candidate:
    b = s.base
    return Candidate(names[b.example], b.t, _quantity_text(b, s.transform), b.kind, s.modes)


def _place(
    number: Number,
    line: _Line,
    step: int | None,
    context: int | None,
    values: _Values,
    names: Sequence[str],
    draft: Draft,
) -> int | None:
    """Match one number, add it to the draft, and return the example the text is about."""
    hints = _hints(number, line, step)
    where = _where(line.text, number.column)

    def attempt(prec: int) -> list[tuple[_Base, str, tuple[str, ...]]]:
        found = []
        if not number.percent:
            found += [
                (b, "plain", ()) for b in values.inputs if _matching_modes(number, b, "plain")
            ]
        for b in values.at(prec):
            for tr in _transforms(number, b, hints.in_exp):
                modes = _matching_modes(number, b, tr)
                if modes:
                    found.append((b, tr, modes))
        return found

    what = f"line {number.line}: {number.text}"
    found = with_increasing_precision(attempt, what=what)
    if not found:
        draft.unmatched.append(_nearest(number, where, hints, step, context, values, names))
        return context
    top = _top(_rank(found, hints, step, context))
    best, others = _candidate(top[0], names), tuple(_candidate(s, names) for s in top[1:])
    if best.kind == "input":
        draft.inputs.append(InputNumber(number, where, best, others))
    else:
        draft.claims.append(DraftedClaim(number, where, best, others))
    # The text is about an example from here on when its own words (not the last
    # example) single the number out as that example's.
    unaware = _top(_rank(found, hints, step, context, with_context=False))
    if len({s.base.example for s in unaware}) == 1 and any(unaware[0].score[:5]):
        return unaware[0].base.example
    return context


def _nearest(
    number: Number,
    where: str,
    hints: _Hints,
    step: int | None,
    context: int | None,
    values: _Values,
    names: Sequence[str],
) -> UnmatchedNumber:
    """The quantity the text says the number is, else the nearest: certified, to show."""
    near = [
        (b, tr, ())
        for b in values.at(_first_precision(values))
        for tr in _transforms(number, b, hints.in_exp)
    ]
    if not near:
        return UnmatchedNumber(number, where, None)
    ranked = _rank(near, hints, step, context)
    ranked.sort(key=lambda s: (s.score, -_distance(number, s.base, s.transform)), reverse=True)
    chosen = ranked[0]
    key = (chosen.base.example, chosen.base.t, chosen.base.quantity, chosen.base.kind)
    places = number.places

    def show(prec: int) -> tuple[str, str, str]:
        base = next(b for b in values.at(prec) if (b.example, b.t, b.quantity, b.kind) == key)
        out = []
        for lo, hi in base.bounds:
            if chosen.transform == "percent":
                lo, hi = 100 * lo, 100 * hi
            elif chosen.transform == "negation":
                lo, hi = -hi, -lo
            out.append(round_enclosure(lo, hi, places=places))
        value = round_enclosure(*_scaled(base.bounds[0], chosen.transform), places=places + 2)
        if value is None or None in out:
            raise UndecidedError
        return value, out[0], out[-1]

    value, rounded, hand = with_increasing_precision(
        show, what=f"line {number.line}: {number.text}"
    )
    off = abs(Fraction(value) - number.value)
    return UnmatchedNumber(
        number,
        where,
        _candidate(chosen, names),
        value=value,
        rounded=rounded,
        hand=hand,
        off=_decimal(off, places + 2),
    )


def _scaled(bounds: tuple[Fraction, Fraction], transform: str) -> tuple[Fraction, Fraction]:
    lo, hi = bounds
    if transform == "percent":
        return 100 * lo, 100 * hi
    if transform == "negation":
        return -hi, -lo
    return lo, hi


def _first_precision(values: _Values) -> int:
    """The lowest precision at which every example evaluates (hand mode may need more)."""
    return with_increasing_precision(lambda prec: (values.at(prec), prec)[1], max_prec=MAX_PREC)


def _decimal(q: Fraction, places: int) -> str:
    """An exact decimal, without trailing zeros."""
    text = round_places(q, max(places, 0))
    return text.rstrip("0").rstrip(".") if "." in text else text
