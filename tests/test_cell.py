"""The cell's SymPy equations against the LSTM written out by hand, for every kind and variant."""

from __future__ import annotations

import random

import mpmath
import numpy as np
import pytest
import sympy
from sympy import Rational, diff, simplify

from symlstm.cell import FORGET_GATES, KINDS, Assignment, Cell, Variant
from symlstm.errors import ParameterError, UnknownNameError
from symlstm.functions import sigmoid

from lstm_reference import (
    STATE_NAMES,
    VARIANTS,
    activation_prime,
    has_forget_gate,
    scalar_trace,
    vector_trace,
)

KIND_ARGS = {
    "tied": {},
    "scalar": {},
    "vector": {"hidden_size": 2, "input_size": 3},
}
H, M = 2, 3  # the vector cell's sizes
DPS = 50
TOL = mpmath.mpf(10) ** -45


# -- random values, and one step of the shared reference (lstm_reference.py) ----------------


def _values(cell: Cell, seed: int) -> dict:
    """Exact random values (tenths in -0.9..0.9) for every parameter and step input, by name."""
    rng = random.Random(seed)

    def num():
        return Rational(rng.randint(-9, 9), 10)

    out = {}
    for name in [*cell.parameters, "x", "h_prev", "c_prev"]:
        shape = cell.shape(name)
        if shape == ():
            out[name] = num()
        elif len(shape) == 1:
            out[name] = [num() for _ in range(shape[0])]
        else:
            out[name] = [[num() for _ in range(shape[1])] for _ in range(shape[0])]
    return out


def _mp(v):
    if isinstance(v, list):
        return [_mp(e) for e in v]
    return mpmath.mpf(v.p) / v.q


def _step_args(vals):
    """The parameters, x, h_prev and c_prev of one step as mpf."""
    v = {k: _mp(val) for k, val in vals.items()}
    params = {k: val for k, val in v.items() if k not in STATE_NAMES}
    return params, [v["x"]], v["h_prev"], v["c_prev"]


def reference_scalar(kind, opts, vals):
    """One step of a tied or scalar cell, by hand in mpmath; returns every quantity."""
    params, xs, h_prev, c_prev = _step_args(vals)
    return scalar_trace(params, xs, h_prev, c_prev, kind=kind, variant=opts, dps=DPS + 10)[0]


def reference_vector(opts, vals):
    """One step of the vector cell with explicit loops over rows and columns."""
    params, xs, h_prev, c_prev = _step_args(vals)
    return vector_trace(params, xs, h_prev, c_prev, variant=opts, dps=DPS + 10)[0]


# -- substituting numbers into the cell's equations --------------------------------------------


def _env(cell: Cell, vals: dict) -> dict:
    env = {}
    for name, value in vals.items():
        sym = cell.parameters.get(name, cell.symbols.get(name))
        if not cell.is_vector:
            env[sym] = value
        elif isinstance(value[0], list):
            for r, row in enumerate(value):
                for j, e in enumerate(row):
                    env[sym[r, j]] = e
        else:
            for r, e in enumerate(value):
                env[sym[r, 0]] = e
    return env


def _substitute(cell: Cell, equations, vals: dict) -> dict:
    """Evaluate the equations in order, each with the values found so far, at DPS digits."""
    env = _env(cell, vals)
    out = {}
    for eq in equations:
        name = str(eq.lhs)
        if cell.is_vector:
            rhs = eq.rhs.as_explicit()
            got = []
            for r in range(H):
                value = rhs[r, 0].xreplace(env).evalf(DPS + 10)
                env[eq.lhs[r, 0]] = value
                got.append(mpmath.mpf(str(value)))
            out[name] = got
        else:
            value = eq.rhs.xreplace(env).evalf(DPS + 10)
            env[eq.lhs] = value
            out[name] = mpmath.mpf(str(value))
    return out


def _close(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(p, q) for p, q in zip(a, b, strict=True))
    return abs(a - b) <= TOL


CASES = [(kind, variant) for kind in KINDS for variant in VARIANTS]


