"""The LSTM cell drawn, with one step's numbers on its wires: SVG and TikZ from one geometry.

:func:`cell_diagram` lays a cell out the familiar way — the cell state along the top,
the gates as blocks (σ, and the candidate's tanh), ⊙ and + nodes, h_{t-1} and x_t
entering at the bottom, h_t and C_t leaving on the right — as plain data: boxes, and
wires with their labels. :meth:`Diagram.svg` and :meth:`Diagram.tikz` write that same
data. Variants change the drawing: peephole connections run (dashed) from the cell
line into the gates that read it, the coupled forget gate is a ``1 −`` node fed by the
input gate, and a cell without a forget gate has no forget block and no ⊙ on its
cell line.

With a worked example (:func:`worked_diagram`) every wire that carries a quantity is
labelled with its symbol and its certified value at the example's digits (a vector as
a short column, elided in the middle when long). The two products on the cell line,
f_t ⊙ C_{t-1} and i_t ⊙ C̃_t, carry the values the worked example's C_t line shows for
them (C_t = 0.62 × 0.4 + 0.603 × 0.336 = 0.248 + 0.203 = 0.451: 0.248 and 0.203; in
hand mode the hand calculation's rounded products). A vector cell's worked example
writes its update as one vector, without the products, so for it the two products are
computed here, rounded to C_t's places: certified from the exact values (each entry's
enclosure narrowed until its rounding is decided), or in hand mode from the rounded
operands the example shows.

>>> from symlstm.examples import load_example
>>> from symlstm.render.worked import worked_example
>>> d = worked_diagram(worked_example(load_example("seed-step")))
>>> d.label("f").lines
('f_t', '0.62')
>>> d.label("fc").lines, d.label("ig").lines
(('f_t ⊙ C_{t-1}', '0.248'), ('i_t ⊙ C̃_t', '0.203'))
>>> d.svg().startswith("<svg")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

from symlstm.cell import Cell
from symlstm.errors import ArgumentError, UnknownNameError
from symlstm.render.wire_values import shown_lines, step_values
from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = [
    "FORMATS",
    "Box",
    "Diagram",
    "Label",
    "Wire",
    "cell_diagram",
    "step_values",
    "worked_diagram",
]

FORMATS: tuple[str, ...] = ("svg", "tikz")
#: The drawing's size in its own units (an SVG viewBox; TikZ draws 1 unit as 0.025 cm).
WIDTH, HEIGHT = 600, 460
#: Font size and line height of the labels, in drawing units.
FONT, LINE = 14, 16

# Where things are (drawing units; y grows downwards).
_TOP, _BUS, _GATE_Y = 80, 380, 300
_GATE_W, _GATE_H, _NODE_R = 56, 40, 13
_X = {"f": 150, "i": 250, "g": 350, "o": 440, "out": 510, "mix": 300}
_RIGHT = 590

_ACTIVATION_GLYPH = {"sigmoid": "σ", "tanh": "tanh", "hard_sigmoid": "σ_hard"}


@dataclass(frozen=True)
class Box:
    """A block (``"gate"``; ``"op"``: the coupled gate's 1 −), a round node (``"node"``,
    ⊙ and +) or an oval (``"oval"``, the squashing of the cell state), centred at (x, y)."""

    key: str
    kind: str
    x: float
    y: float
    w: float
    h: float
    text: str

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1)."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class Label:
    """A wire's label: its symbol (text notation) and, below it, its value's lines.

    ``x, y`` is the point of the wire it belongs to and ``side`` where the label sits
    from it (``"above"``, ``"below"``, ``"left"``, ``"right"``); :attr:`bbox` is the
    estimated box of its text.
    """

    lines: tuple[str, ...]
    latex: tuple[str, ...]
    x: float
    y: float
    side: str

    @property
    def size(self) -> tuple[float, float]:
        width = max(_text_width(s) for s in self.lines)
        return width, LINE * len(self.lines)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1), estimated from the text (about 0.62 em a character)."""
        w, h = self.size
        gap = 5
        if self.side == "above":
            return (self.x - w / 2, self.y - gap - h, self.x + w / 2, self.y - gap)
        if self.side == "below":
            return (self.x - w / 2, self.y + gap, self.x + w / 2, self.y + gap + h)
        if self.side == "right":
            return (self.x + gap, self.y - h / 2, self.x + gap + w, self.y + h / 2)
        return (self.x - gap - w, self.y - h / 2, self.x - gap, self.y + h / 2)

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True)
class Wire:
    """A connection: a polyline through ``points``, an arrow at its end unless ``arrow`` is
    False, dashed for a peephole; ``quantity`` names what it carries (None: a branch of
    another wire)."""

    key: str
    points: tuple[tuple[float, float], ...]
    quantity: str | None = None
    label: Label | None = None
    dashed: bool = False
    arrow: bool = True


