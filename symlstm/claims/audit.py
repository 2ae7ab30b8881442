"""Auditing a document's rounded numbers against certified recomputation.

A claims file (TOML or JSON) lists what a document claims: where it stands, the
example it is computed from, the step, the quantity and the claimed decimal
text. Each claim is recomputed, certified, in two modes:

``exact``
    the exact value of the quantity, correctly rounded to the claimed places;
``hand``
    hand calculation, as the spec does it: every quantity of the cell is rounded
    to the example's digits before later steps use it (C_t = 0.62 × 0.4 + …).

A claim *holds* when it is the correct rounding in at least one mode.

>>> report = audit()
>>> report.all_hold, len(report.results), [r.claim.claimed for r in report.wrong]
(False, 39, ['0.61'])
>>> r = report.results[1]
>>> r.claim.where, r.claim.claimed, r.exact.rounded, r.exact.value
('§5 Step 1: f_t = 1/(1 + e^{-0.49}) = 0.62', '0.62', '0.62', '0.6201064323')
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

from symlstm import budget
from symlstm.errors import ArgumentError, ExampleFileError, SymLSTMError, UnknownNameError
from symlstm.examples import (
    Example,
    builtin_path,
    load_example,
    parse_example,
    read_data_file,
)
from symlstm.expressions import elide, evaluate_checked, parse_expression
from symlstm.functions import sigmoid
from symlstm.numeric.evaluation import Trace, evaluate, numeric_context
from symlstm.numeric.rounding import round_places, stated_places, with_increasing_precision

__all__ = ["AuditReport", "Claim", "ClaimResult", "ModeResult", "audit", "load_claims"]

#: Significant digits of the certified value shown beside each claim.
VALUE_DIGITS = 10
_CLAIM_KEYS = {"where", "line", "example", "t", "quantity", "claimed", "note"}
_NUMBER = re.compile(r"^[+-]?(?:\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
#: A claimed number's longest text, and its largest decimal exponent.
_MAX_CLAIMED_CHARS = 1000
_MAX_CLAIMED_EXPONENT = 400
_FUNCTIONS = {"tanh": sympy.tanh, "sigmoid": sigmoid, "exp": sympy.exp}
#: Keys a claims file may set once for every claim (each claim may override them).
_DEFAULT_KEYS = ("example", "t")
#: The most numbers one whole-vector claim may list.
_MAX_VECTOR_CLAIM = 4096
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$", re.ASCII)
#: A component of a vector quantity in a claim: ``f[2]`` (counted from 0).
_COMPONENT = re.compile(r"\b([A-Za-z_][A-Za-z_0-9]*)\[(\d{1,6})\]", re.ASCII)


@dataclass(frozen=True)
class Claim:
    """One number a document states."""

    where: str
    example: str
    t: int
    quantity: str
    claimed: str
    line: int | None = None
    note: str = ""
    #: The claims file and the claim's number in it (``"claims.toml: claim 3"``), for messages.
    source: str = field(default="", compare=False)

    @property
    def places(self) -> int:
        """The decimal places the number is stated to."""
        return stated_places(self.claimed)


@dataclass(frozen=True)
class ModeResult:
    """A claim recomputed in one mode."""

    value: str  # certified, VALUE_DIGITS significant digits
    rounded: str  # the correct rounding at the claim's places
    correct: bool


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    exact: ModeResult
    hand: ModeResult

    @property
    def modes(self) -> list[str]:
        """The modes in which the claim is a correct rounding."""
        return [m for m in ("exact", "hand") if getattr(self, m).correct]

    @property
    def holds(self) -> bool:
        return bool(self.modes)


@dataclass(frozen=True)
class AuditReport:
    title: str
    source: str
    results: list[ClaimResult]
    examples: dict[str, Example] = field(default_factory=dict)
    #: Possible explanations of the wrong claims (symlstm.claims.explain), where asked for.
    explanations: list[Any] | None = None

    @property
    def all_hold(self) -> bool:
        return all(r.holds for r in self.results)

    @property
    def wrong(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.holds]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: numbers as decimal strings."""
        claims = []
        explained = {e.index: e for e in self.explanations or []}
        for k, r in enumerate(self.results):
            c = r.claim
            claims.append(
                {
                    "where": c.where,
                    "line": c.line,
                    "example": c.example,
                    "quantity": c.quantity,
                    "t": c.t,
                    "claimed": c.claimed,
                    "places": c.places,
                    "value": r.exact.value,
                    "correct": r.holds,
                    "modes": r.modes,
                    "exact": vars(r.exact),
                    "hand": vars(r.hand),
                }
            )
            if k in explained:  # possible explanations, best first; never verdicts
                claims[-1]["explanations"] = [e.to_dict() for e in explained[k].explanations]
                if explained[k].note:
                    claims[-1]["explanations_note"] = explained[k].note
        return {
            "document": self.title,
            "source": self.source,
            "examples": {
                name: {"title": ex.title, "source": ex.source} for name, ex in self.examples.items()
            },
            "claims": claims,
            "summary": {
                "claims": len(self.results),
                "hold": len(self.results) - len(self.wrong),
                "wrong": len(self.wrong),
            },
            "all_hold": self.all_hold,
        }

    def json(self) -> str:
        """:meth:`to_dict` as indented JSON (what ``symlstm audit --format json`` prints)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def html(self, *, standalone: bool = True) -> str:
        """A web page (or a fragment): :func:`symlstm.render.html.audit_html`."""
        from symlstm.render.html import audit_html

        return audit_html(self, standalone=standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def text(self) -> str:
        """A table, one claim a line, with the verdict and the modes it holds in."""
        qw = max([9, *(len(r.claim.quantity) for r in self.results)])
        head = (
            f"{'line':>4}  {'where':<44} {'t':>2} {'quantity':<{qw}} {'claimed':>8}  "
            f"{'exact':>12} {'':1} {'hand':>12} {'':1}  verdict"
        )
        lines = [f"Audit of {self.title!r}", head, "-" * len(head)]
        for r in self.results:
            c = r.claim
            where = c.where if len(c.where) <= 44 else c.where[:43] + "…"
            mark = {True: "✓", False: "✗"}
            verdict = f"holds ({', '.join(r.modes)})" if r.holds else "WRONG"
            lines.append(
                f"{c.line or '':>4}  {where:<44} {c.t:>2} {c.quantity:<{qw}} {c.claimed:>8}  "
                f"{r.exact.rounded:>12} {mark[r.exact.correct]} {r.hand.rounded:>12} "
                f"{mark[r.hand.correct]}  {verdict}"
            )
        lines.append("")
        for name, ex in self.examples.items():
            lines.append(f"{name}: {ex.title} [{ex.source}]")
        n, bad = len(self.results), len(self.wrong)
        lines.append(f"{n} claims: {n - bad} hold, {bad} wrong")
        if self.explanations:
            lines += [
                "",
                "Possible explanations of the wrong claims (what would make each hold; none is "
                "a verdict):",
            ]
            lines += [e.text() for e in self.explanations]
        return "\n".join(lines)


def _whole_number(value: Any) -> int | None:
    """``value`` as an int if it is a whole number (an int, or a JSON number read as
    ``Decimal("3")``), else None; booleans, text, NaN and fractions are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    finite = isinstance(value, Decimal | float) and math.isfinite(value)
    if finite and abs(value) < 10**18 and value == int(value):
        return int(value)
    return None


