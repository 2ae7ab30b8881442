"""Canonical parameter sets, states and input sequences, validated against a cell.

Values become exact: SymPy rationals for scalar cells, tuples of rationals
(vectors) or tuples of tuples (matrices) for vector cells. Every check names the
offending value.

>>> from symlstm.cell import Cell
>>> p = parameters(Cell("tied"), {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"})
>>> p["w_f"], p["b_o"]
(7/10, 0)
>>> parameters(Cell("vector", hidden_size=2, input_size=1), {"W_i": [[1, 2]]})
Traceback (most recent call last):
...
symlstm.errors.ShapeError: W_i: expected shape (2, 1), got 1 row(s) of 2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from symlstm.cell import Cell
from symlstm.errors import ArgumentError, ParameterError, ShapeError, UnknownNameError
from symlstm.limits import check_number, elide
from symlstm.numeric.exact import to_rational

__all__ = ["ExactValue", "exact_number", "exact_value", "inputs", "parameters", "state"]

#: An exact value: a rational (scalar cells), a tuple (vector) or a tuple of tuples (matrix).
ExactValue = sympy.Rational | tuple


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes)


def exact_number(value: Any, what: str) -> sympy.Rational:
    """The one checked conversion of a number from outside into an exact rational.

    The number is checked on its text against :mod:`symlstm.limits` (exponent,
    digits, ASCII digits, no booleans) before any exact fraction is built, then
    converted by :func:`symlstm.numeric.exact.to_rational`.

    >>> exact_number("0.25", "x[1]")
    1/4
    >>> exact_number("1e999999999", "w_f")
    Traceback (most recent call last):
    ...
    symlstm.errors.RangeError: w_f: '1e999999999' overflows float64: its decimal exponent ...
    """
    return to_rational(check_number(value, what), what=what)


def exact_value(value: Any, shape: tuple[int, ...], what: str) -> ExactValue:
    """Convert ``value`` to an exact value of the given shape, or raise naming ``what``.

    Every number goes through :func:`exact_number`.

    >>> exact_value(["1", "2.5"], (2,), "b_i")
    (1, 5/2)
    """
    if isinstance(value, np.ndarray):
        if value.shape != shape and not (shape == () and value.shape == (1,)):
            raise ShapeError(f"{what}: expected shape {shape}, got {value.shape}")
        value = value.tolist() if shape else value.reshape(()).item()
    if not shape:
        if _is_sequence(value):
            # A one-element list is a scalar cell's vector of size 1.
            if len(value) == 1 and not _is_sequence(value[0]):
                return exact_number(value[0], what)
            raise ShapeError(f"{what}: expected a number, got a list of {len(value)}")
        return exact_number(value, what)
    if not _is_sequence(value):
        raise ShapeError(f"{what}: expected shape {shape}, got a single number")
    if len(shape) == 1:
        if len(value) != shape[0] or any(_is_sequence(v) for v in value):
            raise ShapeError(f"{what}: expected {shape[0]} number(s), got {_describe(value)}")
        return tuple(exact_number(v, f"{what}[{k}]") for k, v in enumerate(value))
    rows, cols = shape
    if len(value) != rows or not all(_is_sequence(r) and len(r) == cols for r in value):
        raise ShapeError(f"{what}: expected shape {shape}, got {_describe(value)}")
    return tuple(
        tuple(exact_number(v, f"{what}[{r}][{k}]") for k, v in enumerate(row))
        for r, row in enumerate(value)
    )


def _describe(value: Sequence) -> str:
    if value and all(_is_sequence(r) for r in value):
        lengths = sorted({len(r) for r in value})
        return f"{len(value)} row(s) of {'/'.join(map(str, lengths))}"
    return f"{len(value)} item(s)"


def parameters(cell: Cell, values: Mapping[str, Any]) -> dict[str, ExactValue]:
    """Validate and convert a cell's parameters.

    Parameters
    ----------
    cell
        The cell whose parameters these are.
    values
        Canonical name → value. For scalar and tied cells the shorthand ``b``
        sets every bias not given by name (the spec's "b = 0").

    Raises
    ------
    UnknownNameError
        For a name the cell does not have.
    ParameterError
        For a missing parameter or a value that is not a finite number.
    ShapeError
        For a value of the wrong shape.
    """
    if not isinstance(cell, Cell):
        raise ParameterError(f"parameters: expected a Cell, not {type(cell).__name__}")
    if not isinstance(values, Mapping):
        raise ParameterError(
            f"parameters: expected a mapping of name → value, not {type(values).__name__}"
        )
    given = dict(values)
    bad = [k for k in given if not isinstance(k, str)]
    if bad:
        raise UnknownNameError(f"parameter names must be text, not {elide(repr(bad[0]))}")
    if "b" in given and not cell.is_vector:
        shared = given.pop("b")
        for name in cell.parameters:
            if name.startswith("b_"):
                given.setdefault(name, shared)
    unknown = [k for k in given if k not in cell.parameters]
    if unknown:
        shown = ", ".join(elide(repr(k)) for k in unknown)
        raise UnknownNameError(
            f"unknown parameter(s) {shown} for a {cell.kind} cell "
            f"({cell.variant.label()}); expected: {', '.join(cell.parameters)}"
        )
    converted = {name: exact_value(v, cell.shape(name), name) for name, v in given.items()}
    missing = [k for k in cell.parameters if k not in given]
    if missing:
        raise ParameterError(f"missing parameter(s): {', '.join(missing)}")
    return {name: converted[name] for name in cell.parameters}


def _check_cell(cell: Any) -> None:
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")


def state(cell: Cell, name: str, value: Any = None) -> ExactValue:
    """Validate an initial state (``"h_prev"`` or ``"c_prev"``); None means zeros.

    >>> state(Cell("vector", hidden_size=2, input_size=1), "h_prev")
    (0, 0)
    """
    _check_cell(cell)
    if name not in ("h_prev", "c_prev"):
        raise UnknownNameError(f"a state is 'h_prev' or 'c_prev', not {elide(repr(name))}")
    shape = cell.shape(name)
    if value is None:
        zero = sympy.Integer(0)
        return tuple(zero for _ in range(shape[0])) if shape else zero
    return exact_value(value, shape, name)


def inputs(cell: Cell, xs: Any) -> tuple[ExactValue, ...]:
    """Validate an input sequence: one value of x's shape per step, at least one step.

    >>> inputs(Cell("tied"), ["0.2", "0.4"])
    (1/5, 2/5)
    """
    _check_cell(cell)
    if not _is_sequence(xs):
        raise ShapeError("inputs: expected a sequence of steps, got a single value")
    if len(xs) == 0:
        raise ShapeError("inputs: the sequence is empty")
    shape = cell.shape("x")
    return tuple(exact_value(x, shape, f"x[{t + 1}]") for t, x in enumerate(xs))