@dataclass(frozen=True)
class Diagram:
    """One cell drawn: boxes, wires and their labels, in drawing units (:data:`WIDTH` ×
    :data:`HEIGHT`). Write it with :meth:`svg` or :meth:`tikz`."""

    boxes: tuple[Box, ...]
    wires: tuple[Wire, ...]
    dots: tuple[tuple[float, float], ...] = ()
    title: str = "LSTM cell"
    values: dict[str, Any] = field(default_factory=dict)

    def label(self, quantity: str) -> Label:
        """The label of the wire that carries ``quantity`` (``"f"``, ``"c"``, ``"h"``…)."""
        for wire in self.wires:
            if wire.quantity == quantity and wire.label is not None:
                return wire.label
        raise UnknownNameError(f"no wire carries {quantity!r} in this drawing")

    def wire(self, quantity: str) -> Wire:
        """The wire that carries ``quantity``."""
        for wire in self.wires:
            if wire.quantity == quantity:
                return wire
        raise UnknownNameError(f"no wire carries {quantity!r} in this drawing")

    @property
    def labels(self) -> list[Label]:
        return [w.label for w in self.wires if w.label is not None]

    def render(self, fmt: str = "svg") -> str:
        """:meth:`svg` or :meth:`tikz` by name."""
        if fmt not in FORMATS:
            raise UnknownNameError(f"unknown diagram format {fmt!r}; known: {', '.join(FORMATS)}")
        return self.svg() if fmt == "svg" else self.tikz()

    # -- SVG ----------------------------------------------------------------------------

    def svg(self, *, ident: str = "lstm") -> str:
        """A standalone SVG element (no external resources): its ``viewBox`` is the drawing,
        it scales to the width it is given (``max-width: 100%``), labels are ``<text>``.

        ``ident`` prefixes its element ids (several diagrams in one page each need their own).
        """
        arrow = f"{ident}-arrow"
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" class="lstm-diagram" '
            f'style="max-width:100%;height:auto" font-family="DejaVu Sans, sans-serif" '
            f'font-size="{FONT}">',
            f"<title>{escape(self.title)}</title>",
            f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
            f'<rect x="{_X["f"] - 50}" y="{_TOP - 30}" width="{_X["out"] - _X["f"] + 100}" '
            f'height="{_BUS - _TOP + 20}" rx="18" fill="#f4f7fb" stroke="#c8d3e0"/>',
        ]
        for wire in self.wires:
            points = " ".join(f"{x:g},{y:g}" for x, y in wire.points)
            dash = ' stroke-dasharray="5,4"' if wire.dashed else ""
            end = f' marker-end="url(#{arrow})"' if wire.arrow else ""
            colour = "#7a5195" if wire.dashed else "#333"
            out.append(
                f'<polyline class="wire" data-key="{wire.key}" points="{points}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{dash}{end}/>'
            )
        for x, y in self.dots:
            out.append(f'<circle cx="{x:g}" cy="{y:g}" r="3.5" fill="#333"/>')
        for box in self.boxes:
            out.append(_svg_box(box))
        for wire in self.wires:
            if wire.label is not None:
                out.append(_svg_label(wire, wire.label))
        out.append("</svg>")
        return "\n".join(out)

    # -- TikZ ---------------------------------------------------------------------------

    def tikz(self) -> str:
        r"""A ``tikzpicture`` (needs ``\usepackage{tikz}``; Debian's ``texlive-pictures``),
        15 cm wide, in the same geometry as :meth:`svg`."""
        out = [
            r"\begin{tikzpicture}[x=0.025cm, y=-0.025cm, >=stealth, font=\footnotesize,"
            r" every node/.style={inner sep=1pt}]",
            rf"\draw[rounded corners=0.45cm, draw=black!25, fill=blue!3] "
            rf"({_X['f'] - 50},{_TOP - 30}) rectangle ({_X['out'] + 50},{_BUS - 10});",
        ]
        for wire in self.wires:
            style = ["thick"]
            if wire.arrow:
                style.append("->")
            if wire.dashed:
                style += ["dashed", "violet"]
            path = " -- ".join(f"({x:g},{y:g})" for x, y in wire.points)
            out.append(rf"\draw[{', '.join(style)}] {path};")
        for x, y in self.dots:
            out.append(rf"\fill ({x:g},{y:g}) circle (0.07cm);")
        for box in self.boxes:
            x0, y0, x1, y1 = box.bbox
            text = _tikz_glyph(box.text)
            if box.kind == "node":
                shape = rf"({box.x:g},{box.y:g}) circle ({box.w / 80:.4f}cm)"
            elif box.kind == "oval":
                shape = (
                    rf"({box.x:g},{box.y:g}) ellipse ({box.w / 80:.4f}cm and {box.h / 80:.4f}cm)"
                )
            else:
                shape = rf"[rounded corners=0.1cm] ({x0:g},{y0:g}) rectangle ({x1:g},{y1:g})"
            fill = "red!12" if box.kind in ("node", "oval") else "yellow!25"
            out.append(rf"\filldraw[thick, fill={fill}] {shape};")
            out.append(rf"\node at ({box.x:g},{box.y:g}) {{{text}}};")
        for wire in self.wires:
            label = wire.label
            if label is None:
                continue
            cx, cy = label.center
            body = r"\\".join(label.latex)
            out.append(
                rf"\node[align=center, fill=white, fill opacity=0.85, text opacity=1] "
                rf"at ({cx:g},{cy:g}) {{{body}}};"
            )
        out.append(r"\end{tikzpicture}")
        return "\n".join(out)


