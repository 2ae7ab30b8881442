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
>>> print(draft.toml().split("[[claims]]")[1])
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

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from symlstm.claims.matching import (
    Base,
    Candidate,
    Hints,
    Scored,
    Values,
    distance,
    hints_for,
    matching_modes,
    quantity_text,
    rank,
    top_candidates,
    transforms,
)
from symlstm.claims.numbers import (
    MAX_NUMBERS,
    WHERE_CHARS,
    Number,
    find_numbers,
    read_document,
)
from symlstm.claims.reading import HEADING, Line, read_lines
from symlstm.errors import ArgumentError, ExampleFileError, UndecidedError
from symlstm.examples import Example, is_builtin_name, load_example
from symlstm.limits import (
    MAX_DOCUMENT_BYTES,
)
from symlstm.numeric.rounding import (
    MAX_PREC,
    round_enclosure,
    round_places,
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

    def toml(self) -> str:
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
        Its ``claims``, ``inputs`` and ``unmatched`` numbers, and :meth:`Draft.toml`.

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
    values = Values(loaded, names)
    read = read_lines(lines, latex)
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
        if HEADING.match(text):
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


def _row_step(numbers: list[Number], values: Values) -> int | None:
    """The step of a table row whose numbers include an x of exactly one step."""
    steps = {
        b.t
        for n in numbers
        if not n.percent
        for b in values.inputs
        if b.quantity == "x" and b.bounds[0][0] == n.value
    }
    return steps.pop() if len(steps) == 1 else None


def _candidate(s: Scored, names: Sequence[str]) -> Candidate:
    b = s.base
    return Candidate(names[b.example], b.t, quantity_text(b, s.transform), b.kind, s.modes)


def _place(
    number: Number,
    line: Line,
    step: int | None,
    context: int | None,
    values: Values,
    names: Sequence[str],
    draft: Draft,
) -> int | None:
    """Match one number, add it to the draft, and return the example the text is about."""
    hints = hints_for(number, line, step)
    where = _where(line.text, number.column)

    def attempt(prec: int) -> list[tuple[Base, str, tuple[str, ...]]]:
        found = []
        if not number.percent:
            found += [(b, "plain", ()) for b in values.inputs if matching_modes(number, b, "plain")]
        for b in values.at(prec):
            for tr in transforms(number, b, hints.in_exp):
                modes = matching_modes(number, b, tr)
                if modes:
                    found.append((b, tr, modes))
        return found

    what = f"line {number.line}: {number.text}"
    found = with_increasing_precision(attempt, what=what)
    if not found:
        draft.unmatched.append(_nearest(number, where, hints, step, context, values, names))
        return context
    top = top_candidates(rank(found, hints, step, context))
    best, others = _candidate(top[0], names), tuple(_candidate(s, names) for s in top[1:])
    if best.kind == "input":
        draft.inputs.append(InputNumber(number, where, best, others))
    else:
        draft.claims.append(DraftedClaim(number, where, best, others))
    # The text is about an example from here on when its own words (not the last
    # example) single the number out as that example's.
    unaware = top_candidates(rank(found, hints, step, context, with_context=False))
    if len({s.base.example for s in unaware}) == 1 and any(unaware[0].score[:5]):
        return unaware[0].base.example
    return context


def _nearest(
    number: Number,
    where: str,
    hints: Hints,
    step: int | None,
    context: int | None,
    values: Values,
    names: Sequence[str],
) -> UnmatchedNumber:
    """The quantity the text says the number is, else the nearest: certified, to show."""
    near = [
        (b, tr, ())
        for b in values.at(_first_precision(values))
        for tr in transforms(number, b, hints.in_exp)
    ]
    if not near:
        return UnmatchedNumber(number, where, None)
    ranked = rank(near, hints, step, context)
    ranked.sort(key=lambda s: (s.score, -distance(number, s.base, s.transform)), reverse=True)
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


def _first_precision(values: Values) -> int:
    """The lowest precision at which every example evaluates (hand mode may need more)."""
    return with_increasing_precision(lambda prec: (values.at(prec), prec)[1], max_prec=MAX_PREC)


def _decimal(q: Fraction, places: int) -> str:
    """An exact decimal, without trailing zeros."""
    text = round_places(q, max(places, 0))
    return text.rstrip("0").rstrip(".") if "." in text else text
