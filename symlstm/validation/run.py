"""validate itself: the certified reference on the whole network (or one unit of it), and
its outputs and gradients compared with the claimed ones."""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from symlstm.certified.run import ReferenceResult, ReferenceTensor, reference
from symlstm.errors import ArgumentError, ArrayShapeError, DataFileError, ParameterError
from symlstm.frameworks.layouts import Layout, Packed, from_canonical
from symlstm.validation.case import (
    INPUT_GRADIENTS,
    SEEDS,
    Case,
    Network,
    bias_parts,
    float_arrays,
    known_names,
    layer_tolerances,
    prepare,
    with_rows,
)
from symlstm.validation.diagnosis import diagnose_network
from symlstm.validation.report import TensorReport, ValidationReport, compare, tolerance_ulps

__all__ = ["ProgressBar", "validate"]

#: Relative accuracy the reference is certified to, per claimed dtype: enough that the
#: ULP errors it reports are exact to far below one ULP.
_REFERENCE_BITS = {np.dtype(np.float16): 64, np.dtype(np.float32): 64, np.dtype(np.float64): 80}


# -- progress on a terminal -----------------------------------------------------------------------


class ProgressBar:
    """validate's progress bar: one line on a stream, per unit of the network and per step.

    While a unit's certified reference runs, ``sys.stderr`` is this bar
    (:meth:`capturing`), so the reference's own progress lines ("symlstm reference:
    forward step 120/200 at 128 bits") arrive here and are drawn inside the bar, with the
    unit and the whole run's share done; anything else written meanwhile (a warning) goes
    to the stream as it is. :func:`validate` shows one when stderr is a terminal (or
    ``progress=True``), and nothing otherwise.

    Parameters
    ----------
    stream
        Where the bar is drawn (stderr), rewritten in place with ``\\r``.
    units
        How many reference runs the validation makes: a network's units, twice with
        gradients (forward, then backward through the stack).
    width
        The bar's width in characters.
    columns
        The line's width limit; None: the terminal's.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, units=2, columns=100)
    >>> bar.unit("layer 0 forward")
    >>> _ = bar.write("\\rsymlstm reference: forward step 5/10 at 128 bits")
    >>> out.getvalue().split("\\r")[-1].replace("\\x1b[K", "")
    'symlstm [###.........] 25% 1/2 layer 0 forward: forward 5/10 at 128 bits'
    >>> bar.close()
    """

    #: The reference's progress lines, and the step in them.
    _LINE = re.compile(r"symlstm reference: (?P<text>.*?)\s*$")
    _STEP = re.compile(r"(?P<phase>forward|backward) step (?P<t>\d+)/(?P<steps>\d+)")

    def __init__(
        self, stream: TextIO, units: int, *, width: int = 12, columns: int | None = None
    ) -> None:
        if not hasattr(stream, "write"):
            raise ArgumentError(f"stream must have a write method, not {type(stream).__name__}")
        for name, value in (("units", units), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{name} must be a positive integer, not {value!r}")
        if columns is not None and (
            isinstance(columns, bool) or not isinstance(columns, int) or columns < 1
        ):
            raise ArgumentError(f"columns must be a positive integer or None, not {columns!r}")
        self.stream, self.units, self.width, self.columns = stream, units, width, columns
        self.done, self.label, self.share, self.detail = 0, "", 0.0, ""
        self.gradients = False
        self.shown = False

    def unit(self, label: str, *, gradients: bool = False) -> None:
        """A unit's reference starts (``gradients``: it runs forward, then backward)."""
        if not isinstance(label, str):
            raise ArgumentError(f"label must be a string, not {type(label).__name__}")
        if self.label:
            self.done = min(self.done + 1, self.units - 1)
        self.label, self.share, self.detail, self.gradients = label, 0.0, "", gradients
        self.draw()

    def draw(self) -> None:
        """Redraw the line."""
        share = (self.done + self.share) / self.units
        filled = round(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        head = f"symlstm [{bar}] {share:.0%} {self.done + 1}/{self.units} {self.label}"
        line = f"{head}: {self.detail}" if self.detail else head
        columns = self.columns or shutil.get_terminal_size((80, 24)).columns
        room = max(columns - 1, 20)
        if len(line) > room:  # the working precision goes first, then the line's end
            line = re.sub(r",? at \d+ bits", "", line)
        with contextlib.suppress(OSError, ValueError):
            self.stream.write("\r\x1b[K" + line[:room])
            self.stream.flush()
        self.shown = True

    def write(self, text: str) -> int:
        """The reference's progress line (drawn in the bar), or other text (passed on)."""
        if not isinstance(text, str):
            raise ArgumentError(f"text must be a string, not {type(text).__name__}")
        body = text.lstrip("\r")
        if text.startswith("\r") and not body.strip():
            return len(text)  # the reference clearing its line: the bar stays
        found = self._LINE.match(body) if text.startswith("\r") else None
        if found is None:
            self.clear()
            with contextlib.suppress(OSError, ValueError):
                self.stream.write(text)
            return len(text)
        detail = found["text"]
        step = self._STEP.search(detail)
        if step is not None:
            within = int(step["t"]) / max(int(step["steps"]), 1)
            if self.gradients:
                within = within / 2 + (0.5 if step["phase"] == "backward" else 0.0)
            self.share = min(max(within, 0.0), 1.0)
            detail = f"{step['phase']} {step['t']}/{step['steps']}{detail[step.end() :]}"
        self.detail = detail
        self.draw()
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()

    def isatty(self) -> bool:
        return True

    def clear(self) -> None:
        """Erase the line (it is drawn again at the next progress)."""
        if self.shown:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            self.shown = False

    def close(self) -> None:
        """Erase the line at the end."""
        self.clear()

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """``sys.stderr`` is the bar inside the block (the reference's lines come here)."""
        with contextlib.redirect_stderr(self):  # type: ignore[type-var]
            yield


def _progress_bar(progress: bool | None, units: int) -> ProgressBar | None:
    """The bar validate shows: with ``progress=True``, or None and stderr a terminal."""
    stream = sys.stderr
    if progress is None:
        try:
            progress = stream is not None and stream.isatty()
        except (AttributeError, ValueError):
            progress = False
    return ProgressBar(stream, units) if progress else None


def _run_reference(bar: ProgressBar | None, *args: Any, **kwargs: Any) -> ReferenceResult:
    """:func:`reference`, its progress lines drawn in the bar (none without one)."""
    if bar is None:
        return reference(*args, progress=False, **kwargs)
    with bar.capturing():
        return reference(*args, progress=True, **kwargs)


def _reversed(t: ReferenceTensor) -> ReferenceTensor:
    return ReferenceTensor(t.hi[::-1], t.lo[::-1], t.certified_bits)


def length_groups(lengths: np.ndarray | None, steps: int, batch: int) -> list[tuple[int, Any]]:
    """The batch rows by sequence length: (length, rows), all rows at T without lengths."""
    if lengths is None:
        return [(steps, slice(None))]
    return [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]


def _unit_reference(
    case: Case, x: np.ndarray, bar: ProgressBar | None, label: str = ""
) -> tuple[dict[str, ReferenceTensor], int, int]:
    """One unit's certified y (T, B, out) in forward time order, h_T and c_T (B, ·): rows
    of each sequence length run alone; steps past a row's length are zeros in y. Also the
    working precision and the certified bits asked for."""
    s = case.sizes
    steps, batch, out, n = s["T"], s["batch"], case.out, s["hidden"]
    arrays = {
        "y": (np.zeros((steps, batch, out)), np.zeros((steps, batch, out))),
        "h_T": (np.zeros((batch, out)), np.zeros((batch, out))),
        "c_T": (np.zeros((batch, n)), np.zeros((batch, n))),
    }
    certified, asked, bits = 2**30, 2**30, 0
    params = {k: v for k, v in case.params.items() if k in case.cell().parameters}
    if bar is not None:
        bar.unit(label or f"layer {case.layer} {case.direction}")
    for length, rows in length_groups(case.lengths, steps, batch):
        xs = x[:length, rows]
        ref = _run_reference(
            bar,
            case.cell(),
            params,
            xs[::-1] if case.reverse else xs,
            None if case.h0 is None else case.h0[rows],
            None if case.c0 is None else case.c0[rows],
            bits=_REFERENCE_BITS[case.dtype],
        )
        y = _reversed(ref.y) if case.reverse else ref.y
        for name, t in (("y", y), ("h_T", ref.h_T), ("c_T", ref.c_T)):
            hi, lo = arrays[name]
            where = (slice(None, length), rows) if name == "y" else (rows,)
            hi[where], lo[where] = t.hi, t.lo
            certified = min(certified, t.certified_bits)
        bits, asked = max(bits, ref.bits), min(asked, ref.certified_bits)
    tensors = {k: ReferenceTensor(hi, lo, certified) for k, (hi, lo) in arrays.items()}
    return tensors, bits, asked


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = v * 134217729.0  # Veltkamp's splitter 2^27 + 1
        high = t - (t - v)
        return high, v - high

    p = a * b
    (ah, al), (bh, bl) = split(a), split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def merged(merge: str, a: ReferenceTensor, b: ReferenceTensor) -> ReferenceTensor:
    """A bidirectional layer's merged output (Keras' sum, ave, mul) as a double-double."""
    bits = min(a.certified_bits, b.certified_bits)
    with np.errstate(all="ignore"):
        if merge == "mul":
            hi, err = _two_product(a.hi, b.hi)
            lo = err + (a.hi * b.lo + a.lo * b.hi)
        else:
            hi, err = _two_sum(a.hi, b.hi)
            lo = err + (a.lo + b.lo)
        top, lo = _two_sum(hi, lo)
        if merge == "ave":
            top, lo = top / 2, lo / 2
    return ReferenceTensor(top, lo, bits - 1)


def network_reference(
    network: Network, bar: ProgressBar | None = None
) -> tuple[dict[tuple[str, int, int], ReferenceTensor], list[np.ndarray], int, int]:
    """Every unit's certified outputs by (kind, layer, slot); each layer's input (float64);
    the working precision and the certified bits. Each layer runs on the previous layer's
    certified outputs (their float64 values), not on the implementation's."""
    exact: dict[tuple[str, int, int], ReferenceTensor] = {}
    x = network.x
    inputs, bits, certified = [], 0, 2**30
    for k, layer in enumerate(network.units):
        inputs.append(x)
        for j, unit in enumerate(layer):
            label = f"layer {k} {unit.direction}" if not network.unit_mode else "the unit"
            found, used, asked = _unit_reference(unit, x, bar, label)
            exact |= {(name, k, j): t for name, t in found.items()}
            bits, certified = max(bits, used), min(certified, asked)
        x = np.concatenate([exact["y", k, j].hi for j in range(len(layer))], axis=-1)
    return exact, inputs, bits, certified


def claim_exact(network: Network, exact: dict, name: str) -> ReferenceTensor:
    claim = network.claims[name]
    if claim.slot is not None:
        return exact[claim.kind, claim.layer, claim.slot]
    return merged(network.merge, exact["y", claim.layer, 0], exact["y", claim.layer, 1])


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
    exact["x"] = _reversed(x_grad) if case.reverse else x_grad
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


def _checked_gradients(
    network: Network, grads: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """One unit's gradients time-major with their names, dtypes and shapes checked (before
    anything is computed): (the gradients, dy, the seeds dhT and dcT). A network of
    several units: :func:`_checked_network_gradients`."""
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


def _gradient_reports(
    network: Network,
    checked: tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]],
    tolerance: float | None,
    bar: ProgressBar | None,
) -> dict[str, TensorReport]:
    given, dy, seeds = checked
    case = network.units[0][0]
    if bar is not None:
        bar.unit("gradients", gradients=True)
    ref = _run_reference(
        bar,
        case.cell(),
        {k: v for k, v in case.params.items() if k in case.cell().parameters},
        case.x[::-1] if case.reverse else case.x,
        case.h0,
        case.c0,
        dy=dy[::-1] if case.reverse else dy,
        dhT=seeds.get("dhT"),
        dcT=seeds.get("dcT"),
        bits=_REFERENCE_BITS[case.dtype],
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
            if network.merge == "mul":
                raise ParameterError(
                    "gradients through merge mode mul are not supported (each direction's "
                    "dy is the other's output times dy): validate one direction alone"
                )
            half = dy / 2 if network.merge == "ave" else dy  # exact: a power of two
            return {0: half, 1: half}
    else:
        expected = (steps, batch, d * out)
        if dy.shape == expected:
            return {j: dy[..., j * out : (j + 1) * out] for j in range(d)}
    raise ArrayShapeError(
        f"grads: dy has shape {dy.shape}, expected {expected} (like the network's y)"
    )


def _checked_network_gradients(network: Network, grads: Mapping[str, Any]) -> _NetworkGradients:
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


def _network_gradient_reports(
    network: Network,
    checked: _NetworkGradients,
    layer_inputs: list[np.ndarray],
    tolerance: float | None,
    bar: ProgressBar | None,
) -> dict[str, TensorReport]:
    """Backpropagation through the stack on the certified reference: each unit's reference
    backward, the top layer's seeded with the implementation's dy, each lower layer's
    with the certified gradient of the input of the layer above (its float64 values, as
    the forward feeds each layer the certified outputs below), split into the halves its
    directions' outputs make of it."""
    tol = tolerance if tolerance is not None else _network_gradient_tolerance(network)
    given = checked.given
    reports: dict[str, TensorReport] = {}
    dy = checked.dy
    for k in reversed(range(len(network.units))):
        layer = network.units[k]
        x = layer_inputs[k]
        dx: ReferenceTensor | None = None
        for j, case in enumerate(layer):
            seeds = checked.seeds[k, j]
            if bar is not None:
                bar.unit(f"gradients of layer {k} {case.direction}", gradients=True)
            ref = _run_reference(
                bar,
                case.cell(),
                {name: v for name, v in case.params.items() if name in case.cell().parameters},
                x[::-1] if case.reverse else x,
                case.h0,
                case.c0,
                dy=dy[j][::-1] if case.reverse else dy[j],
                dhT=seeds.get("dhT"),
                dcT=seeds.get("dcT"),
                bits=_REFERENCE_BITS[case.dtype],
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
            unit_dx = _reversed(ref.grads["x"]) if case.reverse else ref.grads["x"]
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
        merges them: concatenated, summed or averaged; Keras' mul is not supported),
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
    if tolerance is not None and (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not 0 <= tolerance < float("inf")
    ):
        raise ParameterError(f"tolerance must be a number of ULPs >= 0, not {tolerance!r}")
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
            checked = _checked_gradients(network, grads)
        else:
            checked = _checked_network_gradients(network, grads)
    total_batch = network.first.batch
    chosen = _check_rows(rows, seed, total_batch)
    if chosen is not None:
        if grads is not None:
            raise ParameterError("rows= with gradients: gradients sum over every row")
        network = with_rows(network, chosen)
    units_count = sum(len(layer) for layer in network.units)
    bar = _progress_bar(progress, units_count * (2 if grads is not None else 1))
    try:
        exact, layer_inputs, bits, certified = network_reference(network, bar)
        if checked is not None and one_unit:
            grad_reports = _gradient_reports(network, checked, tolerance, bar)
        elif checked is not None:
            grad_reports = _network_gradient_reports(network, checked, layer_inputs, tolerance, bar)
    finally:
        if bar is not None:
            bar.close()
    tolerances = layer_tolerances(network)
    if tolerance is not None:
        tolerances = [float(tolerance)] * len(tolerances)
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
