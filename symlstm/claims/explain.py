"""Possible explanations of a document's wrong claims: what small change would make them hold.

An audit says which claims are wrong; it never fits the example to the claims. This
module then asks, for each wrong claim, which *small* change would make it hold while
every claim that held still holds, and lists the few best as possible explanations,
never as verdicts. Four kinds are searched, each bounded:

``parameter`` / ``initial``
    one parameter or initial value of the claim's example moved on the document's
    own grid: first in steps of the places it is stated to (0.7 → 0.6, 0.8), then in
    half steps (0.65, 0.75), then one place finer (0.69, 0.71 …). Every claim on that
    example is recomputed, certified, in both modes.
``convention``
    a convention of the field: the initial state carried over from an earlier example
    of the same document, or a forget-gate bias of 1.
``rounding``
    the claim rounded another way: truncated, rounded half to even, or rounded twice
    (first to one more place); the explanation says how many of the document's other
    claims the same rule also gives.
``slip``
    a slip in the claim itself: two adjacent digits swapped, the last digit off by one,
    or a value copied from the neighbouring step or quantity.

Explanations are ranked by how little they change: a parameter on the document's own
grid first, then finer grids, conventions, a different rounding, and slips last. The
search is bounded (:data:`MAX_CANDIDATES` recomputations of an example, and
:data:`TIME_BUDGET` seconds); when it finds nothing it says so.

>>> from symlstm.claims.audit import audit
>>> found = explain(audit())
>>> [e.change for e in found[0].explanations][:1]
['w_f = 0.65 (the example has 0.7)']
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from symlstm.cell import Cell
from symlstm.claims.audit import (
    AuditReport,
    Claim,
    ClaimResult,
    enclose_claim,
    mode_results,
    parse_quantity,
)
from symlstm.errors import ArgumentError, SymLSTMError, UndecidedError
from symlstm.examples import Example
from symlstm.numeric.evaluation import Enclosure
from symlstm.numeric.rounding import (
    round_places,
    stated_places,
    with_increasing_precision,
)

__all__ = ["MAX_CANDIDATES", "TIME_BUDGET", "Explained", "Explanation", "explain"]

#: The most example recomputations one search makes.
MAX_CANDIDATES = 400
#: Seconds one search may take before it stops and says so.
TIME_BUDGET = 20.0
#: The most explanations kept for one wrong claim.
MAX_SHOWN = 5


@dataclass(frozen=True)
class Explanation:
    """One change under which a wrong claim holds."""

    kind: str  # parameter, initial, convention, rounding, slip
    change: str  # what changes, in words: "w_f = 0.65 (the example has 0.7)"
    detail: str  # what follows: "all 38 claims that held still hold"
    cost: float  # smaller is less of a change
    fixes: tuple[int, ...] = ()  # indices (in the report) of the wrong claims it makes hold

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "change": self.change, "detail": self.detail}


@dataclass
class Explained:
    """The explanations found for one wrong claim."""

    index: int  # the claim's index in the report's results
    result: ClaimResult
    explanations: list[Explanation] = field(default_factory=list)
    note: str = ""  # why the search stopped, where it did

    def text(self) -> str:
        c = self.result.claim
        head = (
            f"{'line ' + str(c.line) + ', ' if c.line else ''}{c.quantity} at t = {c.t} "
            f"claimed {c.claimed} (exact {self.result.exact.rounded}, hand "
            f"{self.result.hand.rounded}): {c.where}"
        )
        lines = [head]
        if not self.explanations:
            lines.append("  no small change found that makes it hold" + _also(self.note))
        for k, e in enumerate(self.explanations, 1):
            lines.append(f"  {k}. {e.change}: {e.detail}")
        if self.explanations and self.note:
            lines.append(f"  ({self.note})")
        return "\n".join(lines)


def _also(note: str) -> str:
    return f" ({note})" if note else ""


def explain(
    report: AuditReport, *, max_candidates: int = MAX_CANDIDATES, time_budget: float = TIME_BUDGET
) -> list[Explained]:
    """Search for the smallest changes that make each wrong claim of an audit hold.

    Parameters
    ----------
    report
        An audit (:func:`symlstm.claims.audit.audit`).
    max_candidates, time_budget
        Bounds on the search: recomputations of an example, and seconds.

    Returns
    -------
    list of Explained
        One entry per wrong claim, in the report's order, each with at most
        :data:`MAX_SHOWN` explanations, best first.
    """
    if not isinstance(report, AuditReport):
        raise ArgumentError(f"report must be an AuditReport, not {type(report).__name__}")
    search = _Search(report, max_candidates, time_budget)
    return search.run()


class _Search:
    def __init__(self, report: AuditReport, max_candidates: int, time_budget: float) -> None:
        self.report = report
        self.wrong = [k for k, r in enumerate(report.results) if not r.holds]
        self.budget = max_candidates
        self.deadline = time.monotonic() + time_budget
        self.stopped = ""
        # One certified trace per example and precision, one enclosure per claim: the
        # rounding rules are tried on every claim, and would otherwise recompute them.
        self.traces: dict[tuple[str, int], Any] = {}
        self.enclosed: dict[int, Enclosure | None] = {}
        self.exprs = {}
        for k, r in enumerate(report.results):
            example = report.examples[r.claim.example]
            self.exprs[k] = parse_quantity(r.claim.quantity, example)

    # -- example changes ---------------------------------------------------------------

    def holding_after(self, name: str, example: Example) -> set[int] | None:
        """Indices of the claims on example ``name`` that hold when it is replaced by
        ``example``, or None when the change is out of bounds or cannot be computed."""
        if self.budget <= 0 or time.monotonic() > self.deadline:
            self.stopped = "the search stopped at its bound; there may be more"
            return None
        self.budget -= 1
        items = [(k, r.claim) for k, r in enumerate(self.report.results) if r.claim.example == name]
        pairs = [(c, self.exprs[k]) for k, c in items]
        try:
            exact = mode_results(example, pairs, hand=False)
            hand = mode_results(example, pairs, hand=True)
        except SymLSTMError:
            return None
        return {
            k for (k, _), e, h in zip(items, exact, hand, strict=True) if e.correct or h.correct
        }

    def example_changes(self, name: str) -> Iterator[tuple[str, str, str, float, Example]]:
        """(kind, what changes, the change in words, cost, changed example), cheapest
        first."""
        example = self.report.examples[name]
        if example.cell.is_vector:
            return  # one value of a matrix at a time would be thousands of candidates
        values = [("parameter", p, v) for p, v in example.parameters.items()]
        values += [("initial", "h_0", example.h0), ("initial", "C_0", example.c0)]
        candidates = []
        for kind, label, value in values:
            stated = Fraction(int(value.p), int(value.q))
            for level, new in _grid(stated):
                cost = 1 + level + abs(new - stated) / _step(stated, 0)
                candidates.append((cost, kind, label, stated, new))
        candidates.sort(key=lambda c: c[0])
        for cost, kind, label, stated, new in candidates:
            changed = _with_value(example, label, new)
            shown = _decimal(new)
            change = f"{label} = {shown} (the example has {_decimal(stated)})"
            yield kind, label, change, cost, changed
        for other_name, other in self.report.examples.items():
            if other_name == name or other.cell.is_vector or example.cell.is_vector:
                continue
            for when, h0, c0 in _carried_states(other):
                changed = dataclasses.replace(example, h0=h0, c0=c0)
                change = (
                    f"h_0 = {_decimal(h0)}, C_0 = {_decimal(c0)}: the state {when} of "
                    f"{other_name} carried over"
                )
                yield "convention", change, change, 3.0, changed
        if example.cell.variant.forget_bias == 0 and "f" in example.cell.gates_with_parameters:
            cell = Cell(
                example.cell.kind,
                dataclasses.replace(example.cell.variant, forget_bias=1),
            )
            change = "a forget-gate bias of 1 (as Keras and TF1 add)"
            yield "convention", change, change, 3.2, dataclasses.replace(example, cell=cell)

    # -- claim changes -----------------------------------------------------------------

    def claim_changes(self, k: int) -> Iterator[Explanation]:
        r = self.report.results[k]
        claim = r.claim
        exact = self.enclosure(k)
        if exact is None:
            return
        places = claim.places
        claimed = Fraction(claim.claimed)
        for rule, (cost, fn) in _ROUNDINGS.items():
            try:
                text = fn(exact, places)
            except UndecidedError:
                continue
            if text is not None and Fraction(text) == claimed:
                agree, held = self.agreeing(fn), len(self.report.results) - len(self.wrong)
                yield Explanation(
                    "rounding",
                    f"{rule}: the exact value {r.exact.value} {_VERB[rule]} to {places} places "
                    f"is {claim.claimed}",
                    f"{agree} of the {held} claims that hold agree with {rule} too",
                    cost + (1 - agree / max(1, held)),
                )
        correct = {r.exact.rounded, r.hand.rounded}
        swapped = _swaps(claim.claimed)
        for text in sorted(correct):
            if text in swapped:
                yield Explanation(
                    "slip",
                    f"two digits swapped: {text} written {claim.claimed}",
                    "a slip of the pen; every other claim is unchanged",
                    5.0,
                )
        unit = Fraction(1, 10**places)
        for text in sorted(correct):
            if abs(Fraction(text) - claimed) == unit:
                yield Explanation(
                    "slip",
                    f"last digit off by one: {text} written {claim.claimed}",
                    "a slip, or a rounding this search does not model",
                    6.0,
                )
        for where, text in self.neighbours(k):
            if text == _normalised(claim.claimed):
                yield Explanation(
                    "slip",
                    f"copied from {where}",
                    f"{where} rounds to {text} at {places} places",
                    5.5,
                )

    def enclosure(self, k: int) -> Enclosure | None:
        """Claim k's exact value, certified narrow enough to round at its places (once)."""
        if k not in self.enclosed:
            claim = self.report.results[k].claim
            example = self.report.examples[claim.example]

            def attempt(prec: int) -> Enclosure:
                key = (claim.example, prec)
                if key not in self.traces:
                    self.traces[key] = example.evaluate(method="interval", prec=prec)
                enc = enclose_claim(self.traces[key], self.exprs[k], claim, False)
                enc.round(places=claim.places + 3)  # narrow enough for the claim's places
                return enc

            try:
                self.enclosed[k] = with_increasing_precision(attempt, what=claim.where)
            except SymLSTMError:
                self.enclosed[k] = None
        return self.enclosed[k]

    def agreeing(self, fn: Callable) -> int:
        """How many of the claims that hold the rounding rule gives as well."""
        count = 0
        for k, r in enumerate(self.report.results):
            if k in self.wrong:
                continue
            enc = self.enclosure(k)
            if enc is None:
                continue
            try:
                text = fn(enc, r.claim.places)
            except UndecidedError:
                continue
            if text is not None and Fraction(text) == Fraction(r.claim.claimed):
                count += 1
        return count

    def neighbours(self, k: int) -> Iterator[tuple[str, str]]:
        """The same quantity at the steps before and after, and the other quantities of the
        step, each rounded at the claim's places (exact values)."""
        claim = self.report.results[k].claim
        example = self.report.examples[claim.example]
        if example.cell.is_vector or not claim.quantity.isidentifier():
            return
        trace = example.evaluate(method="interval", prec=256)
        places = [(claim.quantity, t) for t in (claim.t - 1, claim.t + 1) if 1 <= t <= len(trace)]
        places += [
            (name, claim.t)
            for name in example.cell.quantities
            if name != claim.quantity and not name.startswith("z_")
        ]
        for name, t in places:
            try:
                yield f"{name} at t = {t}", trace[name, t].round(places=claim.places)
            except (UndecidedError, SymLSTMError):
                continue

    # -- the search --------------------------------------------------------------------

    def run(self) -> list[Explained]:
        out = {k: Explained(k, self.report.results[k]) for k in self.wrong}
        if not self.wrong:
            return []
        held = {k for k, r in enumerate(self.report.results) if r.holds}
        for name in sorted({self.report.results[k].claim.example for k in self.wrong}):
            on_example = {k for k in held if self.report.results[k].claim.example == name}
            targets = [k for k in self.wrong if self.report.results[k].claim.example == name]
            # Per wrong claim, what changes (w_f) → the explanations found by changing it.
            found: dict[int, dict[str, list[Explanation]]] = {k: {} for k in targets}
            for kind, label, change, cost, changed in self.example_changes(name):
                if all(len(f) >= MAX_SHOWN and label not in f for f in found.values()):
                    break
                holding = self.holding_after(name, changed)
                if holding is None:
                    if self.stopped:
                        break
                    continue
                if not on_example <= holding:
                    continue  # a claim that held would break
                fixed = tuple(k for k in targets if k in holding)
                for k in fixed:
                    also = [self.report.results[j].claim for j in fixed if j != k]
                    detail = f"it holds, and all {len(held)} claims that held still hold"
                    if also:
                        detail += f"; it also mends {', '.join(_short(c) for c in also)}"
                    found[k].setdefault(label, []).append(
                        Explanation(kind, change, detail, cost, fixed)
                    )
            for k, by_label in found.items():
                out[k].explanations += [_merged(label, ex) for label, ex in by_label.items()]
        for k in self.wrong:
            out[k].explanations += list(self.claim_changes(k))
            out[k].explanations.sort(key=lambda e: e.cost)
            del out[k].explanations[MAX_SHOWN:]
            out[k].note = self.stopped
        return [out[k] for k in self.wrong]