# -- text helpers ---------------------------------------------------------------------------


_SUB = re.compile(r"_(\{([^{}]*)\}|([A-Za-z0-9,]+))")


def _text_width(text: str) -> float:
    """About how wide a label line is in drawing units (subscripts at 0.75 size)."""
    width, pos = 0.0, 0
    for m in _SUB.finditer(text):
        width += _chars(text[pos : m.start()])
        width += 0.75 * _chars(m.group(2) if m.group(2) is not None else m.group(3))
        pos = m.end()
    width += _chars(text[pos:])
    return width * 0.62 * FONT


def _chars(text: str) -> int:
    return sum(1 for ch in text if not 0x300 <= ord(ch) <= 0x36F)  # combining marks: none


def _svg_symbol(text: str) -> str:
    """A text-notation name as SVG text: ``h_{t-1}`` with the subscript lowered and smaller."""
    out, pos = [], 0
    for m in _SUB.finditer(text):
        out.append(escape(text[pos : m.start()]))
        sub = (m.group(2) if m.group(2) is not None else m.group(3)).replace("-", "−")
        out.append(
            f'<tspan dy="4" font-size="{FONT * 0.75:g}">{escape(sub)}</tspan><tspan dy="-4">'
            "\u200b</tspan>"
        )
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def _svg_label(wire: Wire, label: Label) -> str:
    x0, y0, x1, y1 = label.bbox
    cx = (x0 + x1) / 2
    rows = []
    for k, line in enumerate(label.lines):
        y = y0 + LINE * (k + 1) - 4
        text = _svg_symbol(line) if k == 0 else escape(line.replace("-", "−"))
        cls = "symbol" if k == 0 else "value"
        fill = "#111" if k == 0 else "#0b4f9c"
        weight = ' font-style="italic"' if k == 0 else ' font-weight="bold"'
        rows.append(
            f'<text class="{cls}" x="{cx:g}" y="{y:g}" text-anchor="middle" fill="{fill}"'
            f"{weight}>{text}</text>"
        )
    return (
        f'<g class="label" data-quantity="{wire.quantity}">'
        f'<rect x="{x0 - 2:g}" y="{y0:g}" width="{x1 - x0 + 4:g}" height="{y1 - y0:g}" '
        'fill="#fff" fill-opacity="0.85"/>' + "".join(rows) + "</g>"
    )


