"""A validation's error along the sequence, drawn as SVG by the package itself.

:func:`error_plot` draws, for a :class:`~symlstm.validation.ValidationReport`, the largest
element-wise error in ULPs of the claimed dtype at each time step
(``step_ulps`` of :class:`~symlstm.validation.TensorReport`): one panel for the outputs (``y``
along t, ``h_T`` and ``c_T`` as single points at the last step) and, where gradients
were given, one for the gradient of ``x`` along t. For a network of several units
(layers, directions), each output tensor along t has its own panel: ``y (forward)`` and
``y (reverse)`` of the last layer, each with its unit's final states as points, titled
by the unit; the final states of the layers below are not along t and are in the
report's table only. The ULP axis is logarithmic (errors
span 0.01 to 10^7 ULPs; anything below :data:`FLOOR` is drawn at it, an infinite error
at the top edge), the tolerance is a dashed horizontal line, and the worst step of each
series is ringed and labelled: the picture shows whether the error grows with t.

Steps are numbered 1 to T in the order of the arrays' time axis, which is x's order for
every direction (a reverse direction's output at step t is the one it gave for x_t, and
its final state, reached at x_1, is drawn at step 1). The tolerance bounds the
*normwise* error (the verdict's measure); element-wise errors of tiny values may lie
above it in a correct implementation.

Plain SVG text, no dependency: :func:`error_panels` is the data, :func:`error_plot` writes it.
For a sequence worked example, :func:`sequence_plot` draws the gate values, C_t and h_t
along t, as its summary table shows them.

>>> from types import SimpleNamespace
>>> y = SimpleNamespace(name="y", step_ulps=(0.4, 3.0, 20.0), max_ulp=20.0, tolerance=30.0)
>>> report = SimpleNamespace(tensors={"y": y}, sizes={"T": 3}, dtype=SimpleNamespace(
...     name="float32"), layout="torch", layer=0, direction="forward")
>>> [(p.title, p.series[0].ulps) for p in error_panels(report)]
[('outputs', (0.4, 3.0, 20.0))]
>>> error_plot(report).count('class="point"')
3
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from symlstm.errors import ArgumentError

__all__ = [
    "FLOOR",
    "SEQUENCE_QUANTITIES",
    "Panel",
    "Series",
    "error_panels",
    "error_plot",
    "sequence_plot",
    "sequence_series",
]

#: Errors below this many ULPs are drawn at it (a log scale has no zero).
FLOOR = 0.01
#: The drawing's width, one panel's height, and the plot area's margins (SVG units).
WIDTH, PANEL_HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 64, 130, 34, 44
FONT = 12

_COLOURS = {"y": "#1f5fa8", "h_T": "#2a8a3e", "c_T": "#c0392b", "grad x": "#7a5195"}


@dataclass(frozen=True)
class Series:
    """One tensor's errors: ``ulps[k]`` is the largest element-wise error at step ``steps[k]``.
    ``label`` is its legend's text (its name where empty)."""

    name: str
    steps: tuple[int, ...]
    ulps: tuple[float, ...]
    label: str = ""

    @property
    def worst(self) -> int:
        """The index (into :attr:`steps`) of the largest error, the first of equals."""
        return max(range(len(self.ulps)), key=lambda k: (self.ulps[k], -k))


@dataclass(frozen=True)
class Panel:
    """A plot: its series over steps 1 to ``steps``, against one ``tolerance``."""

    title: str
    steps: int
    tolerance: float
    series: tuple[Series, ...]


def error_panels(report: Any) -> list[Panel]:
    """The panels of :func:`error_plot`: outputs, then the gradient of x where it was given.

    Parameters
    ----------
    report
        A :class:`~symlstm.validation.ValidationReport` (its tensors carry ``step_ulps``).

    Returns
    -------
    list of Panel

    >>> from types import SimpleNamespace as NS
    >>> t = {"y": NS(step_ulps=(1.0, 2.0), max_ulp=2.0, tolerance=9.0),
    ...      "c_T": NS(step_ulps=None, max_ulp=0.5, tolerance=9.0)}
    >>> [(s.name, s.steps) for s in error_panels(NS(tensors=t, sizes={"T": 2}))[0].series]
    [('y', (1, 2)), ('c_T', (2,))]
    """
    if not all(hasattr(report, a) for a in ("tensors", "sizes")):
        raise ArgumentError(f"report must be a ValidationReport, not {type(report).__name__}")
    steps = int(report.sizes["T"])
    panels = []
    along_t = [
        (name, tensor)
        for name, tensor in report.tensors.items()
        if name.split(" (")[0] in ("y", "grad x") and getattr(tensor, "step_ulps", None) is not None
    ]
    for name, tensor in along_t:
        kind, _, unit = name.partition(" (")
        unit = unit.removesuffix(")")
        title = "outputs" if kind == "y" else "gradients"
        finals: list[str] = []
        if kind == "y":  # the same unit's final states, where they were given
            direction = unit.rsplit(", ", 1)[-1] if unit else ""
            for other in report.tensors:
                if other.split(" (")[0] not in ("h_T", "c_T"):
                    continue
                found = _final_unit(other, report)
                if found is not None and (not unit or found == direction):
                    finals.append(other)
        if unit:
            title += f" ({unit})"
        series = [Series(name, tuple(range(1, steps + 1)), tuple(tensor.step_ulps), kind)]
        # A reverse direction's final state is the one it reaches at x_1: drawn at step 1.
        reverse = unit.endswith("reverse") if unit else _report_direction(report) == "reverse"
        last = 1 if reverse else steps
        series += [
            Series(other, (last,), (float(report.tensors[other].max_ulp),), other.split(" (")[0])
            for other in finals
        ]
        panels.append(Panel(title, steps, float(tensor.tolerance), tuple(series)))
    return panels


