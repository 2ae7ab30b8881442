"""The values on the diagram's wires: what a worked example shows at one step (each
quantity at its digits, the state entering the step, the squashed cell state) and the
two products on the cell line, as the C_t line shows them or, for a vector cell, computed
entry by entry (certified, or from the rounded operands in hand mode)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from symlstm.cell import Cell
from symlstm.errors import ArgumentError, StepError

__all__ = ["step_values"]

#: The most entries of a vector a label shows (longer: first, ⋮, last).
MAX_ENTRIES = 3

# -- values ---------------------------------------------------------------------------------


def _entries(text: str) -> tuple[str, ...]:
    """A summary value as its entries: ``"(0.1, 0.2)"`` → ("0.1", "0.2"); a scalar → itself."""
    if text.startswith("(") and text.endswith(")"):
        return tuple(s.strip() for s in text[1:-1].split(","))
    return (text,)


def shown_lines(entries: tuple[str, ...]) -> tuple[str, ...]:
    """A value's label lines: a scalar as is, a vector one entry a line (elided when long)."""
    if len(entries) <= MAX_ENTRIES:
        return entries
    return (entries[0], "⋮", entries[-1])


def step_values(worked: Any, step: int = 1) -> dict[str, tuple[str, ...]]:
    """The values a worked example shows at one step, for the diagram's wires.

    Each value is a tuple of decimal strings (one for a scalar); ``h_prev`` and
    ``c_prev`` are the state entering the step (the example's initial state at step 1,
    the previous step's values after), ``s`` the squashed cell state, ``fc`` and ``ig``
    the products f_t ⊙ c_{t-1} and i_t ⊙ g_t as the C_t line shows them (only where it
    shows them: a scalar cell's update written as a sum of rounded products).

    >>> from symlstm.examples import load_example
    >>> from symlstm.render.worked import worked_example
    >>> values = step_values(worked_example(load_example("seed-step")))
    >>> values["c_prev"], values["g"], values["s"]
    (('0.4',), ('0.336',), ('0.423',))
    >>> values["fc"], values["ig"]
    (('0.248',), ('0.203',))

    Raises
    ------
    StepError
        If ``step`` is not one of the example's steps.
    """
    if not all(hasattr(worked, a) for a in ("steps", "summary", "example", "notation")):
        raise ArgumentError(f"worked must be a WorkedExample, not {type(worked).__name__}")
    steps = len(worked.summary)
    if isinstance(step, bool) or not isinstance(step, int):
        raise ArgumentError(f"step must be an integer, not {type(step).__name__}")
    if not 1 <= step <= steps:
        raise StepError(f"step {step} is outside the example's steps 1..{steps}")
    row = worked.summary[step - 1]
    values = {q: _entries(row[q]) for q in ("x", "f", "i", "g", "c", "o", "h") if q in row}
    example = worked.example
    if step == 1:
        for name, state, q in (("h_prev", example.h0, "h"), ("c_prev", example.c0, "c")):
            items = state if isinstance(state, tuple) else (state,)
            places = example.places(q)
            values[name] = tuple(_decimal(Fraction(int(v.p), int(v.q)), places) for v in items)
    else:
        values["h_prev"] = _entries(worked.summary[step - 2]["h"])
        values["c_prev"] = _entries(worked.summary[step - 2]["c"])
    for stage in worked.steps[step - 1]:
        if stage.quantity == "h" and len(stage.lines) > 1:
            shown = stage.lines[0].chain[-1]
            values["s"] = (shown.name,) if hasattr(shown, "name") else tuple(str(v) for v in shown)
        if stage.quantity == "c" and stage.lines:
            values.update(_product_values(stage.lines[-1].chain, example.cell))
    if example.cell.is_vector:
        values.update(_vector_products(worked, step, values))
    return values


#: The products on the cell line: wire → (gate, the vector it multiplies).
_PRODUCTS = {"fc": ("f", "c_prev"), "ig": ("i", "g")}


