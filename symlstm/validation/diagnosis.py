"""The diagnosis of :mod:`symlstm.validation`: the usual convention and layout mistakes as
changed cells, parameters and data, each evaluated in float64 over the whole network and
measured against the claimed outputs.

A convention mistake (a gate order, a transposed matrix, a bias …) is made in every unit
at once, as one implementation's code makes it in every layer and direction; the float64
network runs each layer on the previous layer's float64 outputs with the same mistake.
Layout mistakes change the data instead: batch-major read as time-major, a time-reversed
sequence, another layer's output, a missing initial state, ignored sequence lengths, an
ignored direction.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from symlstm.cell import Variant
from symlstm.certified.run import ReferenceTensor, normwise_ulps
from symlstm.frameworks.layouts import Layout, to_canonical
from symlstm.functions import ACTIVATIONS
from symlstm.validation.case import (
    Case,
    Network,
    bias_parts,
    check_tolerance,
    layer_tolerances,
    prepare,
)
from symlstm.validation.report import AS_GIVEN, Fix, tensor_errors

#: The gate activations a diagnosis tries in place of the cell's own.
_GATE_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "hard_sigmoid_relu6")
#: Clip thresholds a diagnosis tries first (ONNX's ``clip``) when the cell has none; the
#: best is then refined by a golden-section search of this many steps.
_CLIPS = (0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 8, 10, 20, 50)
_CLIP_SEARCH_STEPS = 25
#: How many near misses a diagnosis lists when no single change makes the numbers agree.
_NEAR_MISSES = 3
#: The most unknowns (initial-state components) a diagnosis fits to the numbers.
_MAX_FITTED_STATE = 128
#: The most Levenberg–Marquardt steps of that fit, and the most unit-steps (network runs
#: × T × units) it spends: about 20 000 runs of a one-unit network of 10 steps, a few seconds.
_FIT_STEPS = 1000
_FIT_WORK = 200_000


@dataclass(frozen=True)
class _Candidate:
    fix: str
    variant: Variant
    params: dict[str, np.ndarray]
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None
    swap_outputs: bool = False


@dataclass(frozen=True)
class _Data:
    """How a candidate changes the data: the first layer's input, the lengths, each
    unit's direction, and the claims' values (name → function of the unit outputs)."""

    x: np.ndarray | None = None
    lengths: Any = "as given"
    flip: bool = False
    forward_only: bool = False
    outputs: Callable[[dict], dict] | None = None


@functools.lru_cache(maxsize=128)  # the clip search's grid, and then some
def _module(variant: Variant, projection: bool = False):
    from symlstm.codegen.numpy_code import numpy_module

    return numpy_module(variant, projection=projection)


def _float64(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)  # Fractions and floats alike


def _unchanged(case: Case) -> _Candidate:
    return _Candidate("", case.variant, case.params, case.h0, case.c0)


def _run_unit(
    candidate: _Candidate, x: np.ndarray, reverse: bool, lengths: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One unit's float64 y (T, B, out) in forward time order, h_T and c_T."""
    module = _module(candidate.variant, "W_hr" in candidate.params)
    params = {k: _float64(candidate.params[k]) for k in module.PARAMETERS}
    steps, batch = x.shape[:2]
    groups = [(steps, slice(None))]
    if lengths is not None:
        groups = [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]
    y = h_T = c_T = None
    for length, rows in groups:
        xs = x[:length, rows]
        h0 = None if candidate.h0 is None else _float64(candidate.h0)[rows]
        c0 = None if candidate.c0 is None else _float64(candidate.c0)[rows]
        with np.errstate(all="ignore"):
            yg, hg, cg, _ = module.forward(params, xs[::-1] if reverse else xs, h0, c0)
        if reverse:
            yg = yg[::-1]
        if y is None:
            y = np.zeros((steps, batch, yg.shape[-1]))
            h_T, c_T = np.zeros((batch, hg.shape[-1])), np.zeros((batch, cg.shape[-1]))
        y[:length, rows], h_T[rows], c_T[rows] = yg, hg, cg
    if candidate.swap_outputs:
        h_T, c_T = c_T, h_T
    return y, h_T, c_T


