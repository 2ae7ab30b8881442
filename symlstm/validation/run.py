"""validate itself: the certified reference on the whole network (or one unit of it), and
its outputs and gradients compared with the claimed ones."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from symlstm import budget, limits
from symlstm.errors import ArgumentError, DataFileError, ParameterError
from symlstm.frameworks.layouts import Layout
from symlstm.validation.case import (
    check_tolerance,
    layer_tolerances,
    prepare,
    with_rows,
)
from symlstm.validation.diagnosis import diagnose_network
from symlstm.validation.gradients import (
    checked_gradients,
    checked_network_gradients,
    gradient_reports,
    network_gradient_reports,
)
from symlstm.validation.network import claim_exact, network_reference
from symlstm.validation.progress import progress_bar
from symlstm.validation.report import ValidationReport, compare

__all__ = ["AUTO_WORKERS_SECONDS", "validate"]


#: A validation estimated to run longer than this (seconds) without gradients runs its
#: reference's forward pass on every core by default (starting the processes costs
#: about a second).
AUTO_WORKERS_SECONDS = 10.0


def _largest_cell(network: Any) -> Any:
    """The cell of the network's costliest unit, by the work budget's estimate."""
    steps, batch = network.first.sizes["T"], network.first.batch
    cells = [u.cell() for layer in network.units for u in layer]
    return max(cells, key=lambda c: budget.estimate_seconds("validation", c, steps, batch))


def _check_workers(workers: Any) -> None:
    if workers is not None and (
        isinstance(workers, bool)
        or not isinstance(workers, int)
        or not 1 <= workers <= limits.MAX_WORKERS
    ):
        raise ArgumentError(
            f"workers must be a positive integer up to {limits.MAX_WORKERS} or None, "
            f"not {workers!r}"
        )


def _workers(workers: int | None, seconds: float | None, batch: int, gradients: bool) -> int:
    """``workers`` as asked, or by default every core for a long forward-only run."""
    if workers is not None:
        return workers
    if gradients or batch < 2 or (seconds or 0.0) < AUTO_WORKERS_SECONDS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, batch))


# -- validate -------------------------------------------------------------------------------------


def _check_rows(rows: Any, seed: Any, batch: int) -> tuple[int, ...] | None:
    if rows is None:
        return None
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1:
        raise ParameterError(f"rows must be a positive integer or None, not {rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, not {seed!r}")
    if rows >= batch:
        return None
    chosen = np.random.default_rng(int(seed)).choice(batch, size=int(rows), replace=False)
    return tuple(sorted(int(r) for r in chosen))


def validate(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    grads: Mapping[str, Any] | None = None,
    *,
    layer: int | None = None,
    direction: str | None = None,
    batch_first: bool | None = None,
    merge_mode: str = "concat",
    forget_bias: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    rows: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    workers: int | None = None,
) -> ValidationReport:
    """Check an implementation's numbers against the certified reference.

    By default the whole network the weights hold is judged in one run: its layers,
    directions and projection are read from the arrays' names and shapes, ``y`` is the
    network's output and ``h_T``, ``c_T`` its final states, as the framework returns them.
    Each layer's reference runs on the previous layer's certified outputs (their float64
    values), not on the implementation's, so the stack is judged as a whole; the report
    has a row per layer and direction. ``layer=`` or ``direction=`` judge one unit alone.

    Parameters
    ----------
    layout
        The weights' layout: a name in :data:`symlstm.frameworks.layouts.LAYOUTS` (``torch``,
        ``torch_cell``, ``keras``, ``keras_bidirectional``, ``tf1``, ``onnx``,
        ``canonical``) or a :class:`~symlstm.frameworks.layouts.Layout`.
    weights
        The arrays by the layout's names (a PyTorch ``state_dict`` as NumPy arrays).
        Their dtype is the claimed dtype; every array must have it.
    inputs
        ``x``, the network's input (or with ``layer=`` that unit's input), in forward
        time order for every direction, as the framework takes it: (T, B, input), or
        (B, T, input) batch-major. Optionally ``h0`` and ``c0``: (layers·directions, B, ·)
        as PyTorch has them, (directions, B, n) as ONNX (batch-major with ``layout=1``),
        (B, ·) for one unit; left out, they are zeros and the report says so. For the
        ONNX layout the node's own names (``X``, ``initial_h``, ``initial_c``) are read
        too, and ``sequence_lens`` (B,) of integers: past a row's length, y is zero and
        the states are those at the row's last step.
    outputs
        What the implementation produced, any non-empty subset of: ``y``, every step's
        output as the framework returns it ((T, B, D·out) PyTorch, (T, D, B, n) ONNX's
        Y, Keras' merged output; batch-major where the data is), ``h_T`` and ``c_T``
        shaped like ``h0`` (Keras' Bidirectional: (2, B, n), forward then backward).
        ONNX's names ``Y``, ``Y_h``, ``Y_c`` are read too.
    grads
        Optionally ``dy`` (the upstream gradient ∂L/∂y_t, like y), ``dhT``, ``dcT``, and
        the implementation's gradients: by the layout's array names, and ``x``, ``h0``,
        ``c0``. Where the layout has two biases per gate, each has the gradient db_k.
        For a whole network, ``dy`` is like the network's y, ``dhT`` and ``dcT`` (and
        the gradients of ``h0`` and ``c0``) like its states ((L·D, B, ·) for PyTorch),
        and the gradients of every layer's and direction's arrays are compared: the
        certified gradients backpropagate through the stack, each unit's reference run
        backward, the top layer's seeded with ``dy`` (split per direction as the output
        merges them: concatenated, summed, averaged, or for Keras' mul dy times the other
        direction's certified output, its float64 values),
        each lower layer's with the certified gradient of the input of the layer above
        (its float64 values). Their tolerance is every layer's gradient tolerance added
        like a random walk (the root of the sum of the squares).
    layer, direction
        Judge one unit alone: which layer and direction (the other defaults to layer 0,
        or the weights' first direction); ``x`` is that unit's input, ``y`` its own output.
    batch_first
        Whether x, y (and gradients along t) are batch-major; None for the framework's
        own default (Keras: True; ONNX: the node's ``layout`` attribute; others False).
    merge_mode
        How Keras' Bidirectional merges its two outputs: concat, sum, ave or mul.
    forget_bias
        The constant inside the forget gate's σ, for layouts that have one (TF1).
    attributes
        An ONNX node's attributes (:func:`symlstm.frameworks.layouts.read_onnx_attributes`):
        clip, input_forget, activations, direction (forward, reverse, bidirectional: a
        node with one direction that says reverse runs reverse), layout.
    tolerance
        The normwise tolerance in ULPs for every tensor; None for
        :func:`tolerance_ulps` of T and the sums' lengths (forward: input + hidden + 1,
        with a projection the larger of input + proj_size + 1 and hidden; gradients: also
        4·hidden and T·batch); a layer above the first adds the earlier layers' (the
        root of the sum of their squares).
    diagnosis
        Run the diagnosis (:func:`diagnose`): None (the default) when the outputs fail.
    rows, seed
        Validate ``rows`` batch rows drawn at random with ``seed`` (rows are
        independent); the report states which. None: every row.
    progress
        Show a progress bar on stderr, per unit of the network and per step of its
        certified reference (:class:`ProgressBar`): True, False, or None (the default)
        for when stderr is a terminal.
    workers
        Processes the certified reference's forward pass runs the batch rows in
        (:func:`symlstm.reference`'s ``workers``; the results are the same). None (the
        default): every core this process may use, for a run estimated over
        :data:`AUTO_WORKERS_SECONDS` without gradients, else one.

    Returns
    -------
    ValidationReport

    Raises
    ------
    ArrayShapeError
        Before anything is computed, for an array whose shape the layout and sizes do not
        imply; the message names the likely cause (batch-major data, a whole network's
        y for one unit, y of both directions for a one-direction network).
    DataFileError
        For missing or unknown arrays, mixed dtypes.
    ParameterError, ShapeError, UnknownNameError
        From the layout (an unknown layout, a weight of the wrong shape) and for options
        that contradict the data.

    >>> import numpy as np
    >>> from symlstm.codegen.numpy_code import numpy_module
    >>> from symlstm.frameworks.layouts import to_canonical
    >>> rng = np.random.default_rng(0)
    >>> weights = {"W": rng.normal(size=(1, 8, 3)), "R": rng.normal(size=(1, 8, 2))}
    >>> x = rng.normal(size=(5, 1, 3))
    >>> _, params = to_canonical("onnx", weights, direction="reverse")
    >>> y, h_T, c_T, _ = numpy_module().forward(params, x[::-1])  # the reverse direction
    >>> outputs = {"Y": y[::-1, None], "Y_h": h_T[None]}  # as ONNX returns them
    >>> report = validate("onnx", weights, {"X": x}, outputs, attributes={"direction": "reverse"})
    >>> report.verdict, report.direction, report.initial_state
    ('pass', 'reverse', 'zeros (not given)')
    """
    if grads is not None and not isinstance(grads, Mapping):
        raise DataFileError(f"grads: expected a mapping of name → array, not {type(grads)}")
    for name, value in (("diagnosis", diagnosis), ("progress", progress)):
        if value is not None and not isinstance(value, bool):
            raise ArgumentError(f"{name} must be True, False or None, not {value!r}")
    check_tolerance(tolerance)
    _check_workers(workers)
    reading = {"forget_bias": forget_bias, "attributes": attributes}
    network = prepare(
        layout,
        weights,
        inputs,
        outputs,
        layer=layer,
        direction=direction,
        reading=reading,
        batch_first=batch_first,
        merge=merge_mode,
    )
    one_unit = len(network.units) == 1 and len(network.units[0]) == 1
    checked: Any = None
    if grads is not None:
        if one_unit:
            checked = checked_gradients(network, grads)
        else:
            checked = checked_network_gradients(network, grads)
    total_batch = network.first.batch
    chosen = _check_rows(rows, seed, total_batch)
    if chosen is not None:
        if grads is not None:
            raise ParameterError("rows= with gradients: gradients sum over every row")
        network = with_rows(network, chosen)
    units_count = sum(len(layer) for layer in network.units)
    bar = progress_bar(progress, units_count * (2 if grads is not None else 1))
    try:
        with budget.work(
            "validation",
            _largest_cell(network),
            network.first.sizes["T"],
            batch=network.first.batch,
            times=units_count * (budget.GRADIENT_FACTOR if grads is not None else 1),
        ) as seconds:
            processes = _workers(workers, seconds, network.first.batch, grads is not None)
            exact, layer_inputs, bits, certified = network_reference(network, bar, processes)
            if checked is not None and one_unit:
                grad_reports = gradient_reports(network, checked, tolerance, bar)
            elif checked is not None:
                grad_reports = network_gradient_reports(
                    network, checked, exact, layer_inputs, tolerance, bar
                )
    finally:
        if bar is not None:
            bar.close()
    tolerances = layer_tolerances(network, tolerance)
    tensors = {}
    for name, claim in network.claims.items():
        tol = tolerances[claim.layer]
        tensors[name] = compare(
            name,
            claim_exact(network, exact, name),
            claim.array,
            tol,
            along_time=claim.kind == "y",
        )
    if checked is not None:
        tensors |= grad_reports
    outputs_fail = any(tensors[name].verdict == "fail" for name in network.claims)
    found = None
    if diagnosis or (diagnosis is None and outputs_fail):
        found = diagnose_network(network, tolerances, layer_inputs)
    case = network.first
    units = [u for layer_units in network.units for u in layer_units]
    return ValidationReport(
        layout=network.layout.name,
        layer=case.layer if len(network.units) == 1 else None,
        direction=units[0].direction if len(network.directions) == 1 else "bidirectional",
        dtype=network.dtype,
        sizes=case.sizes,
        variant=case.variant,
        tensors=tensors,
        diagnosis=found,
        working_precision=bits,
        certified_bits=certified,
        layers=len(network.units) if not network.unit_mode else 1,
        network=network.describe(),
        batch_first=network.batch_first,
        initial_state="given" if network.initial_state else "zeros (not given)",
        rows=network.rows,
        total_batch=total_batch,
    )
