"""Gradients in validate: one unit's certified gradients against the claimed ones, and a
whole network's, backpropagated through the stack on the certified reference (each
lower layer fed the certified gradient of the input of the layer above)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from symlstm.certified.run import ReferenceResult, ReferenceTensor
from symlstm.errors import ArrayShapeError, DataFileError, ParameterError
from symlstm.frameworks.layouts import Packed, from_canonical
from symlstm.validation.case import (
    INPUT_GRADIENTS,
    SEEDS,
    Case,
    Network,
    bias_parts,
    float_arrays,
    known_names,
)
from symlstm.validation.network import REFERENCE_BITS, merged, reversed_tensor
from symlstm.validation.progress import ProgressBar, run_reference
from symlstm.validation.report import TensorReport, compare, tolerance_ulps

#: validate's own machinery, not API.
__all__: list[str] = []

# -- gradients (one unit) -------------------------------------------------------------------------


def _packed_gradients(case: Case, grads: dict[str, ReferenceTensor]) -> dict:
    """The reference's parameter gradients in the layout's arrays (name → ReferenceTensor)."""
    layout, n = case.layout, case.sizes["hidden"]
    canonical = {k: v for k, v in grads.items() if k not in INPUT_GRADIENTS}
    unit = {"layer": case.layer, "direction": case.direction}
    try:
        hi = from_canonical(layout, {k: v.hi for k, v in canonical.items()}, **unit)
        lo = from_canonical(layout, {k: v.lo for k, v in canonical.items()}, **unit)
    except ParameterError as err:
        raise ParameterError(
            f"cannot compare gradients in the {layout.name} layout: {err}"
        ) from None
    names = layout.names(**unit)
    # Every bias of the same gates has the gradient db_k (torch's bias_ih and bias_hh);
    # biases of other gates (the canonical layout's b_i, b_f, …) keep their own.
    first: dict[tuple[str, ...], tuple[str, slice]] = {}
    for name, where, gates in bias_parts(layout, names, n):
        if gates not in first:
            first[gates] = (name, where)
            continue
        source, source_where = first[gates]
        for packed in (hi, lo):
            if name in packed:
                packed[name][..., where] = packed[source][..., source_where]
    bits = min(t.certified_bits for t in canonical.values())
    lead = (0,) if layout.direction_axis else ()
    return {name: ReferenceTensor(hi[name][lead], lo[name][lead], bits) for name in hi}


def _gradient_state(case: Case, array: np.ndarray, name: str, width: int) -> np.ndarray:
    expected = (case.batch, width)
    if array.shape == expected:
        return array
    full = case.layers * case.directions
    if array.ndim == 3 and array.shape[1:] == expected:
        if array.shape[0] == 1:
            return array[0]
        if array.shape[0] == full:
            return array[case.layer * case.directions + case.weights_slot]
    raise ArrayShapeError(f"grads: {name} has shape {array.shape}, expected {expected}")


def _gradient_sequence(case: Case, array: np.ndarray, name: str) -> np.ndarray:
    expected = (case.steps, case.batch, case.out)
    if array.shape == expected:
        return array
    if array.shape == (case.steps, 1, case.batch, case.out):  # ONNX's (T, D, B, n)
        return array[:, 0]
    raise ArrayShapeError(f"grads: {name} has shape {array.shape}, expected {expected}")


def _grads_time_major(network: Network, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not network.batch_first:
        return grads
    onnx = network.layout.attributes == "onnx"
    out = {}
    for name, array in grads.items():
        if name in ("dy", "x"):
            array = array.transpose(1, 2, 0, 3) if array.ndim == 4 else array.swapaxes(0, 1)
        elif onnx and name in ("dhT", "dcT", "h0", "c0") and array.ndim == 3:
            array = array.swapaxes(0, 1)
        out[name] = array
    return out


def _compare_gradients(
    case: Case,
    ref: ReferenceResult,
    grads: dict[str, np.ndarray],
    tolerance: float | None,
) -> dict[str, TensorReport]:
    s = case.sizes
    terms = max(s["input"] + s["hidden"] + 1, 4 * s["hidden"], s["T"] * s["batch"])
    tol = tolerance if tolerance is not None else tolerance_ulps(s["T"], terms)
    exact = _packed_gradients(case, ref.grads)
    x_grad = ref.grads["x"]
    exact["x"] = reversed_tensor(x_grad) if case.reverse else x_grad
    exact["h0"], exact["c0"] = ref.grads["h0"], ref.grads["c0"]
    reports = {}
    for name, array in grads.items():
        if name in SEEDS:
            continue
        if name in ("h0", "c0"):
            width = s["hidden"] if name == "c0" else case.out
            array = _gradient_state(case, array, f"{name}", width)
        elif case.layout.direction_axis and name not in INPUT_GRADIENTS:
            if array.ndim < 1 or array.shape[0] != case.directions:
                raise ArrayShapeError(
                    f"grads: {name} has shape {array.shape}; expected a leading "
                    f"num_directions axis of {case.directions}"
                )
            array = array[case.weights_slot]
        if array.shape != exact[name].shape:
            raise ArrayShapeError(
                f"grads: {name} has shape {array.shape}, expected {exact[name].shape}"
            )
        reports[f"grad {name}"] = compare(
            f"grad {name}", exact[name], array, tol, along_time=name == "x"
        )
    return reports


def checked_gradients(
    network: Network, grads: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """One unit's gradients time-major with their names, dtypes and shapes checked (before
    anything is computed): (the gradients, dy, the seeds dhT and dcT). A network of
    several units: :func:`checked_network_gradients`."""
    if network.lengths is not None:
        raise ParameterError("gradients with sequence_lens are not supported")
    case = network.units[0][0]
    given = _grads_time_major(network, float_arrays(grads, "grads"))
    names = case.layout.names(layer=case.layer, direction=case.direction)
    if "W_hr" in case.params:  # the projection's array (PyTorch's weight_hr_l{k})
        names = (*names, *(k for k in case.weights if k not in names and "hr" in k))
    known_names("grads", given, (*SEEDS, *names, *INPUT_GRADIENTS))
    if "dy" not in given:
        raise DataFileError("grads: missing dy, the upstream gradient ∂L/∂y (T, B, hidden)")
    for name, array in given.items():
        if array.dtype != case.dtype:
            raise DataFileError(f"grads: {name} is {array.dtype} but y is {case.dtype}")
    dy = _gradient_sequence(case, given["dy"], "dy")
    seeds = {
        name: _gradient_state(case, given[name], name, case.sizes["hidden"] if name == "dcT"
                              else case.out)
        for name in ("dhT", "dcT")
        if name in given
    }  # fmt: skip
    for name, array in given.items():  # the shapes of the implementation's gradients
        if name in ("h0", "c0"):
            _gradient_state(case, array, name, case.sizes["hidden"] if name == "c0" else case.out)
        elif name == "x" and array.shape != case.x.shape:
            raise ArrayShapeError(f"grads: x has shape {array.shape}, expected {case.x.shape}")
        elif name in case.weights and array.shape != case.weights[name].shape:
            raise ArrayShapeError(
                f"grads: {name} has shape {array.shape}, expected {case.weights[name].shape} "
                "(its weight's shape)"
            )
    return given, dy, seeds


def gradient_reports(
    network: Network,
    checked: tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]],
    tolerance: float | None,
    bar: ProgressBar | None,
) -> dict[str, TensorReport]:
    given, dy, seeds = checked
    case = network.units[0][0]
    if bar is not None:
        bar.unit("gradients", gradients=True)
    ref = run_reference(
        bar,
        case.cell(),
        {k: v for k, v in case.params.items() if k in case.cell().parameters},
        case.x[::-1] if case.reverse else case.x,
        case.h0,
        case.c0,
        dy=dy[::-1] if case.reverse else dy,
        dhT=seeds.get("dhT"),
        dcT=seeds.get("dcT"),
        bits=REFERENCE_BITS[case.dtype],
    )
    return _compare_gradients(case, ref, given, tolerance)


# -- gradients (a whole network) ------------------------------------------------------------------


@dataclass(frozen=True)
class _NetworkGradients:
    """The checked gradients of a whole network, time-major: the implementation's
    (by name), the top layer's dy per unit (forward time order), and each unit's dh_T
    and dc_T seeds and implementation's dh0 and dc0 (by (layer, slot))."""

    given: dict[str, np.ndarray]
    dy: dict[int, np.ndarray]
    seeds: dict[tuple[int, int], dict[str, np.ndarray]]
    states: dict[tuple[int, int], dict[str, np.ndarray]]


