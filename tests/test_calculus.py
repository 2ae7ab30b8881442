"""Closed-form derivatives and BPTT: familiar forms, proofs against sympy.diff of the unrolled
graph, and high-precision central differences of an independent forward pass."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy
from sympy import Symbol

from symlstm.cell import Cell
from symlstm.derive.backward import backward_step, local_derivatives
from symlstm.derive.gradients import Loss, backprop, certify_gradients
from symlstm.derive.proofs import is_zero_identically, prove_gradients
from symlstm.errors import (
    ArgumentError,
    ExpressionError,
    ParameterError,
    RangeError,
    ShapeError,
    SymLSTMError,
    UndefinedError,
    UnknownNameError,
)

from lstm_reference import SEED_STEP, VARIANTS, scalar_trace, significant, vector_trace

#: The variants whose gradients are proven (the issue's list: the textbook cell, peepholes,
#: coupled and absent forget gates, a forget bias, other activations).
PROVEN = ("textbook", "peephole", "coupled", "no-forget", "forget-bias", "hard-gate", "softsign")


def _sym(name):
    return Symbol(name, real=True)


# -- local derivatives and the backward step ------------------------------------------------


def test_local_derivatives_have_their_familiar_forms():
    d = local_derivatives(Cell("scalar"))
    f, g, i, o, s, c_prev, x, h_prev = map(_sym, ("f", "g", "i", "o", "s", "c_prev", "x",
                                                    "h_prev"))  # fmt: skip
    assert d["f", "z_f"] == f * (1 - f)
    assert d["g", "z_g"] == 1 - g**2
    assert d["s", "c"] == 1 - s**2
    assert d["c", "f"] == c_prev and d["c", "i"] == g and d["c", "g"] == i
    assert d["h", "s"] == o
    assert d["z_i", "W_i"] == x and d["z_i", "U_i"] == h_prev and d["z_i", "b_i"] == 1
    coupled = local_derivatives(Cell("tied", forget_gate="coupled"))
    assert coupled["f", "i"] == -1 and ("z_f", "w_f") not in coupled


def test_vector_backward_step_is_the_matrix_calculus_of_greff_et_al():
    cell = Cell("vector", peephole=True)
    eqs = {str(eq.lhs): eq.rhs for eq in backward_step(cell).equations}
    M = {name: sympy.MatrixSymbol(name, *sym.shape) for name, sym in
         {**cell.symbols, **cell.parameters}.items()}  # fmt: skip
    d = {name: sympy.MatrixSymbol(f"d{name}", *M[name].shape) for name in M}
    assert eqs["dW_i"] == sympy.MatMul(d["z_i"], M["x"].T)
    assert eqs["dU_o"] == sympy.MatMul(d["z_o"], M["h_prev"].T)
    assert eqs["dp_o"] == sympy.HadamardProduct(d["z_o"], M["c"])
    dh_prev = sympy.MatAdd(*(sympy.MatMul(M[f"U_{k}"].T, d[f"z_{k}"]) for k in "ifgo"))
    assert eqs["dh_prev"].doit() == dh_prev.doit()
    assert set(eqs["dc_prev"].args) == {
        sympy.HadamardProduct(d["c"], M["f"]),
        sympy.HadamardProduct(d["z_i"], M["p_i"]),
        sympy.HadamardProduct(d["z_f"], M["p_f"]),
    }


def test_is_zero_identically_is_not_fooled():
    x = _sym("x")
    s = sympy.Function("sigma")
    assert is_zero_identically(s(x) * (1 - s(x)) - (s(x) - s(x) ** 2))
    assert not is_zero_identically(s(x) - s(2 * x) + 0 * x)
    assert not is_zero_identically(sympy.tanh(x) - x)


# -- proofs: closed form minus sympy.diff of the unrolled graph is zero ------------------------


# softsign makes the derivatives rational functions of |z|: their T = 3 expansion takes
# minutes, so that variant is proven for T = 1, 2 (and checked numerically below).
PROOF_CASES = [
    (kind, variant, steps)
    for kind in ("tied", "scalar")
    for variant in PROVEN
    for steps in ((1, 2) if variant == "softsign" else (1, 2, 3))
]


@pytest.mark.slow  # symbolic proofs: about a minute in all
@pytest.mark.parametrize(("kind", "variant", "steps"), PROOF_CASES)
def test_closed_form_equals_differentiating_the_unrolled_graph(kind, variant, steps):
    proofs = prove_gradients(Cell(kind, **VARIANTS[variant]), steps)
    names = set(Cell(kind, **VARIANTS[variant]).parameters)
    assert names <= set(proofs) and {"h_0", "c_0", f"x_{steps}"} <= set(proofs)
    assert all(proofs.values()), [k for k, ok in proofs.items() if not ok]


@pytest.mark.parametrize("loss", ["h_T", "mse", "h_2**2 - 3*h_1"])
def test_proofs_for_other_losses(loss):
    assert all(prove_gradients(Cell("tied", peephole=False), 2, loss).values())


def test_a_wrong_closed_form_would_be_caught(monkeypatch):
    # break one backward equation (drop the forget gate from dc_prev) and the proof fails
    import symlstm.derive.proofs as proofs_module
    from symlstm.derive.backward import BackwardStep

    real = backward_step

    def broken(cell):
        bw = real(cell)
        eqs = tuple(
            sympy.Eq(eq.lhs, eq.rhs.xreplace({cell.symbols["f"]: 1}), evaluate=False)
            if str(eq.lhs) == "dc_prev" else eq
            for eq in bw.equations
        )  # fmt: skip
        return BackwardStep(cell, eqs)

    monkeypatch.setattr(proofs_module, "backward_step", broken)
    proofs = prove_gradients(Cell("tied"), 2)
    assert not proofs["w_f"] and not proofs["c_0"]


# -- numeric gradients against central differences of an independent forward pass ------------

REF_DPS = 130
EPS = mpmath.mpf(10) ** -45


def _loss_of(steps, loss, targets=None):
    if loss == "sum_h":
        return sum(_sum(s["h"]) for s in steps)
    if loss == "h_T":
        return _sum(steps[-1]["h"])
    n = len(steps[-1]["h"]) if isinstance(steps[-1]["h"], list) else 1
    return sum(
        _sum([(a - mpmath.mpf(b)) ** 2 for a, b in zip(_list(s["h"]), _list(y), strict=True)])
        for s, y in zip(steps, targets, strict=True)
    ) / (len(steps) * n)


def _list(v):
    return v if isinstance(v, list) else [v]


def _sum(v):
    return sum(_list(v))


def _copy(value):
    return [_copy(v) for v in value] if isinstance(value, list) else value


def _central(run, params, name, index=None):
    """(L(p + ε) − L(p − ε)) / 2ε for one parameter entry, at REF_DPS digits."""
    with mpmath.workdps(REF_DPS):
        out = []
        for sign in (1, -1):
            p = {k: _copy(v) for k, v in params.items()}
            if index is None:
                p[name] = mpmath.mpf(p[name]) + sign * EPS
            elif isinstance(index, tuple):
                r, c = index
                p[name][r][c] = mpmath.mpf(p[name][r][c]) + sign * EPS
            else:
                p[name][index] = mpmath.mpf(p[name][index]) + sign * EPS
            out.append(run(p))
        return (out[0] - out[1]) / (2 * EPS)


def _agree(got, expected, digits=40):
    got, expected = mpmath.mpf(got), mpmath.mpf(expected)
    assert abs(got - expected) <= mpmath.mpf(10) ** -digits * max(1, abs(expected)), (got, expected)


def _random_decimal(rng, scale=1.0):
    return f"{rng.uniform(-scale, scale):.6f}"


@pytest.mark.parametrize("variant", PROVEN)
@pytest.mark.parametrize("loss", ["sum_h", "h_T", "mse"])
def test_long_scalar_sequences_match_central_differences(variant, loss):
    rng = random.Random(f"{variant}-{loss}")
    steps = 20
    cell = Cell("scalar", **VARIANTS[variant])
    params = {name: _random_decimal(rng) for name in cell.parameters}
    xs = [_random_decimal(rng, 2) for _ in range(steps)]
    targets = [_random_decimal(rng) for _ in range(steps)] if loss == "mse" else None
    grads = backprop(cell, params, xs, "0.1", "-0.2", loss=loss, targets=targets,
                     method="mpmath", dps=70)  # fmt: skip

    def run(p):
        trace = scalar_trace(p, xs, "0.1", "-0.2", kind="scalar", variant=VARIANTS[variant],
                             dps=REF_DPS)  # fmt: skip
        return _loss_of(trace, loss, targets)

    with mpmath.workdps(REF_DPS):
        for name in cell.parameters:
            _agree(grads.parameters[name], _central(run, params, name))


def test_initial_state_and_input_gradients():
    rng = random.Random(7)
    cell = Cell("tied")
    params = {name: _random_decimal(rng) for name in cell.parameters}
    xs = [_random_decimal(rng) for _ in range(4)]
    grads = backprop(cell, params, xs, "0.3", "0.5", method="mpmath", dps=70)
    with mpmath.workdps(REF_DPS):
        for name, value in (("h0", grads.h0), ("c0", grads.c0)):

            def run(p, name=name):
                h0 = p["h0"] if name == "h0" else "0.3"
                c0 = p["c0"] if name == "c0" else "0.5"
                return _loss_of(scalar_trace(params, xs, h0, c0, dps=REF_DPS), "sum_h")

            _agree(value, _central(run, {"h0": "0.3", "c0": "0.5"}, name))

        def run_x(p):
            return _loss_of(scalar_trace(params, p["xs"], "0.3", "0.5", dps=REF_DPS), "sum_h")

        for t in range(4):
            _agree(grads.x[t], _central(run_x, {"xs": list(xs)}, "xs", t))


def _random_parameters(cell: Cell, rng: random.Random) -> dict:
    """Short random decimals for every parameter of a sized vector cell, as nested lists."""
    params = {}
    for name in cell.parameters:
        rows, *cols = cell.shape(name)
        if cols:
            params[name] = [[_random_decimal(rng) for _ in range(cols[0])] for _ in range(rows)]
        else:
            params[name] = [_random_decimal(rng) for _ in range(rows)]
    return params


@pytest.mark.parametrize("variant", ["textbook", "peephole", "coupled"])
def test_vector_cells_match_central_differences(variant):
    rng = random.Random(variant)
    n, m, steps = 4, 3, 3
    cell = Cell("vector", hidden_size=n, input_size=m, **VARIANTS[variant])
    params = _random_parameters(cell, rng)
    xs = [[_random_decimal(rng, 2) for _ in range(m)] for _ in range(steps)]
    h0, c0 = [_random_decimal(rng) for _ in range(n)], [_random_decimal(rng) for _ in range(n)]
    grads = backprop(cell, params, xs, h0, c0, method="mpmath", dps=70)

    def run(p):
        return _loss_of(vector_trace(p, xs, h0, c0, variant=VARIANTS[variant], dps=REF_DPS),
                        "sum_h")  # fmt: skip

    with mpmath.workdps(REF_DPS):
        for name in cell.parameters:
            value = grads.parameters[name]
            if isinstance(value[0], tuple):
                for r, c in ((0, 0), (n - 1, len(value[0]) - 1), (1, 2 % len(value[0]))):
                    _agree(value[r][c], _central(run, params, name, (r, c)))
            else:
                for r in range(n):
                    _agree(value[r], _central(run, params, name, r))


def test_projected_vector_backward_step():
    # PyTorch's proj_size: dm = W_hrᵀ dh, dW_hr = dh mᵀ, and the usual step from dm.
    cell = Cell("vector", hidden_size=3, input_size=2, proj_size=2)
    eqs = {str(eq.lhs): eq.rhs for eq in backward_step(cell).equations}
    s, p = cell.symbols, cell.parameters
    dh = sympy.MatrixSymbol("dh", 2, 1)
    dm = sympy.MatrixSymbol("dm", 3, 1)
    assert eqs["dm"] == sympy.MatMul(p["W_hr"].T, dh)
    assert eqs["dW_hr"] == sympy.MatMul(dh, s["m"].T)
    assert eqs["ds"] == sympy.HadamardProduct(dm, s["o"])
    assert eqs["dh_prev"].shape == (2, 1)


@pytest.mark.parametrize("variant", ["textbook", "peephole"])
def test_projected_vector_cells_match_central_differences(variant):
    rng = random.Random(f"proj-{variant}")
    n, m, proj, steps = 3, 2, 2, 3
    cell = Cell("vector", hidden_size=n, input_size=m, proj_size=proj, **VARIANTS[variant])
    params = _random_parameters(cell, rng)
    xs = [[_random_decimal(rng, 2) for _ in range(m)] for _ in range(steps)]
    h0, c0 = [_random_decimal(rng) for _ in range(proj)], [_random_decimal(rng) for _ in range(n)]
    targets = [[_random_decimal(rng) for _ in range(proj)] for _ in range(steps)]
    grads = backprop(cell, params, xs, h0, c0, loss="mse", targets=targets, method="mpmath",
                     dps=70)  # fmt: skip

    def run(p):
        trace = vector_trace(p, xs, h0, c0, variant=VARIANTS[variant], dps=REF_DPS)
        return _loss_of(trace, "mse", targets)

    def run_state(p):
        trace = vector_trace(params, xs, p["h0"], p["c0"], variant=VARIANTS[variant], dps=REF_DPS)
        return _loss_of(trace, "mse", targets)

    with mpmath.workdps(REF_DPS):
        for name in cell.parameters:
            value = grads.parameters[name]
            if isinstance(value[0], tuple):
                rows, cols = len(value), len(value[0])
                for r, c in ((0, 0), (rows - 1, cols - 1), (1, 1)):
                    _agree(value[r][c], _central(run, params, name, (r, c)))
            else:
                for r in range(len(value)):
                    _agree(value[r], _central(run, params, name, r))
        state = {"h0": list(h0), "c0": list(c0)}
        assert len(grads.h0) == proj and len(grads.c0) == n
        for r in range(proj):
            _agree(grads.h0[r], _central(run_state, state, "h0", r))
        for r in range(n):
            _agree(grads.c0[r], _central(run_state, state, "c0", r))


def test_exact_and_certified_gradients_of_the_seed_step():
    cell = Cell("tied")
    exact = backprop(cell, SEED_STEP, ["0.5"], "0.2", "0.4", loss="h_T")
    certified = certify_gradients(cell, SEED_STEP, ["0.5"], "0.2", "0.4", loss="h_T",
                                  significant=45)  # fmt: skip

    def run(p):
        return scalar_trace(p, ["0.5"], "0.2", "0.4", dps=REF_DPS)[0]["h"]

    with mpmath.workdps(REF_DPS):
        for name in cell.parameters:
            reference = _central(run, SEED_STEP, name)
            assert certified.decimals[name] == significant(reference, 45), name
            _agree(sympy.N(exact.parameters[name], 60), reference, 55)


def test_a_loss_expression():
    cell = Cell("tied")
    xs = ["0.2", "0.4", "0.6"]
    grads = backprop(cell, SEED_STEP, xs, loss="h_3**2 - 3*h_1", method="mpmath", dps=70)

    def run(p):
        hs = [s["h"] for s in scalar_trace(p, xs, dps=REF_DPS)]
        return hs[2] ** 2 - 3 * hs[0]

    with mpmath.workdps(REF_DPS):
        _agree(grads.parameters["w_o"], _central(run, SEED_STEP, "w_o"))


def test_bad_losses():
    cell = Cell("tied")
    with pytest.raises(UnknownNameError, match=r"unknown name 'h_4'.*named loss: sum_h"):
        Loss.make("h_4 + q", steps=3, cell=cell)
    with pytest.raises(ExpressionError, match="unexpected character ';'"):
        Loss.make("h_1; import os", steps=3, cell=cell)
    with pytest.raises(ParameterError, match="needs targets"):
        Loss.make("mse", steps=3, cell=cell)
    with pytest.raises(ShapeError, match="expected 3"):
        Loss.make("mse", steps=3, targets=["1", "2"], cell=cell)
    with pytest.raises(ParameterError, match="takes no targets"):
        Loss.make("sum_h", steps=3, targets=["1", "2", "3"], cell=cell)
    with pytest.raises(ParameterError, match="scalar cell"):
        Loss.make(_sym("h_1"), steps=1, cell=Cell("vector", hidden_size=2, input_size=2))
    with pytest.raises(SymLSTMError):
        local_derivatives(Cell("vector"))


# -- undefined and unbounded losses (issue 18) ----------------------------------------------


def _seed_sequence_gradients(loss):
    from symlstm.examples import load_example

    ex = load_example("seed-sequence")
    return certify_gradients(
        ex.cell, ex.parameters, ex.inputs, ex.h0, ex.c0, significant=10, loss=loss
    )


@pytest.mark.parametrize(
    ("loss", "reason"),
    [
        ("1/(h_1-h_1)", "division by zero: (h_1-h_1) is 0"),
        ("log(h_1-h_1)", "logarithm of 0"),
        ("h_2 + log(0)", "logarithm of 0"),
        ("log(-2)*h_1", "logarithm of a negative number"),
        ("h_1/(h_3 - h_3 + 0)", "division by zero"),
    ],
)
def test_a_loss_undefined_everywhere_is_refused(loss, reason):
    with pytest.raises(UndefinedError) as info:
        Loss.make(loss, steps=3, cell=Cell("tied"))
    assert f"the loss {loss!r} is undefined ({reason}" in str(info.value)


@pytest.mark.parametrize(
    ("loss", "reason"),
    [
        # seed-sequence: h_1 < h_2 < h_3, all in (0, 1)
        ("log(h_1 - h_2)", "logarithm of a negative number: h_1 - h_2 is < 0"),
        ("h_3 + log(h_1 - h_2)**2", "logarithm of a negative number"),
        ("exp(exp(exp(500*h_1)))", "beyond float64's range"),
    ],
)
def test_a_loss_undefined_at_the_values_is_refused(loss, reason):
    with pytest.raises((UndefinedError, RangeError)) as info:
        _seed_sequence_gradients(loss)
    message = str(info.value)
    assert message.startswith("the loss ")
    assert reason in message
    assert "at the example's values" in message


def test_an_undefined_gradient_is_refused():
    """∂L/∂h_1 of log(h_1) is 1/h_1: at h_1 = 0 the value and the gradient are undefined."""
    import sympy as sp

    from symlstm.numeric.evaluation import numeric_context

    loss = Loss.make("log(h_1)", steps=1)
    with numeric_context("interval") as arith:
        zero = arith.const(sp.Integer(0))
        with pytest.raises(UndefinedError, match=r"∂L/∂h_1 of the loss log\(h_1\): 1/h_1 is"):
            loss.direct(1, [zero], arith, 1, 1)
        with pytest.raises(UndefinedError, match="logarithm of 0: h_1 is 0"):
            loss.check([zero], arith)


def test_defined_losses_with_logs_and_divisions_are_certified():
    """log and division are evaluated (log was not, before), checked against mpmath."""
    grads = _seed_sequence_gradients("log(h_2 - h_1) + 1/h_3")
    plain = backprop(
        Cell("tied"),
        {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"},  # seed-sequence
        ["0.2", "0.4", "0.6"],
        loss="log(h_2 - h_1) + 1/h_3",
        method="mpmath",
        dps=40,
    )
    for name in ("w_f", "w_i", "w_g", "w_o"):
        certified = mpmath.mpf(grads.decimals[name])
        assert abs(certified - plain.parameters[name]) <= 1e-9 * abs(certified), name


def test_the_cli_refuses_an_undefined_loss(capsys):
    from symlstm.cli import main

    for loss in ("1/(h_1-h_1)", "log(h_1-h_1)", "log(h_1 - h_2)"):
        assert main(["grad", "seed-sequence", "--format", "json", "--loss", loss]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1 and "is undefined" in err and "certified" not in err


def test_loss_make_checks_its_arguments():
    with pytest.raises(ArgumentError):
        Loss.make("h_1", steps="3")
    with pytest.raises(ArgumentError):
        Loss.make("h_1", steps=0)
    with pytest.raises(ArgumentError, match="targets must be a sequence"):
        Loss.make("mse", steps=1, targets=3, cell=Cell("tied"))
    with pytest.raises(UnknownNameError, match="an expression"):
        Loss.make(3, steps=1)
    with pytest.raises(UndefinedError):
        Loss.make(sympy.zoo * _sym("h_1"), steps=1)
    with pytest.raises(ExpressionError, match="more than 5000 nodes"):
        Loss.make(sympy.Add(*(Symbol(f"a{k}") for k in range(6000))), steps=1)


SCALAR_ARITHMETIC = {
    "softsign": VARIANTS["softsign"],
    "relu": {"candidate_activation": "relu"},
}


@pytest.mark.parametrize("variant", list(SCALAR_ARITHMETIC))
@pytest.mark.parametrize("n", [1, 3])
def test_vector_cells_with_scalar_arithmetic_activations_match_central_differences(variant, n):
    """softsign (x/(1 + |x|)) and relu (max(0, x)) are written with scalar arithmetic, not as
    one SymPy function: their derivatives are taken on real entries (sign(x), not the
    parts re and im of a complex |x|), and a hidden size of 1 works as any other."""
    rng = random.Random(f"{variant}-{n}")
    m, steps = 2, 3
    options = SCALAR_ARITHMETIC[variant]
    cell = Cell("vector", hidden_size=n, input_size=m, **options)
    params = _random_parameters(cell, rng)
    xs = [[_random_decimal(rng, 2) for _ in range(m)] for _ in range(steps)]
    h0, c0 = [_random_decimal(rng) for _ in range(n)], [_random_decimal(rng) for _ in range(n)]
    grads = backprop(cell, params, xs, h0, c0, method="mpmath", dps=70)
    derived = "\n".join(str(eq) for eq in backward_step(cell).equations)
    assert "Derivative" not in derived and "re(" not in derived

    def run(p):
        return _loss_of(vector_trace(p, xs, h0, c0, variant=options, dps=REF_DPS),
                        "sum_h")  # fmt: skip

    with mpmath.workdps(REF_DPS):
        for name in ("W_g", "U_o", "b_g", "b_f"):
            value = grads.parameters[name]
            if isinstance(value[0], tuple):
                last = (n - 1, len(value[0]) - 1)
                _agree(value[0][0], _central(run, params, name, (0, 0)))
                _agree(value[last[0]][last[1]], _central(run, params, name, last))
            else:
                for r in range(n):
                    _agree(value[r], _central(run, params, name, r))


def test_softsign_derivative_prints_with_its_parentheses():
    """δc = δc_next + δs ⊙ φ'(c) with φ'(c) = 1/(1 + |c|) − c·sign(c)/(1 + |c|)²: printed
    as a sum, φ' needs parentheses as a factor of ⊙ (text, LaTeX and MathML)."""
    from symlstm.render.derivation import derivation

    d = derivation(Cell("vector", output_activation="softsign"))
    line = next(row for row in d.text().splitlines() if row.startswith("δc_t ="))
    assert line == ("δc_t = δc_t^next + δs_t ⊙ (1/(1 + Abs(c_t)) - c_t·sign(c_t)/(1 + Abs(c_t))^2)")
    assert r"\odot \left(\frac{1}{1 + \left|{c_{t}}\right|} - " in d.latex()
    assert "<mo>&#8857;</mo><mrow><mo>(</mo>" in d.html(standalone=False).replace("\n", "")
