"""validate itself: the certified reference on the case, and its outputs and gradients
compared with the claimed ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symlstm.certified.run import ReferenceResult, ReferenceTensor, reference
from symlstm.errors import DataFileError, ParameterError
from symlstm.frameworks.layouts import Layout, from_canonical
from symlstm.validation.case import (
    INPUT_GRADIENTS,
    SEEDS,
    Case,
    bias_parts,
    float_arrays,
    known_names,
    output_tolerance,
    prepare,
    time_major,
)
from symlstm.validation.diagnosis import diagnose_case
from symlstm.validation.report import TensorReport, ValidationReport, compare, tolerance_ulps

#: Relative accuracy the reference is certified to, per claimed dtype: enough that the
#: ULP errors it reports are exact to far below one ULP.
_REFERENCE_BITS = {np.dtype(np.float16): 64, np.dtype(np.float32): 64, np.dtype(np.float64): 80}


def _reversed(t: ReferenceTensor) -> ReferenceTensor:
    return ReferenceTensor(t.hi[::-1], t.lo[::-1], t.certified_bits)


def _run_reference(case: Case, seeds: dict[str, np.ndarray], progress: bool | None):
    x = case.x[::-1] if case.reverse else case.x
    dy = seeds.get("dy")
    if dy is not None and case.reverse:
        dy = dy[::-1]
    return reference(
        case.cell(),
        {k: v for k, v in case.params.items() if k in case.cell().parameters},
        x,
        case.h0,
        case.c0,
        dy=dy,
        dhT=seeds.get("dhT"),
        dcT=seeds.get("dcT"),
        bits=_REFERENCE_BITS[case.dtype],
        progress=progress,
    )


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


def _compare_gradients(
    case: Case, ref: ReferenceResult, grads: dict[str, np.ndarray], tolerance: float | None
) -> dict[str, TensorReport]:
    s = case.sizes
    terms = max(s["input"] + s["hidden"] + 1, 4 * s["hidden"], s["T"] * s["batch"])
    tol = tolerance if tolerance is not None else tolerance_ulps(s["T"], terms)
    exact = _packed_gradients(case, ref.grads)
    x_grad = ref.grads["x"]
    exact["x"] = _reversed(x_grad) if case.reverse else x_grad
    exact["h0"], exact["c0"] = ref.grads["h0"], ref.grads["c0"]
    reports = {}
    for name, array in grads.items():
        if name in SEEDS:
            continue
        if name in ("h0", "c0"):
            array = case.state(array, f"grads: {name}", cell_state=name == "c0")
        elif case.layout.direction_axis and name not in INPUT_GRADIENTS:
            if array.ndim < 1 or array.shape[0] != case.directions:
                raise DataFileError(
                    f"grads: {name} has shape {array.shape}; expected a leading "
                    f"num_directions axis of {case.directions}"
                )
            array = array[case.slot]
        if array.shape != exact[name].shape:
            raise DataFileError(
                f"grads: {name} has shape {array.shape}, expected {exact[name].shape}"
            )
        reports[f"grad {name}"] = compare(
            f"grad {name}", exact[name], array, tol, along_time=name == "x"
        )
    return reports


def _check_gradient_names(case: Case, grads: dict[str, np.ndarray]) -> None:
    names = case.layout.names(layer=case.layer, direction=case.direction)
    if "W_hr" in case.params:  # the projection's array (PyTorch's weight_hr_l{k})
        names = (*names, *(k for k in case.weights if k not in names and "hr" in k))
    known_names("grads", grads, (*SEEDS, *names, *INPUT_GRADIENTS))
    if "dy" not in grads:
        raise DataFileError("grads: missing dy, the upstream gradient ∂L/∂y (T, B, hidden)")
    for name, array in grads.items():
        if array.dtype != case.dtype:
            raise DataFileError(f"grads: {name} is {array.dtype} but y is {case.dtype}")


def validate(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    grads: Mapping[str, Any] | None = None,
    *,
    layer: int = 0,
    direction: str = "forward",
    forget_bias: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    progress: bool | None = None,
) -> ValidationReport:
    """Check an implementation's numbers against the certified reference.

    Parameters
    ----------
    layout
        The weights' layout: a name in :data:`symlstm.frameworks.layouts.LAYOUTS` (``torch``,
        ``torch_cell``, ``keras``, ``tf1``, ``onnx``, ``canonical``) or a
        :class:`~symlstm.frameworks.layouts.Layout`.
    weights
        The arrays by the layout's names (a PyTorch ``state_dict`` as NumPy arrays).
        Their dtype is the claimed dtype; every array must have it.
    inputs
        ``x`` (T, B, input), time-major, in the order the implementation read it (for
        the reverse direction too); optionally ``h0`` and ``c0`` (B, hidden), or
        (layers·directions, B, hidden) as PyTorch has them.
    outputs
        What the implementation produced: ``y`` (T, B, hidden), every h_t (PyTorch's
        (T, B, 2·hidden) and ONNX's (T, 2, B, hidden) for two directions are read
        too), optionally ``h_T`` and ``c_T``.
    grads
        Optionally ``dy`` (the upstream gradient ∂L/∂y_t, like y), ``dhT``, ``dcT``, and
        the implementation's gradients: by the layout's array names, and ``x``, ``h0``,
        ``c0``. Where the layout has two biases per gate, each has the gradient db_k.
    layer, direction
        Which unit of a multi-layer or bidirectional set of weights; ``x`` is that
        unit's input.
    forget_bias
        The constant inside the forget gate's σ, for layouts that have one (TF1).
    attributes
        An ONNX node's attributes (:func:`symlstm.frameworks.layouts.read_onnx_attributes`): clip,
        input_forget, activations; with ``layout=1`` the inputs, outputs and gradients
        are read batch-major, as the node has them.
    tolerance
        The normwise tolerance in ULPs for every tensor; None for
        :func:`tolerance_ulps` of T and the sums' lengths (forward: input + hidden + 1,
        with a projection the larger of input + proj_size + 1 and hidden; gradients: also
        4·hidden and T·batch).
    diagnosis
        Run :func:`diagnose`: None (the default) when the outputs fail.
    progress
        Show the reference's progress line (None: when stderr is a terminal).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DataFileError
        For missing or unknown arrays, shapes that do not fit, mixed dtypes.
    ParameterError, ShapeError, UnknownNameError
        From the layout (an unknown layout, a weight of the wrong shape).
    """
    reading = {"forget_bias": forget_bias, "attributes": attributes}
    case = prepare(layout, weights, inputs, outputs, layer, direction, reading)
    seeds: dict[str, np.ndarray] = {}
    grads_ = None
    if grads is not None:
        grads_ = time_major(float_arrays(grads, "grads"), case.batch_major)
        _check_gradient_names(case, grads_)
        seeds["dy"] = case.sequence(grads_["dy"], "grads: dy")
        for name in ("dhT", "dcT"):
            if name in grads_:
                seeds[name] = case.state(grads_[name], f"grads: {name}", cell_state=name == "dcT")
    if tolerance is not None and not (isinstance(tolerance, int | float) and tolerance >= 0):
        raise ParameterError(f"tolerance must be a number of ULPs >= 0, not {tolerance!r}")
    ref = _run_reference(case, seeds, progress)
    tol = tolerance if tolerance is not None else output_tolerance(case)
    exact = {"y": _reversed(ref.y) if case.reverse else ref.y, "h_T": ref.h_T, "c_T": ref.c_T}
    tensors = {
        name: compare(name, exact[name], c, tol, along_time=name == "y")
        for name, c in case.claimed.items()
    }
    if grads_ is not None:
        tensors |= _compare_gradients(case, ref, grads_, tolerance)
    outputs_fail = any(tensors[name].verdict == "fail" for name in case.claimed)
    found = None
    if diagnosis or (diagnosis is None and outputs_fail):
        found = diagnose_case(case, tol)
    return ValidationReport(
        layout=case.layout.name,
        layer=case.layer,
        direction=case.direction,
        dtype=case.dtype,
        sizes=case.sizes,
        variant=case.variant,
        tensors=tensors,
        diagnosis=found,
        working_precision=ref.bits,
        certified_bits=ref.certified_bits,
    )
