"""The one status line every long operation draws (symlstm.progress)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from symlstm.progress import (
    ERASE,
    StatusLine,
    Throttle,
    listener,
    listening,
    stderr_is_terminal,
)


def test_throttle_waits_for_its_delay_then_lets_one_call_through_per_interval():
    throttle = Throttle(interval=0.2, delay=2.0)
    assert not throttle() and not throttle(final=True)  # the delay holds even the last step
    throttle.started -= 2.0
    assert throttle()
    assert not throttle()  # within the interval
    assert throttle(final=True)  # the last step is drawn anyway
    throttle.last -= 0.2
    assert throttle()


def test_status_line_redraws_in_place_and_erases_only_what_it_drew():
    out = io.StringIO()
    line = StatusLine(out, interval=0.0)
    line.close()
    assert out.getvalue() == ""  # nothing drawn, nothing erased
    line.show("step 1/2")
    line.show("step 2/2")
    line.close()
    assert out.getvalue() == f"{ERASE}step 1/2{ERASE}step 2/2{ERASE}"
    line.close()  # once
    assert out.getvalue().count(ERASE) == 3


def test_status_line_leaves_a_closed_stream_alone():
    out = io.StringIO()
    out.close()
    line = StatusLine(out)
    line.draw("step 1/2")  # ValueError from the closed stream: suppressed
    line.close()


def test_listening_is_scoped_and_restored_on_error():
    seen: list[tuple] = []
    assert listener() is None
    with pytest.raises(RuntimeError), listening(lambda *step: seen.append(step)):
        with listening(lambda *step: seen.append(("inner", *step))):
            listener()("forward", 1, 2, "")
        listener()("backward", 2, 2, "at 128 bits")
        raise RuntimeError
    assert listener() is None
    assert seen == [("inner", "forward", 1, 2, ""), ("backward", 2, 2, "at 128 bits")]


def test_stderr_is_terminal_where_stderr_is_none_closed_or_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    closed = io.StringIO()
    closed.close()
    for stream, expected in ((None, False), (closed, False), (io.StringIO(), False),
                             (Terminal(), True)):  # fmt: skip
        monkeypatch.setattr(sys, "stderr", stream)
        assert stderr_is_terminal() is expected


def test_a_reference_runs_with_no_stderr(monkeypatch):
    """pythonw and some services have sys.stderr None: the default progress (a line only
    on a terminal) must not need one (the reference used to raise AttributeError)."""
    from symlstm import Cell, reference

    cell = Cell("vector", hidden_size=2, input_size=1)
    params = {name: np.full(cell.shape(name), 0.5) for name in cell.parameters}
    x = np.ones((3, 1, 1))
    with_stderr = reference(cell, params, x)
    monkeypatch.setattr(sys, "stderr", None)
    r = reference(cell, params, x)
    assert r.y.hi.tolist() == with_stderr.y.hi.tolist()
    assert r.y.lo.tolist() == with_stderr.y.lo.tolist()
