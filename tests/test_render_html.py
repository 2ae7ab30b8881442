"""Web pages: MathML printing, worked examples, derivations, gradients, audits, validations."""

from __future__ import annotations

import contextlib
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import sympy

from symlstm.cell import Cell
from symlstm.claims.audit import audit
from symlstm.cli import main
from symlstm.errors import ArgumentError
from symlstm.examples import load_example
from symlstm.functions import sigmoid
from symlstm.render.derivation import derivation
from symlstm.render.html import audit_html, page, worked_html
from symlstm.render.mathml import LSTMMathMLPrinter, mathml, name_mathml
from symlstm.render.worked import worked_example
from symlstm.render.worked_lines import Shown


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


class _Checker(HTMLParser):
    """Collects tags, and whether anything loads from outside or runs script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)


def _parsed(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    return checker


# -- MathML ---------------------------------------------------------------------------------


def test_names_become_scripts():
    assert name_mathml("x_t") == "<msub><mi>x</mi><mi>t</mi></msub>"
    assert (
        name_mathml("z_f,t") == "<msub><mi>z</mi><mrow><mi>f</mi><mo>,</mo><mi>t</mi></mrow></msub>"
    )
    assert name_mathml("C̃_t").startswith('<msub><mover accent="true"><mi>C</mi><mo>~</mo>')
    assert name_mathml("tanh(C_t)").startswith("<mrow><mi>tanh</mi><mo>(</mo><msub>")


def test_shown_numbers_print_as_numbers():
    product = sympy.Mul(Shown("0.7"), Shown("-0.2"), evaluate=False)
    out = mathml(product)
    assert out == (
        "<mrow><mn>0.7</mn><mo>&#215;</mo><mrow><mo>(</mo><mrow><mo>&#8722;</mo>"
        "<mn>0.2</mn></mrow><mo>)</mo></mrow></mrow>"
    )
    assert mathml(sigmoid(Shown("0.49"))) == (
        "<mrow><mi>&#963;</mi><mrow><mo>(</mo><mrow><mn>0.49</mn></mrow><mo>)</mo></mrow></mrow>"
    )


def test_equations_keep_the_textbook_order_and_notation():
    eq = Cell("tied").equations(inline=True)[0]
    out = mathml(eq.rhs, notation="spec")
    w = out.index("<msub><mi>W</mi><mi>f</mi></msub>")
    h = out.index("<msub><mi>h</mi>")
    assert w < h  # W_f h_{t-1}, as the LaTeX has it
    vector = Cell("vector").equations(inline=True)[3]
    assert "&#8857;" in mathml(vector.rhs)  # ⊙
    printer = LSTMMathMLPrinter({"notation": "spec"})
    assert "<mo>" in printer.doprint(1 - Cell("tied").symbols["f"])


def test_derivation_has_no_plus_minus():
    html = derivation(Cell("vector")).html(standalone=False)
    assert "<mo>+</mo><mrow><mo>&#8722;" not in html and "<mo>+</mo><mo>&#8722;" not in html


# -- pages ----------------------------------------------------------------------------------


def test_worked_page_is_self_contained_with_math_diagram_and_table():
    worked = worked_example(load_example("seed-step"))
    html = worked.html()
    tags = _parsed(html)
    assert html.startswith("<!DOCTYPE html>") and 'name="viewport"' in html
    assert tags.external == [] and "script" not in tags.tags
    assert tags.tags.count("svg") == 1 and tags.tags.count("math") > 20
    assert "table" in tags.tags and "<mn>0.451</mn>" in html
    for value in ("0.62", "0.603", "0.336", "0.451", "0.652", "0.276"):
        assert f"<td>{value}</td>" in html
    assert "svg" not in _parsed(worked.html(diagram=False)).tags
    fragment = worked._repr_html_()
    assert fragment.startswith('<div class="symlstm">') and "<!DOCTYPE" not in fragment


def test_sequence_page_has_a_diagram_per_step_with_its_values():
    html = worked_html(worked_example(load_example("seed-sequence")))
    svgs = [s for s in re.findall(r"<svg.*?</svg>", html, re.S) if "lstm-diagram" in s]
    assert len(svgs) == 3 and len({re.search(r'id="([^"]+)"', s).group(1) for s in svgs}) == 3


def test_relations_carry_over():
    worked = worked_example(load_example("vector-demo"))
    html = worked.html()
    assert "<mo>≈</mo>" in html  # tanh(c) ≈ the rounded value, as the text has it
    assert "≈" in worked.text()


def test_html_refuses_other_objects():
    with pytest.raises(ArgumentError):
        worked_html("seed-step")
    with pytest.raises(ArgumentError):
        audit_html(None)
    with pytest.raises(ArgumentError):
        page(1, "")


def test_audit_page_colours_verdicts_with_a_legend():
    report = audit()
    html = report.html()
    assert html.count('<tr class="holds">') == 38 and html.count('<tr class="wrong">') == 1
    assert 'class="legend"' in html and "39 claims: 38 hold, 1 wrong." in html
    assert report._repr_html_().startswith('<div class="symlstm">')


def test_validation_report_displays_itself():
    from symlstm.validation import validate

    rng = np.random.default_rng(0)
    weights = {
        "weight_ih_l0": rng.normal(size=(8, 3)).astype(np.float32),
        "weight_hh_l0": rng.normal(size=(8, 2)).astype(np.float32),
        "bias_ih_l0": np.zeros(8, np.float32),
        "bias_hh_l0": np.zeros(8, np.float32),
    }
    x = rng.normal(size=(2, 1, 3)).astype(np.float32)
    y = np.zeros((2, 1, 2), np.float32)
    report = validate("torch", weights, {"x": x}, {"y": y}, diagnosis=False)
    html = report._repr_html_()
    assert '<tr class="fail">' in html and "Validation: torch layout, FAIL" in html
    assert report.html().startswith("<!DOCTYPE html>")


def test_a_network_validation_page_names_the_network_and_each_unit():
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    from symlstm.validation import check_torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    report = check_torch(lstm, torch.randn(5, 2, 3), grads=True)
    assert report.passed, report.text()
    html = report.html()
    _parsed(html)
    assert "layer None" not in html
    assert (
        "<p>torch layout, 2 layers, bidirectional, float32, textbook cell: T=5 batch=2 "
        "hidden=4 input=3 proj=2. Reference certified to 64 bits.</p>"
    ) in html
    assert "<p>Initial state: zeros (not given).</p>" in html
    worst = report.worst
    assert f"<p>Worst of all: {worst.name}, {worst.normwise_ulp:.3g} ULPs normwise" in html
    # A row per tensor of each unit, as in the text report: outputs, states, gradients.
    rows = re.findall(r'<tr class="pass"><td>([^<]+)</td>', html)
    assert rows == list(report.tensors) and len(rows) == 2 + 8 + 4 * 5 + 1
    assert {"h_T (layer 0, reverse)", "grad weight_hr_l1_reverse", "grad x"} <= set(rows)
    # The plot: a panel per direction of the output, one for the gradient of x.
    titles = re.findall(r'<g class="panel" data-title="([^"]+)"', html)
    assert titles == ["outputs (forward)", "outputs (reverse)", "gradients"]


def test_derivation_object_displays_itself():
    d = derivation(Cell("tied"), notation="spec")
    assert d.text() == _run("derive", "--kind", "tied")[1].rstrip("\n")
    assert d._repr_markdown_().startswith("**Forward**")
    html = d._repr_html_()
    assert ("<mfrac>" in html and "&#8721;" in html) or "∑" in html


@pytest.mark.parametrize(
    "argv",
    [
        ("example", "--format", "html"),
        ("example", "seed-sequence", "--format", "html", "--no-diagram"),
        ("derive", "--format", "html"),
        ("grad", "--format", "html"),
        ("grad", "vector-demo", "--format", "html"),
        ("audit", "--format", "html"),
    ],
)
def test_commands_write_pages(argv):
    status, out, err = _run(*argv)
    assert status in (0, 1) and err == ""
    tags = _parsed(out)
    assert out.startswith("<!DOCTYPE html>") and tags.external == []
    assert ("math" in tags.tags) is (argv[0] != "audit")  # an audit's table is text
    # The cell diagram unless --no-diagram; a sequence also has its plot along t.
    assert ("lstm-diagram" in out) is (argv[:2] == ("example", "--format"))
    assert ("sequence-plot" in out) is (argv[:2] == ("example", "seed-sequence"))


def test_html_option_errors_are_one_line():
    status, _, err = _run("example", "--format", "html", "--compact")
    assert status == 2 and err.count("\n") == 1