# -- helpers -------------------------------------------------------------------------------


def _merged(label: str, found: list[Explanation]) -> Explanation:
    """The cheapest change of one value, naming the other values that work too."""
    best = found[0]
    others = [e.change.split(" = ", 1)[1].split(" (")[0] for e in found[1:]]
    if not others or best.kind not in ("parameter", "initial"):
        return best
    more = f"; {label} = {', '.join(sorted(others))} work too"
    return dataclasses.replace(best, detail=best.detail + more)


def _places_of(x: Fraction) -> int:
    """The decimal places a terminating decimal needs (0.7 → 1, 0.65 → 2, 3 → 0)."""
    places = 0
    while (x * 10**places).denominator != 1 and places < 30:
        places += 1
    return places


def _step(x: Fraction, level: int) -> Fraction:
    """The grid step at a level: the stated places, then a half step, then one place finer."""
    unit = Fraction(1, 10 ** _places_of(x))
    return {0: unit, 1: unit / 2, 2: unit / 10}[level]


def _grid(x: Fraction) -> Iterator[tuple[int, Fraction]]:
    """Values near x on the document's grid, coarse levels first, nearest first in each."""
    seen = {x}
    for level, reach in ((0, 2), (1, 3), (2, 9)):
        step = _step(x, level)
        for k in sorted(range(-reach, reach + 1), key=abs):
            new = x + k * step
            if new not in seen:
                seen.add(new)
                yield level, new