@pytest.mark.parametrize(("kind", "variant"), CASES)
@pytest.mark.parametrize("inline", [False, True])
def test_equations_substitute_to_the_hand_written_step(kind, variant, inline):
    opts = VARIANTS[variant]
    cell = Cell(kind, **KIND_ARGS[kind], **opts)
    vals = _values(cell, seed=sum(map(ord, kind + variant)))
    with mpmath.workdps(DPS + 10):
        got = _substitute(cell, cell.equations(inline=inline), vals)
        ref = (
            reference_vector(opts, vals) if kind == "vector" else reference_scalar(kind, opts, vals)
        )
    expected_names = {"i", "f", "g", "c", "o", "h"}
    if not inline:
        expected_names |= {"z_i", "z_g", "z_o", "s"} | ({"z_f"} if has_forget_gate(opts) else set())
    assert set(got) == expected_names
    for name in got:
        assert _close(got[name], ref[name]), (name, got[name], ref[name])


@pytest.mark.parametrize("kind", ["tied", "scalar"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gate_derivatives_match_hand_derived_ones(kind, variant):
    """d(gate)/d(parameter) from the inline equations, against act'(z) times the right factor."""
    opts = VARIANTS[variant]
    cell = Cell(kind, **opts)
    vals = _values(cell, seed=7 + len(variant))
    env = _env(cell, vals)
    eqs = {str(eq.lhs): eq.rhs for eq in cell.equations(inline=True)}
    gates = ["i", "g", "o"] + (["f"] if has_forget_gate(opts) else [])
    with mpmath.workdps(DPS + 10):
        ref = reference_scalar(kind, opts, vals)
        factor = {
            "w": _mp(vals["h_prev"]) + _mp(vals["x"]),
            "W": _mp(vals["x"]),
            "U": _mp(vals["h_prev"]),
            "b": mpmath.mpf(1),
        }
        # c is a symbol in the inline o equation: substitute the true c for it.
        env[cell.symbols["c"]] = Rational(str(mpmath.nstr(ref["c"], DPS + 5)))
        for k in gates:
            if k == "g":
                act_prime = activation_prime(opts.get("candidate_activation", "tanh"), ref["z_g"])
            else:
                act_prime = activation_prime(opts.get("gate_activation", "sigmoid"), ref[f"z_{k}"])
            for pname, psym in cell.parameters.items():
                d = diff(eqs[k], psym)
                if pname.endswith(f"_{k}"):
                    letter = pname.split("_")[0]
                    if letter == "p":
                        state = _mp(vals["c_prev"]) if k != "o" else ref["c"]
                        expected = act_prime * state
                    else:
                        expected = act_prime * factor[letter]
                    got = mpmath.mpf(str(d.xreplace(env).evalf(DPS)))
                    assert abs(got - expected) <= mpmath.mpf(10) ** -40, (k, pname)
                else:
                    assert d == 0, (k, pname, d)


def test_tied_forget_gate_derivative_symbolically():
    cell = Cell("tied")
    p, s = cell.parameters, cell.symbols
    f_rhs = cell.equations(inline=True)[0].rhs
    z = p["w_f"] * s["h_prev"] + p["w_f"] * s["x"] + p["b_f"]
    expected = sigmoid(z) * (1 - sigmoid(z)) * (s["h_prev"] + s["x"])
    assert simplify(diff(f_rhs, p["w_f"]) - expected) == 0
    assert simplify(diff(f_rhs, p["b_f"]) - sigmoid(z) * (1 - sigmoid(z))) == 0
    assert diff(f_rhs, p["w_i"]) == 0


def test_scalar_forget_gate_derivative_with_peephole_and_bias():
    cell = Cell("scalar", peephole=True, forget_bias="0.5")
    p, s = cell.parameters, cell.symbols
    f_rhs = next(eq.rhs for eq in cell.equations(inline=True) if eq.lhs == s["f"])
    z = p["W_f"] * s["x"] + p["U_f"] * s["h_prev"] + p["b_f"] + p["p_f"] * s["c_prev"]
    z = z + Rational(1, 2)
    sp = sigmoid(z) * (1 - sigmoid(z))
    assert simplify(diff(f_rhs, p["W_f"]) - sp * s["x"]) == 0
    assert simplify(diff(f_rhs, p["U_f"]) - sp * s["h_prev"]) == 0
    assert simplify(diff(f_rhs, p["p_f"]) - sp * s["c_prev"]) == 0
    assert simplify(diff(f_rhs, s["c_prev"]) - sp * p["p_f"]) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_state_equations_differentiate(kind):
    cell = Cell(kind, **KIND_ARGS[kind])
    s = cell.symbols
    eqs = {str(eq.lhs): eq.rhs for eq in cell.equations(inline=True)}
    if cell.is_vector:
        c_rhs, h_rhs = eqs["c"].as_explicit(), eqs["h"].as_explicit()
        for r in range(H):
            sym = {k: s[k][r, 0] for k in ("f", "i", "g", "c_prev", "o", "c")}
            assert diff(c_rhs[r, 0], sym["c_prev"]) == sym["f"]
            assert diff(c_rhs[r, 0], sym["i"]) == sym["g"]
            assert diff(c_rhs[r, 0], s["f"][1 - r, 0]) == 0
            assert diff(h_rhs[r, 0], sym["o"]) == sympy.tanh(sym["c"])
        return
    assert diff(eqs["c"], s["c_prev"]) == s["f"]
    assert diff(eqs["c"], s["f"]) == s["c_prev"]
    assert diff(eqs["c"], s["i"]) == s["g"]
    assert diff(eqs["c"], s["g"]) == s["i"]
    assert diff(eqs["h"], s["o"]) == sympy.tanh(s["c"])
    assert simplify(diff(eqs["h"], s["c"]) - s["o"] * (1 - sympy.tanh(s["c"]) ** 2)) == 0


@pytest.mark.parametrize("variant", ["textbook", "peephole", "forget-bias"])
def test_vector_gate_derivatives_element_by_element(variant):
    opts = VARIANTS[variant]
    cell = Cell("vector", hidden_size=H, input_size=M, **opts)
    vals = _values(cell, seed=11)
    env = _env(cell, vals)
    p = cell.parameters
    f_rhs = next(eq.rhs for eq in cell.equations(inline=True) if str(eq.lhs) == "f")
    f_rhs = f_rhs.as_explicit()
    with mpmath.workdps(DPS + 10):
        ref = reference_vector(opts, vals)
        x, h, c_prev = _mp(vals["x"]), _mp(vals["h_prev"]), _mp(vals["c_prev"])
        for r in range(H):
            sp = activation_prime(opts.get("gate_activation", "sigmoid"), ref["z_f"][r])
            expected = {("b_f", r, 0): sp}
            expected.update({("W_f", r, j): sp * x[j] for j in range(M)})
            expected.update({("U_f", r, j): sp * h[j] for j in range(H)})
            if opts.get("peephole"):
                expected[("p_f", r, 0)] = sp * c_prev[r]
            for (name, row, col), want in expected.items():
                d = diff(f_rhs[r, 0], p[name][row, col])
                got = mpmath.mpf(str(d.xreplace(env).evalf(DPS)))
                assert abs(got - want) <= mpmath.mpf(10) ** -40, (name, row, col)
            # weights of the other row, and of other gates, do not enter row r of f
            assert diff(f_rhs[r, 0], p["W_f"][1 - r, 0]) == 0
            assert diff(f_rhs[r, 0], p["b_f"][1 - r, 0]) == 0
            assert diff(f_rhs[r, 0], p["W_i"][r, 0]) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_coupled_and_absent_forget_gates(kind):
    coupled = Cell(kind, **KIND_ARGS[kind], forget_gate="coupled")
    none = Cell(kind, **KIND_ARGS[kind], forget_gate="none")
    f_c = next(eq.rhs for eq in coupled.equations() if str(eq.lhs) == "f")
    f_n = next(eq.rhs for eq in none.equations() if str(eq.lhs) == "f")
    if kind == "vector":
        f_c, f_n = f_c.as_explicit(), f_n.as_explicit()
        for r in range(H):
            assert diff(f_c[r, 0], coupled.symbols["i"][r, 0]) == -1
            assert f_c[r, 0].subs(coupled.symbols["i"][r, 0], Rational(1, 4)) == Rational(3, 4)
            assert f_n[r, 0] == 1
    else:
        assert diff(f_c, coupled.symbols["i"]) == -1
        assert f_c.subs(coupled.symbols["i"], Rational(1, 4)) == Rational(3, 4)
        assert f_n == 1


# -- parameters, quantities, shapes --------------------------------------------------------------


def _expected_parameters(kind, opts):
    gates = ["i", "f", "g", "o"] if has_forget_gate(opts) else ["i", "g", "o"]
    names = []
    for k in gates:
        names += [f"w_{k}"] if kind == "tied" else [f"W_{k}", f"U_{k}"]
        names.append(f"b_{k}")
    if opts.get("peephole"):
        names += [f"p_{k}" for k in ("i", "f", "o") if k in gates]
    return names


@pytest.mark.parametrize(("kind", "variant"), CASES)
def test_parameters_per_variant(kind, variant):
    opts = VARIANTS[variant]
    cell = Cell(kind, **KIND_ARGS[kind], **opts)
    assert list(cell.parameters) == _expected_parameters(kind, opts)
    if not has_forget_gate(opts):
        assert not any(name.endswith("_f") for name in cell.parameters)
    for name, sym in cell.parameters.items():
        assert str(sym) == name


def test_peephole_parameters_spelled_out():
    assert set(Cell("tied", peephole=True).parameters) == {
        "w_i", "b_i", "w_f", "b_f", "w_g", "b_g", "w_o", "b_o", "p_i", "p_f", "p_o",
    }  # fmt: skip
    assert set(Cell("scalar", peephole=True, forget_gate="coupled").parameters) == {
        "W_i", "U_i", "b_i", "W_g", "U_g", "b_g", "W_o", "U_o", "b_o", "p_i", "p_o",
    }  # fmt: skip
    assert set(Cell("tied", forget_gate="none").parameters) == {
        "w_i", "b_i", "w_g", "b_g", "w_o", "b_o",
    }  # fmt: skip


def test_vector_shapes():
    cell = Cell("vector", hidden_size=2, input_size=3, peephole=True)
    for k in ("i", "f", "g", "o"):
        assert cell.shape(f"W_{k}") == (2, 3)
        assert cell.shape(f"U_{k}") == (2, 2)
        assert cell.shape(f"b_{k}") == (2,)
        assert cell.parameters[f"W_{k}"].shape == (2, 3)
    for k in ("i", "f", "o"):
        assert cell.shape(f"p_{k}") == (2,)
    assert cell.shape("x") == (3,)
    assert cell.shape("h_prev") == (2,)
    assert cell.shape("c") == (2,)
    assert Cell("tied").shape("w_f") == ()
    assert Cell("scalar").shape("x") == ()
    with pytest.raises(UnknownNameError, match="'w_f' is not a name of this vector cell"):
        cell.shape("w_f")


def test_projected_vector_cell_shapes_and_equations():
    # PyTorch's proj_size: m = o ⊙ tanh(c) (n), h = W_hr m (p), U_k (n × p).
    cell = Cell("vector", hidden_size=3, input_size=2, proj_size=2, peephole=True)
    assert cell.projected and not Cell("vector", hidden_size=3, input_size=2).projected
    assert cell.shape("W_hr") == (2, 3) and list(cell.parameters)[-1] == "W_hr"
    for k in "ifgo":
        assert cell.shape(f"W_{k}") == (3, 2) and cell.shape(f"U_{k}") == (3, 2)
    assert cell.shape("h") == cell.shape("h_prev") == (2,)
    assert cell.shape("c") == cell.shape("c_prev") == cell.shape("m") == (3,)
    assert cell.quantities[-3:] == ("s", "m", "h")
    eqs = {str(eq.lhs): eq.rhs for eq in cell.equations()}
    s = cell.symbols
    assert eqs["m"] == sympy.HadamardProduct(s["o"], s["s"])
    assert eqs["h"] == sympy.MatMul(cell.parameters["W_hr"], s["m"])
    inline = cell.equations(inline=True)
    assert [str(eq.lhs) for eq in inline] == ["f", "i", "g", "c", "o", "h"]
    assert inline[-1].rhs.has(sympy.HadamardProduct) and not inline[-1].rhs.has(s["m"], s["s"])
    program = cell.program()
    assert sum(a.quantity == "h" for a in program) == 2
    assert sum(a.quantity == "m" for a in program) == 3
    assert "proj_size=2" in repr(cell)
    symbolic = Cell("vector", proj_size=2)
    assert symbolic.parameters["W_hr"].shape == (2, sympy.Symbol("n", integer=True))


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("scalar", {"proj_size": 1}, "a scalar cell has no projection"),
        ("tied", {"proj_size": 2}, "a tied cell has no projection"),
        ("vector", {"proj_size": 0}, "proj_size must be a positive integer, not 0"),
        ("vector", {"proj_size": True}, "proj_size must be a positive integer"),
    ],
)
def test_projection_errors(kind, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Cell(kind, **kwargs)


def test_unsized_vector_cell_is_symbolic_only():
    cell = Cell("vector")
    n, m = sympy.Symbol("n", integer=True), sympy.Symbol("m", integer=True)
    assert cell.parameters["W_i"].shape == (n, m)
    assert cell.parameters["U_i"].shape == (n, n)
    assert not cell.sized
    assert len(cell.equations(inline=True)) == 6
    with pytest.raises(ParameterError, match="give hidden_size and input_size"):
        cell.program()


@pytest.mark.parametrize(
    ("opts", "order"),
    [
        ({}, ("z_f", "f", "z_i", "i", "z_g", "g", "c", "z_o", "o", "s", "h")),
        (
            {"forget_gate": "coupled"},
            ("z_i", "i", "f", "z_g", "g", "c", "z_o", "o", "s", "h"),
        ),
        ({"forget_gate": "none"}, ("z_i", "i", "f", "z_g", "g", "c", "z_o", "o", "s", "h")),
    ],
)
def test_quantities_order_and_equation_left_sides(opts, order):
    cell = Cell("scalar", **opts)
    assert cell.quantities == order
    assert tuple(str(eq.lhs) for eq in cell.equations()) == order
    inline = ["f", "i"] if not opts else ["i", "f"]
    assert [str(eq.lhs) for eq in cell.equations(inline=True)] == [*inline, "g", "c", "o", "h"]


def test_preactivation_of_a_gate_without_weights():
    with pytest.raises(UnknownNameError, match="gate 'f' has no pre-activation"):
        Cell("tied", forget_gate="coupled").preactivation("f")
    with pytest.raises(UnknownNameError, match="gate 'c' has no pre-activation"):
        Cell("tied").preactivation("c")


def test_program_scalar_is_the_equations():
    cell = Cell("tied", peephole=True)
    prog = cell.program()
    eqs = cell.equations()
    assert [a.quantity for a in prog] == list(cell.quantities)
    for a, eq in zip(prog, eqs, strict=True):
        assert isinstance(a, Assignment)
        assert a.index is None
        assert a.target == eq.lhs
        assert a.expr == eq.rhs


def test_program_vector_is_component_by_component():
    cell = Cell("vector", hidden_size=2, input_size=3)
    prog = cell.program()
    assert len(prog) == 2 * len(cell.quantities)
    assert [a.quantity for a in prog[:4]] == ["z_f", "z_f", "f", "f"]
    assert [a.index for a in prog[:4]] == [0, 1, 0, 1]
    assert prog[1].target == cell.symbols["z_f"][1, 0]
    W, x = cell.parameters["W_f"], cell.symbols["x"]
    # z_f row 1 contains W_f[1, j] x[j] for every j and no row-0 weight
    for j in range(3):
        assert diff(prog[1].expr, W[1, j]) == x[j, 0]
        assert diff(prog[1].expr, W[0, j]) == 0


# -- Variant ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Variant()),
        ("peephole", Variant(peephole=True)),
        ("coupled", Variant(forget_gate="coupled")),
        ("no-forget", Variant(forget_gate="none")),
        ("standard", Variant(forget_gate="standard")),
        ("forget-bias=1", Variant(forget_bias=1)),
        ("forget-bias=0.5", Variant(forget_bias=Rational(1, 2))),
        ("gate=hard_sigmoid", Variant(gate_activation="hard_sigmoid")),
        ("candidate=softsign", Variant(candidate_activation="softsign")),
        ("output=softsign", Variant(output_activation="softsign")),
        (
            " peephole , coupled,gate=hard_sigmoid_relu6 ",
            Variant(peephole=True, forget_gate="coupled", gate_activation="hard_sigmoid_relu6"),
        ),
    ],
)
def test_variant_parse(text, expected):
    assert Variant.parse(text) == expected