def _unit_label(network: Network, k: int, j: int) -> str:
    """A unit's label among the network's, as the claims name it: " (layer 0, reverse)"."""
    parts = []
    if len(network.units) > 1:
        parts.append(f"layer {k}")
    if len(network.units[k]) > 1:
        parts.append(network.units[k][j].direction)
    return f" ({', '.join(parts)})" if parts else ""


def _unit_weight_names(case: Case) -> tuple[str, ...]:
    """The names of one unit's arrays among the weights given (its projection too)."""
    names = case.layout.names(layer=case.layer, direction=case.direction)
    names = tuple(n for n in names if n in case.weights)
    projection = case.layout.projection
    if "W_hr" in case.params and projection is not None:
        name = case.layout.array_name(Packed(projection, ("W",)), case.layer, case.direction)
        names = (*names, name)
    return names


def _network_states(
    network: Network, array: np.ndarray, name: str
) -> dict[tuple[int, int], np.ndarray]:
    """A state-shaped gradient (h0, c0, dhT, dcT) as (B, ·) per unit: (L·D, B, ·) as the
    framework has them ((B, ·) or (1, B, ·) for one unit)."""
    units = [(k, j) for k, layer in enumerate(network.units) for j in range(len(layer))]
    cell_state = name in ("c0", "dcT")
    width = {
        (k, j): network.units[k][j].sizes["hidden"] if cell_state else network.units[k][j].out
        for k, j in units
    }
    batch = network.first.batch
    first = width[units[0]]
    expected = (len(units), batch, first)
    if array.shape == expected and len(set(width.values())) == 1:
        return {unit: array[i] for i, unit in enumerate(units)}
    if len(units) == 1 and array.shape == (batch, first):
        return {units[0]: array}
    raise ArrayShapeError(
        f"grads: {name} has shape {array.shape}, expected {expected} (one state per unit, "
        "layers × directions, as the framework returns them)"
    )