def _report_direction(report: Any) -> str:
    """The report's direction (forward, reverse, bidirectional; forward where it has none)."""
    direction = getattr(report, "direction", "forward")
    return direction if isinstance(direction, str) else "forward"


def _final_unit(name: str, report: Any) -> str | None:
    """The direction of a final state of the last layer ("h_T (layer 1, reverse)":
    reverse); None for a state of a layer below (its layer is not the last)."""
    unit = name.partition(" (")[2].removesuffix(")")
    parts = unit.split(", ")
    layers = int(getattr(report, "layers", 1) or 1)
    if parts and parts[0].startswith("layer ") and parts[0] != f"layer {layers - 1}":
        return None
    return parts[-1] if parts and not parts[-1].startswith("layer ") else ""


def _ulp_decades(values: list[float], tolerance: float) -> tuple[int, int]:
    """The log axis' range (lo, hi) in powers of ten: the finite errors (at least
    :data:`FLOOR`) and the tolerance, rounded out to whole decades.

    >>> _ulp_decades([0.0, 0.3, 2400.0], 218.0)
    (-2, 4)
    """
    shown = [max(v, FLOOR) for v in (*values, tolerance) if math.isfinite(v)]
    lo = math.floor(math.log10(min(shown)))
    hi = math.ceil(math.log10(max(shown)))
    return lo, max(hi, lo + 1)


def error_plot(report: Any) -> str:
    """The validation's errors in ULPs along the sequence, as one SVG element.

    Parameters
    ----------
    report
        A :class:`~symlstm.validation.ValidationReport`.

    Returns
    -------
    str
        ``<svg …>…</svg>``: a panel (``<g class="panel">``) per :func:`error_panels`
        entry, each series a ``polyline`` (``class="series"``) through one
        ``circle class="point"`` per step, the tolerance a ``line class="tolerance"``,
        the worst step of each sequence a ``circle class="worst"``.

    >>> from types import SimpleNamespace as NS
    >>> t = {"y": NS(step_ulps=(1.0, 50.0), max_ulp=50.0, tolerance=12.0)}
    >>> svg = error_plot(NS(tensors=t, sizes={"T": 2}, dtype=NS(name="float32")))
    >>> svg.count('class="worst"'), 'data-step="2"' in svg
    (1, True)
    """
    panels = error_panels(report)
    if not panels:
        raise ArgumentError("the report has no errors along the time axis to plot")
    dtype = escape(getattr(getattr(report, "dtype", None), "name", "the claimed dtype"))
    height = PANEL_HEIGHT * len(panels)
    title = f"Error in ULPs of {dtype} along the sequence"
    out = _svg_open(
        height, "ulp-plot", f"{title}: the largest element-wise error at each step, log scale"
    )
    for k, panel in enumerate(panels):
        out += _panel(panel, PANEL_HEIGHT * k, dtype)
    out.append("</svg>")
    return "\n".join(out)