def _claim_entry(entry: Any, k: int, origin: str) -> list[Claim]:
    """One claim, or one per number of a whole-vector claim (``claimed = ["0.1", "0.2"]``)."""
    if isinstance(entry, dict) and isinstance(entry.get("claimed"), list):
        numbers = entry["claimed"]
        label = f"{origin}: claim {k + 1}"
        if not numbers or len(numbers) > _MAX_VECTOR_CLAIM:
            raise ExampleFileError(
                f"{label}: a vector claim needs 1 to {_MAX_VECTOR_CLAIM} numbers, "
                f"not {len(numbers)}"
            )
        quantity = entry.get("quantity")
        if not isinstance(quantity, str) or not _PLAIN_NAME.match(quantity.strip()):
            raise ExampleFileError(
                f"{label}: a claim of several numbers needs a quantity that is one name "
                f"(h, f, c …), not {_shown(quantity)}"
            )
        return [
            _claim({**entry, "claimed": number, "quantity": f"{quantity.strip()}[{j}]"}, k, origin)
            for j, number in enumerate(numbers)
        ]
    return [_claim(entry, k, origin)]


def _claim(entry: Any, k: int, origin: str) -> Claim:
    label = f"{origin}: claim {k + 1}"
    if not isinstance(entry, dict):
        raise ExampleFileError(f"{label} must be a table/object, not {type(entry).__name__}")
    given_where = entry.get("where")
    if given_where is not None and not isinstance(given_where, str):
        raise ExampleFileError(f"{label}: where must be text, not {_shown(given_where)}")
    if isinstance(given_where, str) and given_where:
        label = f"{label} ({elide(given_where)[1:-1]})"
    unknown = sorted(set(entry) - _CLAIM_KEYS)
    if unknown:
        raise ExampleFileError(f"{label}: unknown key(s) {', '.join(map(str, unknown))}")
    for key in ("example", "t", "quantity", "claimed"):
        if key not in entry:
            raise ExampleFileError(f"{label}: missing {key!r}")
    for key in ("example", "quantity"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ExampleFileError(
                f"{label}: {key} must be non-empty text, not {_shown(entry[key])}"
            )
    raw = entry["claimed"]
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal | float):
        raise ExampleFileError(f"{label}: claimed must be a decimal number, not {_shown(raw)}")
    claimed = str(raw).strip()
    if len(claimed) > _MAX_CLAIMED_CHARS or not _NUMBER.match(claimed):
        raise ExampleFileError(f"{label}: claimed {_shown(claimed)} is not a decimal number")
    exponent = _NUMBER.match(claimed).group(2)
    if exponent and (len(exponent) > 6 or abs(int(exponent[1:])) > _MAX_CLAIMED_EXPONENT):
        raise ExampleFileError(
            f"{label}: claimed {_shown(claimed)} has an exponent beyond ±{_MAX_CLAIMED_EXPONENT}"
        )
    t = _whole_number(entry["t"])
    if t is None or t < 1:
        raise ExampleFileError(f"{label}: t must be a step number >= 1, not {_shown(entry['t'])}")
    line = entry.get("line")
    if line is not None:
        line = _whole_number(line)
        if line is None or line < 1:
            raise ExampleFileError(
                f"{label}: line must be a line number >= 1, not {_shown(entry['line'])}"
            )
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ExampleFileError(f"{label}: note must be text, not {_shown(note)}")
    return Claim(
        where=given_where if isinstance(given_where, str) and given_where else label,
        example=entry["example"].strip(),
        t=t,
        quantity=entry["quantity"],
        claimed=claimed,
        line=line,
        note=note,
        source=label,
    )


