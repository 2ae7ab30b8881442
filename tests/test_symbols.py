"""Notations: every quantity has a LaTeX and a text form; the spec's names are the spec's."""

from __future__ import annotations

import pytest

from symlstm.cell import Cell
from symlstm.errors import UnknownNameError
from symlstm.symbols import GATES, NOTATIONS, QUANTITIES, STATE, Notation, notation

STEP_NAMES = (*QUANTITIES, "x", "h_prev", "c_prev")


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("name", ["spec", "canonical"])
def test_every_quantity_has_latex_and_text(name):
    n = notation(name)
    for q in STEP_NAMES:
        assert n.latex[q], q
        assert n.text[q], q
        assert _balanced(n.latex[q]), n.latex[q]


@pytest.mark.parametrize("name", ["spec", "canonical"])
def test_quantities_are_written_one_to_one(name):
    n = notation(name)
    latex = [n.latex[q] for q in STEP_NAMES]
    text = [n.text[q] for q in STEP_NAMES]
    assert len(set(latex)) == len(latex)
    assert len(set(text)) == len(text)


def test_spec_notation_uses_the_spec_symbols():
    n = notation("spec")
    assert n.name == "spec"
    assert n.latex["g"] == r"\tilde{C}_{t}"
    assert n.latex["c"] == "C_{t}"
    assert n.latex["c_prev"] == "C_{t-1}"
    assert n.latex["f"] == "f_{t}"
    assert n.latex["i"] == "i_{t}"
    assert n.latex["o"] == "o_{t}"
    assert n.latex["h"] == "h_{t}"
    assert n.latex["h_prev"] == "h_{t-1}"
    assert n.latex["x"] == "x_{t}"
    assert n.text["g"] == "C̃_t"
    assert n.text["c"] == "C_t"
    # The spec's weight names: W_f … W_C (tied w written as W), b_C for the candidate.
    assert n.latex["w_f"] == "W_{f}"
    assert n.latex["w_g"] == "W_{C}"
    assert n.latex["b_g"] == "b_{C}"
    assert n.text["w_o"] == "W_o"


def test_canonical_notation_uses_canonical_letters():
    n = notation("canonical")
    for q in ("i", "f", "g", "c", "o", "h"):
        assert n.latex[q] == f"{q}_{{t}}"
        assert n.text[q] == f"{q}_t"
    assert n.latex["c_prev"] == "c_{t-1}"
    assert n.latex["z_g"] == "z_{g,t}"
    assert "C" not in n.latex["g"]


def test_with_names_overrides_only_what_it_names():
    base = notation("spec")
    n = base.with_names(latex={"x": r"\mathrm{word}_t"}, text={"h": "H"})
    assert isinstance(n, Notation)
    assert n.name == "spec"
    assert n.latex["x"] == r"\mathrm{word}_t"
    assert n.text["h"] == "H"
    # everything else unchanged
    for q in STEP_NAMES:
        if q != "x":
            assert n.latex[q] == base.latex[q]
        if q != "h":
            assert n.text[q] == base.text[q]
    # the built-in notation itself is not modified
    assert base.latex["x"] == "x_{t}"
    assert notation("spec").text["h"] == "h_t"


def test_with_names_adds_new_names_and_accepts_none():
    n = notation("canonical").with_names(latex={"W_i": r"\mathbf{W}_i"})
    assert n.latex["W_i"] == r"\mathbf{W}_i"
    same = notation("canonical").with_names()
    assert dict(same.latex) == dict(notation("canonical").latex)
    assert dict(same.text) == dict(notation("canonical").text)


def test_built_in_tables_are_read_only():
    with pytest.raises(TypeError):
        notation("spec").latex["g"] = "g"  # type: ignore[index]
    assert notation("spec").latex["g"] == r"\tilde{C}_{t}"


def test_notation_lookup():
    n = notation("spec")
    assert notation(n) is n
    assert set(NOTATIONS) == {"spec", "canonical"}
    with pytest.raises(UnknownNameError, match="unknown notation 'tex'; known: spec, canonical"):
        notation("tex")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("z_f", "pre-activation of the forget gate"),
        ("z_g", "pre-activation of the candidate"),
        ("i", "input gate"),
        ("g", "candidate"),
        ("c", "cell state"),
        ("h_prev", "previous hidden state"),
        ("W_i", "W_i"),
    ],
)
def test_describe(name, words):
    assert notation("canonical").describe(name) == words


def test_constants_match_the_textbook_cell():
    assert GATES == ("i", "f", "g", "o")
    assert STATE == (("h_prev", "h"), ("c_prev", "c"))
    assert Cell("tied").quantities == QUANTITIES
    assert set(Cell("vector", hidden_size=2, input_size=3).quantities) == set(QUANTITIES)