def _svg_box(box: Box) -> str:
    text = escape(box.text)
    if box.kind == "node":
        return (
            f'<g class="node" data-key="{box.key}"><circle cx="{box.x:g}" cy="{box.y:g}" '
            f'r="{box.w / 2:g}" fill="#fbd3e0" stroke="#333" stroke-width="2"/>'
            f'<text x="{box.x:g}" y="{box.y + 5:g}" text-anchor="middle" font-size="16">'
            f"{text}</text></g>"
        )
    if box.kind == "oval":
        return (
            f'<g class="oval" data-key="{box.key}"><ellipse cx="{box.x:g}" cy="{box.y:g}" '
            f'rx="{box.w / 2:g}" ry="{box.h / 2:g}" fill="#fbd3e0" stroke="#333" '
            f'stroke-width="2"/><text x="{box.x:g}" y="{box.y + 5:g}" text-anchor="middle">'
            f"{text}</text></g>"
        )
    x0, y0, _, _ = box.bbox
    return (
        f'<g class="gate" data-key="{box.key}"><rect x="{x0:g}" y="{y0:g}" width="{box.w:g}" '
        f'height="{box.h:g}" rx="6" fill="#fde9b6" stroke="#333" stroke-width="2"/>'
        f'<text x="{box.x:g}" y="{box.y + 5:g}" text-anchor="middle" font-size="16">'
        f"{_svg_symbol(box.text)}</text></g>"
    )


_TIKZ_GLYPHS = {"σ": r"$\sigma$", "⊙": r"$\odot$", "+": "$+$", "1 −": "$1-$"}


def _tikz_glyph(text: str) -> str:
    if text in _TIKZ_GLYPHS:
        return _TIKZ_GLYPHS[text]
    if text.startswith("σ_"):
        return rf"$\sigma_{{\mathrm{{{_tex_name(text[2:])}}}}}$"
    return rf"$\mathrm{{{_tex_name(text)}}}$"


def _tex_name(text: str) -> str:
    return text.replace("_", "\\_")


def _latex_value(text: str) -> str:
    return {"⋮": r"$\vdots$"}.get(text, f"${text}$")


# -- the layout -----------------------------------------------------------------------------