def _panel(panel: Panel, y0: float, dtype: str) -> list[str]:
    top, bottom = y0 + TOP, y0 + PANEL_HEIGHT - BOTTOM
    left, right = LEFT, WIDTH - RIGHT
    values = [v for s in panel.series for v in s.ulps]
    lo, hi = _ulp_decades(values, panel.tolerance)

    def ypos(value: float) -> float:
        if not math.isfinite(value):
            return top
        return top + (hi - math.log10(max(value, FLOOR))) / (hi - lo) * (bottom - top)

    def xpos(step: int) -> float:
        if panel.steps <= 1:
            return (left + right) / 2
        return left + (step - 1) / (panel.steps - 1) * (right - left)

    out = [
        f'<g class="panel" data-title="{escape(panel.title)}" data-decades="{lo} {hi}" '
        f'data-top="{top:g}" data-bottom="{bottom:g}">',
        f'<text x="{left}" y="{y0 + 20:g}" font-weight="bold">{escape(panel.title)}: largest '
        f"error at each step, ULPs of {dtype}</text>",
    ]
    every = 1 if hi - lo <= 8 else 2
    for d in range(lo, hi + 1):
        y = ypos(10.0**d)
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.2f}" y2="{y:.2f}" stroke="#e3e3e3"/>')
        if (d - lo) % every == 0:
            out.append(
                f'<text class="tick" data-decade="{d}" x="{left - 6}" y="{y + 4:.2f}" '
                f'text-anchor="end">10<tspan dy="-5" font-size="{FONT * 0.75:g}">{d}'
                "</tspan></text>"
            )
    out += _step_axis(panel.steps, xpos, top, bottom)
    y = ypos(panel.tolerance)
    out += [
        f'<line class="tolerance" data-ulp="{panel.tolerance!r}" x1="{left}" x2="{right}" '
        f'y1="{y:.2f}" y2="{y:.2f}" stroke="#d35400" stroke-width="1.5" '
        'stroke-dasharray="6,4"/>',
        # Inside the frame, just above the line at its right end: the legend has the margin.
        f'<text x="{right - 4}" y="{max(y - 7, top + 11):.2f}" text-anchor="end" '
        f'fill="#d35400">tolerance {panel.tolerance:g}</text>',
    ]
    for n, series in enumerate(panel.series):
        colour = _COLOURS.get(series.label or series.name, "#333")
        name = escape(series.name)
        points = [(xpos(s), ypos(v)) for s, v in zip(series.steps, series.ulps, strict=True)]
        if len(points) > 1:
            line = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
            out.append(
                f'<polyline class="series" data-tensor="{name}" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
        for (x, y), step, value in zip(points, series.steps, series.ulps, strict=True):
            shape = "circle" if len(points) > 1 else "rect"
            if shape == "circle":
                out.append(
                    f'<circle class="point" data-tensor="{name}" data-step="{step}" '
                    f'data-ulp="{value!r}" cx="{x:.2f}" cy="{y:.2f}" r="2.5" fill="{colour}"/>'
                )
            else:  # a final state: a square, so it is not read as a step of y
                out.append(
                    f'<rect class="point" data-tensor="{name}" data-step="{step}" '
                    f'data-ulp="{value!r}" x="{x - 3.5:.2f}" y="{y - 3.5:.2f}" width="7" '
                    f'height="7" fill="{colour}"/>'
                )
        if len(points) > 1:
            k = series.worst
            x, y = points[k]
            value = series.ulps[k]
            shown = "∞" if not math.isfinite(value) else f"{value:.3g}"
            anchor = "end" if x > (left + right) / 2 else "start"
            dx = -9 if anchor == "end" else 9
            out += [
                f'<circle class="worst" data-tensor="{name}" data-step="{series.steps[k]}" '
                f'cx="{x:.2f}" cy="{y:.2f}" r="7" fill="none" stroke="{colour}" '
                'stroke-width="1.5"/>',
                f'<text x="{x + dx:.2f}" y="{max(y - 8, top + 12):.2f}" text-anchor="{anchor}" '
                f'fill="{colour}">worst {shown} at t = {series.steps[k]}</text>',
            ]
        out += _legend_entry(n, colour, escape(series.label or series.name), top)
    out.append("</g>")
    return out


def _svg_open(height: float, css_class: str, title: str) -> list[str]:
    """The opening of a plot's ``<svg>``: its size, class, title and white ground."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="{css_class}" '
        f'style="max-width:100%;height:auto" font-family="DejaVu Sans, sans-serif" '
        f'font-size="{FONT}">',
        f"<title>{title}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>',
    ]


def _step_axis(steps: int, xpos: Callable[[int], float], top: float, bottom: float) -> list[str]:
    """The plot's frame and its time axis: at most about ten step labels (the first, the
    last, and every stride-th between), so a long sequence's labels do not overlap."""
    left, right = LEFT, WIDTH - RIGHT
    stride = max(1, math.ceil(steps / 10))
    ticks = sorted({1, steps, *range(stride, steps, stride)})
    if len(ticks) > 2 and ticks[-1] - ticks[-2] < stride / 2:
        ticks.pop(-2)
    out = []
    for step in ticks:
        x = xpos(step)
        out.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{bottom}" y2="{bottom + 4}" stroke="#333"/>'
        )
        out.append(f'<text x="{x:.2f}" y="{bottom + 17}" text-anchor="middle">{step}</text>')
    return [
        *out,
        f'<rect x="{left}" y="{top:g}" width="{right - left}" height="{bottom - top:g}" '
        'fill="none" stroke="#333"/>',
        f'<text x="{(left + right) / 2:g}" y="{bottom + 34}" text-anchor="middle">time step t'
        "</text>",
    ]