def _top_dy(network: Network, dy: np.ndarray) -> dict[int, np.ndarray]:
    """The top layer's dy per unit, split as the framework's output merges them."""
    top = network.units[-1]
    d, out, case = len(top), top[0].out, network.last
    steps, batch = case.steps, case.batch
    if network.layout.direction_axis and dy.ndim == 4:  # ONNX's Y: (T, D, B, n)
        if dy.shape == (steps, d, batch, out):
            return {j: dy[:, j] for j in range(d)}
        expected: tuple[int, ...] = (steps, d, batch, out)
    elif d == 2 and network.merge != "concat":
        expected = (steps, batch, out)
        if dy.shape == expected:
            # mul: dy itself here; times the other direction's output once that is known
            half = dy / 2 if network.merge == "ave" else dy  # exact: a power of two
            return {0: half, 1: half}
    else:
        expected = (steps, batch, d * out)
        if dy.shape == expected:
            return {j: dy[..., j * out : (j + 1) * out] for j in range(d)}
    raise ArrayShapeError(
        f"grads: dy has shape {dy.shape}, expected {expected} (like the network's y)"
    )


def checked_network_gradients(network: Network, grads: Mapping[str, Any]) -> _NetworkGradients:
    """A whole network's gradients, their names, dtypes and shapes checked before the
    reference runs."""
    if network.lengths is not None:
        raise ParameterError("gradients with sequence_lens are not supported")
    given = _grads_time_major(network, float_arrays(grads, "grads"))
    weights = network.first.weights
    known_names("grads", given, (*SEEDS, *weights, *INPUT_GRADIENTS))
    if "dy" not in given:
        raise DataFileError("grads: missing dy, the upstream gradient ∂L/∂y (like y)")
    for name, array in given.items():
        if array.dtype != network.dtype:
            raise DataFileError(f"grads: {name} is {array.dtype} but y is {network.dtype}")
        if name in weights and array.shape != weights[name].shape:
            raise ArrayShapeError(
                f"grads: {name} has shape {array.shape}, expected {weights[name].shape} "
                "(its weight's shape)"
            )
    if "x" in given and given["x"].shape != network.x.shape:
        raise ArrayShapeError(
            f"grads: x has shape {given['x'].shape}, expected {network.x.shape} (like x)"
        )
    dy = _top_dy(network, given["dy"])
    per_unit: dict[str, dict[tuple[int, int], np.ndarray]] = {
        name: _network_states(network, given[name], name)
        for name in ("dhT", "dcT", "h0", "c0")
        if name in given
    }
    units = [(k, j) for k, layer in enumerate(network.units) for j in range(len(layer))]
    seeds = {u: {n: per_unit[n][u] for n in ("dhT", "dcT") if n in per_unit} for u in units}
    states = {u: {n: per_unit[n][u] for n in ("h0", "c0") if n in per_unit} for u in units}
    return _NetworkGradients(given, dy, seeds, states)


