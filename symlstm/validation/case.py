"""The checked case of :mod:`symlstm.validation`: the weights, inputs and claimed numbers of
a whole network (or of one unit of it), their names, dtypes and shapes checked against
what the layout and sizes imply before anything is computed, read into canonical form,
time-major and in forward time order.

A *unit* is one layer and direction (:class:`Case`); a :class:`Network` is its layers'
units, the first layer's input, and the claims: each claimed tensor, time-major, with
the unit (or the layer, for a merged output) it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from symlstm.cell import Cell, Variant
from symlstm.errors import (
    ArgumentError,
    ArrayShapeError,
    DataFileError,
    ParameterError,
    UnknownNameError,
)
from symlstm.frameworks.layouts import Layout, get_layout, to_canonical
from symlstm.validation.report import tolerance_ulps

OUTPUTS = ("y", "h_T", "c_T")
SEEDS = ("dy", "dhT", "dcT")
INPUT_GRADIENTS = ("x", "h0", "c0")
#: ONNX's own names of the node's inputs and outputs, read as validate's.
ONNX_NAMES = {
    "X": "x",
    "initial_h": "h0",
    "initial_c": "c0",
    "Y": "y",
    "Y_h": "h_T",
    "Y_c": "c_T",
}
#: How a bidirectional layer's two outputs make its output (Keras' Bidirectional merge_mode).
MERGE_MODES = ("concat", "sum", "ave", "mul")
#: Layouts whose framework hands out batch-major arrays by default (Keras).
_BATCH_MAJOR_LAYOUTS = ("keras", "keras_bidirectional")


# -- one unit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One unit (a layer and direction) of the checked network, in canonical form."""

    layout: Layout
    weights: dict[str, np.ndarray]
    layer: int
    direction: str
    directions: int  # how many directions the weights hold (1 or 2)
    layers: int
    reading: dict[str, Any]  # to_canonical's forget_bias and attributes
    variant: Variant
    params: dict[str, np.ndarray]  # exact (Fraction) sums where the layout has two biases
    x: np.ndarray | None  # (T, B, m) in forward time order; None above the first layer
    h0: np.ndarray | None
    c0: np.ndarray | None
    claimed: dict[str, np.ndarray]  # this unit's own y (T, B, out), h_T, c_T (B, ·)
    dtype: np.dtype
    steps: int = 0
    batch: int = 0
    lengths: np.ndarray | None = None  # ONNX's sequence_lens, one per batch row
    slot: int = 0  # the unit's place among its layer's directions

    @property
    def reverse(self) -> bool:
        return self.direction == "reverse"

    @property
    def weights_slot(self) -> int:
        """The unit's index along a layout's direction axis (ONNX's reverse: 1 of 2)."""
        return 1 if self.reverse and self.directions == 2 else 0

    @property
    def sizes(self) -> dict[str, int]:
        sizes = {
            "T": self.steps,
            "batch": self.batch,
            "hidden": self.params["U_i"].shape[0],
            "input": self.params["W_i"].shape[1],
        }
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


