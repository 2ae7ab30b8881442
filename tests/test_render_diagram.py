"""The cell drawn: geometry as data, SVG and TikZ from it, variants, the command."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from symlstm.cell import Cell, Variant
from symlstm.cli import main
from symlstm.errors import StepError, UnknownNameError
from symlstm.examples import load_example
from symlstm.render.diagram import HEIGHT, WIDTH, cell_diagram, step_values, worked_diagram
from symlstm.render.document import compile_pdf
from symlstm.render.worked import worked_example

from lstm_reference import SEED_SEQUENCE, SEED_STEP, rounded, scalar_trace, vector_trace

#: The spec's six values (section 5) and the wire each belongs on.
SPEC_VALUES = {"f": "0.62", "i": "0.603", "g": "0.336", "c": "0.451", "o": "0.652", "h": "0.276"}
SVG = "{http://www.w3.org/2000/svg}"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def seed_step():
    return worked_diagram(worked_example(load_example("seed-step")))


def _near(label, wire) -> bool:
    """The label's box touches the wire's path within 8 units (it sits beside it)."""
    x0, y0, x1, y1 = label.bbox
    for (ax, ay), (bx, by) in zip(wire.points, wire.points[1:], strict=False):
        sx0, sx1, sy0, sy1 = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        if sx0 - 8 <= x1 and x0 <= sx1 + 8 and sy0 - 8 <= y1 and y0 <= sy1 + 8:
            return True
    return False


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_spec_values_are_on_their_wires(seed_step):
    for q, value in SPEC_VALUES.items():
        wire = seed_step.wire(q)
        assert wire.label.lines[1] == value, q
        assert _near(wire.label, wire), q
    assert seed_step.label("g").lines[0] == "C̃_t" and seed_step.label("c").lines[0] == "C_t"
    assert seed_step.label("c_prev").lines == ("C_{t-1}", "0.4")
    assert seed_step.label("h_prev").lines == ("h_{t-1}", "0.2")
    assert seed_step.label("x").lines == ("x_t", "0.5")
    assert seed_step.label("s").lines == ("tanh(C_t)", "0.423")


def _products(params, xs, h0, c0, places, *, hand=None):
    """f_t·C_{t-1} and i_t·C̃_t of every step, rounded to ``places``, computed by the
    independent reference (with ``hand``: hand calculation at those places)."""
    trace = scalar_trace(params, xs, h0, c0, hand_places=hand)
    return [
        {"fc": rounded(v["f"] * v["c_prev"], places), "ig": rounded(v["i"] * v["g"], places)}
        for v in trace
    ]


def test_the_products_carry_the_spec_values(seed_step):
    """Section 5: C_t = 0.62 × 0.4 + 0.603 × 0.336 = 0.248 + 0.203, on the wires out of
    the two ⊙ nodes of the cell line."""
    expected = _products(SEED_STEP, ["0.5"], "0.2", "0.4", 3)[0]
    assert expected == {"fc": "0.248", "ig": "0.203"}
    for q, value in expected.items():
        label = seed_step.label(q)
        assert label.lines[1:] == (value,), q
        assert _near(label, seed_step.wire(q)), q
    node = {b.key: b for b in seed_step.boxes}
    fc, ig = seed_step.wire("fc"), seed_step.wire("ig")
    assert fc.points[0][0] == node["mul_f"].bbox[2] and fc.points[-1][0] == node["plus"].bbox[0]
    assert ig.points[0][1] == node["mul_i"].bbox[1] and ig.points[-1][1] == node["plus"].bbox[3]
    assert seed_step.label("fc").lines[0] == "f_t ⊙ C_{t-1}"
    assert seed_step.label("ig").lines[0] == "i_t ⊙ C̃_t"


@pytest.mark.parametrize("mode", ["exact", "hand"])
def test_the_products_follow_the_worked_examples_mode(mode):
    """Each step's products are those the example's C_t line shows: in hand mode the
    products of the rounded gates, each rounded (the spec's way)."""
    example = load_example("seed-sequence")
    worked = worked_example(example, mode=mode)
    hand = {"default": 2} if mode == "hand" else None
    expected = _products(SEED_SEQUENCE, ["0.2", "0.4", "0.6"], "0", "0", 2, hand=hand)
    for t, products in enumerate(expected, start=1):
        d = worked_diagram(worked, t)
        got = {q: d.label(q).lines[1] for q in ("fc", "ig")}
        assert got == products, t
        line = next(s for s in worked.steps[t - 1] if s.quantity == "c").lines[-1]
        assert f"{got['fc']} + {got['ig']}" in str(line.chain[-2]), t  # as the C_t line shows


def test_the_products_in_tikz_and_svg(seed_step):
    tikz = seed_step.tikz()
    assert r"{$f_{t} \odot C_{t-1}$\\$0.248$}" in tikz
    assert r"{$i_{t} \odot \tilde{C}_{t}$\\$0.203$}" in tikz
    root = ET.fromstring(seed_step.svg())
    groups = {g.get("data-quantity"): g for g in root.iter(f"{SVG}g") if g.get("class") == "label"}
    for q, value in (("fc", "0.248"), ("ig", "0.203")):
        assert [t.text for t in groups[q].iter(f"{SVG}text") if t.get("class") == "value"] == [
            value
        ]


def _vector_reference(example):
    """The vector example along its sequence by tests/lstm_reference.py (mpmath, 50 digits)."""
    params = {
        k: [[str(x) for x in row] if isinstance(row, tuple) else str(row) for row in v]
        for k, v in example.parameters.items()
    }
    xs = [[str(x) for x in x_t] for x_t in example.inputs]
    return vector_trace(params, xs, [str(x) for x in example.h0], [str(x) for x in example.c0])


@pytest.mark.parametrize("mode", ["exact", "hand"])
def test_vector_products_are_computed_entry_by_entry(mode):
    """A vector worked example writes its update as one vector, without the products; the
    drawing computes them: the exact products correctly rounded to C_t's places, or in hand
    mode the products of the rounded gates shown, rounded. Checked against the independent
    mpmath reference at every step."""
    example = load_example("vector-demo")
    worked = worked_example(example, mode=mode)
    places = example.places("c")
    ref = _vector_reference(example)
    for t, v in enumerate(ref, start=1):
        d = worked_diagram(worked, t)
        if mode == "exact":
            fc = [rounded(f * c, places) for f, c in zip(v["f"], v["c_prev"], strict=True)]
            ig = [rounded(i * g, places) for i, g in zip(v["i"], v["g"], strict=True)]
        else:  # the products of what the example shows, each rounded
            shown = {q: [Decimal(rounded(x, places)) for x in v[q]] for q in ("f", "i", "g")}
            if t == 1:
                c_prev = [Decimal(int(x.p)) / Decimal(int(x.q)) for x in example.c0]
            else:
                c_prev = [Decimal(rounded(x, places)) for x in ref[t - 2]["c"]]
            fc = [rounded(f * c, places) for f, c in zip(shown["f"], c_prev, strict=True)]
            ig = [rounded(i * g, places) for i, g in zip(shown["i"], shown["g"], strict=True)]
        assert d.label("fc").lines == ("f_t ⊙ c_{t-1}", *fc), t
        assert d.label("ig").lines == ("i_t ⊙ g_t", *ig), t
    first = worked_diagram(worked_example(example), 1)
    assert first.label("fc").lines[1:] == ("0.155", "0.000")  # c_{t-1}[1] is exactly 0
    # The worked example's own trace decides them; without it, or with a trace too coarse
    # to decide them (8 bits), the example is evaluated again at more bits: the same labels.
    for trace in (None, example.evaluate(method="interval", prec=8)):
        again = worked_diagram(dataclasses.replace(worked_example(example), exact_trace=trace), 1)
        assert again.label("fc").lines == first.label("fc").lines
        assert again.label("ig").lines == first.label("ig").lines


def test_the_forget_value_sits_on_the_forget_gates_output(seed_step):
    f = seed_step.wire("f")
    gate = next(b for b in seed_step.boxes if b.key == "f")
    node = next(b for b in seed_step.boxes if b.key == "mul_f")
    assert f.points[0][1] == gate.bbox[1] and f.points[-1][1] == node.bbox[3]  # gate → ⊙


def test_svg_has_the_values_in_text_on_the_right_wires(seed_step):
    root = ET.fromstring(seed_step.svg())
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    groups = {g.get("data-quantity"): g for g in root.iter(f"{SVG}g") if g.get("class") == "label"}
    for q, value in SPEC_VALUES.items():
        values = [t.text for t in groups[q].iter(f"{SVG}text") if t.get("class") == "value"]
        assert values == [value], q
        rect = groups[q].find(f"{SVG}rect")
        x, y = float(rect.get("x")), float(rect.get("y"))
        assert _near_point(
            seed_step.wire(q), x, y, float(rect.get("width")), float(rect.get("height"))
        )


def _near_point(wire, x, y, w, h) -> bool:
    class Box:
        bbox = (x, y, x + w, y + h)

    return _near(Box, wire)


@pytest.mark.parametrize("name, step", [("seed-step", 1), ("seed-sequence", 3), ("vector-demo", 2)])
def test_labels_stay_inside_and_apart(name, step):
    d = worked_diagram(worked_example(load_example(name)), step)
    boxes = [label.bbox for label in d.labels]
    for x0, y0, x1, y1 in boxes:
        assert x0 >= 0 and x1 <= WIDTH and y0 >= 0 and y1 <= HEIGHT
    for k, a in enumerate(boxes):
        for b in boxes[k + 1 :]:
            assert not _overlap(a, b), (a, b)
        for box in d.boxes:
            assert not _overlap(a, box.bbox), (a, box.key)


def test_vector_values_are_short_columns():
    worked = worked_example(load_example("vector-demo"))
    d = worked_diagram(worked, 1)
    assert d.label("f").lines == ("f_t", "0.777", "0.703")
    assert d.label("x").lines == ("x_t", "1", "0.5", "-1")
    values = step_values(worked, 2)
    assert values["h_prev"] == ("0.150", "0.115")  # step 1's h
    long = cell_diagram(Cell("vector"), values={"h": tuple(str(k) for k in range(8))})
    assert long.label("h").lines == ("h_t", "0", "⋮", "7")


@pytest.mark.parametrize(
    "variant, gates, peepholes, forget_node",
    [
        ("", {"f", "i", "g", "o"}, set(), True),
        ("peephole", {"f", "i", "g", "o"}, {"p_f", "p_i", "p_o"}, True),
        ("coupled", {"i", "g", "o"}, set(), True),
        ("no-forget", {"i", "g", "o"}, set(), False),
        ("peephole,coupled", {"i", "g", "o"}, {"p_i", "p_o"}, True),
    ],
)
def test_variants_change_the_drawing(variant, gates, peepholes, forget_node):
    d = cell_diagram(Cell("tied", Variant.parse(variant)), notation="spec")
    assert {b.key for b in d.boxes if b.kind == "gate"} == gates
    assert {w.quantity for w in d.wires if w.dashed and w.quantity} == peepholes
    assert any(b.key == "mul_f" for b in d.boxes) is forget_node
    assert any(b.key == "one_minus" for b in d.boxes) is (variant.endswith("coupled"))
    if variant == "no-forget":
        with pytest.raises(UnknownNameError):
            d.wire("f")
    ET.fromstring(d.svg())  # well-formed


def test_gate_activations_are_drawn():
    d = cell_diagram(Cell("tied", Variant.parse("gate=hard_sigmoid")))
    assert {b.text for b in d.boxes if b.kind == "gate"} == {"σ_hard", "tanh"}


def test_bad_steps_raise():
    worked = worked_example(load_example("seed-sequence"))
    with pytest.raises(StepError, match=r"outside the example's steps 1\.\.3"):
        worked_diagram(worked, 4)
    with pytest.raises(UnknownNameError):
        worked_diagram(worked, 1).render("png")


def test_command_svg_and_tikz(tmp_path):
    status, out, _ = _run("diagram", "seed-step")
    assert status == 0 and out.startswith("<svg")
    for value in [*SPEC_VALUES.values(), "0.248", "0.203"]:
        assert f">{value}</text>" in out
    status, out, _ = _run("diagram", "--format", "tikz")
    assert status == 0 and out.startswith(r"\begin{tikzpicture}")
    for value in [*SPEC_VALUES.values(), "0.248", "0.203"]:
        assert f"${value}$" in out
    target = tmp_path / "d.svg"
    assert _run("diagram", "seed-sequence", "--step", "2", "-o", str(target))[0] == 0
    ET.parse(target)
    status, out, _ = _run("diagram", "--variant", "peephole,coupled")
    assert status == 0 and "stroke-dasharray" in out and "1 −" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (("diagram", "seed-sequence", "--step", "4"), "step 4 is outside"),
        (("diagram", "--step", "0"), "must be 1 or more"),
        (("diagram", "--format", "png"), "invalid choice: 'png'"),
    ],
)
def test_command_bad_input_is_one_line(argv, message):
    status, out, err = _run(*argv)
    assert status == 2 and out == "" and message in err and err.count("\n") == 1


needs_tikz = pytest.mark.skipif(
    (shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None) and not _in_ci(),
    reason="pdflatex with TikZ not installed: apt-get install texlive-latex-base "
    "texlive-pictures latexmk",
)


@needs_tikz
@pytest.mark.parametrize("name", ["seed-step", "vector-demo"])
def test_latex_with_the_figure_compiles_without_overfull_boxes(tmp_path, name):
    worked = worked_example(load_example(name))
    source = worked.latex(standalone=True, diagram=True)
    assert source.count(r"\begin{tikzpicture}") == len(worked.steps)
    assert r"\usepackage{tikz}" in source
    assert r"\usepackage{tikz}" not in worked.latex(standalone=True)  # opt-in
    compile_pdf(source, tmp_path, jobname="doc")
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert [w for w in widths if w > 1] == []


@needs_tikz
def test_command_latex_diagram_option_compiles(tmp_path):
    status, out, _ = _run("example", "--format", "latex", "--standalone", "--diagram")
    assert status == 0 and r"\begin{tikzpicture}" in out
    assert compile_pdf(out, tmp_path, jobname="cli").exists()
    assert _run("example", "--diagram")[0] == 2  # --diagram needs latex