def _with_value(example: Example, label: str, new: Fraction) -> Example:
    import sympy

    value = sympy.Rational(new.numerator, new.denominator)
    if label == "h_0":
        return dataclasses.replace(example, h0=value)
    if label == "C_0":
        return dataclasses.replace(example, c0=value)
    return dataclasses.replace(example, parameters={**example.parameters, label: value})


def _decimal(x: Any) -> str:
    q = Fraction(int(x.p), int(x.q)) if hasattr(x, "p") else Fraction(x)
    return round_places(q, _places_of(q)) if _places_of(q) < 30 else str(q)


def _carried_states(other: Example) -> Iterator[tuple[str, Any, Any]]:
    """The initial state of another example, and its state after its last step."""
    import sympy

    yield "at the start", other.h0, other.c0
    trace = other.evaluate(method="exact")
    n = len(trace)
    h, c = trace["h", n], trace["c", n]
    if all(isinstance(v, sympy.Rational) for v in (h, c)):
        yield "at the end", h, c


def _normalised(text: str) -> str:
    return round_places(Fraction(text), stated_places(text))


def _short(claim: Claim) -> str:
    return f"{claim.quantity} at t = {claim.t} ({claim.claimed})"


def _swaps(text: str) -> set[str]:
    """The texts with two adjacent digits swapped (0.61 → 0.16, 6.01 is not a swap of .)."""
    out = set()
    for j in range(len(text) - 1):
        a, b = text[j], text[j + 1]
        if a.isdigit() and b.isdigit() and a != b:
            swapped = text[:j] + b + a + text[j + 2 :]
            out.add(_normalised(swapped))
    return out


def _truncated(enc: Enclosure, places: int) -> str | None:
    lo, hi = enc.lo, enc.hi
    scale = 10**places

    def cut(q: Fraction) -> Fraction:
        n = abs(q) * scale
        whole = n.numerator // n.denominator
        return Fraction(whole if q >= 0 else -whole, scale)

    a, b = cut(lo), cut(hi)
    if a != b:
        raise UndecidedError
    return round_places(a, places)


def _half_even(enc: Enclosure, places: int) -> str | None:
    a, b = (round(q, places) for q in (enc.lo, enc.hi))
    if a != b:
        raise UndecidedError
    return round_places(Fraction(a), places)


def _twice(enc: Enclosure, places: int) -> str | None:
    first = enc.round(places=places + 1)
    return round_places(Fraction(first), places)


_ROUNDINGS: dict[str, tuple[float, Callable]] = {
    "truncation": (4.0, _truncated),
    "rounding half to even": (4.2, _half_even),
    "double rounding": (4.4, _twice),
}
_VERB = {
    "truncation": "truncated",
    "rounding half to even": "rounded half to even",
    "double rounding": "rounded first to one more place, then",
}
