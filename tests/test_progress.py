"""The one status line every long operation draws (symlstm.progress)."""

from __future__ import annotations

import io

import pytest

from symlstm.progress import ERASE, StatusLine, Throttle, listener, listening


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