def _legend_entry(n: int, colour: str, label: str, top: float) -> list[str]:
    """The n-th entry of the legend in the right margin: a stroke of the colour, the label."""
    right, ly = WIDTH - RIGHT, top + 14 + 18 * n
    return [
        f'<line x1="{right + 6}" x2="{right + 22}" y1="{ly - 4}" y2="{ly - 4}" '
        f'stroke="{colour}" stroke-width="2"/>',
        f'<text x="{right + 26}" y="{ly}" fill="{colour}">{label}</text>',
    ]


# -- a sequence worked example: its values along t ---------------------------------------------

#: The quantities a sequence plot draws, in the summary table's order, and their colours.
SEQUENCE_QUANTITIES: tuple[str, ...] = ("f", "i", "g", "c", "o", "h")
_SEQUENCE_COLOURS = {
    "f": "#c0392b",
    "i": "#2a8a3e",
    "g": "#7a5195",
    "c": "#d35400",
    "o": "#1f5fa8",
    "h": "#111111",
}


def sequence_series(worked: Any) -> dict[str, tuple[float, ...]]:
    """A scalar worked example's shown values along t: quantity → one value per step (the
    certified roundings its summary table prints).

    >>> from symlstm.examples import load_example
    >>> from symlstm.render.worked import worked_example
    >>> sequence_series(worked_example(load_example("seed-sequence")))["c"]
    (0.05, 0.15, 0.29)
    """
    summary = getattr(worked, "summary", None)
    if not isinstance(summary, list) or not summary or not isinstance(summary[0], dict):
        raise ArgumentError(f"worked must be a WorkedExample, not {type(worked).__name__}")
    if getattr(getattr(worked, "example", None), "cell", None) is None or (
        worked.example.cell.is_vector
    ):
        raise ArgumentError("a sequence plot draws a scalar cell's values (one number a step)")
    return {
        q: tuple(float(row[q]) for row in summary)
        for q in SEQUENCE_QUANTITIES
        if all(q in row for row in summary)
    }


def sequence_plot(worked: Any) -> str:
    """A scalar worked example's gate values, C_t and h_t along t, as one SVG element.

    The values are the ones the example's summary table shows (certified roundings),
    one polyline a quantity (``class="series"``, ``data-quantity``), one point a step,
    on a linear axis that always shows 0 and 1.

    >>> from symlstm.examples import load_example
    >>> from symlstm.render.worked import worked_example
    >>> svg = sequence_plot(worked_example(load_example("seed-sequence")))
    >>> svg.count('class="point"'), svg.count('class="series"')
    (18, 6)
    """
    series = sequence_series(worked)
    steps = len(worked.summary)
    names = getattr(worked.notation, "text", {})
    values = [v for vs in series.values() for v in vs]
    lo, hi = min(0.0, *values), max(1.0, *values)
    height = PANEL_HEIGHT
    top, bottom = TOP, height - BOTTOM
    left, right = LEFT, WIDTH - RIGHT

    def xpos(step: int) -> float:
        return left + (right - left) * ((step - 1) / max(1, steps - 1) if steps > 1 else 0.5)

    def ypos(value: float) -> float:
        return bottom - (bottom - top) * (value - lo) / (hi - lo)

    title = escape(getattr(worked.example, "title", "") or worked.example.name)
    out = _svg_open(
        height, "sequence-plot", f"{title}: the gates, the cell state and the hidden state along t"
    )
    out.append(
        f'<text x="{left}" y="{top - 12}" font-weight="bold">values along the sequence '
        "(as the table shows them)</text>"
    )
    labelled: list[float] = []
    for mark in (0.0, 1.0, lo, hi):  # 0 and 1 first: an end too close to them is not labelled
        y = ypos(mark)
        if any(abs(y - other) < FONT + 2 for other in labelled):
            continue
        labelled.append(y)
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.2f}" y2="{y:.2f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.2f}" text-anchor="end">{mark:g}</text>'
        )
    out += _step_axis(steps, xpos, top, bottom)
    for n, (q, vs) in enumerate(series.items()):
        colour = _SEQUENCE_COLOURS[q]
        points = [(xpos(k + 1), ypos(v)) for k, v in enumerate(vs)]
        if len(points) > 1:
            line = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
            out.append(
                f'<polyline class="series" data-quantity="{q}" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
        else:
            out.append(f'<g class="series" data-quantity="{q}"></g>')
        for k, ((x, y), v) in enumerate(zip(points, vs, strict=True), 1):
            out.append(
                f'<circle class="point" data-quantity="{q}" data-step="{k}" data-value="{v!r}" '
                f'cx="{x:.2f}" cy="{y:.2f}" r="2.5" fill="{colour}"/>'
            )
        out += _legend_entry(n, colour, escape(names.get(q, q)), top)
    out.append("</svg>")
    return "\n".join(out)
