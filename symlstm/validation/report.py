"""The reports of :mod:`symlstm.validation`: the tolerance, one tensor measured against the
certified reference (:func:`compare`), the convention mistakes a diagnosis tried
(:class:`Fix`) and the whole validation (:class:`ValidationReport`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from symlstm.cell import Variant
from symlstm.certified.run import ReferenceTensor, normwise_ulps
from symlstm.errors import ArgumentError, ParameterError, ShapeError

#: The diagnosis of numbers that agree as they are.
AS_GIVEN = "none: the outputs agree as given"


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

    ``step_ulps``, for a tensor along the time axis (y, the gradient of x), is the largest
    element-wise error in ULPs at each step, in the order of the tensor's first axis
    (undefined elements left out, as in ``max_ulp``); None for the others. It is what
    :func:`symlstm.render.plots.error_plot` draws, and is in neither the JSON nor the text.
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
    step_ulps: tuple[float, ...] | None = None

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
    verdict, and the diagnosis (None where it was not run).

    ``layer`` is the unit's layer (None for a network of several layers), ``direction``
    forward, reverse or bidirectional; ``network`` the rest of the network in words ("2
    layers", "merge sum"; empty for one layer); ``initial_state`` "given" or "zeros (not
    given)"; ``rows`` the batch rows validated when they were drawn at random (of
    ``total_batch``), None for all.
    """

    layout: str
    layer: int | None
    direction: str
    dtype: np.dtype
    sizes: dict[str, int]
    variant: Variant
    tensors: dict[str, TensorReport]
    diagnosis: list[Fix] | None
    working_precision: int
    certified_bits: int
    layers: int = 1
    network: str = ""
    batch_first: bool = False
    initial_state: str = "given"
    rows: tuple[int, ...] | None = None
    total_batch: int | None = None

    @property
    def verdict(self) -> str:
        return "pass" if all(t.verdict == "pass" for t in self.tensors.values()) else "fail"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def worst(self) -> TensorReport:
        """The tensor furthest from the reference, relative to its tolerance."""
        return max(
            self.tensors.values(),
            key=lambda t: (bool(t.problems), t.normwise_ulp / max(t.tolerance, 1e-300)),
        )

    @property
    def ambiguous(self) -> bool:
        """Whether several explanations agree with the data, which cannot tell them apart."""
        agreeing = [fix for fix in self.diagnosis or [] if fix.agrees]
        return len(agreeing) > 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (see docs/validation.md)."""
        return {
            "verdict": self.verdict,
            "layout": self.layout,
            "layer": self.layer,
            "direction": self.direction,
            "layers": self.layers,
            "batch_first": self.batch_first,
            "initial_state": self.initial_state,
            "rows": None if self.rows is None else list(self.rows),
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

    def json(self) -> str:
        """:meth:`to_dict` as indented JSON (what ``symlstm validate --format json`` prints)."""
        return json.dumps(self.to_dict(), indent=2)

    def html(self, *, standalone: bool = True) -> str:
        """A web page (or a fragment): :func:`symlstm.render.html.validation_html`."""
        from symlstm.render.html import validation_html

        return validation_html(self, standalone=standalone)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def heading(self) -> list[str]:
        """What was validated, a line each: the network (layers, directions, sizes), the
        reference's accuracy, the initial state and data order, the rows drawn (where
        they were): the head of :meth:`text` and of :meth:`html`."""
        s = self.sizes
        unit = f"layer {self.layer}, " if self.layer is not None else ""
        network = f"{self.network}, " if self.network else ""
        proj = f" proj={s['proj']}" if "proj" in s else ""
        lines = [
            f"{self.layout} layout, {network}{unit}{self.direction}, {self.dtype.name}, "
            f"{self.variant.label()} cell: T={s['T']} batch={s['batch']} hidden={s['hidden']} "
            f"input={s['input']}{proj}",
            f"reference certified to {self.certified_bits} bits "
            f"(working precision {self.working_precision} bits)",
            f"initial state: {self.initial_state}"
            + ("; data batch-major" if self.batch_first else ""),
        ]
        if self.rows is not None:
            lines.append(
                f"rows: {len(self.rows)} of {self.total_batch} drawn at random: "
                + ", ".join(map(str, self.rows))
            )
        return lines

    def worst_line(self) -> str | None:
        """The line "worst of all: …" for a network of several units (None for one unit)."""
        several = self.layers > 1 or self.direction == "bidirectional"
        if not several or len(self.tensors) < 2:
            return None
        w = self.worst
        return (
            f"worst of all: {w.name}, {_ulp_text(w.normwise_ulp)} ULPs normwise "
            f"(tolerance {w.tolerance:g})"
        )

    def text(self) -> str:
        """A table for people: one row per tensor, then the verdict and the diagnosis."""
        lines = [*self.heading(), ""]
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
        lines.append("")
        worst = self.worst_line()
        if worst is not None:
            lines.append(worst)
        lines.append(f"verdict: {self.verdict.upper()}")
        if self.diagnosis is not None:
            agreeing = [fix for fix in self.diagnosis if fix.agrees]
            if [fix.fix for fix in agreeing] == [AS_GIVEN]:
                lines.append("diagnosis: none needed, the outputs agree as given")
            elif len(agreeing) > 1:
                lines.append(
                    f"diagnosis: the data cannot tell apart {len(agreeing)} explanations; "
                    "the numbers agree with the reference if any one of"
                )
                lines += [
                    f"  - {fix.fix} ({_ulp_text(fix.max_ulp_after)} ULPs)" for fix in agreeing
                ]
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


def tensor_errors(hi: np.ndarray, lo: np.ndarray, computed: np.ndarray) -> tuple[np.ndarray, ...]:
    """(absolute errors, the mask they are defined on, undefined, finite-claimed)."""
    wide = computed.astype(np.float64)
    undefined = np.isnan(hi)
    finite = np.isfinite(wide)
    ok = ~undefined & finite
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(ok, np.abs((wide - hi) - lo), 0.0)
    return err, ok, undefined, finite


def compare(
    name: str,
    exact: ReferenceTensor,
    computed: Any,
    tolerance: float,
    *,
    along_time: bool = False,
) -> TensorReport:
    """Measure one claimed tensor against its certified values.

    With ``along_time`` the tensor's first axis is the time axis, and the report carries
    the largest element-wise ULP error at each step (``step_ulps``).

    >>> exact = ReferenceTensor(np.array([0.5, 2.0**-30, np.nan]), np.zeros(3), 106)
    >>> r = compare("y", exact, np.array([0.5, 0.0, 1.0], np.float32), tolerance=11)
    >>> r.max_ulp, r.normwise_ulp  # 2^-30 is 2^23 ULPs of itself, 1/64 ULP of 0.5
    (8388608.0, 0.015625)
    >>> r.verdict, r.problems
    ('fail', ('1 finite where NaN or infinite inputs leave the exact value undefined',))
    >>> compare("y", exact, np.array([0.5, 0.0, 1.0], np.float32), 11, along_time=True).step_ulps
    (0.0, 8388608.0, 0.0)
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
    err, ok, undefined, finite = tensor_errors(exact.hi, exact.lo, c)
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
    step_ulps = None
    if along_time and c.ndim >= 1:
        per_step = np.where(undefined, 0.0, ulps).reshape(c.shape[0], -1)
        step_ulps = tuple(float(v) for v in per_step.max(axis=1, initial=0.0))
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
        step_ulps=step_ulps,
    )