def _network64(
    network: Network,
    candidates: Mapping[tuple[int, int], _Candidate] | None = None,
    data: _Data | None = None,
) -> dict[tuple[str, int, int], np.ndarray]:
    """Every unit's float64 outputs by (kind, layer, slot), each layer run on the previous
    layer's float64 outputs."""
    data = data or _Data()
    x = _float64(network.x if data.x is None else data.x)
    lengths = network.lengths if isinstance(data.lengths, str) else data.lengths
    out: dict[tuple[str, int, int], np.ndarray] = {}
    for k, layer in enumerate(network.units):
        for j, unit in enumerate(layer):
            candidate = (candidates or {}).get((k, j)) or _unchanged(unit)
            reverse = unit.reverse != data.flip and not data.forward_only
            y, h_T, c_T = _run_unit(candidate, x, reverse, lengths)
            out["y", k, j], out["h_T", k, j], out["c_T", k, j] = y, h_T, c_T
        x = np.concatenate([out["y", k, j] for j in range(len(layer))], axis=-1)
    return out


def _claim_values(network: Network, out: dict) -> dict[str, np.ndarray]:
    values = {}
    for name, claim in network.claims.items():
        if claim.slot is not None:
            values[name] = out[claim.kind, claim.layer, claim.slot]
            continue
        a, b = out["y", claim.layer, 0], out["y", claim.layer, 1]
        values[name] = {"sum": a + b, "ave": (a + b) / 2, "mul": a * b}[network.merge]
    return values


def _distance(network: Network, values: Mapping[str, np.ndarray], tolerances: list[float]):
    """(worst normwise error in ULPs over the claims, whether every claim is within its
    layer's tolerance)."""
    worst, agrees = 0.0, True
    for name, claim in network.claims.items():
        exact, claimed = values[name], claim.array
        if exact.shape != claimed.shape:
            return math.inf, False
        _, ok, undefined, finite = tensor_errors(exact, np.zeros_like(exact), claimed)
        if np.any(undefined != ~finite) or not np.all(np.isfinite(exact) | undefined):
            return math.inf, False  # NaNs where the candidate has none, or the other way round
        pairs = [(ReferenceTensor(exact[ok], np.zeros(int(ok.sum())), 53), claimed[ok])]
        ulps = normwise_ulps(pairs, network.dtype)
        worst = max(worst, ulps)
        agrees = agrees and ulps <= tolerances[claim.layer]
    return worst, agrees


def _measure(
    network: Network,
    tolerances: list[float],
    fix: str,
    candidates: Mapping[tuple[int, int], _Candidate] | None = None,
    data: _Data | None = None,
) -> Fix:
    out = _network64(network, candidates, data)
    values = _claim_values(network, out)
    if data is not None and data.outputs is not None:
        values = data.outputs(values)
    worst, agrees = _distance(network, values, tolerances)
    return Fix(fix, worst, agrees)


# -- convention mistakes, one unit at a time -------------------------------------------------------


def _with_array(case: Case, name: str, change: Any) -> dict[str, np.ndarray]:
    """The weights with one unit's array ``name`` replaced by ``change(array)``."""
    weights = dict(case.weights)
    array = weights[name].copy()
    if case.layout.direction_axis:
        array[case.weights_slot] = change(array[case.weights_slot])
    else:
        array = change(array)
    weights[name] = array
    return weights


