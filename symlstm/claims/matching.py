"""What a number may be (every quantity, input, product, percentage and negation of
the examples) and how the candidates are ranked (for :mod:`symlstm.claims.draft`)."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from symlstm.claims.numbers import PERCENT_QUANTITIES, Number
from symlstm.claims.reading import NEAREST, Line, Mention
from symlstm.errors import UndecidedError
from symlstm.examples import Example
from symlstm.numeric.evaluation import Enclosure
from symlstm.numeric.rounding import (
    round_enclosure,
    round_places,
)

__all__ = ["Candidate"]

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
class Base:
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


class Values:
    """Every value of the examples, certified at a working precision (cached by precision)."""

    def __init__(self, examples: Sequence[Example], refs: Sequence[str]) -> None:
        self.examples, self.refs = examples, refs
        self._cache: dict[int, list[Base] | UndecidedError] = {}
        self.inputs = [b for k, ex in enumerate(examples) for b in self._inputs(k, ex)]

    def _inputs(self, k: int, ex: Example) -> list[Base]:
        out = []
        values = [(name, None, value) for name, value in ex.parameters.items()]
        values += [("h_prev", 1, ex.h0), ("c_prev", 1, ex.c0)]
        values += [("x", t, x) for t, x in enumerate(ex.inputs, start=1)]
        for name, t, value in values:
            for suffix, v in _components(value):
                q = _bounds(v)
                out.append(Base(k, t, name + suffix, "input", frozenset({name}), 0, (q,)))
        return out

    def at(self, prec: int) -> list[Base]:
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

    def _bases(self, k: int, ex: Example, prec: int) -> list[Base]:
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
                    out.append(Base(k, t, q + suffix, "quantity", names, order[q], bounds))
            for a, b in (("f", "c_prev"), ("i", "g")):
                if a not in order or b not in steps[0]:
                    continue
                pairs = [
                    list(zip(_components(s[a]), _components(s[b]), strict=True)) for s in steps
                ]
                for ((suffix, ea), (_, eb)), ((_, ha), (_, hb)) in zip(*pairs, strict=True):
                    out.append(
                        Base(k, t, f"{a}{suffix}*{b}{suffix}", "product", frozenset({f"{a}*{b}"}),
                              order[a], (_bounds(_product(ea, eb, prec)),
                                         _bounds(_product(ha, hb, prec))))
                    )  # fmt: skip
        return out


# -- matching and ranking --------------------------------------------------------------------


def matching_modes(number: Number, base: Base, transform: str) -> tuple[str, ...]:
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


def distance(number: Number, base: Base, transform: str) -> Fraction:
    """How far the value is from the number (the nearer mode)."""
    out = []
    for lo, hi in base.bounds:
        mid = (lo + hi) / 2
        mid = 100 * mid if transform == "percent" else -mid if transform == "negation" else mid
        out.append(abs(mid - number.value))
    return min(out)


def transforms(number: Number, base: Base, in_exp: bool) -> list[str]:
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


def quantity_text(base: Base, transform: str) -> str:
    if transform == "percent":
        return f"100*{base.quantity}"
    if transform == "negation":
        return f"-{base.quantity}"
    return base.quantity


@dataclass(frozen=True)
class Hints:
    """What the text around one number says it is."""

    column: frozenset[str]
    own: list[Mention]  # symbols and words of its clause, closest first (left, then right)
    function: frozenset[str]
    step: int | None  # from its own symbol; else the table row, the line, the section
    row_step: int | None
    line: frozenset[str]
    in_exp: bool


def hints_for(number: Number, line: Line, step: int | None) -> Hints:
    n = number.column
    column: frozenset[str] = frozenset()
    if line.header is not None:
        k = line.cell(number)
        if k is not None and k < len(line.header):
            column = line.header[k]
    # The closest symbols and words of its clause (a table's cell), at most NEAREST a side.
    if line.cells:
        k = line.cell(number)
        a, b = line.cells[k] if k is not None else (n, n)

        def near(m: Mention) -> bool:
            return a <= m.start < b

    else:

        def near(m: Mention) -> bool:
            return line.visible(m, number)

    at = bisect.bisect_left(line.plain_starts, n)
    left = [m for m in line.plain[max(at - NEAREST, 0) : at][::-1] if near(m)]
    right = [m for m in line.plain[at : at + NEAREST] if near(m)]
    # The function it is the argument of (the innermost) or the value of.
    function: frozenset[str] = frozenset()
    in_exp = False
    at = bisect.bisect_left(line.function_starts, n)
    for m in line.functions[max(at - NEAREST, 0) : at]:
        if m.arg and m.arg[0] < n < m.arg[1]:
            function, in_exp = m.names, m.function == "exp"  # the innermost wins: last
        elif (
            m.function.startswith("=")
            and n - m.start < 20
            and re.fullmatch(r"\s*\$*\s*=\s*\$*\s*", line.text[m.start + 1 : n])
        ):
            function = m.names
    own = left + right
    return Hints(
        column=column,
        own=own,
        function=function,
        step=step,
        row_step=line.row,
        line=line.names,
        in_exp=in_exp,
    )  # fmt: skip


@dataclass(frozen=True)
class Scored:
    base: Base
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


def rank(
    found: list[tuple[Base, str, tuple[str, ...]]],
    hints: Hints,
    step: int | None,
    context: int | None,
    *,
    with_context: bool = True,
) -> list[Scored]:
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
        s = Scored(base, transform, modes, ())
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
        out.append(Scored(base, transform, modes, score))
    return sorted(out, key=Scored.key, reverse=True)


def top_candidates(ranked: list[Scored]) -> list[Scored]:
    """The candidates tied for first place."""
    return [s for s in ranked if s.score == ranked[0].score]
