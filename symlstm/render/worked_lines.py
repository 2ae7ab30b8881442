"""The lines of a worked example, built from a certified trace: each quantity's formula,
the formula with the numbers put in (as :class:`Shown` atoms), the evaluated argument
and the rounded result, stage by stage (:class:`Line`, :class:`Stage`);
:mod:`symlstm.render.worked` renders them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
from sympy import Add, ImmutableMatrix, MatAdd, Mul, Symbol
from sympy.printing.precedence import PRECEDENCE

from symlstm import budget
from symlstm.examples import Example
from symlstm.functions import hard_sigmoid, sigmoid
from symlstm.numeric.evaluation import Enclosure, Trace, hand_rounds_terms
from symlstm.numeric.rounding import round_places
from symlstm.symbols import Notation

__all__ = ["Line", "Shown", "Stage"]

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


class Builder:
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