def test_variant_parse_values_are_exact():
    v = Variant.parse("forget-bias=0.1")
    assert v.forget_bias == Rational(1, 10)
    assert isinstance(v.forget_bias, sympy.Rational)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("peepholes", "unknown variant 'peepholes'"),
        ("gate", "unknown variant 'gate'"),
        ("peephole=yes", "unknown variant 'peephole=yes'"),
        ("bias=1", "unknown variant 'bias=1'"),
        ("coupled,forget", "unknown variant 'forget'"),
        ("gate=swish", "unknown activation 'swish'"),
        ("output=Tanh", "unknown activation 'Tanh'"),
    ],
)
def test_variant_parse_unknown_words(text, message):
    with pytest.raises(UnknownNameError, match=message):
        Variant.parse(text)


def test_variant_parse_bad_values():
    with pytest.raises(ParameterError, match="forget_bias: 'abc' is not a number"):
        Variant.parse("forget-bias=abc")
    with pytest.raises(ParameterError, match="forget_bias needs the standard forget gate"):
        Variant.parse("coupled,forget-bias=1")
    with pytest.raises(ParameterError, match="forget_bias needs the standard forget gate"):
        Variant(forget_gate="none", forget_bias="0.5")


def test_variant_constructor_errors():
    with pytest.raises(UnknownNameError, match="unknown forget_gate 'sometimes'"):
        Variant(forget_gate="sometimes")
    with pytest.raises(ParameterError, match="peephole must be true or false"):
        Variant(peephole="yes")
    with pytest.raises(UnknownNameError, match="unknown activation 'swish'"):
        Variant(candidate_activation="swish")
    with pytest.raises(UnknownNameError, match="unknown variant option 'peepholes'"):
        Variant.from_mapping({"peepholes": True})
    assert Variant.from_mapping({"forget_bias": "1"}).forget_bias == 1
    assert set(FORGET_GATES) == {"standard", "coupled", "none"}


