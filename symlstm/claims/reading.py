"""What the words around a number say: the symbols and subscripts, table columns,
clauses, steps and headings of each line (for :mod:`symlstm.claims.draft`)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from symlstm.claims.numbers import Number, find_numbers

__all__: list[str] = []

# -- what the text says around a number ----------------------------------------------------


@dataclass(frozen=True)
class Mention:
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
NEAREST = 8
_CLAUSE_END = re.compile(r",|;|\\q?quad\b|\\\\|&|\||\t|\band\b|\bbut\b|\.(?=\s|$)")
_STEP_WORDS = re.compile(r"(?<![A-Za-z_])t\s*=\s*(\d+)\b|\btime\s*step\s+(\d+)\b", re.IGNORECASE)
HEADING = re.compile(r"\s*(?:#+\s|\d+(?:\.\d+)*\.?\s+[A-Z]|\\(?:sub)*section\*?\{|\\chapter\b)")


def _subscript(match: re.Match) -> tuple[str, int | None]:
    """ "t", "prev" or "step" for a subscript, and the step number of a digit subscript."""
    sub = (match.group("sub") or match.group("sub1") or "").replace(" ", "").replace("−", "-")
    if sub.isdigit() and len(sub) <= 4:
        return "step", int(sub)
    return ("prev", None) if sub == "t-1" else ("t", None)


def _symbol(match: re.Match, kind: str) -> Mention:
    start, end = match.span()
    if kind in ("weight", "bias", "z"):
        gate = _GATE[match.group("gate")]
        if kind == "weight":
            base = match.group("base")
            names = {f"U_{gate}"} if base == "U" else {f"w_{gate}", f"W_{gate}"}
        else:
            names = {f"{'b' if kind == 'bias' else 'z'}_{gate}"}
        return Mention(start, end, frozenset(names))
    if kind == "biases":
        return Mention(start, end, frozenset(f"b_{k}" for k in "fiog"))
    base = "g" if kind == "g" else match.group("base").lower()
    where, step = ("t", None)
    if kind == "g" and match.group("sub") is None and match.group("sub1") is None:
        return Mention(start, end, frozenset({"g"}))
    where, step = _subscript(match)
    if base in ("h", "c") and (where == "prev" or step == 0):
        return Mention(start, end, frozenset({f"{base}_prev"}), 1 if step == 0 else None)
    return Mention(start, end, frozenset({base}), step)


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


def _mentions(text: str) -> list[Mention]:
    """The symbols, words and functions of one line (or table cell), left to right."""
    found: list[Mention] = []
    taken = [False] * (len(text) + 1)
    for pattern, kind in _SYMBOLS:
        for m in pattern.finditer(text):
            if not any(taken[m.start() : m.end()]):
                found.append(_symbol(m, kind))
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
    for pattern, name in _WORDS:
        for m in pattern.finditer(text):
            if not any(taken[m.start() : m.end()]):
                found.append(Mention(m.start(), m.end(), frozenset({name})))
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
                Mention(m.start(), close + 1, frozenset(names), function=name, arg=(open_at, close))
            )
            if name != "exp":
                result = {value[gate]} if gate in value else set(value.values())
                functions.append(Mention(close, close + 1, frozenset(result), function="=" + name))
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
class Line:
    """What one line says: its mentions, clauses, bracket groups, table cell and step."""

    text: str
    mentions: list[Mention]
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
    def read(cls, text: str) -> Line:
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

    def visible(self, mention: Mention, number: Number) -> bool:
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


def read_lines(lines: Sequence[str], latex: bool) -> dict[int, Line]:
    """Every line read, with tables' headers and rows marked (line number → Line)."""
    read = {k: Line.read(text) for k, text in enumerate(lines, start=1)}
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