def cell_diagram(
    cell: Cell,
    *,
    notation: str | Notation = "canonical",
    values: dict[str, tuple[str, ...]] | None = None,
    title: str | None = None,
) -> Diagram:
    """The drawing of a cell, its wires labelled with symbols and, where given, values.

    Parameters
    ----------
    cell
        The cell; its variant decides the drawing (peepholes, coupled or no forget gate,
        the gates' activations).
    notation
        Names of the symbols (``"spec"``: f_t, C̃_t, C_t; ``"canonical"``: f_t, g_t, c_t).
    values
        Quantity → its entries as decimal strings (:func:`step_values`); None draws
        symbols only.
    title
        The drawing's title (the SVG ``<title>``).

    >>> from symlstm.cell import Cell, Variant
    >>> d = cell_diagram(Cell("tied", Variant.parse("coupled")), notation="spec")
    >>> sorted(b.key for b in d.boxes if b.kind == "gate")
    ['g', 'i', 'o']
    >>> d.label("f").lines
    ('f_t',)

    Raises
    ------
    ArgumentError
        If ``cell`` is not a :class:`~symlstm.cell.Cell`.
    """
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    if values is not None and (
        not isinstance(values, dict)
        or not all(isinstance(k, str) and isinstance(v, tuple) for k, v in values.items())
    ):
        raise ArgumentError("values must be a mapping of quantity names to tuples of decimals")
    note = get_notation(notation)
    values = values or {}
    variant = cell.variant
    names = dict(note.text)
    c_name = names.get("c", "c_t")
    squash = variant.output_activation
    names["s"] = f"{squash}({c_name})"

    def label(q: str, x: float, y: float, side: str, symbol: str | None = None) -> Label:
        sym = symbol if symbol is not None else names.get(q, q)
        sym_tex = _symbol_latex(q, note, squash)
        shown = shown_lines(values[q]) if q in values else ()
        return Label(
            (sym, *shown),
            (sym_tex, *(_latex_value(v) for v in shown)),
            x,
            y,
            side,
        )

    forget = variant.forget_gate  # standard, coupled, none
    gates = [g for g in ("f", "i", "g", "o") if g in cell.gates_with_parameters]
    glyph = {
        "f": _ACTIVATION_GLYPH.get(variant.gate_activation, variant.gate_activation),
        "i": _ACTIVATION_GLYPH.get(variant.gate_activation, variant.gate_activation),
        "o": _ACTIVATION_GLYPH.get(variant.gate_activation, variant.gate_activation),
        "g": _ACTIVATION_GLYPH.get(variant.candidate_activation, variant.candidate_activation),
    }
    boxes = [Box(g, "gate", _X[g], _GATE_Y, _GATE_W, _GATE_H, glyph[g]) for g in gates]
    d = 2 * _NODE_R
    if forget != "none":
        boxes.append(Box("mul_f", "node", _X["f"], _TOP, d, d, "⊙"))
    boxes += [
        Box("plus", "node", _X["mix"], _TOP, d, d, "+"),
        Box("mul_i", "node", _X["mix"], 190, d, d, "⊙"),
        Box("squash", "oval", _X["out"], 150, 56, 28, glyph_of(squash)),
        Box("mul_o", "node", _X["out"], 240, d, d, "⊙"),
    ]
    r = _NODE_R
    top_gate = _GATE_Y - _GATE_H / 2
    wires: list[Wire] = []
    dots: list[tuple[float, float]] = []
    # the cell line
    first_stop = _X["f"] - r if forget != "none" else _X["mix"] - r
    wires.append(
        Wire(
            "c_prev", ((10, _TOP), (first_stop, _TOP)), "c_prev", label("c_prev", 70, _TOP, "above")
        )
    )
    if forget != "none":
        fc = f"{names.get('f', 'f')} ⊙ {names.get('c_prev', 'c')}"
        wires.append(
            Wire(
                "fc",
                ((_X["f"] + r, _TOP), (_X["mix"] - r, _TOP)),
                "fc",
                label("fc", (_X["f"] + _X["mix"]) / 2, _TOP, "above", fc),
            )
        )
    wires.append(
        Wire(
            "c",
            ((_X["mix"] + r, _TOP), (_RIGHT, _TOP)),
            "c",
            label("c", (_X["out"] + _RIGHT) / 2 + 5, _TOP, "above"),
        )
    )
    dots.append((_X["out"], _TOP))
    wires.append(Wire("c_squash", ((_X["out"], _TOP), (_X["out"], 150 - 14))))
    wires.append(
        Wire(
            "s",
            ((_X["out"], 150 + 14), (_X["out"], 240 - r)),
            "s",
            label("s", _X["out"], 200, "right"),
        )
    )
    wires.append(
        Wire(
            "h",
            ((_X["out"] + r, 240), (_RIGHT, 240)),
            "h",
            label("h", (_X["out"] + _RIGHT) / 2 + 5, 240, "below"),
        )
    )
    # the gates' outputs
    if forget == "standard":
        wires.append(
            Wire(
                "f",
                ((_X["f"], top_gate), (_X["f"], _TOP + r)),
                "f",
                label("f", _X["f"], 200, "right"),
            )
        )
    elif forget == "coupled":
        boxes.append(Box("one_minus", "op", _X["f"], 250, 36, 26, "1 −"))
        wires.append(Wire("i_to_f", ((_X["i"], 250), (_X["f"] + 18, 250))))
        dots.append((_X["i"], 250))
        wires.append(
            Wire(
                "f",
                ((_X["f"], 250 - 13), (_X["f"], _TOP + r)),
                "f",
                label("f", _X["f"], 165, "right"),
            )
        )
    wires.append(
        Wire(
            "i",
            ((_X["i"], top_gate), (_X["i"], 190), (_X["mix"] - r, 190)),
            "i",
            label("i", _X["i"], 240, "right"),
        )
    )
    wires.append(
        Wire(
            "g",
            ((_X["g"], top_gate), (_X["g"], 190), (_X["mix"] + r, 190)),
            "g",
            label("g", _X["g"], 240, "right"),
        )
    )
    ig = f"{names.get('i', 'i')} ⊙ {names.get('g', 'g')}"
    wires.append(
        Wire(
            "ig",
            ((_X["mix"], 190 - r), (_X["mix"], _TOP + r)),
            "ig",
            label("ig", _X["mix"], 135, "right", ig),
        )
    )
    wires.append(
        Wire(
            "o",
            ((_X["o"], top_gate), (_X["o"], 240), (_X["out"] - r, 240)),
            "o",
            label("o", (_X["o"] + _X["out"] - r) / 2 + 2, 240, "above"),
        )
    )
    # the inputs, and the bus to every gate
    bus_end = max(_X[g] for g in gates)
    wires.append(
        Wire(
            "h_prev",
            ((10, _BUS), (bus_end, _BUS)),
            "h_prev",
            label("h_prev", 75, _BUS, "above"),
            arrow=False,
        )
    )
    wires.append(
        Wire("x", ((60, HEIGHT - 5), (60, _BUS)), "x", label("x", 60, 418, "right"), arrow=False)
    )
    dots.append((60, _BUS))
    for g in gates:
        wires.append(Wire(f"to_{g}", ((_X[g], _BUS), (_X[g], _GATE_Y + _GATE_H / 2))))
        if _X[g] != bus_end:
            dots.append((_X[g], _BUS))
    # peepholes: c_{t-1} into i and f, c_t into o
    peep = cell.peephole_gates
    early = [g for g in ("f", "i") if g in peep]
    if early:
        drops = {"f": _X["f"] - 20, "i": _X["i"] - 20}
        far = max(drops[g] for g in early)
        dots.append((40, _TOP))
        wires.append(
            Wire("peep_c_prev", ((40, _TOP), (40, 130), (far, 130)), dashed=True, arrow=False)
        )
        for g in early:
            if drops[g] != far:
                dots.append((drops[g], 130))
            wires.append(
                Wire(
                    f"peep_{g}",
                    ((drops[g], 130), (drops[g], top_gate)),
                    f"p_{g}",
                    label(f"p_{g}", drops[g], 265, "left"),
                    dashed=True,
                )
            )
    if "o" in peep:
        x = _X["o"] - 15
        dots.append((x, _TOP))
        wires.append(
            Wire(
                "peep_o",
                ((x, _TOP), (x, top_gate)),
                "p_o",
                label("p_o", x, 120, "right"),
                dashed=True,
            )
        )
    return Diagram(
        tuple(boxes),
        tuple(wires),
        tuple(dots),
        title or f"LSTM cell ({variant.label()})",
        dict(values),
    )


