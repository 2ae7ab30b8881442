"""Backprop formulas and gradient values rendered; the CLI's grad and derive commands."""

from __future__ import annotations

import json
import os
import shutil

import mpmath
import pytest

from symlstm.cell import Cell
from symlstm.cli import main
from symlstm.render.derivation import derivation
from symlstm.render.document import compile_pdf, standalone
from symlstm.render.gradients import adjoint_notation

from lstm_reference import SEED_SEQUENCE, scalar_trace, significant

needs_tex = pytest.mark.skipif(
    shutil.which("pdflatex") is None and not os.environ.get("CI"),
    reason="TeX engine not installed: apt-get install texlive-latex-base latexmk poppler-utils",
)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_grad_json_of_the_sequence_matches_central_differences(capsys):
    status, out, _ = run(capsys, "grad", "seed-sequence", "--format", "json", "--dps", "50")
    assert status == 0
    data = json.loads(out)
    assert data["loss"] == "sum_h"
    names = ["w_i", "b_i", "w_f", "b_f", "w_g", "b_g", "w_o", "b_o"]
    assert list(data["gradients"]) == names
    xs = ["0.2", "0.4", "0.6"]
    eps = mpmath.mpf(10) ** -50
    with mpmath.workdps(150):
        for name in names:
            up = {**SEED_SEQUENCE, name: mpmath.mpf(SEED_SEQUENCE[name]) + eps}
            down = {**SEED_SEQUENCE, name: mpmath.mpf(SEED_SEQUENCE[name]) - eps}
            loss = [sum(s["h"] for s in scalar_trace(p, xs, dps=150)) for p in (up, down)]
            central = (loss[0] - loss[1]) / (2 * eps)
            got = mpmath.mpf(data["gradients"][name])
            assert abs(got - central) < mpmath.mpf(10) ** -45 * abs(central), name
            assert data["gradients"][name] == significant(central, 50, dps=150)


def test_grad_text_and_losses(capsys):
    status, out, _ = run(capsys, "grad", "seed-step", "--loss", "h_T", "--dps", "12")
    assert status == 0 and "∂L/∂W_f" in out and "0.0353468592268" in out
    status, out, _ = run(capsys, "grad", "seed-sequence", "--loss", "mse", "--targets",
                         "0.1,0.1,0.1", "--format", "json", "--dps", "10")  # fmt: skip
    assert status == 0 and json.loads(out)["loss"] == "mse"
    status, out, _ = run(capsys, "grad", "seed-sequence", "--loss", "h_3**2", "--format",
                         "markdown")  # fmt: skip
    assert status == 0 and "| $W_{o}$ |" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grad", "--loss", "mse"], "needs targets"),
        (["grad", "seed-sequence", "--loss", "mse", "--targets", "1,2"], "expected 3"),
        (["grad", "--loss", "h_9"], "unknown name 'h_9'; known: h_1, exp"),
        (["grad", "--loss", "cross_entropy"], "or a named loss: sum_h, h_T, mse"),
        (["grad", "--loss", "1/(h_1-h_1)"], "the loss '1/(h_1-h_1)' is undefined"),
        (["grad", "seed-sequence", "--loss", "log(h_1-h_2)"], "at the example's values"),
        (["grad", "--loss", "h_1**999999999"], "exponent must be a whole number"),
        (["grad", "--loss", "c\no\ns(h_1)"], "control character"),
        (["grad", "--dps", "0"], "must be 1..500"),
        (["derive", "--variant", "sideways"], "unknown variant"),
        (["derive", "--standalone"], "needs --format latex"),
    ],
)
def test_bad_grad_and_derive_input(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_derive_prints_the_backward_recurrences(capsys):
    status, out, _ = run(capsys, "derive", "--kind", "tied", "--notation", "spec")
    assert status == 0
    assert "δC_t = δC_t^next + δtanh(C_t)·(1 - tanh(C_t)^2)" in out
    assert "δW_f = δz_f,t·(h_{t-1} + x_t)" in out
    status, out, _ = run(capsys, "derive", "--variant", "peephole", "--format", "markdown")
    assert status == 0 and r"\delta c_{t-1} &=" in out and r"\odot p_{f}" in out


def test_adjoint_names():
    note = adjoint_notation(Cell("vector"), "canonical")
    assert note.latex["dW_i"] == r"\delta W_{i}" and note.text["dc_next"] == "δc_t^next"


@needs_tex
@pytest.mark.parametrize("options", [{}, {"peephole": True}, {"forget_gate": "coupled"}])
def test_derivations_compile(tmp_path, options):
    body = derivation(Cell("vector", **options)).latex()
    body += "\n" + derivation(Cell("tied", **options), notation="spec").latex()
    assert compile_pdf(standalone(body, title="BPTT"), tmp_path).exists()


def _central_h_t(params, xs, h0, c0, name, steps_out):
    eps = mpmath.mpf(10) ** -40
    with mpmath.workdps(120):
        vals = []
        for sign in (1, -1):
            p = {**params, name: mpmath.mpf(params[name]) + sign * eps}
            vals.append(scalar_trace(p, xs, h0, c0, dps=120)[steps_out - 1]["h"])
        return (vals[0] - vals[1]) / (2 * eps)


def test_worked_gradient_of_the_seed_step_matches_central_differences():
    from symlstm.examples import load_example
    from symlstm.render.gradients import worked_gradient

    from lstm_reference import SEED_STEP

    worked = worked_gradient(load_example("seed-step"), loss="h_T", digits=6)
    for name in ("w_f", "w_i", "w_g", "w_o", "b_f"):
        reference = _central_h_t(SEED_STEP, ["0.5"], "0.2", "0.4", name, 1)
        assert worked.summary[0][name] == significant(reference, 6, dps=120), name
    text = worked.text()
    assert "δW_f = δz_f,t·(h_{t-1} + x_t) = " in text  # the chain rule down to w_f
    assert "δC_t = δC_t^next + δtanh(C_t)·(1 - tanh(C_t)^2)" in text
    # the order: from the loss back to the parameters
    assert text.index("Step 1 – Loss") < text.index("Output") < text.index("Forget Gate")


def test_worked_gradient_of_h3_in_the_sequence(capsys):
    status, out, _ = run(capsys, "grad", "seed-sequence", "--loss", "h_T", "--digits", "5")
    assert status == 0
    xs = ["0.2", "0.4", "0.6"]
    reference = _central_h_t(SEED_SEQUENCE, xs, "0", "0", "w_o", 3)
    assert f"∂L/∂W_o   = {significant(reference, 30, dps=120)}" in out
    # a section per step, backwards from t = 3
    assert (
        out.index("Time step t = 3") < out.index("Time step t = 2") < out.index("Time step t = 1")
    )


@needs_tex
@pytest.mark.parametrize("name", ["seed-step", "seed-sequence"])
def test_worked_gradient_latex_compiles(tmp_path, capsys, name):
    status, out, _ = run(capsys, "grad", name, "--format", "latex", "--standalone")
    assert status == 0
    assert compile_pdf(out, tmp_path, jobname=name).exists()
