"""validate's progress bar (issue 15 item 6): on stderr when it is a terminal, per unit of
the network and per step of the certified reference; nothing when stderr is not a
terminal or ``progress=False``."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from symlstm.cell import Cell
from symlstm.cli import main
from symlstm.errors import ArgumentError
from symlstm.frameworks import to_canonical
from symlstm.validation import validate
from symlstm.validation.progress import ProgressBar, run_reference

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

T, B, N, M = 4, 2, 3, 2


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _lines(text: str) -> list[str]:
    """What a terminal shows after each carriage return, escape codes left out."""
    return [part.replace("\x1b[K", "") for part in text.split("\r")]


def _network(seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(M, N, num_layers=2, bidirectional=True)
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(T, B, M)).astype(np.float32))
    x.requires_grad_()
    y, (h_n, _) = lstm(x)
    dy = np.ones(tuple(y.shape), np.float32)
    (y * torch.from_numpy(dy)).sum().backward()
    weights = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    grads |= {"dy": dy, "x": x.grad.numpy()}
    outputs = {"y": y.detach().numpy(), "h_T": h_n.detach().numpy()}
    return weights, {"x": x.detach().numpy()}, outputs, grads


def test_a_terminal_shows_a_bar_per_unit_and_clears_it(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    report = validate("torch", *_network())
    assert report.passed
    lines = _lines(terminal.getvalue())
    assert lines == [
        "",
        "symlstm [............] 0% 1/8 layer 0 forward",
        "symlstm [##..........] 12% 2/8 layer 0 reverse",
        "symlstm [###.........] 25% 3/8 layer 1 forward",
        "symlstm [####........] 38% 4/8 layer 1 reverse",
        "symlstm [######......] 50% 5/8 gradients of layer 1 forward",
        "symlstm [########....] 62% 6/8 gradients of layer 1 reverse",
        "symlstm [#########...] 75% 7/8 gradients of layer 0 forward",
        "symlstm [##########..] 88% 8/8 gradients of layer 0 reverse",
        "",  # cleared at the end
    ]


def test_nothing_is_written_when_stderr_is_not_a_terminal_or_progress_is_false(monkeypatch):
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert validate("torch", *_network(1)).passed
    assert plain.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert validate("torch", *_network(1), progress=False).passed
    assert terminal.getvalue() == ""
    # progress=True draws the bar even where stderr is not a terminal.
    assert validate("torch", *_network(1)[:3], progress=True).passed
    assert "symlstm [" in terminal.getvalue()


def test_the_references_steps_are_drawn_in_the_bar():
    out = io.StringIO()
    bar = ProgressBar(out, units=4, columns=200)
    bar.unit("layer 0 forward")
    bar.unit("gradients of layer 0 forward", gradients=True)
    # The reference's steps (as symlstm.certified.run reports them): forward, then backward.
    bar.step("forward", 10, 10, "at 128 bits", now=True)
    assert _lines(out.getvalue())[-1] == (
        "symlstm [####........] 38% 2/4 gradients of layer 0 forward: forward 10/10 at 128 bits"
    )
    bar.step("backward", 5, 10, "at 128 bits", now=True)
    assert _lines(out.getvalue())[-1].startswith("symlstm [#####.......] 44% 2/4")
    # A unit's steps are held back for its first STEP_DELAY seconds (a quick unit shows
    # its own line only), then drawn at most five times a second.
    before = out.getvalue()
    bar.step("backward", 6, 10, "at 128 bits")
    assert out.getvalue() == before
    bar.throttle.started -= ProgressBar.STEP_DELAY
    bar.step("backward", 7, 10, "at 128 bits")
    assert _lines(out.getvalue())[-1].endswith("backward 7/10 at 128 bits")
    bar.step("backward", 8, 10, "at 128 bits")  # within 0.2 s of the last: counted, not drawn
    assert _lines(out.getvalue())[-1].endswith("backward 7/10 at 128 bits")
    # Another phase (the pilot's first row) is shown but does not move the bar.
    bar.step("first row", 3, 5, "at 128 bits", now=True)
    assert _lines(out.getvalue())[-1] == (
        "symlstm [######......] 48% 2/4 gradients of layer 0 forward: first row 3/5 at 128 bits"
    )
    # Too long for the terminal: the working precision is left out first.
    narrow = io.StringIO()
    small = ProgressBar(narrow, units=1, columns=70)
    small.unit("layer 0 forward")
    small.step("forward", 10, 20, "at 128 bits", now=True)
    assert _lines(narrow.getvalue())[-1] == (
        "symlstm [######......] 50% 1/1 layer 0 forward: forward 10/20"
    )
    bar.write("a warning\n")  # text on stderr: the bar is cleared and the text passed on
    assert out.getvalue().endswith("\r\x1b[Ka warning\n")
    bar.close()
    assert bar.isatty()
    with pytest.raises(ArgumentError):
        ProgressBar(out, units=0)
    with pytest.raises(ArgumentError):
        bar.write(b"bytes")


def test_a_reference_inside_the_bar_reports_its_steps_to_it(monkeypatch):
    """The reference run as validate runs it (capturing) reports to the bar, and draws
    no line of its own."""
    out = Terminal()
    monkeypatch.setattr(sys, "stderr", out)
    bar = ProgressBar(out, units=1, columns=200)
    bar.unit("layer 0 forward")
    bar.throttle.started -= ProgressBar.STEP_DELAY
    bar.throttle.interval = 0.0  # every step drawn
    weights, inputs, _, _ = _network(3)
    variant, params = to_canonical("torch", weights)  # layer 0, forward
    cell = Cell("vector", variant, hidden_size=N, input_size=M)
    run_reference(bar, cell, params, inputs["x"].astype(np.float64))
    lines = _lines(out.getvalue())
    assert f"symlstm [######......] 50% 1/1 layer 0 forward: forward {T // 2}/{T} at 128 bits" in (
        lines
    )
    assert not any("symlstm reference:" in line for line in lines)
    bar.close()


def test_symlstm_validate_shows_the_bar_on_a_terminal_only(monkeypatch, tmp_path):
    weights, inputs, outputs, _ = _network(2)
    for name, arrays in (("W", weights), ("X", inputs), ("Y", outputs)):
        np.savez(tmp_path / f"{name}.npz", **arrays)
    argv = ["validate", "--layout", "torch", "--weights", str(tmp_path / "W.npz"),
            "--inputs", str(tmp_path / "X.npz"), "--outputs", str(tmp_path / "Y.npz")]  # fmt: skip
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(argv) == 0
    lines = _lines(terminal.getvalue())
    assert lines[1] == "symlstm [............] 0% 1/4 layer 0 forward"
    assert lines[-1] == "" and len(lines) == 6
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert main(argv) == 0
    assert plain.getvalue() == ""
