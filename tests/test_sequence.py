"""The one time loop: order, carried state, progress and argument checks."""

from __future__ import annotations

import pytest

from symlstm.errors import ArgumentError
from symlstm.numeric.sequence import through_time


def test_forward_and_backward_order_and_carry():
    # h_t = 2 h_{t-1} + t from h_0 = 1: 1 → 3 → 8 → 19 (computed by hand)
    assert through_time(3, lambda t, h: 2 * h + t, 1) == 19
    # backward: t = 3, 2, 1 → 1 → 5 → 12 → 25
    assert through_time(3, lambda t, h: 2 * h + t, 1, reverse=True) == 25
    assert through_time(0, lambda t, h: h + 1, 7) == 7


def test_progress_counts_steps_done():
    seen = []
    through_time(3, lambda t, h: h, None, reverse=True, progress=lambda k, n: seen.append((k, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"steps": -1},
        {"steps": 1.5},
        {"steps": True},
        {"step": None},
        {"progress": 3},
        {"reverse": "yes"},
    ],
)
def test_bad_arguments(kwargs):
    call = {"steps": 2, "step": lambda t, h: h, "carry": 0} | kwargs
    with pytest.raises(ArgumentError):
        through_time(**call)