# -- the network ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One claimed tensor: ``kind`` y, h_T or c_T; the layer; the unit's slot among the
    layer's directions, or None for a layer's merged output (Keras' sum, ave, mul)."""

    name: str
    kind: str
    layer: int
    slot: int | None
    array: np.ndarray  # time-major: y (T, B, ·), states (B, ·)


@dataclass(frozen=True)
class Network:
    """The checked case: the units by layer, the first layer's input and the claims."""

    layout: Layout
    units: tuple[tuple[Case, ...], ...]
    x: np.ndarray  # (T, B, m), time-major, forward time order
    claims: dict[str, Claim]
    merge: str
    dtype: np.dtype
    batch_first: bool
    initial_state: bool  # whether h0 or c0 was given
    unit_mode: bool  # one unit alone (layer= or direction= given)
    lengths: np.ndarray | None = None
    rows: tuple[int, ...] | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(u.direction for u in self.units[0])

    @property
    def first(self) -> Case:
        return self.units[0][0]

    @property
    def last(self) -> Case:
        return self.units[-1][-1]

    def describe(self) -> str:
        """The network in words beyond its direction: "2 layers", "merge sum"."""
        parts = []
        if len(self.units) > 1:
            parts.append(f"{len(self.units)} layers")
        if len(self.directions) == 2 and self.merge != "concat":
            parts.append(f"merge {self.merge}")
        return ", ".join(parts)


def float_arrays(arrays: Any, what: str, keep: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays as NumPy arrays of float16, 32 or 64 (the names in ``keep`` as they are)."""
    if not isinstance(arrays, Mapping):
        raise DataFileError(f"{what}: expected a mapping of name → array, not {type(arrays)}")
    out = {}
    for name, value in arrays.items():
        try:
            array = np.asarray(value)
        except Exception as exc:  # ragged lists, torch's bfloat16 …
            raise DataFileError(f"{what}: {name} is not an array of numbers ({exc})") from None
        if name not in keep and array.dtype not in (np.float16, np.float32, np.float64):
            raise DataFileError(
                f"{what}: {name} is {array.dtype}; expected float16, float32 or float64 "
                "(the dtype the implementation claims)"
            )
        out[str(name)] = array
    return out


def known_names(what: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = [k for k in given if k not in known]
    if unknown:
        raise DataFileError(
            f"{what}: unknown array(s) {', '.join(map(repr, unknown))}; expected {', '.join(known)}"
        )


def _renamed(arrays: dict[str, np.ndarray], layout: Layout, what: str) -> dict[str, np.ndarray]:
    """ONNX's names (X, Y, Y_h …) as validate's (x, y, h_T …), for the onnx layout."""
    if layout.attributes != "onnx":
        return arrays
    out: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        key = ONNX_NAMES.get(name, name)
        if key in out:
            raise DataFileError(f"{what}: {key} is given twice (as {key} and as {name})")
        out[key] = array
    return out


# -- the structure the weights hold ---------------------------------------------------------------


def _layer_count(layout: Layout, weights: Mapping[str, np.ndarray]) -> int:
    if not layout.layered:
        return 1
    layers = 1
    while layout.names(layer=layers)[0] in weights:
        layers += 1
    return layers


def _node_direction(attributes: Mapping[str, Any] | None) -> str | None:
    value = (attributes or {}).get("direction")
    if isinstance(value, bytes):
        value = value.decode()
    if value is not None and value not in ("forward", "reverse", "bidirectional"):
        raise UnknownNameError(
            f"unknown ONNX direction {value!r}; known: forward, reverse, bidirectional"
        )
    return value


def network_directions(
    layout: Layout,
    weights: Mapping[str, np.ndarray],
    attributes: Mapping[str, Any] | None,
    requested: str | None = None,
) -> tuple[str, ...]:
    """The directions the weights hold, in the order of their outputs. An ONNX node of one
    direction whose attributes do not say which runs in the ``requested`` one."""
    first = layout.names()[0]  # the input weights, in every layout
    if layout.direction_axis:
        array = weights.get(first)
        count = array.shape[0] if array is not None and array.ndim == 3 else 1
        node = _node_direction(attributes)
        if count == 2:
            if node not in (None, "bidirectional"):
                raise ArrayShapeError(
                    f"weights: {first} holds 2 directions but the node's direction is {node}"
                )
            return ("forward", "reverse")
        if node == "bidirectional":
            raise ArrayShapeError(
                f"weights: {first} holds 1 direction but the node's direction is bidirectional "
                f"(expected a leading num_directions axis of 2)"
            )
        if node is None and requested == "reverse":
            return ("reverse",)
        return ("reverse",) if node == "reverse" else ("forward",)
    if "reverse" in layout.directions:
        reverse = layout.names(direction="reverse")[0]
        forward = layout.names()[0]
        if reverse in weights and forward in weights:
            return ("forward", "reverse")
        if reverse in weights:
            raise ParameterError(f"weights: {reverse} is given without {forward}")
    return ("forward",)


# -- shapes: checked before anything is computed, with the likely cause ----------------------------


def _cause(
    name: str,
    shape: tuple[int, ...],
    expected: tuple[int, ...],
    *,
    batch_first: bool,
    unit_mode: bool,
    out: int,
    directions: int,
    weights_directions: int,
    steps: int = 0,
    batch: int = 0,
) -> str:
    """The likely cause of a shape mismatch, in words ("" when none is apparent)."""
    state = name in ("h_T", "c_T", "h0", "c0")
    if state and len(shape) >= 2 and shape[-2] == steps != batch and shape[-1] == expected[-1]:
        if batch_first:
            return (
                "time-major (T, B, …) data read as batch-major: pass --time-major "
                "(batch_first=False)"
            )
        return (
            f"batch-major (B, T, …) data read as time-major (x's first axis, {steps}, is "
            f"this state's batch): pass --batch-first (batch_first=True)"
        )
    if len(shape) == len(expected) >= 2 and shape != expected:
        swapped = (shape[1], shape[0], *shape[2:])
        e = expected
        if len(shape) == 4 and name == "y":  # ONNX's Y: (T, D, B, n) and (B, T, D, n)
            # Batch-major: (B, T, D, n), or (T, B, D, n) when x was misread the same way.
            other = [(e[2], e[0], e[1], e[3]), (e[0], e[2], e[1], e[3])]
            if batch_first:
                other = [(e[1], e[2], e[0], e[3]), (e[0], e[2], e[1], e[3])]
            swapped = expected if shape in other else shape
        if swapped == expected:
            if batch_first:
                return (
                    "time-major (T, B, …) data read as batch-major: pass --time-major "
                    "(batch_first=False)"
                )
            return (
                "batch-major (B, T, …) data read as time-major: pass --batch-first "
                "(batch_first=True)"
            )
    if name == "y" and len(shape) == 4 == len(expected) and shape[1] == 2 != expected[1]:
        if unit_mode:
            return (
                "a whole network's Y (both directions) given for one unit: leave out "
                "--layer and --direction to validate the whole node"
            )
        return "Y of both directions for a one-direction node"
    if name == "y" and len(shape) >= 3 and shape[:-1] == expected[:-1]:
        width = shape[-1]
        if unit_mode and weights_directions == 2 and width == 2 * out:
            return (
                "a whole network's y (both directions' outputs) given for one unit: leave out "
                "--layer and --direction to validate the whole network, or give this unit's "
                "part of y"
            )
        if not unit_mode and directions == 1 and width == 2 * out:
            return (
                "y of both directions for a one-direction network: the weights hold the "
                "forward direction only (are the reverse direction's arrays missing?)"
            )
        if not unit_mode and directions == 2 and width == out and expected[-1] == 2 * out:
            return "y of one direction for a bidirectional network: give the whole output"
    same_rows = len(shape) == 3 == len(expected) and shape[1:] == expected[1:]
    if state and same_rows and shape != expected:
        return f"{shape[0]} states for a network of {expected[0]} units (layers × directions)" + (
            "" if not unit_mode else ": one unit's state is (B, ·)"
        )
    return ""


@dataclass
class _Reader:
    """Checks each given array's shape against the one the layout and sizes imply."""

    batch_first: bool
    unit_mode: bool
    directions: int
    weights_directions: int
    out: int
    steps: int = 0
    batch: int = 0

    def fail(
        self,
        what: str,
        name: str,
        shape: tuple,
        expected: list[tuple],
        text: str,
        cause: str = "",
    ) -> None:
        cause = cause or _cause(
            name,
            shape,
            expected[0],
            batch_first=self.batch_first,
            unit_mode=self.unit_mode,
            out=self.out,
            directions=self.directions,
            weights_directions=self.weights_directions,
            steps=self.steps,
            batch=self.batch,
        )
        shown = " or ".join(str(e) for e in expected)
        order = "batch-major" if self.batch_first else "time-major"
        message = f"{what}: {name} has shape {shape}, expected {shown} ({text}, {order})"
        raise ArrayShapeError(message + (f": likely {cause}" if cause else ""))


def _time_major(array: np.ndarray, batch_first: bool, *, onnx_y: bool = False) -> np.ndarray:
    if not batch_first or array.ndim < 2:
        return array
    if onnx_y and array.ndim == 4:  # ONNX layout 1: Y (B, T, D, n) → (T, D, B, n)
        return array.transpose(1, 2, 0, 3)
    return array.swapaxes(0, 1)


def _batch_major_shape(shape: tuple[int, ...], onnx_y: bool = False) -> tuple[int, ...]:
    if onnx_y and len(shape) == 4:  # (T, D, B, n) → (B, T, D, n)
        return (shape[2], shape[0], shape[1], shape[3])
    return (shape[1], shape[0], *shape[2:]) if len(shape) >= 2 else shape


# -- reading the case ----------------------------------------------------------------------------


def _check_options(
    layout: Layout,
    merge: Any,
    batch_first: Any,
    attributes: Mapping[str, Any] | None,
) -> tuple[str, bool]:
    if not isinstance(merge, str) or merge not in MERGE_MODES:
        raise UnknownNameError(f"unknown merge mode {merge!r}; known: {', '.join(MERGE_MODES)}")
    if merge != "concat" and layout.direction_names is None:
        raise ParameterError(
            f"merge mode {merge}: only Keras' Bidirectional merges its directions' outputs; "
            f"{layout.name} concatenates them"
        )
    if batch_first is not None and not isinstance(batch_first, bool | np.bool_):
        raise ParameterError(f"batch_first must be True, False or None, not {batch_first!r}")
    node_layout = (attributes or {}).get("layout", 0)
    if layout.attributes == "onnx":
        if batch_first is not None and bool(batch_first) != (node_layout == 1):
            raise ParameterError(
                f"batch_first={batch_first} contradicts the node's layout attribute "
                f"({node_layout}): ONNX's layout 1 is batch-major, 0 time-major"
            )
        return merge, node_layout == 1
    if batch_first is None:
        return merge, layout.name in _BATCH_MAJOR_LAYOUTS
    return merge, bool(batch_first)


def _unit_case(
    layout: Layout,
    weights: dict[str, np.ndarray],
    reading: dict[str, Any],
    layer: int,
    direction: str,
    directions: int,
    layers: int,
    dtype: np.dtype,
) -> Case:
    variant, params = to_canonical(
        layout, weights, layer=layer, direction=direction, biases="exact", **reading
    )
    return Case(
        layout=layout,
        weights=weights,
        layer=layer,
        direction=direction,
        directions=directions,
        layers=layers,
        reading=reading,
        variant=variant,
        params=params,
        x=None,
        h0=None,
        c0=None,
        claimed={},
        dtype=dtype,
    )


def _lengths(value: Any, steps: int, batch: int) -> np.ndarray:
    lengths = np.asarray(value)
    if lengths.dtype.kind not in "iu":
        raise DataFileError(f"inputs: sequence_lens is {lengths.dtype}; expected integers")
    if lengths.shape != (batch,):
        raise ArrayShapeError(
            f"inputs: sequence_lens has shape {lengths.shape}, expected ({batch},): one "
            "length per batch row"
        )
    if lengths.size and (lengths.min() < 1 or lengths.max() > steps):
        raise ParameterError(
            f"inputs: sequence_lens must lie in 1 … T = {steps}, not {lengths.tolist()}"
        )
    return lengths.astype(np.int64)


def prepare(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    layer: int | None = None,
    direction: str | None = None,
    reading: dict[str, Any],
    batch_first: bool | None = None,
    merge: str = "concat",
) -> Network:
    """The checked network: names, dtypes and every shape checked, then read."""
    layout = get_layout(layout)
    attributes = reading.get("attributes")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise ArgumentError(
            f"attributes must be a mapping of names to values, not {type(attributes).__name__}"
        )
    merge, batch_first = _check_options(layout, merge, batch_first, attributes)
    weights = float_arrays(weights, "weights")
    inputs = _renamed(float_arrays(inputs, "inputs", keep=("sequence_lens",)), layout, "inputs")
    outputs = _renamed(float_arrays(outputs, "outputs"), layout, "outputs")
    onnx = layout.attributes == "onnx"
    known_names("inputs", inputs, ("x", "h0", "c0", *(("sequence_lens",) if onnx else ())))
    known_names("outputs", outputs, OUTPUTS)
    if "x" not in inputs:
        raise DataFileError("inputs: missing x, the input sequence")
    if not outputs:
        raise DataFileError("outputs: none given; expected any of y, h_T, c_T")
    dtype = next(iter(outputs.values())).dtype
    first_name = next(iter(outputs))
    for what, given in (("weights", weights), ("inputs", inputs), ("outputs", outputs)):
        for name, array in given.items():
            if name != "sequence_lens" and array.dtype != dtype:
                raise DataFileError(
                    f"{what}: {name} is {array.dtype} but {first_name} is {dtype}: the arrays "
                    "must all have the dtype the implementation claims to compute in"
                )
    if layer is not None and (
        isinstance(layer, bool) or not isinstance(layer, int | np.integer) or layer < 0
    ):
        raise ParameterError(f"layer must be a non-negative integer or None, not {layer!r}")
    if direction is not None and direction not in ("forward", "reverse"):
        raise UnknownNameError(f"unknown direction {direction!r}; known: forward, reverse")
    # The structure the weights hold, every unit read (which checks every weight's shape).
    layers = _layer_count(layout, weights)
    directions = network_directions(layout, weights, attributes, direction)
    d = len(directions)
    units = [
        tuple(
            _unit_case(layout, weights, reading, k, name, d, layers, dtype) for name in directions
        )
        for k in range(layers)
    ]
    for k in range(1, layers):
        below = units[k - 1][0]
        m = units[k][0].sizes["input"]
        if m != d * below.out:
            raise ArrayShapeError(
                f"weights: layer {k} takes {m} inputs but layer {k - 1} gives {d} × "
                f"{below.out} = {d * below.out}"
            )
    stack_inputs = units[0][0].sizes["input"]
    unit_mode = layer is not None or direction is not None
    if unit_mode:
        layer = 0 if layer is None else int(layer)
        if layer >= layers:
            raise ParameterError(f"layer {layer}: the weights hold {layers} layer(s)")
        if direction is None:
            direction = directions[0]
        if direction not in directions:
            held = " and ".join(directions)
            raise ParameterError(f"direction {direction}: the weights hold {held} only")
        chosen = units[layer][directions.index(direction)]
        slot = layer * d + directions.index(direction)
        units = [(replace(chosen, slot=0),)]
        unit_slots = {(0, 0): slot}
    else:
        unit_slots = {(k, j): k * d + j for k in range(layers) for j in range(d)}
    out = units[-1][0].out
    reader = _Reader(batch_first, unit_mode, len(units[0]), d, out)
    # x: (T, B, m) after the batch-major transposition.
    x_given = inputs["x"]
    m = units[0][0].sizes["input"]
    x = _time_major(x_given, batch_first)
    if x.ndim != 3 or x.shape[2] != m or 0 in x.shape:
        shape = ("T", "B", m)
        expected = (x.shape[0], x.shape[1], m) if x.ndim == 3 else shape
        if batch_first:
            expected = _batch_major_shape(expected)
        cause = ""
        if unit_mode and layer and x.ndim == 3 and x.shape[2] == stack_inputs:
            cause = (
                f"the network's input given for layer {layer}, which reads layer "
                f"{layer - 1}'s outputs"
            )
        text = f"the input sequence, m = {m}"
        reader.fail("inputs", "x", x_given.shape, [expected], text, cause)
    steps, batch = x.shape[:2]
    reader.steps, reader.batch = steps, batch
    network_units = len(units) * len(units[0])
    total = layers * d if not unit_mode else None  # a whole network's states, for a unit too

    def states(name: str, array: np.ndarray, what: str) -> dict[tuple[int, int], np.ndarray]:
        """A state array as (B, ·) per unit: (units, B, ·) or (B, ·) for a single unit."""
        cell_state = name in ("c0", "c_T")
        width = units[0][0].sizes["hidden"] if cell_state else out
        per_unit = {
            (k, j): (units[k][j].sizes["hidden"] if cell_state else units[k][j].out)
            for k in range(len(units))
            for j in range(len(units[k]))
        }
        given = array
        if onnx and batch_first and array.ndim == 3:
            array = array.transpose(1, 0, 2)  # ONNX layout 1: (B, D, n) → (D, B, n)
        count = network_units if total is None else total
        full = layers * d
        expected = [(count, batch, width)]
        if count == 1:
            expected = [(batch, width), (1, batch, width)]
        if unit_mode:
            expected.append((full, batch, width))
        shapes_ok = array.shape in expected and all(w == width for w in per_unit.values())
        if not shapes_ok:
            shown = [_batch_major_shape(e) if onnx and batch_first and len(e) == 3 else e
                     for e in expected]  # fmt: skip
            text = "one state per unit (layers × directions), B rows"
            reader.fail(what, name, given.shape, shown, text)
        if array.ndim == 2:
            return {(0, 0): array}
        if unit_mode and array.shape[0] == full and full != 1:
            return {(0, 0): array[unit_slots[0, 0]]}
        if unit_mode:
            return {(0, 0): array[0]}
        return {key: array[slot] for key, slot in unit_slots.items()}

    h0 = states("h0", inputs["h0"], "inputs") if "h0" in inputs else {}
    c0 = states("c0", inputs["c0"], "inputs") if "c0" in inputs else {}
    lengths = None
    if "sequence_lens" in inputs:
        lengths = _lengths(inputs["sequence_lens"], steps, batch)
    # The claims.
    claims: dict[str, Claim] = {}
    last = len(units) - 1
    dirs = len(units[last])

    def label(kind: str, k: int, j: int | None) -> str:
        parts = []
        if not unit_mode and len(units) > 1 and kind != "y":  # y: the last layer's
            parts.append(f"layer {k}")
        if not unit_mode and dirs == 2 and j is not None:
            parts.append(units[k][j].direction)
        return kind + (f" ({', '.join(parts)})" if parts else "")

    if "y" in outputs:
        given = outputs["y"]
        y = _time_major(given, batch_first, onnx_y=onnx)
        merged = dirs == 2 and merge != "concat"
        if onnx and y.ndim == 4:
            expected = (steps, dirs, batch, out)
            ok = y.shape == expected
            parts = [y[:, j] for j in range(dirs)] if ok else []
        else:
            width = out if merged else dirs * out
            expected = (steps, batch, width)
            ok = y.shape == expected
            parts = [y] if merged else [y[..., j * out : (j + 1) * out] for j in range(dirs)]
        if not ok:
            shown = [_batch_major_shape(expected, onnx) if batch_first else expected]
            if onnx and dirs == 1:
                alt = (steps, batch, out)
                shown.append(_batch_major_shape(alt) if batch_first else alt)
            what = "every step's output" + (f", {dirs} directions" if dirs == 2 else "")
            if onnx and dirs == 1 and y.shape == (steps, batch, out):
                parts = [y]
            else:
                reader.fail("outputs", "y", given.shape, shown, what)
        if merged:
            claims[label("y", last, None)] = Claim(label("y", last, None), "y", last, None, y)
        else:
            for j, part in enumerate(parts):
                name = label("y", last, j)
                claims[name] = Claim(name, "y", last, j, part)
    for kind in ("h_T", "c_T"):
        if kind in outputs:
            for (k, j), array in states(kind, outputs[kind], "outputs").items():
                name = label(kind, k, j)
                claims[name] = Claim(name, kind, k, j, array)
    # The units with their sizes, inputs and initial states.
    cases = []
    for k, layer_units in enumerate(units):
        row = []
        for j, unit in enumerate(layer_units):
            own = {c.kind: c.array for c in claims.values() if (c.layer, c.slot) == (k, j)}
            row.append(
                replace(
                    unit,
                    x=x if k == 0 else None,
                    h0=h0.get((k, j)),
                    c0=c0.get((k, j)),
                    claimed=own,
                    steps=steps,
                    batch=batch,
                    lengths=lengths,
                    slot=j,
                )
            )
        cases.append(tuple(row))
    return Network(
        layout=layout,
        units=tuple(cases),
        x=x,
        claims=claims,
        merge=merge,
        dtype=dtype,
        batch_first=batch_first,
        initial_state="h0" in inputs or "c0" in inputs,
        unit_mode=unit_mode,
        lengths=lengths,
    )


def with_rows(network: Network, rows: tuple[int, ...]) -> Network:
    """The network on a subset of its batch rows."""
    index = np.asarray(rows, dtype=np.int64)

    def take(a: np.ndarray | None, axis: int) -> np.ndarray | None:
        return None if a is None else np.take(a, index, axis=axis)

    claims = {
        name: replace(c, array=take(c.array, 1 if c.kind == "y" else 0))
        for name, c in network.claims.items()
    }
    lengths = take(network.lengths, 0)
    units = tuple(
        tuple(
            replace(
                u,
                x=take(u.x, 1),
                h0=take(u.h0, 0),
                c0=take(u.c0, 0),
                claimed={k: take(v, 1 if k == "y" else 0) for k, v in u.claimed.items()},
                batch=len(rows),
                lengths=lengths,
            )
            for u in layer
        )
        for layer in network.units
    )
    return replace(
        network,
        units=units,
        x=take(network.x, 1),
        claims=claims,
        lengths=lengths,
        rows=tuple(int(r) for r in rows),
    )


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
    """One unit's tolerance: a pre-activation sums input + (h's width) + 1 products, one more
    with peepholes; a projection's h = W_hr m sums hidden of them."""
    s = case.sizes
    terms = s["input"] + case.out + 1 + int(case.variant.peephole)
    return tolerance_ulps(s["T"], max(terms, s["hidden"] if "proj" in s else 0))


def check_tolerance(tolerance: Any) -> None:
    """A tolerance given by the caller: None (derived) or a number of ULPs ≥ 0."""
    if tolerance is not None and (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not 0 <= tolerance < float("inf")
    ):
        raise ParameterError(f"tolerance must be a number of ULPs >= 0, not {tolerance!r}")


def layer_tolerances(network: Network, tolerance: float | None = None) -> list[float]:
    """Each layer's tolerance: ``tolerance`` for every layer where given, else its own and
    the earlier layers' errors, which reach it through its input, added like a random walk
    (the root of the sum of squares)."""
    if tolerance is not None:
        return [float(tolerance)] * len(network.units)
    out, total = [], 0.0
    for layer in network.units:
        total += max(output_tolerance(u) for u in layer) ** 2
        out.append(float(math.ceil(math.sqrt(total))))
    return out
