"""The diagnosis of :mod:`symlstm.validation`: the usual convention mistakes as changed cells
and parameters, each evaluated in float64 and measured against the claimed outputs."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from symlstm.cell import Variant
from symlstm.certified.run import ReferenceTensor, normwise_ulps
from symlstm.frameworks.layouts import Layout, to_canonical
from symlstm.functions import ACTIVATIONS
from symlstm.validation.case import Case, bias_parts, output_tolerance, prepare
from symlstm.validation.report import AS_GIVEN, Fix, tensor_errors

#: The gate activations a diagnosis tries in place of the cell's own.
_GATE_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "hard_sigmoid_relu6")
#: Clip thresholds a diagnosis tries first (ONNX's ``clip``) when the cell has none; the
#: best is then refined by a golden-section search of this many steps.
_CLIPS = (0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 8, 10, 20, 50)
_CLIP_SEARCH_STEPS = 25
#: How many near misses a diagnosis lists when no single change makes the numbers agree.
_NEAR_MISSES = 3


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
    from symlstm.codegen.numpy_code import numpy_module

    return numpy_module(variant, projection=projection)


def _float64(value: np.ndarray) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)  # Fractions and floats alike


def _forward64(case: Case, candidate: _Candidate) -> dict[str, np.ndarray]:
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


def _distance(case: Case, computed: dict[str, np.ndarray]) -> float:
    """The worst normwise error of the claimed outputs against float64 values, in ULPs."""
    worst = 0.0
    for name, claimed in case.claimed.items():
        exact = computed[name]
        _, ok, undefined, finite = tensor_errors(exact, np.zeros_like(exact), claimed)
        if np.any(undefined != ~finite) or not np.all(np.isfinite(exact) | undefined):
            return math.inf  # NaNs where the candidate has none, or the other way round
        pairs = [(ReferenceTensor(exact[ok], np.zeros(int(ok.sum())), 53), claimed[ok])]
        worst = max(worst, normwise_ulps(pairs, case.dtype))
    return worst


def _with_array(case: Case, name: str, change: Any) -> dict[str, np.ndarray]:
    """The weights with one unit's array ``name`` replaced by ``change(array)``."""
    weights = dict(case.weights)
    array = weights[name].copy()
    if case.layout.direction_axis:
        array[case.slot] = change(array[case.slot])
    else:
        array = change(array)
    weights[name] = array
    return weights


def _reread(case: Case, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    unit = {"layer": case.layer, "direction": case.direction}
    return to_canonical(case.layout, weights, biases="exact", **unit, **case.reading)[1]


def _scaled(values: np.ndarray, factor: int) -> np.ndarray:
    return np.asarray(values, dtype=object) * factor if values.dtype == object else values * factor


def _candidates(case: Case) -> Iterator[_Candidate]:
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
    parts = [(a, w) for a, w, _ in bias_parts(layout, names, n) if a in case.weights]
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


def _clip_fix(case: Case, tolerance: float) -> Fix:
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


def diagnose_case(case: Case, tolerance: float) -> list[Fix]:
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
    >>> from symlstm.codegen.numpy_code import numpy_module
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
    case = prepare(layout, weights, inputs, outputs, layer, direction, reading)
    return diagnose_case(case, tolerance if tolerance is not None else output_tolerance(case))
