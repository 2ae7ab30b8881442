"""The certified reference over a whole network: each unit (layer and direction) run on
the previous layer's certified outputs, ragged batches by their lengths, the directions'
outputs merged as the framework merges them."""

from __future__ import annotations

from typing import Any

import numpy as np

from symlstm.certified.run import ReferenceTensor
from symlstm.validation.case import (
    Case,
    Network,
)
from symlstm.validation.progress import ProgressBar, run_reference

#: validate's own machinery, not API.
__all__: list[str] = []

#: Relative accuracy the reference is certified to, per claimed dtype: enough that the
#: ULP errors it reports are exact to far below one ULP.
REFERENCE_BITS = {np.dtype(np.float16): 64, np.dtype(np.float32): 64, np.dtype(np.float64): 80}


def reversed_tensor(t: ReferenceTensor) -> ReferenceTensor:
    return ReferenceTensor(t.hi[::-1], t.lo[::-1], t.certified_bits)


def length_groups(lengths: np.ndarray | None, steps: int, batch: int) -> list[tuple[int, Any]]:
    """The batch rows by sequence length: (length, rows), all rows at T without lengths."""
    if lengths is None:
        return [(steps, slice(None))]
    return [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]


def _unit_reference(
    case: Case, x: np.ndarray, bar: ProgressBar | None, label: str = "", workers: int = 1
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
        ref = run_reference(
            bar,
            case.cell(),
            params,
            xs[::-1] if case.reverse else xs,
            None if case.h0 is None else case.h0[rows],
            None if case.c0 is None else case.c0[rows],
            bits=REFERENCE_BITS[case.dtype],
            workers=workers,
        )
        y = reversed_tensor(ref.y) if case.reverse else ref.y
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
    network: Network, bar: ProgressBar | None = None, workers: int = 1
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
            found, used, asked = _unit_reference(unit, x, bar, label, workers)
            exact |= {(name, k, j): t for name, t in found.items()}
            bits, certified = max(bits, used), min(certified, asked)
        x = np.concatenate([exact["y", k, j].hi for j in range(len(layer))], axis=-1)
    return exact, inputs, bits, certified


def claim_exact(network: Network, exact: dict, name: str) -> ReferenceTensor:
    claim = network.claims[name]
    if claim.slot is not None:
        return exact[claim.kind, claim.layer, claim.slot]
    return merged(network.merge, exact["y", claim.layer, 0], exact["y", claim.layer, 1])
