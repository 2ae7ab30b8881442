"""The certified reference's inputs: tied and scalar cells in vector form, and the
checks of every array :func:`symlstm.certified.run.reference` takes.

Each float is taken exactly; an object array of :class:`fractions.Fraction` (exactly
summed biases) stays exact.

>>> cell, p = vector_form(Cell("tied"), {"w_f": 0.5, "w_i": 0.5, "w_g": 0.5, "w_o": 0.5,
...                                      "b": 0})
>>> cell.hidden_size, p["W_f"]
(1, array([[0.5]]))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from symlstm.cell import Cell
from symlstm.errors import ParameterError, ShapeError, UnknownNameError
from symlstm.params import parameters

__all__ = ["vector_form"]


def vector_form(cell: Cell, params: Mapping[str, Any]) -> tuple[Cell, dict[str, np.ndarray]]:
    """A tied or scalar cell and its parameters as a vector cell with n = m = 1.

    The tied cell's w_k becomes both W_k and U_k; b_k and p_k become vectors of one.
    Values are validated as :func:`symlstm.params.parameters` does (the shorthand
    ``b`` included) and converted to float64: floats exactly, decimal strings to the
    nearest float64. Inputs follow suit: x of shape (T,) becomes ``x[:, None, None]``.

    >>> cell, p = vector_form(Cell("tied"), {"w_f": 0.7, "w_i": 0.6, "w_g": 0.5, "w_o": 0.9,
    ...                                      "b": 0})
    >>> cell.hidden_size, p["W_f"], p["U_f"], p["b_f"]
    (1, array([[0.7]]), array([[0.7]]), array([0.]))
    """
    if not isinstance(cell, Cell):
        raise ParameterError(f"expected a Cell, not {type(cell).__name__}")
    if cell.is_vector:
        raise ParameterError("vector_form() is for tied and scalar cells; this one is a vector")
    exact = parameters(cell, params)
    vector = Cell("vector", cell.variant, hidden_size=1, input_size=1)
    out = {}
    for name in vector.parameters:
        source = f"w_{name[2:]}" if cell.kind == "tied" and name[0] in "WU" else name
        value = exact[source]
        out[name] = np.full(shape_of(vector, name), float(Fraction(int(value.p), int(value.q))))
    return vector, out


def array_of(value: Any, shape: tuple[int, ...] | None, what: str, ndim: int = 0) -> np.ndarray:
    """``value`` as a float64 array holding exactly the same numbers, shape-checked.

    An object array of :class:`fractions.Fraction` (and floats), as
    :func:`symlstm.frameworks.layouts.to_canonical` gives for exactly summed biases, stays exact.
    """
    a = np.asarray(value)
    if a.dtype == object and all(isinstance(v, Fraction | float | int) for v in a.ravel()):
        if shape is not None and a.shape != shape:
            raise ShapeError(f"{what}: expected shape {shape}, got {a.shape}")
        return a
    if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
        raise ParameterError(f"{what}: expected a float32 or float64 array, not {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ShapeError(f"{what}: expected shape {shape}, got {a.shape}")
    if shape is None and a.ndim != ndim:
        raise ShapeError(f"{what}: expected {ndim} dimensions, got shape {a.shape}")
    out = a.astype(np.float64)
    if a.dtype.kind in "iu" and np.any(np.abs(out) > 2.0**53):
        raise ParameterError(f"{what}: integers beyond 2^53 are not exact in float64")
    return out


def shape_of(cell: Cell, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in cell.shape(name))  # SymPy Integers → ints


@dataclass(frozen=True)
class Inputs:
    n: int
    m: int
    p: int  # components of h: the projection size, or n
    steps: int
    batch: int
    params: dict[str, np.ndarray]
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    dy: np.ndarray | None
    dhT: np.ndarray | None
    dcT: np.ndarray | None
    finite: bool  # every input finite: then a non-finite ball is a failure, not a NaN

    @property
    def gradients(self) -> bool:
        return self.dy is not None or self.dhT is not None or self.dcT is not None


def check_inputs(cell: Any, params: Any, x, h0, c0, dy, dhT, dcT) -> Inputs:
    if not isinstance(cell, Cell):
        raise ParameterError(f"expected a Cell, not {type(cell).__name__}")
    if not cell.is_vector:
        raise ParameterError(
            f"reference() needs a vector cell, not a {cell.kind} one; vector_form() converts it"
        )
    if not cell.sized:
        raise ParameterError("give the vector cell's hidden_size and input_size")
    if not isinstance(params, Mapping):
        raise ParameterError(f"params: expected a mapping of name → array, not {type(params)}")
    unknown = [k for k in params if k not in cell.parameters]
    if unknown:
        raise UnknownNameError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for the "
            f"{cell.variant.label()} cell; expected: {', '.join(cell.parameters)}"
        )
    missing = [k for k in cell.parameters if k not in params]
    if missing:
        raise ParameterError(f"missing parameter(s): {', '.join(missing)}")
    n, m = cell.hidden_size, cell.input_size
    p = shape_of(cell, "h")[0]
    arrays = {k: array_of(params[k], shape_of(cell, k), k) for k in cell.parameters}
    xs = array_of(x, None, "x", ndim=3)
    if xs.shape[2] != m or xs.shape[0] < 1 or xs.shape[1] < 1:
        raise ShapeError(f"x: expected shape (T, B, {m}) time-major with T, B ≥ 1, got {xs.shape}")
    steps, batch = xs.shape[:2]

    def optional(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
        return None if value is None else array_of(value, shape, what)

    h0_, c0_ = optional(h0, (batch, p), "h0"), optional(c0, (batch, n), "c0")
    dy_ = optional(dy, (steps, batch, p), "dy")
    dhT_, dcT_ = optional(dhT, (batch, p), "dhT"), optional(dcT, (batch, n), "dcT")
    given = [*arrays.values(), xs, *(a for a in (h0_, c0_, dy_, dhT_, dcT_) if a is not None)]
    return Inputs(
        n,
        m,
        p,
        steps,
        batch,
        arrays,
        xs,
        np.zeros((batch, p)) if h0_ is None else h0_,
        np.zeros((batch, n)) if c0_ is None else c0_,
        dy_,
        dhT_,
        dcT_,
        all(np.isfinite(a.astype(np.float64)).all() for a in given),  # Fractions are finite
    )
