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
>>> report.all_hold, len(report.results)
(True, 39)
>>> r = report.results[1]
>>> r.claim.where, r.claim.claimed, r.exact.rounded, r.exact.value
('§5 Step 1: f_t = 1/(1 + e^{-0.49}) = 0.62', '0.62', '0.62', '0.6201064323')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

from symlstm.errors import ExampleFileError, UnknownNameError
from symlstm.evaluate import Trace, evaluate
from symlstm.examples import (
    Example,
    builtin_path,
    load_example,
    parse_example,
    read_data_file,
)
from symlstm.functions import sigmoid
from symlstm.rounding import round_places, stated_places, with_increasing_precision

__all__ = ["AuditReport", "Claim", "ClaimResult", "ModeResult", "audit", "load_claims"]

#: Significant digits of the certified value shown beside each claim.
VALUE_DIGITS = 10
_CLAIM_KEYS = {"where", "line", "example", "t", "quantity", "claimed", "note"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TOKENS = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+\.?\d*|\.\d+|\*\*|[-+*/()]|\s+")
_FUNCTIONS = {"tanh": sympy.tanh, "sigmoid": sigmoid, "exp": sympy.exp}


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

    @property
    def all_hold(self) -> bool:
        return all(r.holds for r in self.results)

    @property
    def wrong(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.holds]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: numbers as decimal strings."""
        claims = []
        for r in self.results:
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

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """A table, one claim a line, with the verdict and the modes it holds in."""
        head = (
            f"{'line':>4}  {'where':<44} {'t':>2} {'quantity':<9} {'claimed':>8}  "
            f"{'exact':>12} {'':1} {'hand':>12} {'':1}  verdict"
        )
        lines = [f"Audit of {self.title!r}", head, "-" * len(head)]
        for r in self.results:
            c = r.claim
            where = c.where if len(c.where) <= 44 else c.where[:43] + "…"
            mark = {True: "✓", False: "✗"}
            verdict = f"holds ({', '.join(r.modes)})" if r.holds else "WRONG"
            lines.append(
                f"{c.line or '':>4}  {where:<44} {c.t:>2} {c.quantity:<9} {c.claimed:>8}  "
                f"{r.exact.rounded:>12} {mark[r.exact.correct]} {r.hand.rounded:>12} "
                f"{mark[r.hand.correct]}  {verdict}"
            )
        lines.append("")
        for name, ex in self.examples.items():
            lines.append(f"{name}: {ex.title} [{ex.source}]")
        n, bad = len(self.results), len(self.wrong)
        lines.append(f"{n} claims: {n - bad} hold, {bad} wrong")
        return "\n".join(lines)


def _claim(entry: Any, k: int, origin: str) -> Claim:
    where = f"{origin}: claim {k + 1}"
    if not isinstance(entry, dict):
        raise ExampleFileError(f"{where} must be a table/object")
    unknown = sorted(set(entry) - _CLAIM_KEYS)
    if unknown:
        raise ExampleFileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("example", "t", "quantity", "claimed"):
        if key not in entry:
            raise ExampleFileError(f"{where}: missing {key!r}")
    claimed = str(entry["claimed"]).strip()
    if not _NUMBER.match(claimed):
        raise ExampleFileError(f"{where}: claimed {claimed!r} is not a decimal number")
    t = entry["t"]
    if isinstance(t, bool) or int(t) != t or int(t) < 1:
        raise ExampleFileError(f"{where}: t must be a step number >= 1, not {t!r}")
    line = entry.get("line")
    return Claim(
        where=str(entry.get("where", where)),
        example=str(entry["example"]),
        t=int(t),
        quantity=str(entry["quantity"]),
        claimed=claimed,
        line=int(line) if line is not None else None,
        note=str(entry.get("note", "")),
    )


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
    if path is None:
        data, origin, base = read_data_file(builtin_path("seed-claims")), "seed-claims", None
    else:
        data, origin, base = read_data_file(Path(path)), str(path), Path(path).parent
    entries = data.get("claims")
    if not isinstance(entries, list) or not entries:
        raise ExampleFileError(f"{origin}: needs a non-empty list of [[claims]]")
    return ClaimsDocument(
        title=str(data.get("title", origin)),
        source=str(data.get("source", "")),
        claims=[_claim(e, k, origin) for k, e in enumerate(entries)],
        base=base,
    )


def parse_quantity(text: str, example: Example) -> sympy.Expr:
    """Parse a claim's quantity: a name of the step, or arithmetic of names and numbers.

    >>> str(parse_quantity("100*c", load_example("seed-step")))
    '100*c'
    >>> parse_quantity("__import__('os')", load_example("seed-step"))
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: quantity "__import__('os')": unknown name '__import__'; ...
    """
    cell = example.cell
    names = dict(cell.symbols)
    pos = 0
    for m in _TOKENS.finditer(text):
        if m.start() != pos:
            break
        token = m.group()
        is_name = token[0].isalpha() or token[0] == "_"
        if is_name and token not in names and token not in _FUNCTIONS:
            raise UnknownNameError(
                f"quantity {text!r}: unknown name {token!r}; known: {', '.join(names)}, "
                f"{', '.join(_FUNCTIONS)}"
            )
        pos = m.end()
    if pos != len(text):
        raise UnknownNameError(f"quantity {text!r}: unexpected text at {text[pos:]!r}")
    try:
        return sympy.sympify(text, locals={**names, **_FUNCTIONS}, rational=True)
    except (sympy.SympifyError, SyntaxError, TypeError) as err:
        raise UnknownNameError(f"quantity {text!r} does not parse: {err}") from None


def _check_step(claim: Claim, example: Example) -> None:
    if example.cell.is_vector:
        raise ExampleFileError(f"{claim.where}: claims on vector cells are not supported yet")
    if claim.t > len(example.inputs):
        raise ExampleFileError(
            f"{claim.where}: step {claim.t} is beyond {example.name}'s {len(example.inputs)} steps"
        )


def _mode_results(
    example: Example, claims: list[tuple[Claim, sympy.Expr]], hand: bool
) -> list[ModeResult]:
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
            enc = trace.enclose(expr, claim.t)
            rounded = enc.round(places=claim.places)
            value = enc.round(significant=VALUE_DIGITS) if enc.lo != 0 or enc.hi != 0 else "0"
            out.append(ModeResult(value, rounded, rounded == _normalise(claim.claimed)))
        return out

    return with_increasing_precision(attempt, what=f"the claims on {example.name}")


def _normalise(claimed: str) -> str:
    """The claimed text in the form the rounding functions print ("+.5" → "0.5")."""
    return round_places(Fraction(claimed), stated_places(claimed))


def audit(claims: ClaimsDocument | str | Path | None = None) -> AuditReport:
    """Recompute every claim, certified, in exact and hand-calculation modes.

    Parameters
    ----------
    claims
        A :class:`ClaimsDocument`, the path of a claims file, or None for the
        spec's own claims.
    """
    doc = claims if isinstance(claims, ClaimsDocument) else load_claims(claims)
    examples: dict[str, Example] = {}
    groups: dict[str, list[tuple[int, Claim, sympy.Expr]]] = {}
    for k, claim in enumerate(doc.claims):
        if claim.example not in examples:
            examples[claim.example] = _resolve_example(claim.example, doc.base)
        example = examples[claim.example]
        _check_step(claim, example)
        groups.setdefault(claim.example, []).append(
            (k, claim, parse_quantity(claim.quantity, example))
        )
    results: dict[int, ClaimResult] = {}
    for name, items in groups.items():
        pairs = [(c, e) for _, c, e in items]
        exact = _mode_results(examples[name], pairs, hand=False)
        hand = _mode_results(examples[name], pairs, hand=True)
        for (k, claim, _), ex, hd in zip(items, exact, hand, strict=True):
            results[k] = ClaimResult(claim, ex, hd)
    return AuditReport(doc.title, doc.source, [results[k] for k in sorted(results)], examples)


def _resolve_example(ref: str, base: Path | None) -> Example:
    if base is not None:
        candidate = base / ref
        if candidate.suffix.lower() in (".toml", ".json") or candidate.exists():
            return parse_example(read_data_file(candidate), origin=str(candidate))
    return load_example(ref)