def _shown(value: Any) -> str:
    """A value from a claims file for a message: its type when it is not a plain value."""
    if value is None:
        return "null (nothing)"
    if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
        return elide(str(value))
    return f"{elide(repr(value))} ({type(value).__name__})"


@dataclass(frozen=True)
class ClaimsDocument:
    title: str
    source: str
    claims: list[Claim]
    base: Path | None  # where relative example paths are resolved


def load_claims(path: str | Path | None = None) -> ClaimsDocument:
    """Read a claims file; with no path, the spec's own claims.

    Raises
    ------
    ExampleFileError
        If the file cannot be read or a claim is malformed.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise ArgumentError(f"path must be a path or None, not {type(path).__name__}")
    if path is None:
        data, origin, base = read_data_file(builtin_path("seed-claims")), "seed-claims", None
    else:
        data, origin, base = read_data_file(Path(path)), str(path), Path(path).parent
    if not isinstance(data, dict):
        raise ExampleFileError(f"{origin}: must be a table/object with a list of [[claims]]")
    entries = data.get("claims")
    if not isinstance(entries, list) or not entries:
        raise ExampleFileError(f"{origin}: needs a non-empty list of [[claims]]")
    for key in ("title", "source"):
        if not isinstance(data.get(key, ""), str):
            raise ExampleFileError(f"{origin}: {key} must be text, not {_shown(data[key])}")
    unknown = sorted(set(data) - {"title", "source", "claims", *_DEFAULT_KEYS})
    if unknown:
        raise ExampleFileError(
            f"{origin}: unknown top-level key(s) {', '.join(map(str, unknown))}; allowed: "
            f"title, source, claims, and the defaults {', '.join(_DEFAULT_KEYS)}"
        )
    defaults = {key: data[key] for key in _DEFAULT_KEYS if key in data}
    claims: list[Claim] = []
    for k, entry in enumerate(entries):
        if isinstance(entry, dict):
            entry = {**defaults, **entry}  # each claim may override the file's defaults
        claims += _claim_entry(entry, k, origin)
    return ClaimsDocument(
        title=data.get("title", origin), source=data.get("source", ""), claims=claims, base=base
    )


def parse_quantity(text: str, example: Example) -> sympy.Expr:
    """Parse a claim's quantity: a name of the step, or arithmetic of names and numbers.

    The functions ``tanh``, ``sigmoid`` and ``exp`` may be used; the text is read by
    :func:`symlstm.expressions.parse_expression`, within its limits (length, nesting,
    whole-number powers up to 64, …), and a quantity that is undefined everywhere
    (``h/0``) is refused.

    >>> str(parse_quantity("100*c", load_example("seed-step")))
    '100*c'
    >>> parse_quantity("__import__('os')", load_example("seed-step"))
    Traceback (most recent call last):
    ...
    symlstm.errors.ExpressionError: the quantity "__import__('os')": unexpected character "'"
    >>> parse_quantity("h/0", load_example("seed-step"))
    Traceback (most recent call last):
    ...
    symlstm.errors.UndefinedError: the quantity 'h/0' is undefined (division by zero: 0 is 0)
    """
    if not isinstance(example, Example):
        raise ArgumentError(f"example must be an Example, not {type(example).__name__}")
    if not isinstance(text, str):
        raise ArgumentError(f"the quantity must be a string, not {type(text).__name__}")
    cell = example.cell
    if not cell.is_vector:
        component = _COMPONENT.search(text)
        if component and component.group(1) in cell.symbols:
            raise UnknownNameError(
                f"the quantity {text!r}: {component.group(1)} is one number in "
                f"{example.name}'s {cell.kind} cell, not a vector with components"
            )
        return parse_expression(
            text, symbols=dict(cell.symbols), functions=_FUNCTIONS, what="the quantity"
        )
    # A vector cell's claims name components, f[2] (from 0): the parser sees f__2.
    symbols = _component_symbols(example)
    for m in _COMPONENT.finditer(text):
        name, k = m.group(1), int(m.group(2))
        if name in cell.symbols and f"{name}__{k}" not in symbols:
            size = len(cell.shape(name)) and cell.shape(name)[0]
            raise UnknownNameError(
                f"the quantity {text!r}: {name} has components {name}[0] to {name}[{size - 1}]"
            )
    plain = _COMPONENT.sub(lambda m: f"{m.group(1)}__{m.group(2)}", text)
    for name in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", plain):
        if name in cell.symbols:
            raise UnknownNameError(
                f"the quantity {text!r}: {name} is a vector in this cell; name a component, "
                f"{name}[0] to {name}[{cell.shape(name)[0] - 1}], or claim all of it at once "
                f"(claimed = [...])"
            )
    return parse_expression(plain, symbols=symbols, functions=_FUNCTIONS, what="the quantity")


def _component_symbols(example: Example) -> dict[str, sympy.Symbol]:
    """The scalar symbols of a vector cell's components, f__2 for f[2]."""
    cell = example.cell
    return {
        f"{name}__{k}": sympy.Symbol(f"{name}[{k}]", real=True)
        for name in cell.symbols
        if cell.shape(name)
        for k in range(cell.shape(name)[0])
    }


