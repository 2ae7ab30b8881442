"""The work budget: over-budget work refused before it starts, with its estimate; allowed
with allow_large / --allow-large; progress only on a terminal."""

from __future__ import annotations

import io
import json
import time

import pytest

import symlstm.budget as budget
import symlstm.limits as limits
from symlstm.cell import Cell
from symlstm.cli import main
from symlstm.derive.gradients import certify_gradients
from symlstm.errors import ArgumentError, SymLSTMError, WorkBudgetError
from symlstm.examples import load_example
from symlstm.numeric.evaluation import certify
from symlstm.render.worked import worked_example

SEED_STEP = {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"}


def _tied_file(tmp_path, steps: int, suffix: str = ".json"):
    path = tmp_path / f"steps{steps}{suffix}"
    data = {"cell": {"kind": "tied"}, "parameters": SEED_STEP, "inputs": {"x": [0] * steps}}
    path.write_text(json.dumps(data, separators=(",", ":")))
    return path


def test_the_estimate_grows_with_steps_and_cell_size():
    tied, small = Cell("tied"), Cell("vector", hidden_size=4, input_size=3)
    big = Cell("vector", hidden_size=300, input_size=300)
    assert budget.estimate_seconds("worked", tied, 10_000) == pytest.approx(160)
    assert budget.estimate_seconds("evaluation", tied, 2000) == pytest.approx(
        2 * budget.estimate_seconds("evaluation", tied, 1000)
    )
    assert budget.estimate_seconds("evaluation", small, 2) < 1
    assert budget.estimate_seconds("evaluation", big, 1) > 10 * limits.MAX_WORK_SECONDS
    assert budget.estimate_seconds("reference", small, 10, batch=4) > budget.estimate_seconds(
        "reference", small, 10
    )
    with pytest.raises(SymLSTMError, match="unknown operation 'zz'"):
        budget.estimate_seconds("zz", tied, 1)
    with pytest.raises(ArgumentError, match="steps must be an integer"):
        budget.estimate_seconds("worked", tied, "10")


def test_a_file_of_a_million_steps_is_refused_with_its_estimate(tmp_path, capsys):
    path = _tied_file(tmp_path, 10**6)
    started = time.monotonic()
    assert main(["example", str(path), "--format", "json"]) == 2
    assert time.monotonic() - started < 30  # reading the file; nothing of the work
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "1000000 steps of a tied cell would take about 13 minutes" in err
    assert "--allow-large" in err and "MAX_WORK_SECONDS" in err


def test_a_hidden_300_cell_is_refused_before_its_parameters_are_read(tmp_path, capsys):
    path = tmp_path / "wide.toml"
    path.write_text(
        '[cell]\nkind = "vector"\nhidden_size = 300\ninput_size = 1\n'
        "[parameters]\n[inputs]\nx = [[1]]\n"
    )
    started = time.monotonic()
    with pytest.raises(WorkBudgetError, match="1 step of a hidden-300 vector cell"):
        load_example(str(path))
    assert time.monotonic() - started < 5
    assert main(["example", str(path)]) == 2
    assert "hidden-300 vector cell (input 1) would take about" in capsys.readouterr().err


def test_worked_examples_and_gradients_check_their_own_budget(tmp_path, capsys):
    path = _tied_file(tmp_path, 20_000)
    example = load_example(str(path))  # a certified evaluation fits: 16 s
    with pytest.raises(WorkBudgetError, match=r"a worked example of 20000 steps .* 5 minutes"):
        worked_example(example)
    with pytest.raises(WorkBudgetError, match="certified gradients of 20000 steps"):
        certify_gradients(
            example.cell, example.parameters, example.inputs, significant=5, loss="h_T"
        )
    assert main(["grad", str(path)]) == 2
    assert "certified gradients of 20000 steps" in capsys.readouterr().err


def test_allow_large_lets_modestly_over_budget_work_through(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(limits, "MAX_WORK_SECONDS", 0.01)
    cell, xs = Cell("tied"), ["0.5"] * 30  # about 0.024 s estimated
    with pytest.raises(WorkBudgetError, match="30 steps of a tied cell"):
        certify(cell, SEED_STEP, xs, places=3)
    trace = certify(cell, SEED_STEP, xs, places=3, allow_large=True)
    assert len(trace) == 30 and trace.decimals[0]["f"] == "0.587"
    with budget.allowing():
        assert len(certify(cell, SEED_STEP, xs, places=3)) == 30
    path = _tied_file(tmp_path, 30, ".json")
    assert main(["example", str(path), "--compact"]) == 2
    assert "30 steps of a tied cell" in capsys.readouterr().err
    assert main(["example", str(path), "--compact", "--allow-large"]) == 0
    assert "Step t = 30" in capsys.readouterr().out
    assert main(["grad", str(path), "--format", "json", "--allow-large"]) == 0
    assert main(["audit", "--allow-large", "--no-explain"]) == 1  # the spec's f_3 is wrong
    assert main(["audit", "--no-explain"]) == 2  # the seed-sequence example is "large" now


def test_progress_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(budget, "PROGRESS_AFTER_SECONDS", 0.0)
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        certify(Cell("tied"), SEED_STEP, ["0.5"] * 3, places=3)
        assert ("symlstm: certified evaluation: step 3/3" in stream.getvalue()) is shown