def _vector_products(worked: Any, step: int, values: dict) -> dict[str, tuple[str, ...]]:
    """``fc`` and ``ig`` of a vector cell, entry by entry, rounded to C_t's places: the
    product of the exact values, certified, or in hand mode of the shown operands."""
    from symlstm.errors import UndecidedError
    from symlstm.numeric.rounding import round_enclosure, round_places, with_increasing_precision

    example = worked.example
    places = example.places("c")
    wires = {w: ab for w, ab in _PRODUCTS.items() if all(q in values for q in ab)}
    if worked.mode == "hand":  # the calculator's products of what the example shows
        return {
            w: tuple(
                round_places(Fraction(a) * Fraction(b), places)
                for a, b in zip(values[qa], values[qb], strict=True)
            )
            for w, (qa, qb) in wires.items()
        }

    def bounds(value: Any) -> list[tuple[Fraction, Fraction]]:
        items = value if isinstance(value, tuple) else (value,)
        out = []
        for v in items:
            if hasattr(v, "lo"):  # an enclosure of the trace
                out.append((v.lo, v.hi))
            else:  # the example's initial state, exact
                q = Fraction(int(v.p), int(v.q))
                out.append((q, q))
        return out

    def products(trace: Any) -> dict[str, tuple[str, ...]]:
        now = dict(trace.steps[step - 1])
        now["c_prev"] = example.c0 if step == 1 else trace.steps[step - 2]["c"]
        found = {}
        for w, (qa, qb) in wires.items():
            texts = []
            for (a_lo, a_hi), (b_lo, b_hi) in zip(bounds(now[qa]), bounds(now[qb]), strict=True):
                ends = (a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi)
                text = round_enclosure(min(ends), max(ends), places=places)
                if text is None:
                    raise UndecidedError(f"{w} at step {step}")
                texts.append(text)
            found[w] = tuple(texts)
        return found

    # The worked example's own trace decides them almost always; a product whose rounding
    # it leaves undecided re-evaluates the example at more bits.
    start = 64
    if worked.exact_trace is not None:
        try:
            return products(worked.exact_trace)
        except UndecidedError:
            start = 2 * worked.exact_trace.precision
    return with_increasing_precision(
        lambda prec: products(example.evaluate(method="interval", prec=prec)),
        start=start,
        what="the cell line's products",
    )


def _product_values(chain: tuple, cell: Cell) -> dict[str, tuple[str, ...]]:
    """``fc`` and ``ig`` from a C_t line ``formula = substituted = terms = value``: the
    terms' shown numbers, matched to the formula's products (none where the line shows no
    terms: a vector cell, an update that is not a plain sum)."""
    if len(chain) < 3:
        return {}
    formula, terms = chain[0], chain[-2]
    if not (getattr(formula, "is_Add", False) and getattr(terms, "is_Add", False)):
        return {}
    if len(formula.args) != len(terms.args):
        return {}
    texts = [_shown_term(term) for term in terms.args]
    if any(text is None for text in texts):
        return {}
    symbols = cell.symbols
    out: dict[str, tuple[str, ...]] = {}
    for product, text in zip(formula.args, texts, strict=True):
        free = product.free_symbols
        if {symbols["f"], symbols["c_prev"]} <= free:
            out["fc"] = (text,)
        elif {symbols["i"], symbols["g"]} <= free:
            out["ig"] = (text,)
    return out


def _shown_term(term: Any) -> str | None:
    """A shown number's text: ``0.248``, or ``-0.2`` where it is written as a
    subtraction (``-1 × 0.2``); None for anything else."""
    if getattr(term, "is_shown", False):
        return str(term.name)
    if getattr(term, "is_Mul", False) and len(term.args) == 2:
        sign, number = term.args
        if sign == -1 and getattr(number, "is_shown", False):
            return "-" + str(number.name)
    return None


def _decimal(value: Fraction, places: int) -> str:
    """A given value as a worked example shows it: exactly when it terminates (0.4, not
    0.400), else rounded to ``places``."""
    from symlstm.numeric.rounding import round_places

    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return round_places(value, places)
    text = round_places(value, 60).rstrip("0")
    return text.rstrip(".")