def _reread(case: Case, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    unit = {"layer": case.layer, "direction": case.direction}
    return to_canonical(case.layout, weights, biases="exact", **unit, **case.reading)[1]


def _scaled(values: np.ndarray, factor: int) -> np.ndarray:
    return np.asarray(values, dtype=object) * factor if values.dtype == object else values * factor


def _candidates(case: Case) -> Iterator[tuple[Any, _Candidate]]:
    """The usual convention mistakes in one unit, each with a key that names the same
    mistake in every unit."""
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
        yield (
            ("order", assumed),
            same(
                f"gate blocks read in the order {text} (the {layout.name} layout packs "
                f"{', '.join(layout.gates)})",
                params=changed,
            ),
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
            yield (
                ("transpose", part),
                same(f"each gate's {what} matrix {part}_k transposed", params=changed),
            )
    names = layout.names(layer=case.layer, direction=case.direction)
    for index, (packed, name) in enumerate(zip(layout.arrays, names, strict=True)):
        if packed.is_matrix and name in case.weights:
            weights = _with_array(case, name, lambda a: a.ravel().reshape(a.shape[::-1]).T)
            yield (
                ("column-major", index),
                same(
                    f"{name} read in column-major order (its memory as the transpose)",
                    params=_reread(case, weights),
                ),
            )
    # Biases: one of two dropped, all doubled, all dropped.
    parts = [(a, w) for a, w, _ in bias_parts(layout, names, n) if a in case.weights]
    if len(parts) > 1:
        for index, (name, where) in enumerate(parts):

            def drop(a: np.ndarray, where: slice = where) -> np.ndarray:
                a = a.copy()
                a[where] = 0
                return a

            shown = (
                name
                if (where.start, where.stop) == (0, case.weights[name].shape[-1])
                else (f"{name}[{where.start}:{where.stop}]")
            )
            yield (
                ("drop", index),
                same(f"{shown} not added", params=_reread(case, _with_array(case, name, drop))),
            )
    if parts:
        biases = [f"b_{k}" for k in order if f"b_{k}" in params]
        doubled = dict(params) | {b: _scaled(params[b], 2) for b in biases}
        yield "biases twice", same("the biases added twice", params=doubled)
        zero = dict(params) | {b: np.zeros(n) for b in biases}
        yield "no biases", same("no biases added", params=zero)
    # The forget bias.
    if variant.forget_gate == "standard":
        b_f = np.asarray(params["b_f"], dtype=object)
        if variant.forget_bias == 0:
            folded = dict(params) | {"b_f": b_f + 1}
            yield "forget bias 1", same("a forget bias of 1 added inside σ(f)", params=folded)
        else:
            bias = Fraction(int(variant.forget_bias.p), int(variant.forget_bias.q))
            yield (
                "forget bias out",
                _Candidate(
                    f"the forget bias {variant.forget_bias} left out",
                    replace(variant, forget_bias=0),
                    params,
                    case.h0,
                    case.c0,
                ),
            )
            yield (
                "forget bias twice",
                same(
                    f"the forget bias {variant.forget_bias} added twice",
                    params=dict(params) | {"b_f": b_f + bias},
                ),
            )
    # h and c swapped (where they have the same size: not with a projection p < n).
    fits = case.out == case.sizes["hidden"]
    if fits and (case.h0 is not None or case.c0 is not None):
        yield "swap in", _Candidate("h0 and c0 swapped on input", variant, params, case.c0, case.h0)
    if fits:
        yield "swap out", same("h_T and c_T swapped on output", params=params, swap_outputs=True)
    # Activations and a clip.
    for name in _GATE_ACTIVATIONS:
        if name != variant.gate_activation:
            yield (
                ("gate", name),
                _Candidate(
                    f"the gates' {variant.gate_activation} replaced by {name}: "
                    f"{ACTIVATIONS[name].summary}",
                    replace(variant, gate_activation=name),
                    params,
                    case.h0,
                    case.c0,
                ),
            )
    if variant.output_activation != "identity":
        yield (
            "no output activation",
            _Candidate(
                f"no {variant.output_activation} on the cell state (h = o ⊙ c)",
                replace(variant, output_activation="identity"),
                params,
                case.h0,
                case.c0,
            ),
        )
    if variant.clip is not None:
        yield (
            "no clip",
            _Candidate("no clip applied", replace(variant, clip=None), params, case.h0, case.c0),
        )


def _convention_fixes(network: Network, tolerances: list[float]) -> Iterator[Fix]:
    """Each convention mistake made in every unit at once."""
    units = {(k, j): u for k, layer in enumerate(network.units) for j, u in enumerate(layer)}
    per_unit = {key: dict(_candidates(u)) for key, u in units.items()}
    first = per_unit[0, 0]
    swaps_out = any(c.kind in ("h_T", "c_T") for c in network.claims.values())
    many = len(units) > 1
    for key, candidate in first.items():
        if key == "swap out" and not swaps_out:
            continue
        if not all(key in found for found in per_unit.values()):
            continue
        chosen = {unit: found[key] for unit, found in per_unit.items()}
        text = candidate.fix + (" (in every layer and direction)" if many else "")
        yield _measure(network, tolerances, text, chosen)


# -- layout mistakes -----------------------------------------------------------------------------


def _trailing_zero_lengths(network: Network) -> np.ndarray | None:
    """Per row, the steps before y is zero to the end (None without a y claim)."""
    ys = [c.array for c in network.claims.values() if c.kind == "y"]
    if not ys:
        return None
    zero = np.all(np.stack([np.all(y == 0, axis=-1) for y in ys]), axis=0)  # (T, B)
    steps = zero.shape[0]
    tail = np.cumprod(zero[::-1], axis=0)[::-1]  # 1 where every step from t on is zero
    return steps - tail.sum(axis=0)


def _least_squares(
    residual: Callable[[np.ndarray], np.ndarray], size: int, evaluations: int
) -> np.ndarray:
    """Levenberg–Marquardt from zero with a forward-difference Jacobian: the minimiser of
    ‖residual(v)‖², as far as _FIT_STEPS steps and about ``evaluations`` calls get."""
    v = np.zeros(size)
    r = residual(v)
    cost, damping = float(r @ r), 1e-6
    steps = min(_FIT_STEPS, evaluations // (size + 4))
    for _ in range(steps):
        step = 1e-7
        jacobian = np.empty((r.size, size))
        for i in range(size):
            e = np.zeros(size)
            e[i] = step
            jacobian[:, i] = (residual(v + e) - r) / step
        normal, gradient = jacobian.T @ jacobian, jacobian.T @ r
        improved = False
        for _ in range(8):
            lhs = normal + damping * (np.diag(np.diag(normal)) + np.eye(size))
            try:
                delta = -np.linalg.solve(lhs, gradient)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            trial = residual(v + delta)
            trial_cost = float(trial @ trial)
            if trial_cost < cost:
                v, r, improved = v + delta, trial, True
                converged = cost - trial_cost <= 1e-12 * cost
                cost, damping = trial_cost, damping / 10
                break
            damping *= 4
        if not improved or converged:
            break
    return v


def _fitted_state_fix(network: Network, tolerances: list[float]) -> Fix | None:
    """A non-zero initial state fitted to the numbers (least squares), when none was given."""
    units = [(k, j, u) for k, layer in enumerate(network.units) for j, u in enumerate(layer)]
    sizes = [(u.batch * u.out, u.batch * u.sizes["hidden"]) for _, _, u in units]
    total = sum(a + b for a, b in sizes)
    if total > _MAX_FITTED_STATE:
        return None
    work = network.x.shape[0] * len(units)  # unit-steps per network run
    scale = {name: float(np.max(np.abs(c.array), initial=0.0)) or 1.0
             for name, c in network.claims.items()}  # fmt: skip

    def candidates(v: np.ndarray) -> dict[tuple[int, int], _Candidate]:
        out, start = {}, 0
        for (k, j, u), (hn, cn) in zip(units, sizes, strict=True):
            h0 = v[start : start + hn].reshape(u.batch, u.out)
            c0 = v[start + hn : start + hn + cn].reshape(u.batch, u.sizes["hidden"])
            start += hn + cn
            out[k, j] = _Candidate("", u.variant, u.params, h0, c0)
        return out

    def residual(v: np.ndarray) -> np.ndarray:
        values = _claim_values(network, _network64(network, candidates(v)))
        parts = [((values[n] - c.array.astype(np.float64)) / scale[n]).ravel()
                 for n, c in network.claims.items()]  # fmt: skip
        r = np.concatenate(parts)
        return np.where(np.isfinite(r), r, 1e3)

    return _measure(
        network,
        tolerances,
        "a non-zero initial state used, though h0 and c0 were not given (zeros assumed; "
        "the state fitted to the numbers)",
        candidates(_least_squares(residual, total, _FIT_WORK // work)),
    )


def _layout_fixes(
    network: Network, tolerances: list[float], layer_inputs: list[np.ndarray]
) -> Iterator[Fix]:
    x = network.x
    steps, batch = x.shape[:2]
    states = any(c.kind != "y" for c in network.claims.values())
    given_state = any(u.h0 is not None or u.c0 is not None for u in network.units[0])
    # Batch-major read as time-major (or the other way round): x's two axes swapped.
    if network.lengths is None and (steps == batch or (not states and not given_state)):

        def swap_back(values: dict) -> dict:
            return {
                n: v.swapaxes(0, 1) if network.claims[n].kind == "y" else v
                for n, v in values.items()
            }

        text = (
            "time-major data read as batch-major: the axes T and B swapped (pass --time-major)"
            if network.batch_first
            else "batch-major data read as time-major: the axes B and T swapped "
            "(pass --batch-first)"
        )
        yield _measure(network, tolerances, text, data=_Data(x=x.swapaxes(0, 1),
                                                              outputs=swap_back))  # fmt: skip
    # A time-reversed sequence: x, or y, or both given in reverse time order.
    if steps > 1:
        yield _measure(
            network,
            tolerances,
            "x given in reverse time order (the sequence read time-reversed)",
            data=_Data(x=x[::-1]),
        )

        def reversed_y(values: dict) -> dict:
            return {n: v[::-1] if network.claims[n].kind == "y" else v for n, v in values.items()}

        yield _measure(
            network,
            tolerances,
            "y given in reverse time order (the order a reverse unit reads the sequence)",
            data=_Data(outputs=reversed_y),
        )
    # An ignored direction.
    directions = network.directions
    if directions == ("forward",):
        yield _measure(
            network,
            tolerances,
            'the implementation ran the reverse direction (a node\'s direction="reverse" '
            "not given?)",
            data=_Data(flip=True),
        )
    else:
        text = (
            "the reverse direction ignored: the implementation ran it forward"
            if "forward" not in directions
            else "the reverse direction ignored: the implementation ran both directions forward"
        )
        yield _measure(network, tolerances, text, data=_Data(forward_only=True))
    # Another layer's output: y is an earlier layer's (its float64 outputs).
    last = len(network.units) - 1
    if last > 0 and not network.unit_mode:
        for k in range(last):

            def earlier(values: dict, k: int = k) -> dict:
                out = dict(values)
                for name, claim in network.claims.items():
                    if claim.kind == "y" and claim.slot is not None:
                        width = claim.array.shape[-1]
                        part = layer_inputs[k + 1][
                            ..., claim.slot * width : (claim.slot + 1) * width
                        ]
                        out[name] = part
                return out

            yield _measure(network, tolerances, f"y is layer {k}'s output, not the last layer's",
                           data=_Data(outputs=earlier))  # fmt: skip
    if network.unit_mode:
        yield from _upper_layer_fixes(network, tolerances)
    # Sequence lengths: ignored by the implementation, or not given.
    if network.lengths is not None:
        yield _measure(
            network,
            tolerances,
            "sequence_lens ignored: the implementation ran every row for all T steps",
            data=_Data(lengths=None),
        )
    else:
        found = _trailing_zero_lengths(network)
        if found is not None and np.any(found < steps) and np.all(found >= 1):
            yield _measure(
                network,
                tolerances,
                "sequence lengths not given: y is zero past each row's length "
                f"({', '.join(map(str, found.tolist()))}): give sequence_lens",
                data=_Data(lengths=found),
            )


def _upper_layer_fixes(network: Network, tolerances: list[float]) -> Iterator[Fix]:
    """One unit judged alone whose y is a later layer's output (run on this unit's x)."""
    unit = network.first
    if unit.layers <= unit.layer + 1 or "y" not in network.claims:
        return
    layout = unit.layout
    directions = ("forward", "reverse")[: unit.directions]
    if unit.layout.attributes == "onnx":
        return
    x = _float64(network.x)
    for k in range(unit.layer, unit.layers):
        outs = []
        for direction in directions:
            variant, params = to_canonical(
                layout, unit.weights, layer=k, direction=direction, biases="exact",
                **unit.reading,
            )  # fmt: skip
            candidate = _Candidate("", variant, params)
            y, _, _ = _run_unit(candidate, x, direction == "reverse", network.lengths)
            outs.append(y)
        if k > unit.layer:
            y = outs[directions.index(unit.direction)]

            def replaced(values: dict, y: np.ndarray = y) -> dict:
                return {n: y if network.claims[n].kind == "y" else v for n, v in values.items()}

            yield _measure(
                network,
                tolerances,
                f"y is layer {k}'s output, not layer {unit.layer}'s",
                data=_Data(outputs=replaced),
            )
        x = np.concatenate(outs, axis=-1)


def _clip_fix(network: Network, tolerances: list[float]) -> Fix:
    """The clip threshold that best explains the numbers: the best of a grid of common
    thresholds, then a golden-section search between that one's neighbours (each
    threshold is a module generated anew: about 0.3 s)."""

    def distance(clip: float) -> float:
        chosen = {
            (k, j): replace(_unchanged(u), variant=replace(u.variant, clip=clip))
            for k, layer in enumerate(network.units)
            for j, u in enumerate(layer)
        }
        return _measure(network, tolerances, "", chosen).max_ulp_after

    tolerance = min(tolerances)
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


def diagnose_network(
    network: Network, tolerances: list[float], layer_inputs: list[np.ndarray] | None = None
) -> list[Fix]:
    """The fixes that make the numbers agree (best first), or the nearest misses."""
    as_given = _measure(network, tolerances, AS_GIVEN)
    if as_given.agrees:
        return [as_given]
    if layer_inputs is None:
        out = _network64(network)
        layer_inputs = [network.x] + [
            np.concatenate([out["y", k, j] for j in range(len(layer))], axis=-1)
            for k, layer in enumerate(network.units[:-1])
        ]
    fixes = list(_convention_fixes(network, tolerances))
    fixes += list(_layout_fixes(network, tolerances, layer_inputs))
    if not network.initial_state and not any(fix.agrees for fix in fixes):
        fitted = _fitted_state_fix(network, tolerances)  # slow: only when needed
        if fitted is not None:
            fixes.append(fitted)
    clip_free = all(u.variant.clip is None for layer in network.units for u in layer)
    if clip_free and not any(fix.agrees for fix in fixes):
        fixes.append(_clip_fix(network, tolerances))  # the slowest to search: only when needed
    # A change that leaves the numbers as they were (a clip no pre-activation reaches)
    # explains nothing.
    fixes = [fix for fix in fixes if fix.max_ulp_after != as_given.max_ulp_after]
    fixes.sort(key=lambda fix: fix.max_ulp_after)
    agreeing = [fix for fix in fixes if fix.agrees]
    return agreeing or fixes[:_NEAR_MISSES]


def diagnose(
    layout: Layout | str,
    weights: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    layer: int | None = None,
    direction: str | None = None,
    batch_first: bool | None = None,
    merge_mode: str = "concat",
    forget_bias: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
) -> list[Fix]:
    """Which single convention or layout mistake makes the reference agree with the outputs.

    Convention mistakes, each made in every unit of the network at once: the 23 other
    gate orders; each gate's recurrent (and, when square, input) matrix transposed; each
    packed weight array read in column-major order; each of two biases dropped, the
    biases doubled or dropped; a forget bias of 1 added inside σ (or, where the layout
    has one, left out or added twice); h0 and c0 swapped, h_T and c_T swapped; the gates
    through a hard sigmoid; no tanh on the cell state; the pre-activations clipped.
    Layout mistakes: batch-major data read as time-major (or the other way round); x or
    y in reverse time order; the direction ignored; y another layer's output; sequence
    lengths ignored or not given (y zero past a row's end); a non-zero initial state
    used though none was given (fitted to the numbers). Arguments are those of
    :func:`validate`.

    Returns
    -------
    list of Fix
        The changes that make every output agree within the tolerance, best first (more
        than one: the data cannot tell them apart); if none does, the three nearest
        (``agrees`` False). Outputs that agree as they are give the one fix
        :data:`AS_GIVEN`.

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
    check_tolerance(tolerance)
    tolerances = layer_tolerances(network, tolerance)
    return diagnose_network(network, tolerances)
