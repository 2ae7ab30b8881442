"""Another implementation's LSTM numbers against the certified reference, with a diagnosis.

:func:`validate` takes the weights in a framework's own layout (:mod:`symlstm.layouts`),
the inputs, and the numbers the implementation produced: the outputs ``y`` (every h_t),
optionally the final ``h_T`` and ``c_T``, and optionally gradients. It computes the
certified reference (:func:`symlstm.reference.reference`) on exactly those weights and
inputs, and reports per tensor the largest absolute, relative and ULP errors, the worst
element, the NaN and infinity counts, and a verdict against :func:`tolerance_ulps`.
When the numbers disagree, :func:`diagnose` tries the usual convention mistakes one at a
time (the 24 gate orders, transposed matrices, forget biases, dropped or doubled
biases, h and c swapped, hard sigmoid, a clip, a dropped tanh) and says which of them
makes the numbers agree.

The verdict is normwise: each tensor's largest error is measured in ULPs of the claimed
dtype at the tensor's largest exact magnitude. Element-wise ULPs are reported too, but
cannot be the verdict: an element that cancellation makes tiny has a large error
relative to itself in any floating-point evaluation.

NaN and infinity: the reference follows NaN and ±inf inputs in the extended reals
(σ(+∞) = 1, 0·∞ undefined). Where it leaves a value undefined, the implementation must
give NaN or ±inf; a finite number there fails ("turned NaN into numbers"), and so does
a NaN or infinity where the exact value is finite.

>>> import numpy as np
>>> from symlstm.codegen import numpy_module
>>> rng = np.random.default_rng(0)
>>> weights = {"kernel": rng.normal(size=(3, 8)), "recurrent_kernel": rng.normal(size=(2, 8)),
...            "bias": rng.normal(size=8)}
>>> x = rng.normal(size=(5, 1, 3))
>>> _, params = to_canonical("keras", weights)
>>> y, h_T, c_T, _ = numpy_module().forward(params, x)  # the implementation under test
>>> report = validate("keras", weights, {"x": x}, {"y": y, "c_T": c_T})
>>> report.verdict, report.tensors["y"].normwise_ulp <= report.tensors["y"].tolerance
('pass', True)
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from symlstm.cell import Cell, Variant
from symlstm.errors import ArgumentError, DataFileError, ParameterError, ShapeError
from symlstm.functions import ACTIVATIONS
from symlstm.layouts import Layout, from_canonical, get_layout, to_canonical
from symlstm.limits import MAX_NPZ_MEMBER_BYTES, MAX_NPZ_MEMBERS, MAX_NPZ_TOTAL_BYTES
from symlstm.reference import ReferenceResult, ReferenceTensor, normwise_ulps, reference

__all__ = [
    "AS_GIVEN",
    "Fix",
    "TensorReport",
    "ValidationReport",
    "compare",
    "diagnose",
    "load_npz",
    "tolerance_ulps",
    "validate",
]

#: Relative accuracy the reference is certified to, per claimed dtype: enough that the
#: ULP errors it reports are exact to far below one ULP.
_REFERENCE_BITS = {np.dtype(np.float16): 64, np.dtype(np.float32): 64, np.dtype(np.float64): 80}
#: The gate activations a diagnosis tries in place of the cell's own.
_GATE_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "hard_sigmoid_relu6")
#: Clip thresholds a diagnosis tries first (ONNX's ``clip``) when the cell has none; the
#: best is then refined by a golden-section search of this many steps.
_CLIPS = (0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 8, 10, 20, 50)
_CLIP_SEARCH_STEPS = 25
#: The diagnosis of numbers that agree as they are.
AS_GIVEN = "none: the outputs agree as given"
#: How many near misses a diagnosis lists when no single change makes the numbers agree.
_NEAR_MISSES = 3
_OUTPUTS = ("y", "h_T", "c_T")
_SEEDS = ("dy", "dhT", "dcT")
_INPUT_GRADIENTS = ("x", "h0", "c0")
_BATCH_MAJOR = ("x", "h0", "c0", *_OUTPUTS, *_SEEDS)


# -- the tolerance ------------------------------------------------------------------------------


def tolerance_ulps(steps: int, terms: int) -> float:
    """The largest normwise error, in ULPs of the claimed dtype, that a correct
    implementation is allowed after ``steps`` time steps with sums of ``terms`` terms.

    ``(8 + 2 √terms) · √steps``, rounded up. In one step every pre-activation is a sum
    of ``terms`` rounded products (W_k x_t + U_k h_(t-1) + b_k: input + hidden + 1
    terms); its rounding errors behave like a random walk, of size about √terms ULPs
    of the terms' magnitude (Higham and Mary, "A new approach to probabilistic rounding
    error analysis", SIAM J. Sci. Comput. 41, 2019), and 2√terms leaves a two-sigma
    margin. The element-wise rest of the step (σ, tanh, two products and a sum into
    c, tanh and a product into h) is seven operations of at most about one ULP each:
    8. Each step's errors enter the state and add to the earlier ones, again like a
    random walk, hence √steps (σ' ≤ 1/4, tanh' ≤ 1 and f ≤ 1 do not amplify them).

    It is a statistical rule for implementations that round to the claimed dtype, not
    a worst-case bound: the worst-case bound grows like terms · steps and would pass
    implementations a thousand times worse than any real framework. Every framework
    measured so far stays 20 to 100 times below it (docs/validation.md), and the
    convention mistakes :func:`diagnose` looks for are 10^4 to 10^7 times above it.

    >>> tolerance_ulps(1, 2), tolerance_ulps(50, 64 + 64 + 1)
    (11.0, 218.0)
    """
    for name, value in (("steps", steps), ("terms", terms)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, not {value!r}")
    return float(math.ceil((8 + 2 * math.sqrt(terms)) * math.sqrt(steps)))


# -- reports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorReport:
    """How far one claimed tensor is from the certified reference.

    ``max_abs`` and ``max_rel`` are over the elements where both are finite (``max_rel``
    over nonzero exact values); ``max_ulp`` is the largest element-wise error in ULPs of
    the claimed dtype (inf where a NaN or infinity stands for a finite value);
    ``normwise_ulp`` the largest error in ULPs at the tensor's largest exact magnitude,
    which the verdict compares with ``tolerance``. ``worst_index`` is the element with
    the largest absolute error. ``nan`` and ``inf`` count the claimed tensor's NaNs and
    infinities, ``undefined`` the elements NaN or infinite inputs leave undefined.
    """

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    max_ulp: float
    normwise_ulp: float
    worst_index: tuple[int, ...] | None
    nan: int
    inf: int
    undefined: int
    tolerance: float
    problems: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return "fail" if self.problems else "pass"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: errors as decimal strings, ULPs as numbers (null: infinite)."""
        return {
            "shape": list(self.shape),
            "max_abs": repr(self.max_abs),
            "max_rel": repr(self.max_rel),
            "max_ulp": _json_number(self.max_ulp),
            "normwise_ulp": _json_number(self.normwise_ulp),
            "tolerance_ulp": _json_number(self.tolerance),
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "nan": self.nan,
            "inf": self.inf,
            "undefined": self.undefined,
            "verdict": self.verdict,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Fix:
    """One convention mistake tried by :func:`diagnose`, and how well it explains the numbers.

    ``max_ulp_after`` is the worst normwise error over the claimed outputs, in ULPs of
    the claimed dtype, once the reference makes the same mistake (evaluated in float64,
    whose own error is far below a float32 ULP and a few float64 ULPs);
    ``agrees`` says whether that is within the tolerance.
    """

    fix: str
    max_ulp_after: float
    agrees: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "fix": self.fix,
            "max_ulp_after": _json_number(self.max_ulp_after),
            "agrees": self.agrees,
        }


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate` found: one :class:`TensorReport` per claimed tensor, the
    verdict, and the diagnosis (None where it was not run)."""

    layout: str
    layer: int
    direction: str
    dtype: np.dtype
    sizes: dict[str, int]
    variant: Variant
    tensors: dict[str, TensorReport]
    diagnosis: list[Fix] | None
    working_precision: int
    certified_bits: int

    @property
    def verdict(self) -> str:
        return "pass" if all(t.verdict == "pass" for t in self.tensors.values()) else "fail"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (see docs/validation.md)."""
        return {
            "verdict": self.verdict,
            "layout": self.layout,
            "layer": self.layer,
            "direction": self.direction,
            "dtype": self.dtype.name,
            "sizes": dict(self.sizes),
            "variant": self.variant.label(),
            "reference": {
                "certified_bits": self.certified_bits,
                "working_precision": self.working_precision,
            },
            "tensors": {name: t.to_dict() for name, t in self.tensors.items()},
            "diagnosis": None
            if self.diagnosis is None
            else [fix.to_dict() for fix in self.diagnosis],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def html(self, *, standalone: bool = True) -> str:
        """A web page (or a fragment): :func:`symlstm.render.html.validation_html`."""
        from symlstm.render.html import validation_html

        return validation_html(self, standalone=standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def to_text(self) -> str:
        """A table for people: one row per tensor, then the verdict and the diagnosis."""
        s = self.sizes
        lines = [
            f"{self.layout} layout, layer {self.layer}, {self.direction}, {self.dtype.name}, "
            f"{self.variant.label()} cell: T={s['T']} batch={s['batch']} hidden={s['hidden']} "
            f"input={s['input']}",
            f"reference certified to {self.certified_bits} bits "
            f"(working precision {self.working_precision} bits)",
            "",
        ]
        header = ("tensor", "max abs", "max rel", "max ULP", "normwise", "tolerance", "worst at")
        rows = [header]
        for t in self.tensors.values():
            rows.append(
                (
                    t.name,
                    f"{t.max_abs:.3g}",
                    f"{t.max_rel:.3g}",
                    _ulp_text(t.max_ulp),
                    _ulp_text(t.normwise_ulp),
                    f"{t.tolerance:g}",
                    "-" if t.worst_index is None else str(list(t.worst_index)),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
        lines.append("(ULPs of " + self.dtype.name + "; normwise: at the largest exact value)")
        for t in self.tensors.values():
            if t.nan or t.inf or t.undefined:
                lines.append(f"{t.name}: {t.nan} NaN, {t.inf} inf; {t.undefined} undefined")
            lines += [f"{t.name}: {problem}" for problem in t.problems]
        lines += ["", f"verdict: {self.verdict.upper()}"]
        if self.diagnosis is not None:
            agreeing = [fix for fix in self.diagnosis if fix.agrees]
            if [fix.fix for fix in agreeing] == [AS_GIVEN]:
                lines.append("diagnosis: none needed, the outputs agree as given")
            elif agreeing:
                lines.append("diagnosis: the numbers agree with the reference if")
                lines += [
                    f"  - {fix.fix} ({_ulp_text(fix.max_ulp_after)} ULPs)" for fix in agreeing
                ]
            else:
                lines.append("diagnosis: no single convention mistake explains the numbers;")
                lines.append("the nearest were")
                lines += [
                    f"  - {fix.fix} ({_ulp_text(fix.max_ulp_after)} ULPs)" for fix in self.diagnosis
                ]
        return "\n".join(lines)


def _json_number(value: float) -> float | None:
    return None if not math.isfinite(value) else float(f"{value:.4g}")


def _ulp_text(value: float) -> str:
    return "inf" if not math.isfinite(value) else f"{value:.3g}"


# -- comparing one tensor -------------------------------------------------------------------------


def _errors(hi: np.ndarray, lo: np.ndarray, computed: np.ndarray) -> tuple[np.ndarray, ...]:
    """(absolute errors, the mask they are defined on, undefined, finite-claimed)."""
    wide = computed.astype(np.float64)
    undefined = np.isnan(hi)
    finite = np.isfinite(wide)
    ok = ~undefined & finite
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(ok, np.abs((wide - hi) - lo), 0.0)
    return err, ok, undefined, finite


def compare(name: str, exact: ReferenceTensor, computed: Any, tolerance: float) -> TensorReport:
    """Measure one claimed tensor against its certified values.

    >>> exact = ReferenceTensor(np.array([0.5, 2.0**-30, np.nan]), np.zeros(3), 106)
    >>> r = compare("y", exact, np.array([0.5, 0.0, 1.0], np.float32), tolerance=11)
    >>> r.max_ulp, r.normwise_ulp  # 2^-30 is 2^23 ULPs of itself, 1/64 ULP of 0.5
    (8388608.0, 0.015625)
    >>> r.verdict, r.problems
    ('fail', ('1 finite where NaN or infinite inputs leave the exact value undefined',))
    """
    if not isinstance(name, str):
        raise ArgumentError(f"name must be a string, not {type(name).__name__}")
    if not isinstance(exact, ReferenceTensor):
        raise ArgumentError(f"exact must be a ReferenceTensor, not {type(exact).__name__}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ArgumentError(f"tolerance must be a number of ULPs, not {type(tolerance).__name__}")
    if not tolerance >= 0 or tolerance == float("inf"):
        raise ParameterError(f"tolerance must be a finite number of ULPs >= 0, not {tolerance}")
    if not isinstance(computed, np.ndarray | list | tuple | np.generic):
        raise ArgumentError(f"{name}: computed must be an array, not {type(computed).__name__}")
    c = np.asarray(computed)
    if c.dtype.kind != "f":
        raise ParameterError(f"{name}: computed must be an array of floats, not {c.dtype}")
    if c.shape != exact.shape:
        raise ShapeError(f"{name}: shape {c.shape}, expected {exact.shape}")
    err, ok, undefined, finite = _errors(exact.hi, exact.lo, c)
    ulps = exact.ulps(c)
    problems = []
    scrubbed = int(np.count_nonzero(undefined & finite))
    if scrubbed:
        problems.append(
            f"{scrubbed} finite where NaN or infinite inputs leave the exact value undefined"
        )
    spurious = int(np.count_nonzero(~undefined & ~finite & (ulps > 0)))
    if spurious:
        problems.append(f"{spurious} NaN or infinite where the exact value is finite")
    normwise = normwise_ulps(
        [(ReferenceTensor(exact.hi[ok], exact.lo[ok], exact.certified_bits), c[ok])], c.dtype
    )
    if normwise > tolerance:
        problems.append(f"normwise error {normwise:.3g} ULPs exceeds the tolerance {tolerance:g}")
    magnitude = np.abs(exact.hi)
    rel = np.divide(err, magnitude, out=np.zeros_like(err), where=ok & (magnitude > 0))
    defined_ulps = ulps[~undefined]
    return TensorReport(
        name=name,
        shape=c.shape,
        max_abs=float(err.max(initial=0.0)),
        max_rel=float(rel.max(initial=0.0)),
        max_ulp=float(defined_ulps.max(initial=0.0)),
        normwise_ulp=normwise,
        worst_index=tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))
        if ok.any()
        else None,
        nan=int(np.count_nonzero(np.isnan(c))),
        inf=int(np.count_nonzero(np.isinf(c))),
        undefined=int(np.count_nonzero(undefined)),
        tolerance=tolerance,
        problems=tuple(problems),
    )


# -- the case: weights, inputs and claimed numbers, checked and in canonical form ----------------


@dataclass(frozen=True)
class _Case:
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


def _float_arrays(arrays: Any, what: str) -> dict[str, np.ndarray]:
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


def _time_major(arrays: dict[str, np.ndarray], batch_major: bool) -> dict[str, np.ndarray]:
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


def _known_names(what: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
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


def _prepare(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    layer: int,
    direction: str,
    reading: dict[str, Any],
) -> _Case:
    layout = get_layout(layout)
    weights = _float_arrays(weights, "weights")
    batch_major = (reading.get("attributes") or {}).get("layout", 0) == 1
    inputs = _time_major(_float_arrays(inputs, "inputs"), batch_major)
    outputs = _time_major(_float_arrays(outputs, "outputs"), batch_major)
    _known_names("inputs", inputs, ("x", "h0", "c0"))
    _known_names("outputs", outputs, _OUTPUTS)
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
    case = _Case(
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


# -- validation ---------------------------------------------------------------------------------


def _reversed(t: ReferenceTensor) -> ReferenceTensor:
    return ReferenceTensor(t.hi[::-1], t.lo[::-1], t.certified_bits)


def _run_reference(case: _Case, seeds: dict[str, np.ndarray], progress: bool | None):
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


def _bias_parts(
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


def _packed_gradients(case: _Case, grads: dict[str, ReferenceTensor]) -> dict:
    """The reference's parameter gradients in the layout's arrays (name → ReferenceTensor)."""
    layout, n = case.layout, case.sizes["hidden"]
    canonical = {k: v for k, v in grads.items() if k not in _INPUT_GRADIENTS}
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
    for name, where, gates in _bias_parts(layout, names, n):
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
    case: _Case, ref: ReferenceResult, grads: dict[str, np.ndarray], tolerance: float | None
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
        if name in _SEEDS:
            continue
        if name in ("h0", "c0"):
            array = case.state(array, f"grads: {name}", cell_state=name == "c0")
        elif case.layout.direction_axis and name not in _INPUT_GRADIENTS:
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
        reports[f"grad {name}"] = compare(f"grad {name}", exact[name], array, tol)
    return reports


def _check_gradient_names(case: _Case, grads: dict[str, np.ndarray]) -> None:
    names = case.layout.names(layer=case.layer, direction=case.direction)
    if "W_hr" in case.params:  # the projection's array (PyTorch's weight_hr_l{k})
        names = (*names, *(k for k in case.weights if k not in names and "hr" in k))
    _known_names("grads", grads, (*_SEEDS, *names, *_INPUT_GRADIENTS))
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
        The weights' layout: a name in :data:`symlstm.layouts.LAYOUTS` (``torch``,
        ``torch_cell``, ``keras``, ``tf1``, ``onnx``, ``canonical``) or a
        :class:`~symlstm.layouts.Layout`.
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
        An ONNX node's attributes (:func:`symlstm.layouts.read_onnx_attributes`): clip,
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
    case = _prepare(layout, weights, inputs, outputs, layer, direction, reading)
    seeds: dict[str, np.ndarray] = {}
    grads_ = None
    if grads is not None:
        grads_ = _time_major(_float_arrays(grads, "grads"), case.batch_major)
        _check_gradient_names(case, grads_)
        seeds["dy"] = case.sequence(grads_["dy"], "grads: dy")
        for name in ("dhT", "dcT"):
            if name in grads_:
                seeds[name] = case.state(grads_[name], f"grads: {name}", cell_state=name == "dcT")
    if tolerance is not None and not (isinstance(tolerance, int | float) and tolerance >= 0):
        raise ParameterError(f"tolerance must be a number of ULPs >= 0, not {tolerance!r}")
    ref = _run_reference(case, seeds, progress)
    tol = tolerance if tolerance is not None else _output_tolerance(case)
    exact = {"y": _reversed(ref.y) if case.reverse else ref.y, "h_T": ref.h_T, "c_T": ref.c_T}
    tensors = {name: compare(name, exact[name], c, tol) for name, c in case.claimed.items()}
    if grads_ is not None:
        tensors |= _compare_gradients(case, ref, grads_, tolerance)
    outputs_fail = any(tensors[name].verdict == "fail" for name in case.claimed)
    found = None
    if diagnosis or (diagnosis is None and outputs_fail):
        found = _diagnose(case, tol)
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


def _output_tolerance(case: _Case) -> float:
    # A pre-activation sums input + (h's width) + 1 products, one more with peepholes; a
    # projection's h = W_hr m sums hidden of them.
    s = case.sizes
    terms = s["input"] + case.out + 1 + int(case.variant.peephole)
    return tolerance_ulps(s["T"], max(terms, s["hidden"] if "proj" in s else 0))


# -- diagnosis ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    fix: str
    variant: Variant
    params: dict[str, np.ndarray]
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None
    swap_outputs: bool = False


@functools.lru_cache(maxsize=128)  # the clip search's grid, and then some
def _module(variant: Variant, projection: bool = False):
    from symlstm.codegen import numpy_module

    return numpy_module(variant, projection=projection)


def _float64(value: np.ndarray) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)  # Fractions and floats alike


def _forward64(case: _Case, candidate: _Candidate) -> dict[str, np.ndarray]:
    """The candidate's outputs in float64, in the layout's time order."""
    module = _module(candidate.variant, "W_hr" in candidate.params)
    params = {k: _float64(candidate.params[k]) for k in module.PARAMETERS}
    x = _float64(case.x[::-1] if case.reverse else case.x)
    h0 = None if candidate.h0 is None else _float64(candidate.h0)
    c0 = None if candidate.c0 is None else _float64(candidate.c0)
    with np.errstate(all="ignore"):
        y, h_T, c_T, _ = module.forward(params, x, h0, c0)
    if case.reverse:
        y = y[::-1]
    if candidate.swap_outputs:
        h_T, c_T = c_T, h_T
    return {"y": y, "h_T": h_T, "c_T": c_T}


def _distance(case: _Case, computed: dict[str, np.ndarray]) -> float:
    """The worst normwise error of the claimed outputs against float64 values, in ULPs."""
    worst = 0.0
    for name, claimed in case.claimed.items():
        exact = computed[name]
        _, ok, undefined, finite = _errors(exact, np.zeros_like(exact), claimed)
        if np.any(undefined != ~finite) or not np.all(np.isfinite(exact) | undefined):
            return math.inf  # NaNs where the candidate has none, or the other way round
        pairs = [(ReferenceTensor(exact[ok], np.zeros(int(ok.sum())), 53), claimed[ok])]
        worst = max(worst, normwise_ulps(pairs, case.dtype))
    return worst


def _with_array(case: _Case, name: str, change: Any) -> dict[str, np.ndarray]:
    """The weights with one unit's array ``name`` replaced by ``change(array)``."""
    weights = dict(case.weights)
    array = weights[name].copy()
    if case.layout.direction_axis:
        array[case.slot] = change(array[case.slot])
    else:
        array = change(array)
    weights[name] = array
    return weights


def _reread(case: _Case, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    unit = {"layer": case.layer, "direction": case.direction}
    return to_canonical(case.layout, weights, biases="exact", **unit, **case.reading)[1]


def _scaled(values: np.ndarray, factor: int) -> np.ndarray:
    return np.asarray(values, dtype=object) * factor if values.dtype == object else values * factor


def _candidates(case: _Case) -> Iterator[_Candidate]:
    """The usual convention mistakes, one at a time, as changed cells and parameters."""
    layout, params, variant = case.layout, case.params, case.variant
    order = layout.canonical_gates
    letter = dict(zip(order, layout.gates, strict=True))
    same = functools.partial(_Candidate, variant=variant, h0=case.h0, c0=case.c0)
    # Gate orders: the implementation takes block j for gate assumed[j].
    every_gate = all(f"W_{k}" in params for k in order)  # a coupled cell may have no W_f
    for assumed in itertools.permutations(order):
        if assumed == order or not every_gate:
            continue
        changed = dict(params)
        for true, gate in zip(order, assumed, strict=True):
            for part in "WUb":
                changed[f"{part}_{gate}"] = params[f"{part}_{true}"]
        text = ", ".join(letter[k] for k in assumed)
        yield same(
            f"gate blocks read in the order {text} (the {layout.name} layout packs "
            f"{', '.join(layout.gates)})",
            params=changed,
        )
    # Transposes: each gate's square matrices, and packed matrices read in the other order.
    n, m = case.sizes["hidden"], case.sizes["input"]
    for part, square in (("U", case.out == n), ("W", m == n)):
        if square:
            changed = dict(params)
            changed |= {
                f"{part}_{k}": params[f"{part}_{k}"].T for k in order if f"{part}_{k}" in params
            }
            what = "recurrent" if part == "U" else "input"
            yield same(f"each gate's {what} matrix {part}_k transposed", params=changed)
    names = layout.names(layer=case.layer, direction=case.direction)
    for packed, name in zip(layout.arrays, names, strict=True):
        if packed.is_matrix and name in case.weights:
            weights = _with_array(case, name, lambda a: a.ravel().reshape(a.shape[::-1]).T)
            yield same(
                f"{name} read in column-major order (its memory as the transpose)",
                params=_reread(case, weights),
            )
    # Biases: one of two dropped, all doubled, all dropped.
    parts = [(a, w) for a, w, _ in _bias_parts(layout, names, n) if a in case.weights]
    if len(parts) > 1:
        for name, where in parts:

            def drop(a: np.ndarray, where: slice = where) -> np.ndarray:
                a = a.copy()
                a[where] = 0
                return a

            shown = (
                name
                if (where.start, where.stop) == (0, case.weights[name].shape[-1])
                else (f"{name}[{where.start}:{where.stop}]")
            )
            yield same(f"{shown} not added", params=_reread(case, _with_array(case, name, drop)))
    if parts:
        biases = [f"b_{k}" for k in order if f"b_{k}" in params]
        doubled = dict(params) | {b: _scaled(params[b], 2) for b in biases}
        yield same("the biases added twice", params=doubled)
        zero = dict(params) | {b: np.zeros(n) for b in biases}
        yield same("no biases added", params=zero)
    # The forget bias.
    if variant.forget_gate == "standard":
        b_f = np.asarray(params["b_f"], dtype=object)
        if variant.forget_bias == 0:
            folded = dict(params) | {"b_f": b_f + 1}
            yield same("a forget bias of 1 added inside σ(f)", params=folded)
        else:
            bias = Fraction(int(variant.forget_bias.p), int(variant.forget_bias.q))
            yield _Candidate(
                f"the forget bias {variant.forget_bias} left out",
                replace(variant, forget_bias=0),
                params,
                case.h0,
                case.c0,
            )
            yield same(
                f"the forget bias {variant.forget_bias} added twice",
                params=dict(params) | {"b_f": b_f + bias},
            )
    # h and c swapped (where they have the same size: not with a projection p < n).
    fits = case.out == case.sizes["hidden"]
    if fits and (case.h0 is not None or case.c0 is not None):
        yield _Candidate("h0 and c0 swapped on input", variant, params, case.c0, case.h0)
    if fits and "h_T" in case.claimed and "c_T" in case.claimed:
        yield same("h_T and c_T swapped on output", params=params, swap_outputs=True)
    # Activations and a clip.
    for name in _GATE_ACTIVATIONS:
        if name != variant.gate_activation:
            yield _Candidate(
                f"the gates' {variant.gate_activation} replaced by {name}: "
                f"{ACTIVATIONS[name].summary}",
                replace(variant, gate_activation=name),
                params,
                case.h0,
                case.c0,
            )
    if variant.output_activation != "identity":
        yield _Candidate(
            f"no {variant.output_activation} on the cell state (h = o ⊙ c)",
            replace(variant, output_activation="identity"),
            params,
            case.h0,
            case.c0,
        )
    if variant.clip is not None:
        yield _Candidate("no clip applied", replace(variant, clip=None), params, case.h0, case.c0)


def _clip_fix(case: _Case, tolerance: float) -> Fix:
    """The clip threshold that best explains the numbers: the best of a grid of common
    thresholds, then a golden-section search between that one's neighbours (each
    threshold is a module generated anew: about 0.3 s)."""

    def distance(clip: float) -> float:
        variant = replace(case.variant, clip=clip)
        return _distance(case, _forward64(case, _Candidate("", variant, case.params)))

    found = {clip: distance(clip) for clip in _CLIPS}
    best = min(found, key=found.get)
    index = _CLIPS.index(best)
    low, high = _CLIPS[max(index - 1, 0)], _CLIPS[min(index + 1, len(_CLIPS) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    da, db = distance(a), distance(b)
    for _ in range(_CLIP_SEARCH_STEPS):  # one new threshold per step
        found |= {a: da, b: db}
        if min(da, db) <= tolerance:
            break
        if da <= db:
            high, b, db = b, a, da
            a = high - ratio * (high - low)
            da = distance(a)
        else:
            low, a, da = a, b, db
            b = low + ratio * (high - low)
            db = distance(b)
    best = min(found, key=found.get)
    if found[best] <= tolerance:  # the shortest decimal that agrees as well: 2.7, not 2.70001
        for digits in range(1, 6):
            short = float(f"{best:.{digits}g}")
            if short not in found:
                found[short] = distance(short)
            if found[short] <= tolerance:
                best = short
                break
    shown = f"{float(np.float32(best)):.6g}"
    fix = f"pre-activations clipped to ±{shown} (ONNX's clip)"
    return Fix(fix, found[best], found[best] <= tolerance)


def _diagnose(case: _Case, tolerance: float) -> list[Fix]:
    unchanged = _Candidate("", case.variant, case.params, case.h0, case.c0)
    as_given = _distance(case, _forward64(case, unchanged))
    if as_given <= tolerance:
        return [Fix(AS_GIVEN, as_given, True)]
    fixes = []
    for candidate in _candidates(case):
        distance = _distance(case, _forward64(case, candidate))
        fixes.append(Fix(candidate.fix, distance, distance <= tolerance))
    if case.variant.clip is None and not any(fix.agrees for fix in fixes):
        fixes.append(_clip_fix(case, tolerance))  # the slowest to search: only when needed
    fixes.sort(key=lambda fix: fix.max_ulp_after)
    agreeing = [fix for fix in fixes if fix.agrees]
    return agreeing or fixes[:_NEAR_MISSES]


def diagnose(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    layer: int = 0,
    direction: str = "forward",
    forget_bias: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
) -> list[Fix]:
    """Which single convention mistake makes the reference agree with the outputs.

    Tries, one at a time: the 23 other gate orders; each gate's recurrent (and, when
    square, input) matrix transposed; each packed weight array read in column-major
    order; each of two biases dropped, the biases doubled or dropped; a forget bias of 1
    added inside σ (or, where the layout has one, left out or added twice); h0 and c0
    swapped, h_T and c_T swapped; the gates through a hard sigmoid; no tanh on the
    cell state; the pre-activations clipped. Arguments are those of :func:`validate`.

    Returns
    -------
    list of Fix
        The changes that make every output agree within the tolerance, best first; if
        none does, the three nearest (``agrees`` False). Outputs that agree as they are
        give the one fix :data:`AS_GIVEN`.

    >>> import numpy as np
    >>> from symlstm.codegen import numpy_module
    >>> rng = np.random.default_rng(1)
    >>> weights = {"W": rng.normal(size=(1, 8, 2)), "R": rng.normal(size=(1, 8, 2))}
    >>> _, params = to_canonical("onnx", weights)
    >>> params["b_f"] = params["b_f"] + 1  # the implementation adds a forget bias of 1
    >>> x = rng.normal(size=(6, 2, 2))
    >>> y = numpy_module().forward(params, x)[0]
    >>> diagnose("onnx", weights, {"x": x}, {"y": y})[0].fix
    'a forget bias of 1 added inside σ(f)'
    """
    reading = {"forget_bias": forget_bias, "attributes": attributes}
    case = _prepare(layout, weights, inputs, outputs, layer, direction, reading)
    return _diagnose(case, tolerance if tolerance is not None else _output_tolerance(case))


# -- files ----------------------------------------------------------------------------------------


def load_npz(path: str | Path, what: str = "arrays") -> dict[str, np.ndarray]:
    """Read a NumPy .npz file of real-valued arrays, robustly.

    Every member is checked before it is decompressed: its uncompressed size from the
    zip directory, then its ``.npy`` header (a real numeric dtype, no objects, so nothing
    is unpickled; a shape whose bytes are exactly what the member holds). The sizes are
    bounded by :data:`~symlstm.limits.MAX_NPZ_MEMBER_BYTES` per array and
    :data:`~symlstm.limits.MAX_NPZ_TOTAL_BYTES` in all, so a corrupted or hostile file
    (a few megabytes that claim gigabytes of zeros) is a
    :class:`~symlstm.errors.DataFileError` naming the problem, never a crash or a huge
    allocation.

    Parameters
    ----------
    path
        The .npz file.
    what
        What the arrays are (``"weights"``, ``"inputs"`` …), first in every message.

    Returns
    -------
    dict of str to numpy.ndarray
        Each member's array, in native byte order.

    Raises
    ------
    DataFileError
        If the file is missing, not a zip of ``.npy`` members, over the limits, or holds
        a member that is not a real-valued array or whose header and size disagree.

    >>> import io, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> np.savez(path, kernel=np.eye(2, dtype=np.float32))
    >>> load_npz(path)["kernel"].dtype
    dtype('float32')
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"not a zip file")
    >>> load_npz(path, "weights")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symlstm.errors.DataFileError: weights: .../w.npz is not a readable .npz file (File is not ...)
    """
    if not isinstance(what, str):
        raise DataFileError(f"load_npz: what must be text, not {type(what).__name__}")
    if not isinstance(path, str | os.PathLike) or isinstance(path, bytes):
        raise DataFileError(f"{what}: expected the path of an .npz file, not {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{what}: {path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = _npz_members(archive, f"{what}: {path}")
            out: dict[str, np.ndarray] = {}
            for info in infos:
                used = sum(a.nbytes for a in out.values())
                out[info.filename[:-4]] = _read_member(
                    archive, info, f"{what}: {path}: {info.filename[:-4]}", used
                )
    except DataFileError:
        raise
    except Exception as exc:  # a corrupted file can fail anywhere in zipfile or the header
        reason = str(exc) or type(exc).__name__
        raise DataFileError(f"{what}: {path} is not a readable .npz file ({reason})") from None
    return out


#: Room for an .npy header on top of its array's bytes (numpy's own header limit is 10000).
_NPY_HEADER_ROOM = 2**16
#: Bytes read from a member at a time, into the array itself.
_READ_CHUNK = 2**22


def _npz_members(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The members, checked on the zip directory alone: names, count and declared sizes."""
    infos = archive.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise DataFileError(
            f"{where}: {len(infos)} members; at most {MAX_NPZ_MEMBERS} "
            "(MAX_NPZ_MEMBERS in symlstm.limits)"
        )
    names: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in names:
            raise DataFileError(f"{where}: member {name!r} is not an array or repeats one")
        names.add(name[:-4])
        if info.file_size > MAX_NPZ_MEMBER_BYTES + _NPY_HEADER_ROOM:
            raise DataFileError(
                f"{where}: member {name!r} is {info.file_size:,} bytes uncompressed; at most "
                f"{MAX_NPZ_MEMBER_BYTES:,} (MAX_NPZ_MEMBER_BYTES in symlstm.limits)"
            )
        total += info.file_size
    if total > MAX_NPZ_TOTAL_BYTES + _NPY_HEADER_ROOM * len(infos):
        raise DataFileError(
            f"{where}: {total:,} bytes uncompressed in all; at most {MAX_NPZ_TOTAL_BYTES:,} "
            "(MAX_NPZ_TOTAL_BYTES in symlstm.limits)"
        )
    return infos


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, used: int = 0
) -> np.ndarray:
    """One member's array, its header checked before anything is allocated; ``used``: the
    bytes of the arrays read before it, which count against the total."""
    fmt = np.lib.format
    with archive.open(info) as member:
        major, _ = fmt.read_magic(member)
        if major not in (1, 2, 3):
            raise DataFileError(f"{where}: unknown .npy format version {major}")
        read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(member)
        if dtype.kind not in "fiu" or dtype.hasobject or dtype.itemsize == 0:
            raise DataFileError(f"{where}: dtype {dtype} is not a real number type")
        if any(n < 0 for n in shape):
            raise DataFileError(f"{where}: the header's shape {shape} has a negative length")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > MAX_NPZ_MEMBER_BYTES:
            raise DataFileError(
                f"{where}: the header claims shape {shape} ({nbytes:,} bytes); at most "
                f"{MAX_NPZ_MEMBER_BYTES:,} (MAX_NPZ_MEMBER_BYTES in symlstm.limits)"
            )
        if used + nbytes > MAX_NPZ_TOTAL_BYTES:
            raise DataFileError(
                f"{where}: {used + nbytes:,} bytes uncompressed in all with this array; at "
                f"most {MAX_NPZ_TOTAL_BYTES:,} (MAX_NPZ_TOTAL_BYTES in symlstm.limits)"
            )
        if member.tell() + nbytes != info.file_size:
            raise DataFileError(
                f"{where}: the header claims shape {shape} ({nbytes:,} bytes) but the member "
                f"holds {info.file_size - member.tell():,} bytes"
            )
        flat = np.empty(count, dtype=dtype)
        buffer = memoryview(flat).cast("B")
        done = 0
        while done < nbytes:
            n = member.readinto(buffer[done : done + _READ_CHUNK])
            if not n:
                raise DataFileError(f"{where}: truncated: {done:,} of {nbytes:,} bytes")
            done += n
        member.read(1)  # at the end: zipfile checks the member's CRC
    array = flat.reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)  # native byte order