def _environment(trace: Trace, t: int) -> dict:
    """Symbol → value at step t, for the quantities of claims (components for vectors)."""
    step = trace.steps[t - 1]
    cell = trace.cell
    if not cell.is_vector:
        return {sym: step[name] for name, sym in cell.symbols.items() if name in step}
    env = {}
    for name in cell.symbols:
        if name in step:
            for k, value in enumerate(step[name]):
                env[sympy.Symbol(f"{name}[{k}]", real=True)] = value
    return env


def enclose_claim(trace: Trace, expr: sympy.Expr, claim: Claim, hand: bool) -> Any:
    """The claim's quantity ``expr`` (:func:`parse_quantity`) at its step of an interval
    trace, as an :class:`~symlstm.numeric.evaluation.Enclosure`; ``hand`` says the trace is in
    hand-calculation mode (for the message). Refused with an
    :class:`~symlstm.errors.ExpressionError` where the quantity is undefined.
    (Used by the audit and by :mod:`symlstm.claims.explain`; not in ``__all__``.)"""
    env = _environment(trace, claim.t)
    mode = "in hand-calculation mode" if hand else "at the example's values"
    with numeric_context("interval", prec=trace.precision) as arith:
        return evaluate_checked(
            expr,
            env,
            arith,
            what=f"{claim.source or claim.where}: the quantity",
            where=f"{mode} (step {claim.t})",
        )


def _check_step(claim: Claim, example: Example) -> None:
    if claim.t > len(example.inputs):
        raise ExampleFileError(
            f"{claim.where}: step {claim.t} is beyond {example.name}'s {len(example.inputs)} steps"
        )


