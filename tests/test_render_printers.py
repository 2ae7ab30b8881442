"""LaTeX and text printers: notation, term order, element-wise products, activations."""

from __future__ import annotations

import pytest
from sympy import Rational

from symlstm.cell import Cell
from symlstm.functions import sigmoid
from symlstm.render.printers import latex, text
from symlstm.symbols import notation


def test_spec_notation_matches_the_spec_section_4():
    eqs = [latex(eq, notation="spec") for eq in Cell("tied").equations(inline=True)]
    assert eqs == [
        r"f_{t} = \sigma\left(W_{f} h_{t-1} + W_{f} x_{t} + b_{f}\right)",
        r"i_{t} = \sigma\left(W_{i} h_{t-1} + W_{i} x_{t} + b_{i}\right)",
        r"\tilde{C}_{t} = \tanh\left(W_{C} h_{t-1} + W_{C} x_{t} + b_{C}\right)",
        r"C_{t} = f_{t} C_{t-1} + i_{t} \tilde{C}_{t}",
        r"o_{t} = \sigma\left(W_{o} h_{t-1} + W_{o} x_{t} + b_{o}\right)",
        r"h_{t} = o_{t} \tanh\left(C_{t}\right)",
    ]


def test_canonical_vector_notation():
    eqs = [latex(eq, notation="canonical") for eq in Cell("vector").equations(inline=True)]
    assert eqs[0] == r"f_{t} = \sigma\left(W_{f} x_{t} + U_{f} h_{t-1} + b_{f}\right)"
    assert eqs[3] == r"c_{t} = f_{t} \odot c_{t-1} + i_{t} \odot g_{t}"
    assert eqs[5] == r"h_{t} = o_{t} \odot \tanh\left(c_{t}\right)"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"peephole": True}, r"p_{o} \odot c_{t}"),
        ({"forget_gate": "coupled"}, r"\mathbf{1}"),
        ({"forget_bias": 1}, r"b_{f} + \mathbf{1}"),
        ({"gate_activation": "hard_sigmoid"}, r"\sigma_{\mathrm{hard}}\left("),
    ],
)
def test_variants_print(options, fragment):
    out = "\n".join(latex(eq) for eq in Cell("vector", **options).equations(inline=True))
    assert fragment in out


def test_text_printer_uses_unicode_and_custom_names():
    custom = notation("spec").with_names(text={"x": "word_t"})
    eq = Cell("tied").equations(inline=True)[0]
    assert text(eq, notation=custom) == "f_t = σ(W_f·h_{t-1} + W_f·word_t + b_f)"
    assert text(sigmoid(Rational(49, 100))) == "σ(49/100)"


def test_projected_cell_prints_its_projection():
    from symlstm.render.derivation import derivation
    from symlstm.render.summary import equation_block

    cell = Cell("vector", hidden_size=3, input_size=2, proj_size=2)
    assert equation_block(cell).text().splitlines()[-1] == "h_t = W_hr·(o_t ⊙ tanh(c_t))"
    assert equation_block(cell).latex().splitlines()[-2] == (
        r"h_{t} &= W_{hr} \left(o_{t} \odot \tanh\left(c_{t}\right)\right)"
    )
    backward = derivation(cell).text()
    assert "δm_t = W_hrᵀ·δh_t" in backward and "δW_hr = δh_t·m_tᵀ" in backward
    assert text(cell.equations()[-2], notation="canonical") == "m_t = o_t ⊙ s_t"


def test_relations_print_with_their_own_symbols():
    from sympy import And, Eq, Ge, Gt, Le, Lt, Ne, Or, Piecewise, Symbol

    z, y = Symbol("u"), Symbol("y")
    relations = [Eq(z, 1), Ne(z, 1), Le(z, 1), Lt(z, 1), Ge(z, 1), Gt(z, 1)]
    assert [text(r) for r in relations] == [
        "u = 1", "u ≠ 1", "u ≤ 1", "u < 1", "u ≥ 1", "u > 1",
    ]  # fmt: skip
    assert [latex(r) for r in relations] == [
        "u = 1", r"u \neq 1", r"u \leq 1", "u < 1", r"u \geq 1", "u > 1",
    ]  # fmt: skip
    assert text(Or(And(z > -1, z <= 1), Eq(y, 0))) == "y = 0 ∨ (u ≤ 1 ∧ u > -1)"
    piece = Piecewise((Rational(1, 5), (z > Rational(-5, 2)) & (z < Rational(5, 2))), (0, True))
    assert text(piece) == "{1/5 if u > -5/2 ∧ u < 5/2; 0 otherwise}"


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_hard_sigmoid_derivative_prints_its_inequalities(fmt):
    from symlstm.render.derivation import derivation

    out = getattr(derivation(Cell("vector", gate_activation="hard_sigmoid")), fmt)()
    if fmt == "text":
        assert "δz_o,t = δo_t ⊙ {1/5 if z_o,t > -5/2 ∧ z_o,t < 5/2; 0 otherwise}" in out
        assert " = -5/2" not in out and "Piecewise" not in out
    else:
        assert r"z_{o,t} > - \frac{5}{2} \wedge z_{o,t} < \frac{5}{2}" in out
