"""The compact example view in every format, checked against the reference values."""

from __future__ import annotations

import json

import pytest

from symlstm.cell import Cell
from symlstm.errors import UnknownNameError
from symlstm.examples import load_example
from symlstm.render.summary import equation_block, summary, summary_data

from lstm_reference import SEED_STEP, rounded, scalar_trace


@pytest.fixture(scope="module")
def seed_step():
    ex = load_example("seed-step")
    return ex, ex.certify()


def test_text_lists_every_value(seed_step):
    ex, trace = seed_step
    out = summary(ex, trace).text()
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    for q in ("f", "i", "g", "c", "o", "s", "h"):
        assert f"= {rounded(ref[q], 2 if q == 'f' else 3):>6}" in out


def test_markdown_and_latex_tables(seed_step):
    ex, trace = seed_step
    md = summary(ex, trace).markdown()
    assert "| $h_{t}$ | 0.276 |" in md and md.count("$$") == 2
    tex = summary(ex, trace).latex()
    assert r"$\tilde{C}_{t}$ & $0.336$ \\" in tex and r"\begin{tabular}{lr}" in tex


def test_json_contract(seed_step):
    ex, trace = seed_step
    data = json.loads(summary(ex, trace).json())
    assert data == summary_data(ex, trace)
    assert set(data["steps"][0]["values"]) >= {"i", "f", "g", "c", "o", "h"}
    assert all(isinstance(v, str) for v in data["steps"][0]["values"].values())


def test_every_view_renders_by_its_methods(seed_step):
    ex, trace = seed_step
    view = summary(ex, trace)
    assert view.text() == summary(ex, trace).text() and view._repr_markdown_() == view.markdown()
    assert not hasattr(view, "html")  # a summary has no web page; the worked example has
    block = equation_block(Cell("tied"), notation="spec")
    assert block.text().splitlines()[0] == "f_t = σ(W_f·h_{t-1} + W_f·x_t + b_f)"
    assert block.latex().startswith("\\begin{align*}") and block.markdown().startswith("$$")
    with pytest.raises(UnknownNameError, match="notation"):
        equation_block(Cell("tied"), notation="klingon")


@pytest.fixture(scope="module")
def vector_demo():
    ex = load_example("vector-demo")
    return ex, ex.certify()


def test_vector_cells_in_every_format(vector_demo):
    ex, trace = vector_demo
    h1, g2 = trace.decimals[0]["h"], trace.decimals[1]["g"]
    assert len(h1) == 2 and any(v.startswith("-") for v in g2)  # the cells shown below
    out = summary(ex, trace).text()
    assert f"  h_t             =  ({h1[0]}, {h1[1]})" in out.splitlines()
    assert f"  g_t             = ({g2[0]}, {g2[1]})" in out.splitlines()
    md = summary(ex, trace).markdown()
    assert f"| $h_{{t}}$ | ({h1[0]}, {h1[1]}) |" in md
    assert f" | $({g2[0]}, {g2[1]})$ |" in md  # math, for the minus sign
    tex = summary(ex, trace).latex()
    assert f"$h_{{t}}$ & $({h1[0]}, {h1[1]})$ & " in tex
    assert f" & $({g2[0]}, {g2[1]})$ \\\\" in tex
    assert "'" not in out + md + tex  # no Python tuple reprs


def test_long_vectors_are_elided_in_latex_and_markdown(vector_demo):
    from dataclasses import replace

    ex, trace = vector_demo
    long = tuple(f"0.{k}" for k in range(1, 10))
    decimals = tuple({**row, "h": long} for row in trace.decimals)
    trace = replace(trace, decimals=decimals)
    assert "(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)" in summary(ex, trace).text()
    assert "| (0.1, 0.2, …, 0.8, 0.9) |" in summary(ex, trace).markdown()
    assert r"$(0.1, 0.2, \ldots, 0.8, 0.9)$" in summary(ex, trace).latex()


def test_summary_needs_an_example_and_a_certified_trace_of_its_cell():
    from symlstm.errors import ArgumentError, ParameterError

    example = load_example("seed-step")
    with pytest.raises(ArgumentError, match="example must be an Example, not str"):
        summary_data("seed-step", example.certify())
    with pytest.raises(ArgumentError, match="trace must be a Trace, not NoneType"):
        summary(example, None)
    with pytest.raises(ParameterError, match="no certified decimals"):
        summary(example, example.evaluate(method="interval"))
    other = load_example("vector-demo")
    with pytest.raises(ParameterError, match="another cell"):
        summary_data(example, other.certify())
    with pytest.raises(ArgumentError, match="cell must be a Cell, not str"):
        equation_block("tied")