def mode_results(
    example: Example, claims: list[tuple[Claim, sympy.Expr]], hand: bool
) -> list[ModeResult]:
    """Each (claim, quantity expression) recomputed on ``example`` in one mode (exact, or
    hand-calculation with ``hand``): certified, at a working precision raised until every
    rounding is decided. (Used by the audit and by :mod:`symlstm.claims.explain`; not in
    ``__all__``.)"""

    def attempt(prec: int) -> list[ModeResult]:
        trace: Trace = evaluate(
            example.cell,
            example.parameters,
            example.inputs,
            example.h0,
            example.c0,
            method="interval",
            prec=prec,
            hand_places=example.hand_places if hand else None,
        )
        out = []
        for claim, expr in claims:
            enc = enclose_claim(trace, expr, claim, hand)
            rounded = enc.round(places=claim.places)
            value = enc.round(significant=VALUE_DIGITS) if enc.lo != 0 or enc.hi != 0 else "0"
            out.append(ModeResult(value, rounded, rounded == _normalise(claim.claimed)))
        return out

    return with_increasing_precision(attempt, what=f"the claims on {example.name}")


def _normalise(claimed: str) -> str:
    """The claimed text in the form the rounding functions print ("+.5" → "0.5")."""
    return round_places(Fraction(claimed), stated_places(claimed))


def audit(
    claims: ClaimsDocument | str | Path | None = None,
    *,
    explain: bool = False,
    allow_large: bool = False,
) -> AuditReport:
    """Recompute every claim, certified, in exact and hand-calculation modes.

    Parameters
    ----------
    claims
        A :class:`ClaimsDocument`, the path of a claims file, or None for the
        spec's own claims.
    explain
        Also search for possible explanations of the wrong claims
        (:func:`symlstm.claims.explain.explain`): the report's ``explanations``.
    allow_large
        Audit examples whose estimated time is over the work budget
        (:mod:`symlstm.budget`) too; otherwise the largest one's estimate is checked
        before any recomputation and :class:`~symlstm.errors.WorkBudgetError` raised.
    """
    if not isinstance(explain, bool):
        raise ArgumentError(f"explain must be True or False, not {explain!r}")
    if claims is not None and not isinstance(claims, ClaimsDocument | str | os.PathLike):
        raise ArgumentError(
            f"claims must be a ClaimsDocument, a path or None, not {type(claims).__name__}"
        )
    doc = claims if isinstance(claims, ClaimsDocument) else load_claims(claims)
    examples: dict[str, Example] = {}
    groups: dict[str, list[tuple[int, Claim, sympy.Expr]]] = {}
    for k, claim in enumerate(doc.claims):
        if claim.example not in examples:
            examples[claim.example] = _resolve_example(claim.example, doc.base)
        example = examples[claim.example]
        _check_step(claim, example)
        try:
            expr = parse_quantity(claim.quantity, example)
        except SymLSTMError as err:
            raise type(err)(f"{claim.source or claim.where}: {err}") from None
        groups.setdefault(claim.example, []).append((k, claim, expr))
    if not examples:
        return _audit(doc, examples, groups, explain)
    largest = max(
        examples.values(),
        key=lambda e: budget.estimate_seconds("audit", e.cell, len(e.inputs)),
    )
    with budget.work("audit", largest.cell, len(largest.inputs), allow_large=allow_large):
        return _audit(doc, examples, groups, explain)


def _audit(doc: ClaimsDocument, examples: dict, groups: dict, explain: bool) -> AuditReport:
    results: dict[int, ClaimResult] = {}
    for name, items in groups.items():
        pairs = [(c, e) for _, c, e in items]
        exact = mode_results(examples[name], pairs, hand=False)
        hand = mode_results(examples[name], pairs, hand=True)
        for (k, claim, _), ex, hd in zip(items, exact, hand, strict=True):
            results[k] = ClaimResult(claim, ex, hd)
    report = AuditReport(doc.title, doc.source, [results[k] for k in sorted(results)], examples)
    if explain and report.wrong:
        from symlstm.claims.explain import explain as search

        report = dataclasses.replace(report, explanations=search(report))
    return report


def _resolve_example(ref: str, base: Path | None) -> Example:
    if base is not None:
        candidate = base / ref
        if candidate.suffix.lower() in (".toml", ".json") or candidate.exists():
            return parse_example(read_data_file(candidate), origin=str(candidate))
    return load_example(ref)