def _network_gradient_tolerance(network: Network) -> float:
    """Every gradient's tolerance in a network: each layer's own (as for one unit) added
    like a random walk over all layers, whose errors reach every gradient (the forward
    through the inputs above, the backward through the dy below)."""
    total = 0.0
    for layer in network.units:
        s = layer[0].sizes
        terms = max(s["input"] + s["hidden"] + 1, 4 * s["hidden"], s["T"] * s["batch"])
        total += tolerance_ulps(s["T"], terms) ** 2
    return float(math.ceil(math.sqrt(total)))


def network_gradient_reports(
    network: Network,
    checked: _NetworkGradients,
    outputs: Mapping[tuple[str, int, int], ReferenceTensor],
    layer_inputs: list[np.ndarray],
    tolerance: float | None,
    bar: ProgressBar | None,
) -> dict[str, TensorReport]:
    """Backpropagation through the stack on the certified reference: each unit's reference
    backward, the top layer's seeded with the implementation's dy (for Keras' merge mode
    mul, dy times the other direction's certified output, ``outputs`` of
    :func:`~symlstm.validation.network.network_reference`: its float64 values), each
    lower layer's with the certified gradient of the input of the layer above (its
    float64 values, as the forward feeds each layer the certified outputs below), split
    into the halves its directions' outputs make of it."""
    tol = tolerance if tolerance is not None else _network_gradient_tolerance(network)
    given = checked.given
    reports: dict[str, TensorReport] = {}
    dy = checked.dy
    if network.merge == "mul" and len(network.units[-1]) == 2:
        top = len(network.units) - 1
        dy = {j: _times(dy[j], outputs["y", top, 1 - j]) for j in (0, 1)}
    for k in reversed(range(len(network.units))):
        layer = network.units[k]
        x = layer_inputs[k]
        dx: ReferenceTensor | None = None
        for j, case in enumerate(layer):
            seeds = checked.seeds[k, j]
            if bar is not None:
                bar.unit(f"gradients of layer {k} {case.direction}", gradients=True)
            ref = run_reference(
                bar,
                case.cell(),
                {name: v for name, v in case.params.items() if name in case.cell().parameters},
                x[::-1] if case.reverse else x,
                case.h0,
                case.c0,
                dy=dy[j][::-1] if case.reverse else dy[j],
                dhT=seeds.get("dhT"),
                dcT=seeds.get("dcT"),
                bits=REFERENCE_BITS[case.dtype],
            )
            assert ref.grads is not None
            label = _unit_label(network, k, j)
            exact = _packed_gradients(case, ref.grads)
            for name in _unit_weight_names(case):
                if name not in given:
                    continue
                array = given[name]
                if case.layout.direction_axis:
                    array = array[case.weights_slot]
                shown = f"grad {name}" + (label if case.layout.direction_axis else "")
                reports[shown] = compare(shown, exact[name], array, tol)
            for name in ("h0", "c0"):
                if name in checked.states[k, j]:
                    shown = f"grad {name}{label}"
                    reports[shown] = compare(
                        shown, ref.grads[name], checked.states[k, j][name], tol
                    )
            unit_dx = reversed_tensor(ref.grads["x"]) if case.reverse else ref.grads["x"]
            dx = unit_dx if dx is None else merged("sum", dx, unit_dx)
        assert dx is not None
        if k == 0:
            if "x" in given:
                reports["grad x"] = compare("grad x", dx, given["x"], tol, along_time=True)
        else:
            out = network.units[k - 1][0].out
            dy = {j: dx.hi[..., j * out : (j + 1) * out] for j in range(len(network.units[k - 1]))}
    order = {name: i for i, name in enumerate(_gradient_order(network))}
    return dict(sorted(reports.items(), key=lambda item: order.get(item[0], len(order))))


def _times(dy: np.ndarray, y: ReferenceTensor) -> np.ndarray:
    """dy ⊙ y for a certified y: the float64 nearest the double-double product (within
    2^-52 of the exact one, relatively)."""
    seed = ReferenceTensor(dy.astype(np.float64), np.zeros(dy.shape), y.certified_bits)
    return merged("mul", seed, y).hi


def _gradient_order(network: Network) -> list[str]:
    """The gradients' report lines in the network's order: each unit's weights, then
    x, then each unit's h0 and c0."""
    names = []
    for k, layer in enumerate(network.units):
        for j, case in enumerate(layer):
            label = _unit_label(network, k, j) if case.layout.direction_axis else ""
            names += [f"grad {name}{label}" for name in _unit_weight_names(case)]
    names.append("grad x")
    for state in ("h0", "c0"):
        names += [
            f"grad {state}{_unit_label(network, k, j)}"
            for k, layer in enumerate(network.units)
            for j in range(len(layer))
        ]
    return names
