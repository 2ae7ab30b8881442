"""validate at real sizes (issue 15 item 6): the work budget of a validation, and the batch
rows run in several processes with the same report as one."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import symlstm
from symlstm import budget, limits
from symlstm.cell import Cell
from symlstm.cli import main
from symlstm.errors import ArgumentError, WorkBudgetError
from symlstm.validation import validate
from symlstm.validation.run import AUTO_WORKERS_SECONDS

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")


def _case(seed=0, T=4, B=4, M=3, N=4):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(M, N, num_layers=2)
    x = np.random.default_rng(seed).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x))
    weights = {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    return weights, {"x": x}, {"y": y.numpy(), "h_T": h_n.numpy(), "c_T": c_n.numpy()}


def test_the_real_size_validation_is_within_its_budget_and_over_the_general_one():
    """nn.LSTM(512, 512), T 200, batch 16 (the issue's size): estimated at about a minute,
    which the general 30 s budget would refuse and a validation's budget runs."""
    cell = Cell("vector", hidden_size=512, input_size=512)
    seconds = budget.estimate_seconds("validation", cell, 200, 16)
    assert limits.MAX_WORK_SECONDS < seconds < limits.MAX_VALIDATION_SECONDS
    assert budget.check_work("validation", cell, 200, batch=16) == seconds
    with pytest.raises(WorkBudgetError, match="MAX_WORK_SECONDS"):
        budget.check_work("reference", cell, 200, batch=16)
    grads = budget.estimate_seconds("reference", cell, 200, 16, times=budget.GRADIENT_FACTOR)
    assert grads == budget.GRADIENT_FACTOR * budget.estimate_seconds("reference", cell, 200, 16)


def test_a_validation_over_its_budget_is_refused_before_anything_runs(monkeypatch):
    weights, inputs, outputs = _case()
    monkeypatch.setattr(limits, "MAX_VALIDATION_SECONDS", 1e-6)
    with pytest.raises(
        WorkBudgetError, match=r"a validation of .*\(MAX_VALIDATION_SECONDS in symlstm.limits\)"
    ) as refusal:
        validate("torch", weights, inputs, outputs)
    assert ", 2 times over (a network's units" in str(refusal.value)  # its 2 layers counted
    with budget.allowing():
        assert validate("torch", weights, inputs, outputs).passed


def test_workers_give_the_same_report_as_one_process():
    """Two processes over the batch rows: the same certified numbers, so the same ULPs."""
    weights, inputs, outputs = _case(seed=3)
    one = validate("torch", weights, inputs, outputs, workers=1)
    two = validate("torch", weights, inputs, outputs, workers=2)
    assert one.passed and two.passed
    assert one.to_dict()["tensors"] == two.to_dict()["tensors"]


def test_workers_are_checked_and_chosen():
    weights, inputs, outputs = _case()
    for bad in (0, -1, 1.5, True, "2", limits.MAX_WORKERS + 1):
        with pytest.raises(ArgumentError, match="workers must be a positive integer"):
            validate("torch", weights, inputs, outputs, workers=bad)
    with pytest.raises(ArgumentError, match="MAX_WORKERS"):  # checked where processes start
        symlstm.reference(Cell("tied"), {"w": 1, "b": 0}, [[[1.0]]], workers=10**6)
    from symlstm.validation.run import _workers

    assert _workers(None, None, 16, False) == 1  # inside another checked operation: one
    assert _workers(None, AUTO_WORKERS_SECONDS / 2, 16, False) == 1  # short: one process
    assert _workers(None, AUTO_WORKERS_SECONDS * 2, 16, True) == 1  # gradients: one
    assert _workers(None, AUTO_WORKERS_SECONDS * 2, 1, False) == 1  # one row: one
    assert _workers(None, AUTO_WORKERS_SECONDS * 2, 16, False) >= 1
    assert _workers(3, 0.0, 1, True) == 3  # as asked


def test_the_command_takes_workers(tmp_path):
    weights, inputs, outputs = _case(seed=5)
    for name, arrays in (("w", weights), ("x", inputs), ("y", outputs)):
        np.savez(tmp_path / f"{name}.npz", **arrays)
    args = ["validate", "--layout", "torch", "--weights", str(tmp_path / "w.npz")]
    args += ["--inputs", str(tmp_path / "x.npz"), "--outputs", str(tmp_path / "y.npz")]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main([*args, "--workers", "2"]) == 0
        assert main([*args, "--workers", "0"]) == 2
        assert main([*args, "--workers", "1000000"]) == 2  # a hostile count: refused at once
    assert "PASS" in out.getvalue() or "pass" in out.getvalue()
    assert "--workers" in err.getvalue()