def glyph_of(activation: str) -> str:
    """The text in an activation's block: σ for the logistic sigmoid, else its name."""
    return _ACTIVATION_GLYPH.get(activation, activation)


def _symbol_latex(q: str, note: Notation, squash: str) -> str:
    """A wire's symbol as LaTeX (in math mode)."""
    names = note.latex
    if q == "fc":
        return rf"${names.get('f', 'f')} \odot {names.get('c_prev', 'c')}$"
    if q == "ig":
        return rf"${names.get('i', 'i')} \odot {names.get('g', 'g')}$"
    if q == "s":
        act = r"\tanh" if squash == "tanh" else rf"\mathrm{{{_tex_name(squash)}}}"
        return rf"${act}({names.get('c', 'c_t')})$"
    return f"${names.get(q, q)}$"


def worked_diagram(worked: Any, step: int = 1) -> Diagram:
    """The cell of a worked example drawn with the values of one of its steps.

    Parameters
    ----------
    worked
        A :class:`~symlstm.render.worked.WorkedExample` (its notation names the wires).
    step
        Which step's values (from 1).

    >>> from symlstm.examples import load_example
    >>> from symlstm.render.worked import worked_example
    >>> worked_diagram(worked_example(load_example("seed-step"))).label("c").lines
    ('C_t', '0.451')

    Raises
    ------
    StepError
        If ``step`` is not one of the example's steps.
    """
    values = step_values(worked, step)
    example = worked.example
    name = example.title or example.name
    return cell_diagram(
        example.cell,
        notation=worked.notation,
        values=values,
        title=f"{name}: the cell at t = {step}",
    )
