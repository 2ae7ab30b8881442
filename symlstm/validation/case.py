"""The checked case of :mod:`symlstm.validation`: the weights, inputs and claimed numbers,
their names, dtypes and shapes checked, in canonical form and time-major."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from symlstm.cell import Cell, Variant
from symlstm.errors import DataFileError
from symlstm.frameworks.layouts import Layout, get_layout, to_canonical
from symlstm.validation.report import tolerance_ulps

OUTPUTS = ("y", "h_T", "c_T")
SEEDS = ("dy", "dhT", "dcT")
INPUT_GRADIENTS = ("x", "h0", "c0")
_BATCH_MAJOR = ("x", "h0", "c0", *OUTPUTS, *SEEDS)


# -- the case: weights, inputs and claimed numbers, checked and in canonical form ----------------


@dataclass(frozen=True)
class Case:
    layout: Layout
    weights: dict[str, np.ndarray]
    layer: int
    direction: str
    directions: int  # how many directions the weights hold (1 or 2)
    layers: int
    reading: dict[str, Any]  # to_canonical's forget_bias and attributes
    variant: Variant
    params: dict[str, np.ndarray]  # exact (Fraction) sums where the layout has two biases
    x: np.ndarray  # (T, B, m), in the layout's time order
    h0: np.ndarray | None
    c0: np.ndarray | None
    claimed: dict[str, np.ndarray]  # y (T, B, n), h_T, c_T (B, n)
    dtype: np.dtype

    @property
    def batch_major(self) -> bool:
        return (self.reading.get("attributes") or {}).get("layout", 0) == 1

    @property
    def reverse(self) -> bool:
        return self.direction == "reverse"

    @property
    def slot(self) -> int:
        return 1 if self.reverse and self.directions == 2 else 0

    @property
    def sizes(self) -> dict[str, int]:
        steps, batch, m = self.x.shape
        sizes = {"T": steps, "batch": batch, "hidden": self.params["U_i"].shape[0], "input": m}
        if "W_hr" in self.params:  # PyTorch's proj_size: h, y and h0 have p components
            sizes["proj"] = self.params["W_hr"].shape[0]
        return sizes

    @property
    def out(self) -> int:
        """The number of components of h (and of y's rows): p with a projection, else n."""
        return self.sizes.get("proj", self.sizes["hidden"])

    def cell(self, variant: Variant | None = None) -> Cell:
        s = self.sizes
        return Cell(
            "vector",
            variant or self.variant,
            hidden_size=s["hidden"],
            input_size=s["input"],
            proj_size=s.get("proj"),
        )

    def sequence(self, array: np.ndarray, name: str) -> np.ndarray:
        """A per-step tensor as (T, B, n): also from PyTorch's (T, B, D·n) and ONNX's
        (T, D, B, n) for bidirectional weights."""
        s = self.sizes
        steps, batch, n = s["T"], s["batch"], self.out
        d = self.directions
        if array.shape == (steps, batch, n):
            return array
        if d == 2 and array.shape == (steps, batch, 2 * n):
            return array[..., self.slot * n : (self.slot + 1) * n]
        if array.shape == (steps, d, batch, n):
            return array[:, self.slot]
        both = f", or (T, B, {2 * n}) or (T, 2, B, n) for both directions" if d == 2 else ""
        raise DataFileError(
            f"{name}: shape {array.shape}, expected (T, B, n) = {(steps, batch, n)}{both}"
        )

    def state(self, array: np.ndarray, name: str, *, cell_state: bool = False) -> np.ndarray:
        """A state as (B, n): also from (1, B, n) and PyTorch's (layers·D, B, n). With a
        projection, h's states (h0, h_T, dhT) have p components, c's (``cell_state``) n."""
        s = self.sizes
        expected = (s["batch"], s["hidden"] if cell_state else self.out)
        if array.shape == expected:
            return array
        if array.ndim == 3 and array.shape[1:] == expected:
            if array.shape[0] == 1:
                return array[0]
            if array.shape[0] == self.layers * self.directions:
                return array[self.layer * self.directions + self.slot]
        raise DataFileError(
            f"{name}: shape {array.shape}, expected (B, n) = {expected} or (1, B, n)"
        )


def float_arrays(arrays: Any, what: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping):
        raise DataFileError(f"{what}: expected a mapping of name → array, not {type(arrays)}")
    out = {}
    for name, value in arrays.items():
        try:
            array = np.asarray(value)
        except Exception as exc:  # ragged lists, torch's bfloat16 …
            raise DataFileError(f"{what}: {name} is not an array of numbers ({exc})") from None
        if array.dtype not in (np.float16, np.float32, np.float64):
            raise DataFileError(
                f"{what}: {name} is {array.dtype}; expected float16, float32 or float64 "
                "(the dtype the implementation claims)"
            )
        out[str(name)] = array
    return out


def time_major(arrays: dict[str, np.ndarray], batch_major: bool) -> dict[str, np.ndarray]:
    """ONNX's batch-major (layout = 1) arrays as time-major: X, Y and the states swap axes."""
    if not batch_major:
        return arrays
    out = {}
    for name, array in arrays.items():
        if name not in _BATCH_MAJOR:
            pass  # weights and their gradients have no batch axis
        elif array.ndim == 4:  # Y: (B, T, D, n) → (T, D, B, n)
            array = array.transpose(1, 2, 0, 3)
        elif array.ndim == 3:  # X, Y (B, T, ·) → (T, B, ·); states (B, D, n) → (D, B, n)
            array = array.swapaxes(0, 1)
        out[name] = array
    return out


def known_names(what: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = [k for k in given if k not in known]
    if unknown:
        raise DataFileError(
            f"{what}: unknown array(s) {', '.join(map(repr, unknown))}; expected {', '.join(known)}"
        )


def _count_units(layout: Layout, weights: Mapping[str, np.ndarray], layer: int) -> tuple:
    """(directions, layers) the weights hold."""
    first = layout.names(layer=layer)[0]  # the input weights, in every layout
    if layout.direction_axis:
        array = weights.get(first)
        directions = array.shape[0] if array is not None and array.ndim == 3 else 1
    elif "reverse" in layout.directions:
        reverse = layout.names(layer=layer, direction="reverse")[0]
        directions = 2 if reverse in weights else 1
    else:
        directions = 1
    layers = 1
    if layout.layered:
        while layout.names(layer=layers)[0] in weights:
            layers += 1
    return directions, layers


def prepare(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    layer: int,
    direction: str,
    reading: dict[str, Any],
) -> Case:
    layout = get_layout(layout)
    weights = float_arrays(weights, "weights")
    batch_major = (reading.get("attributes") or {}).get("layout", 0) == 1
    inputs = time_major(float_arrays(inputs, "inputs"), batch_major)
    outputs = time_major(float_arrays(outputs, "outputs"), batch_major)
    known_names("inputs", inputs, ("x", "h0", "c0"))
    known_names("outputs", outputs, OUTPUTS)
    if "x" not in inputs:
        raise DataFileError("inputs: missing x (T, B, input), time-major")
    if "y" not in outputs:
        raise DataFileError("outputs: missing y (T, B, hidden), every h_t")
    dtype = outputs["y"].dtype
    for what, given in (("weights", weights), ("inputs", inputs), ("outputs", outputs)):
        for name, array in given.items():
            if array.dtype != dtype:
                raise DataFileError(
                    f"{what}: {name} is {array.dtype} but y is {dtype}: the arrays must all "
                    "have the dtype the implementation claims to compute in"
                )
    variant, params = to_canonical(
        layout, weights, layer=layer, direction=direction, biases="exact", **reading
    )
    directions, layers = _count_units(layout, weights, layer)
    x = inputs["x"]
    m = params["W_i"].shape[1]
    if x.ndim != 3 or x.shape[2] != m or 0 in x.shape:
        raise DataFileError(f"inputs: x has shape {x.shape}, expected (T, B, {m}), time-major")
    case = Case(
        layout=layout,
        weights=weights,
        layer=layer,
        direction=direction,
        directions=directions,
        layers=layers,
        reading=reading,
        variant=variant,
        params=params,
        x=x,
        h0=None,  # the states and claims are read next, with the case's sizes
        c0=None,
        claimed={},
        dtype=dtype,
    )
    h0 = case.state(inputs["h0"], "inputs: h0") if "h0" in inputs else None
    c0 = case.state(inputs["c0"], "inputs: c0", cell_state=True) if "c0" in inputs else None
    claimed = {"y": case.sequence(outputs["y"], "outputs: y")}
    for name in ("h_T", "c_T"):
        if name in outputs:
            claimed[name] = case.state(outputs[name], f"outputs: {name}", cell_state=name == "c_T")
    return replace(case, h0=h0, c0=c0, claimed=claimed)


def bias_parts(
    layout: Layout, names: tuple[str, ...], n: int
) -> list[tuple[str, slice, tuple[str, ...]]]:
    """Where the biases lie: (array name, slice of its last axis, the gates it holds), in
    the layout's order."""
    out = []
    for packed, name in zip(layout.arrays, names, strict=True):
        if packed.is_matrix or "b" not in packed.parts:
            continue
        gates = tuple(layout.array_gates(packed))
        width = len(gates) * n
        out += [
            (name, slice(j * width, (j + 1) * width), gates)
            for j, part in enumerate(packed.parts)
            if part == "b"
        ]
    return out


def output_tolerance(case: Case) -> float:
    # A pre-activation sums input + (h's width) + 1 products, one more with peepholes; a
    # projection's h = W_hr m sums hidden of them.
    s = case.sizes
    terms = s["input"] + case.out + 1 + int(case.variant.peephole)
    return tolerance_ulps(s["T"], max(terms, s["hidden"] if "proj" in s else 0))
