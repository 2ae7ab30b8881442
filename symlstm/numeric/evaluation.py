"""Evaluating a cell along a sequence into a :class:`Trace`.

Three methods, one program (the cell's equations, component by component):

``"exact"``
    SymPy: rationals stay rationals, σ(49/100) stays σ(49/100). The values are
    exact expressions you can ``evalf`` to any precision.
``"mpmath"``
    mpmath at ``dps`` decimal digits (scoped with ``workdps``; the global
    precision is left as it was).
``"interval"``
    mpmath interval arithmetic at ``prec`` bits: every value is an
    :class:`Enclosure` that contains the exact value, and keeps the exact
    rational too while the computation is rational (so ties round by the rule).

:func:`certify` raises the interval precision until every requested decimal is
decided, and can run in *hand-calculation* mode, where each quantity is
rounded before later steps use it, as the spec does (C_t = 0.62 × 0.4 + …).

>>> from symlstm.cell import Cell
>>> cell = Cell("tied")
>>> params = {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"}
>>> trace = certify(cell, params, ["0.5"], h0="0.2", c0="0.4", places=3)
>>> trace.decimals[0]["f"], trace.decimals[0]["h"]
('0.620', '0.276')
>>> evaluate(cell, params, ["0.5"], h0="0.2", c0="0.4")[("z_f", 1)]
49/100
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy

from symlstm import budget
from symlstm.cell import Cell
from symlstm.errors import (
    ArgumentError,
    PrecisionError,
    RangeError,
    ShapeError,
    UnknownNameError,
)
from symlstm.numeric.compile import compile_expression
from symlstm.numeric.contexts import (
    Context,
    ExactContext,
    IntervalContext,
    MpContext,
)
from symlstm.numeric.enclosure import Enclosure
from symlstm.numeric.exact import FLOAT64_MAX
from symlstm.numeric.rounding import MAX_PREC, with_increasing_precision
from symlstm.numeric.sequence import through_time
from symlstm.params import ExactValue, inputs, parameters, state

__all__ = [
    "METHODS",
    "Enclosure",
    "Trace",
    "bind",
    "certify",
    "check_dps",
    "evaluate",
    "evaluate_expression",
    "hand_rounds_terms",
    "numeric_context",
    "places_for",
]

METHODS: tuple[str, ...] = ("exact", "mpmath", "interval")


def check_dps(dps: Any, *, what: str = "dps") -> int:
    """Return ``dps`` if it is a positive integer; mpmath would silently turn 0 into 1.

    >>> check_dps(0)
    Traceback (most recent call last):
    ...
    symlstm.errors.PrecisionError: dps must be a positive integer, not 0
    """
    if isinstance(dps, bool) or not isinstance(dps, int) or dps <= 0:
        raise PrecisionError(f"{what} must be a positive integer, not {dps!r}")
    return dps


_EXACT, _MP, _INTERVAL = ExactContext(), MpContext(), IntervalContext()
#: The context of each evaluation method.
_CONTEXTS: dict[str, Context] = {"exact": _EXACT, "mpmath": _MP, "interval": _INTERVAL}


def evaluate_expression(expr: sympy.Expr, env: Mapping, arith: Context) -> Any:
    """Evaluate a scalar SymPy expression whose symbols ``env`` gives values to, in a
    numeric context from :func:`numeric_context` (see :mod:`symlstm.numeric.compile`).

    >>> with numeric_context("exact") as arith:
    ...     evaluate_expression(sympy.Symbol("a") + 1, {sympy.Symbol("a"): sympy.Rational(1, 2)},
    ...                         arith)
    3/2

    Raises
    ------
    ArgumentError
        If ``expr`` is not a SymPy expression, ``env`` not a mapping, or ``arith`` not a
        context from :func:`numeric_context`.
    """
    if not isinstance(expr, sympy.Basic):
        raise ArgumentError(f"expr must be a SymPy expression, not {type(expr).__name__}")
    if not isinstance(env, Mapping):
        raise ArgumentError(f"env must be a mapping of symbols to values, not {type(env).__name__}")
    if not isinstance(arith, Context):
        raise ArgumentError(
            f"arith must be an arithmetic from numeric_context, not {type(arith).__name__}"
        )
    return compile_expression(expr, arith)(env)


@dataclass(frozen=True)
class Trace:
    """Every intermediate of every step of one evaluation.

    ``steps[t - 1][name]`` is the value of quantity ``name`` (see
    :data:`symlstm.symbols.QUANTITIES`, plus ``x``, ``h_prev``, ``c_prev``) at
    step t: a number for scalar cells, a tuple of numbers for vector cells.
    ``trace[name, t]`` reads the same, with t counted from 1 as the spec does.
    """

    cell: Cell
    method: str
    precision: int | None  # decimal digits (mpmath) or bits (interval); None when exact
    steps: tuple[dict[str, Any], ...]
    hand_places: Mapping[str, int] | None = None
    decimals: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: tuple[str, int]) -> Any:
        name, t = key
        if not 1 <= t <= len(self.steps):
            raise UnknownNameError(f"step {t} is outside 1..{len(self.steps)}")
        try:
            return self.steps[t - 1][name]
        except KeyError:
            known = ", ".join(self.steps[0])
            raise UnknownNameError(f"unknown quantity {name!r}; known: {known}") from None

    def series(self, name: str) -> list[Any]:
        """The values of one quantity at every step."""
        return [self[name, t] for t in range(1, len(self) + 1)]

    def enclose(self, expr: sympy.Expr, t: int) -> Enclosure:
        """Enclose an expression of step t's quantities (an interval trace only).

        >>> from symlstm.cell import Cell
        >>> cell = Cell("tied")
        >>> tr = evaluate(cell, {"w_f": 1, "w_i": 1, "w_g": 1, "w_o": 1, "b": 0}, ["0.5"],
        ...               method="interval")
        >>> tr.enclose(100 * cell.symbols["f"], 1).round(places=2)
        '62.25'
        """
        if self.method != "interval" or self.cell.is_vector:
            raise PrecisionError("enclose() needs an interval trace of a scalar cell")
        step = self.steps[t - 1]
        env = {sym: step[name] for name, sym in self.cell.symbols.items() if name in step}
        with _INTERVAL.workprec(self.precision):
            return compile_expression(expr, _INTERVAL)(env)

    def rounded(
        self, *, places: int | Mapping[str, int] | None = None, significant: int | None = None
    ) -> tuple[dict[str, Any], ...]:
        """Decimals of every value of an interval trace, each certified.

        Raises :class:`~symlstm.errors.UndecidedError` where the enclosure is too
        wide; :func:`certify` catches it and raises the precision.
        """
        if self.method != "interval":
            raise PrecisionError("only an interval trace has certified decimals; use certify()")
        out = []
        for step in self.steps:
            row = {}
            for name, value in step.items():
                p = places_for(places, name)
                sig = significant if p is None else None
                if p is None and sig is None:
                    continue
                if isinstance(value, tuple):
                    row[name] = tuple(v.round(places=p, significant=sig) for v in value)
                else:
                    row[name] = value.round(places=p, significant=sig)
            out.append(row)
        return tuple(out)


def _prepare(cell, params, xs, h0, c0):
    return (
        parameters(cell, params),
        inputs(cell, xs),
        state(cell, "h_prev", h0),
        state(cell, "c_prev", c0),
    )


def bind(cell: Cell, name: str, value: ExactValue, convert: Callable) -> dict:
    """Environment entries for a named value of a cell: its symbol, or each matrix element.

    >>> bind(Cell("tied"), "w_f", sympy.Rational(7, 10), lambda v: v)
    {w_f: 7/10}

    Parameters
    ----------
    cell
        The cell.
    name
        A parameter's or a quantity's name (``cell.parameters``, ``cell.symbols``).
    value
        Its value: a number for a scalar cell; for a vector cell a tuple of numbers
        (a column) or of tuples (a matrix's rows), as :func:`symlstm.params.parameters`
        gives them.
    convert
        Applied to each number (the arithmetic's ``const``, or the identity).

    Raises
    ------
    ArgumentError
        For a ``cell`` that is not a Cell, a ``name`` that is not a string, a ``convert``
        that is not callable, or a vector cell's value that is not a tuple or list.
    UnknownNameError
        For a name the cell does not have.
    ShapeError
        For a vector cell's value of the wrong length.
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    if not isinstance(name, str):
        raise ArgumentError(f"name must be a string, not {type(name).__name__}")
    if name not in cell.parameters and name not in cell.symbols:
        known = ", ".join([*cell.parameters, *cell.symbols])
        raise UnknownNameError(
            f"{name!r} is not a parameter or quantity of this cell; known: {known}"
        )
    if not callable(convert):
        raise ArgumentError(f"convert must be callable, not {type(convert).__name__}")
    if cell.is_vector:
        rows = cell.parameters.get(name, cell.symbols.get(name)).shape[0]
        if not isinstance(value, tuple | list):
            raise ArgumentError(
                f"{name} of a vector cell must be a tuple of {rows} values, not "
                f"{type(value).__name__}"
            )
        if len(value) != rows:
            raise ShapeError(f"{name} must have {rows} rows, not {len(value)}")
    elif isinstance(value, tuple | list | Mapping | str) or value is None:
        raise ArgumentError(f"{name} of a scalar cell must be a number, not {type(value).__name__}")
    return _bind(cell, name, value, convert)


def _bind(cell: Cell, name: str, value: ExactValue, convert: Callable) -> dict:
    """:func:`bind` without the argument checks (called once a step)."""
    sym = cell.parameters.get(name, cell.symbols.get(name))
    if not cell.is_vector:
        return {sym: convert(value)}
    if value and isinstance(value[0], tuple):
        return {sym[r, k]: convert(v) for r, row in enumerate(value) for k, v in enumerate(row)}
    return {sym[r, 0]: convert(v) for r, v in enumerate(value)}


def _run(cell, exact_params, xs, h0, c0, *, method, convert, arith, hand_places=None):
    program = cell.program()
    env: dict = {}
    for name, value in exact_params.items():
        env.update(_bind(cell, name, value, convert))
    carried = {
        "h_prev": _bind(cell, "h_prev", h0, convert),
        "c_prev": _bind(cell, "c_prev", c0, convert),
    }
    rounds_terms = {q: _hand_rounds_terms(cell, q) for q in cell.quantities}
    steps = []

    def one_step(t: int, carried: dict) -> dict:
        env.update(_bind(cell, "x", xs[t - 1], convert))
        for part in carried.values():
            env.update(part)
        values: dict[str, list] = {}
        for a in program:
            hand = places_for(hand_places, a.quantity)
            if method == "exact":
                v = a.expr.xreplace(env)
            elif hand is not None and rounds_terms[a.quantity]:
                # A person writes each product down rounded, then adds what is written.
                terms = [compile_expression(term, arith)(env) for term in a.expr.args]
                rounded = [arith.const(sympy.Rational(v.round(places=hand))) for v in terms]
                v = functools.reduce(arith.add, rounded)
            else:
                v = compile_expression(a.expr, arith)(env)
            if arith is not None and a.quantity.startswith("z_"):
                _check_range(arith, v, a.quantity, t)
            if hand is not None:
                v = arith.const(sympy.Rational(v.round(places=hand)))
            env[a.target] = v
            values.setdefault(a.quantity, []).append(v)
        step = {name: (tuple(v) if cell.is_vector else v[0]) for name, v in values.items()}
        step["x"] = _unbind(cell, "x", env)
        for prev in ("h_prev", "c_prev"):
            step[prev] = _unbind(cell, prev, env)
        steps.append(
            {"x": step.pop("x"), "h_prev": step.pop("h_prev"), "c_prev": step.pop("c_prev"), **step}
        )
        return {
            prev: {sym_prev: env[sym_new] for sym_prev, sym_new in _pairs(cell, prev, new)}
            for prev, new in (("h_prev", "h"), ("c_prev", "c"))
        }

    through_time(len(xs), one_step, carried, progress=budget.progress)
    return tuple(steps)


def hand_rounds_terms(cell: Cell, quantity: str) -> bool:
    """Whether hand calculation rounds each term of ``quantity``'s sum before adding them.

    A worked example writes the terms of a scalar cell's state update as numbers of
    their own (C_t = 0.62 × 0.4 + 0.603 × 0.336 = 0.248 + 0.203 = 0.451), so a
    person adds the rounded terms; a pre-activation is written as one sum
    (σ(0.7 × 0.2 + 0.7 × 0.5) = σ(0.49)) and a vector cell's update as one vector, so
    those are rounded once, as a whole. Worked examples show term values exactly
    where this is true, so both follow one rule.

    >>> cell = Cell("tied")
    >>> hand_rounds_terms(cell, "c"), hand_rounds_terms(cell, "z_f"), hand_rounds_terms(cell, "h")
    (True, False, False)

    Raises
    ------
    ArgumentError
        If ``cell`` is not a Cell or ``quantity`` not a string.
    UnknownNameError
        If ``quantity`` is not one of the cell's quantities (``cell.quantities``).
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    if not isinstance(quantity, str):
        raise ArgumentError(f"quantity must be a string, not {type(quantity).__name__}")
    if quantity not in cell.quantities:
        raise UnknownNameError(
            f"{quantity!r} is not a quantity of this cell; known: {', '.join(cell.quantities)}"
        )
    return _hand_rounds_terms(cell, quantity)


def _hand_rounds_terms(cell: Cell, quantity: str) -> bool:
    if cell.is_vector or quantity.startswith("z_") or quantity not in cell.quantities:
        return False
    rhs = {str(eq.lhs): eq.rhs for eq in cell.equations()}[quantity]
    return isinstance(rhs, sympy.Add) and not all(_written(term) for term in rhs.args)


def _written(term: sympy.Expr) -> bool:
    """A term that is already a number or a quantity's value, maybe negated: nothing to
    compute (the coupled gate's 1 − i_t)."""
    if term.could_extract_minus_sign():
        term = -term
    return term.is_Symbol or term.is_Number


def _pairs(cell: Cell, prev: str, new: str):
    a, b = cell.symbols[prev], cell.symbols[new]
    if not cell.is_vector:
        return [(a, b)]
    return [(a[r, 0], b[r, 0]) for r in range(a.shape[0])]


def _unbind(cell: Cell, name: str, env: Mapping) -> Any:
    sym = cell.symbols[name]
    if not cell.is_vector:
        return env[sym]
    return tuple(env[sym[r, 0]] for r in range(sym.shape[0]))


def _check_range(arith: Context, value: Any, quantity: str, t: int) -> None:
    if arith.magnitude(value) > FLOAT64_MAX:
        raise RangeError(
            f"pre-activation {quantity} at step {t} overflows float64 (|{quantity}| > 1.8e308); "
            "no floating-point implementation can follow this example"
        )


def evaluate(
    cell: Cell,
    params: Mapping[str, Any],
    xs: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    method: str = "exact",
    dps: int = 15,
    prec: int = 64,
    hand_places: Mapping[str, int] | None = None,
    allow_large: bool = False,
) -> Trace:
    """Evaluate a cell along an input sequence.

    Parameters
    ----------
    cell
        The cell.
    params
        Parameters by canonical name (see :func:`symlstm.params.parameters`).
    xs
        One input per step.
    h0, c0
        Initial states (zeros when left out).
    method
        ``"exact"``, ``"mpmath"`` (at ``dps`` digits) or ``"interval"`` (at ``prec`` bits).
    hand_places
        Interval method only: quantity name → decimal places; each such quantity
        is rounded before anything uses it (hand-calculation mode). A rounding
        the enclosure cannot decide raises :class:`~symlstm.errors.UndecidedError`.
    allow_large
        Run work estimated over the work budget (:mod:`symlstm.budget`) too; otherwise
        it raises :class:`~symlstm.errors.WorkBudgetError` before it starts.

    >>> from symlstm.cell import Cell
    >>> t = evaluate(Cell("tied"), {"w_f": 1, "w_i": 1, "w_g": 1, "w_o": 1, "b": 0},
    ...              ["0.5"], method="mpmath", dps=20)
    >>> import mpmath
    >>> mpmath.nstr(t["f", 1], 20)
    '0.62245933120185456464'
    """
    _check_arguments(cell, hand_places=hand_places)
    if method not in METHODS:
        raise UnknownNameError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    with budget.work("evaluation", cell, _steps(xs), allow_large=allow_large):
        return _evaluate(cell, params, xs, h0, c0, method, dps, prec, hand_places)


def _steps(xs: Any) -> int:
    """The number of inputs, before they are converted (0 if not a sized sequence)."""
    try:
        return len(xs)
    except TypeError:
        return 0


def _evaluate(cell, params, xs, h0, c0, method, dps, prec, hand_places) -> Trace:
    exact_params, xs_, h0_, c0_ = _prepare(cell, params, xs, h0, c0)
    if hand_places is not None and method != "interval":
        raise PrecisionError("hand-calculation mode needs the interval method")
    if method == "exact":
        steps = _run(
            cell, exact_params, xs_, h0_, c0_, method=method, convert=lambda v: v, arith=None
        )
        return Trace(cell, method, None, steps)
    if method == "mpmath":
        check_dps(dps)
        arith = _MP
        with _MP.workdps(dps):
            steps = _run(
                cell, exact_params, xs_, h0_, c0_, method=method, convert=arith.const, arith=arith
            )
        return Trace(cell, method, dps, steps)
    check_dps(prec, what="prec")
    arith = _INTERVAL
    with _INTERVAL.workprec(prec):
        steps = _run(
            cell,
            exact_params,
            xs_,
            h0_,
            c0_,
            method=method,
            convert=arith.const,
            arith=arith,
            hand_places=hand_places,
        )
    return Trace(cell, method, prec, steps, hand_places=hand_places)


def certify(
    cell: Cell,
    params: Mapping[str, Any],
    xs: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    places: int | Mapping[str, int] | None = None,
    significant: int | None = None,
    hand_places: Mapping[str, int] | None = None,
    max_prec: int = MAX_PREC,
    allow_large: bool = False,
) -> Trace:
    """An interval trace whose ``decimals`` are every value correctly rounded.

    Give ``places`` (decimal places: one number, or quantity name → places with
    an optional ``"default"``) or ``significant`` digits. The working precision
    is doubled from 64 bits until every rounding is decided; the trace's
    ``precision`` is the one that decided it.

    ``hand_places`` switches on hand-calculation mode, and ``allow_large`` runs work
    over the work budget (see :func:`evaluate`).

    >>> from symlstm.cell import Cell
    >>> t = certify(Cell("tied"), {"w_f": 1, "w_i": 1, "w_g": 1, "w_o": 1, "b": 0},
    ...             ["0.5"], significant=30)
    >>> t.decimals[0]["f"]
    '0.622459331201854564638900565746'
    """
    _check_arguments(cell, places=places, hand_places=hand_places)
    if places is None and significant is None:
        raise PrecisionError("give places or significant digits to certify")
    if significant is not None:
        check_dps(significant, what="significant digits")
        if places_for(places, "default") is not None:
            raise PrecisionError(
                "give places or significant digits, not both (significant digits may cover "
                "only the quantities a mapping of places leaves out: no 'default' in it)"
            )
    with budget.work("evaluation", cell, _steps(xs), allow_large=allow_large):
        exact_params, xs_, h0_, c0_ = _prepare(cell, params, xs, h0, c0)

        def attempt(prec: int) -> Trace:
            trace = evaluate(
                cell,
                exact_params,
                xs_,
                h0_,
                c0_,
                method="interval",
                prec=prec,
                hand_places=hand_places,
            )
            decimals = trace.rounded(places=places, significant=significant)
            return Trace(cell, trace.method, prec, trace.steps, hand_places, decimals)

        return with_increasing_precision(attempt, max_prec=max_prec, what="the trace")


@contextlib.contextmanager
def numeric_context(method: str, *, dps: int = 15, prec: int = 64):
    """The arithmetic of an evaluation method, with its precision in force while inside.

    >>> from symlstm.functions import sigmoid
    >>> with numeric_context("interval", prec=100) as arith:
    ...     v = evaluate_expression(sigmoid(sympy.Rational(1, 2)), {}, arith)
    >>> v.round(places=25)
    '0.6224593312018545646389006'
    """
    if method not in METHODS:
        raise UnknownNameError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method == "exact":
        yield _EXACT
    elif method == "mpmath":
        with _MP.workdps(check_dps(dps)):
            yield _MP
    else:
        with _INTERVAL.workprec(check_dps(prec, what="prec")):
            yield _INTERVAL


def places_for(places: int | Mapping[str, int] | None, name: str) -> int | None:
    """The decimal places for one quantity: one number for all, or a mapping with ``default``.

    >>> places_for({"default": 3, "f": 2}, "f"), places_for({"default": 3}, "h"), places_for(2, "h")
    (2, 3, 2)
    """
    if isinstance(places, Mapping):
        return places.get(name, places.get("default"))
    return places


def _check_arguments(cell: Any, *, places: Any = None, hand_places: Any = None) -> None:
    """The types of :func:`evaluate`'s and :func:`certify`'s arguments, where they enter."""
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    for what, value, lowest in (("places", places, -300), ("hand_places", hand_places, 0)):
        if value is None or (what == "places" and isinstance(value, int)):
            if value is not None:
                _check_places(value)
            continue
        if not isinstance(value, Mapping):
            raise ArgumentError(
                f"{what} must be an integer or a mapping of quantity names to integers, "
                f"not {type(value).__name__}"
            )
        known = ("default", *cell.quantities)
        for name, n in value.items():
            if name not in known:
                raise UnknownNameError(
                    f"{what}: {name!r} is not a quantity of this cell; known: {', '.join(known)}"
                )
            _check_places(n)
            if n < lowest:
                raise PrecisionError(f"{what}[{name!r}] must be >= {lowest}, not {n}")


def _check_places(places: int) -> None:
    if isinstance(places, bool) or not isinstance(places, int) or not -300 <= places <= 10_000:
        raise PrecisionError(f"decimal places must be an integer in -300..10000, not {places!r}")