def test_variant_label_and_dict():
    assert Variant().label() == "textbook"
    v = Variant(peephole=True, forget_bias="0.5", output_activation="softsign")
    assert v.label() == "peephole, forget bias 1/2, output=softsign"
    assert Variant(forget_gate="none").label() == "no forget gate"
    d = v.to_dict()
    assert d["forget_bias"] == "1/2"
    assert d["peephole"] is True
    assert Variant.from_mapping(d) == v


# -- Cell errors ----------------------------------------------------------------------------------


def test_cell_unknown_kind():
    with pytest.raises(UnknownNameError, match="unknown cell kind 'lstm'; known: tied, scalar"):
        Cell("lstm")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_size": 0, "input_size": 3}, "hidden_size must be a positive integer, not 0"),
        ({"hidden_size": -2, "input_size": 3}, "hidden_size must be a positive integer"),
        ({"hidden_size": 2, "input_size": 2.5}, "input_size must be a positive integer"),
        ({"hidden_size": "2", "input_size": 3}, "hidden_size must be a positive integer"),
    ],
)
def test_cell_bad_sizes(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Cell("vector", **kwargs)


def test_cell_size_must_not_be_a_boolean():
    # True is an int in Python, but not a size (check_dps refuses booleans the same way).
    with pytest.raises(ParameterError, match="hidden_size must be a positive integer"):
        Cell("vector", hidden_size=True, input_size=3)


@pytest.mark.parametrize("kind", ["tied", "scalar"])
def test_scalar_cells_have_size_one(kind):
    with pytest.raises(ParameterError, match=f"a {kind} cell has hidden and input size 1"):
        Cell(kind, hidden_size=3)
    with pytest.raises(ParameterError, match=f"a {kind} cell has hidden and input size 1"):
        Cell(kind, input_size=2)
    cell = Cell(kind, hidden_size=1, input_size=1)
    assert (cell.hidden_size, cell.input_size) == (1, 1)


def test_cell_variant_and_options_not_both():
    with pytest.raises(ParameterError, match="give either a Variant or variant options"):
        Cell("tied", Variant(), peephole=True)
    with pytest.raises(UnknownNameError, match="unknown variant option 'peepholes'"):
        Cell("tied", peepholes=True)
    assert Cell("tied", Variant(peephole=True)).variant == Cell("tied", peephole=True).variant


# -- clip (ONNX's clip attribute) -----------------------------------------------------------------


def test_clip_parse_label_and_dict():
    v = Variant.parse("peephole,clip=0.5")
    assert v.clip == Rational(1, 2) and isinstance(v.clip, sympy.Rational)
    assert v.label() == "peephole, clip 1/2"
    assert Variant().clip is None and Variant().to_dict()["clip"] is None
    d = v.to_dict()
    assert d["clip"] == "1/2"
    assert Variant.from_mapping(d) == v
    assert Variant(clip=3) == Variant(clip="3") == Variant(clip=3.0)


@pytest.mark.parametrize(
    ("clip", "error", "message"),
    [
        (0, ParameterError, "clip must be a positive number .* not 0"),
        ("-1", ParameterError, "clip must be a positive number .* not '-1'"),
        ("abc", ParameterError, "clip: 'abc' is not a number"),
        (True, ParameterError, "clip: True is a boolean"),
        (float("inf"), ParameterError, "clip: inf is not a finite number"),
        (float("nan"), ParameterError, "clip: nan is not a finite number"),
    ],
)
def test_clip_must_be_a_positive_number(clip, error, message):
    with pytest.raises(error, match=message):
        Variant(clip=clip)


def _clip(z, bound):
    return min(bound, max(-bound, z))


@pytest.mark.parametrize("opts", [{}, {"peephole": True}, {"forget_gate": "coupled"}])
def test_clip_bounds_each_gate_preactivation_and_not_the_cell_state(opts):
    """One scalar step by hand: k = act(clip(z_k)); c and tanh(c) are not clipped."""
    bound = Rational(1, 2)
    cell = Cell("scalar", clip=bound, **opts)
    vals = {name: Rational(3, 2) for name in cell.parameters}  # z_k = 3/2 (x + h_prev + 1) …
    vals |= {"x": Rational(1, 5), "h_prev": Rational(-2, 5), "c_prev": Rational(3)}
    env = {cell.parameters.get(k, cell.symbols.get(k)): v for k, v in vals.items()}
    got = {}
    for eq in cell.equations():
        env[eq.lhs] = eq.rhs.xreplace(env).doit()
        got[str(eq.lhs)] = env[eq.lhs]
    x, h_prev, c_prev = vals["x"], vals["h_prev"], vals["c_prev"]
    z = {k: Rational(3, 2) * (x + h_prev + 1) for k in cell.gates_with_parameters}
    if opts.get("peephole"):
        z["i"] += Rational(3, 2) * c_prev
        z["f"] += Rational(3, 2) * c_prev
    gate = {k: sigmoid(_clip(z[k], bound)) for k in ("i", "f") if k in z}
    if "f" not in z:
        gate["f"] = 1 - gate["i"]
    g = sympy.tanh(_clip(z["g"], bound))
    c = gate["f"] * c_prev + gate["i"] * g
    z_o = z["o"] + (Rational(3, 2) * c if opts.get("peephole") else 0)
    o = sigmoid(_clip(z_o, bound))
    for name, value in {"i": gate["i"], "f": gate["f"], "g": g, "c": c, "o": o}.items():
        assert sympy.simplify(got[name] - value) == 0, name
    assert got["z_g"] == z["g"]  # the pre-activation itself stays unclipped
    assert abs(float(got["c"])) > 1  # c exceeds the clip, and tanh(c) takes it as it is
    assert sympy.simplify(got["h"] - o * sympy.tanh(c)) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_clip_appears_in_every_gate_of_every_kind(kind):
    cell = Cell(kind, **KIND_ARGS[kind], clip=3)
    eqs = {str(eq.lhs): eq.rhs for eq in cell.equations()}
    for k in ("i", "f", "g", "o"):
        assert eqs[k].has(sympy.Min) and eqs[k].has(sympy.Max), k
    for q in ("c", "s", "h", "z_i"):
        assert not eqs[q].has(sympy.Min), q
    latex = sympy.latex(Cell(kind, clip=3).equations()[1].rhs)
    assert r"\min" in latex and r"\max" in latex


@pytest.mark.slow  # a symbolic proof
@pytest.mark.parametrize(("kind", "steps"), [("tied", 1), ("scalar", 2)])
def test_clipped_cells_backprop_is_proven(kind, steps):
    from symlstm.derive.proofs import prove_gradients

    proofs = prove_gradients(Cell(kind, clip=Rational(5, 2), peephole=kind == "scalar"), steps)
    assert proofs and all(proofs.values()), proofs


def test_vector_backward_step_differentiates_the_clip_at_z():
    """The vector rule keeps σ' in the gate's output and the clip's step in z, not in the output."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    from symlstm.derive.backward import backward_step

    cell = Cell("vector", clip=3)
    dz_o = next(eq.rhs for eq in backward_step(cell).equations if str(eq.lhs) == "dz_o")
    parts = {str(f.expr): f.function for f in dz_o.atoms(ElementwiseApplyFunction)}
    assert set(parts) == {"o", "z_o"}
    d = sympy.Symbol("d")
    assert parts["o"](d) == d * (1 - d)
    assert parts["z_o"](d) == sympy.Heaviside(3 - sympy.Max(-3, d)) * sympy.Heaviside(d + 3)


def _clip_case(dtype, *, n=4, m=3, T=5, B=3, seed=0):
    rng = np.random.default_rng(seed)
    cell = Cell("vector", clip="0.75", hidden_size=n, input_size=m)
    params = {k: rng.normal(size=cell.shape(k)).astype(dtype) for k in cell.parameters}
    x = (2 * rng.normal(size=(T, B, m))).astype(dtype)
    h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
    return cell, params, x, h0, c0, rng


def test_vector_backprop_of_a_clipped_cell_matches_the_certified_reference():
    """Two derivations: the vector cell's matrix rules (backprop) and the scalar one's."""
    pytest.importorskip("flint", reason="the arb extra: pip install '.[arb]'")
    from symlstm.certified.run import reference
    from symlstm.derive.gradients import backprop

    cell, params, x, h0, c0, _ = _clip_case(np.float64, n=2, m=2, T=3, B=1)
    g = backprop(cell, params, list(x[:, 0]), h0[0], c0[0], method="mpmath", dps=30)
    ref = reference(cell, params, x, h0, c0, dy=np.ones((3, 1, 2)))
    for name in cell.parameters:
        got = np.array([float(v) for v in np.ravel(g.parameters[name])])
        assert np.allclose(got, ref.grads[name].hi.ravel(), rtol=1e-13, atol=1e-15), name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_generated_module_of_a_clipped_cell_is_within_the_bound(dtype):
    """symlstm.codegen.numpy_code's module for Variant(clip=…) against the certified reference."""
    pytest.importorskip("flint", reason="the arb extra: pip install '.[arb]'")
    from symlstm.certified.run import normwise_ulps, reference
    from symlstm.codegen.numpy_code import numpy_module

    cell, params, x, h0, c0, rng = _clip_case(dtype)
    mod = numpy_module(cell.variant)
    dy = rng.normal(size=(*x.shape[:2], h0.shape[1])).astype(dtype)
    y, h_T, c_T, cache = mod.forward(params, x, h0, c0)
    clipped = np.mean([np.mean(np.abs(cache[f"Z_{k}"]) > 0.75) for k in "ifgo"])
    assert 0.2 < clipped < 0.8  # both sides of the clip are exercised
    grads = mod.backward(params, cache, dy)
    ref = reference(cell, params, x, h0, c0, dy=dy)
    forward = normwise_ulps([(ref.y, y), (ref.h_T, h_T), (ref.c_T, c_T)], np.dtype(dtype))
    backward = normwise_ulps(
        [(ref.grads[k], np.reshape(grads[k], ref.grads[k].shape)) for k in ref.grads],
        np.dtype(dtype),
    )
    assert forward <= 64 and backward <= 64, (forward, backward)


def test_generated_module_of_a_clipped_cell_runs_as_printed():
    from symlstm.codegen.numpy_code import generate_numpy

    cell, params, x, h0, c0, _ = _clip_case(np.float64)
    module: dict = {}  # a fresh namespace, with nothing but what the source imports
    exec(compile(generate_numpy(cell.variant), "<clipped cell>", "exec"), module)
    _, _, _, cache = module["forward"](params, x, h0, c0)
    module["backward"](params, cache, np.ones((*x.shape[:2], h0.shape[1])))
