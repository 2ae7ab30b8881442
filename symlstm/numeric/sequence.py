"""The time loop: one step function run along a sequence, forward or backward through time.

Evaluation (a :class:`~symlstm.numeric.evaluation.Trace`), backprop through time
(:func:`symlstm.derive.gradients.backprop`) and the certified reference's forward and
backward passes all run their steps here: t = 1 … T forward, t = T … 1 backward, the
state carried from one step to the next, and progress reported as (steps done, T).

>>> through_time(3, lambda t, h: h + [t], [])
[1, 2, 3]
>>> through_time(3, lambda t, h: h + [t], [], reverse=True)
[3, 2, 1]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from symlstm.errors import ArgumentError

__all__ = ["through_time"]

S = TypeVar("S")


def through_time(
    steps: int,
    step: Callable[[int, S], S],
    carry: S,
    *,
    reverse: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> S:
    """Run ``carry = step(t, carry)`` for t = 1 … ``steps`` (``reverse``: ``steps`` … 1)
    and return the last carry; ``progress(k, steps)`` is called before the k-th step.

    >>> through_time(2, lambda t, c: 2 * c + t, 0, progress=lambda k, n: print(k, "of", n))
    1 of 2
    2 of 2
    4

    Raises
    ------
    ArgumentError
        If ``steps`` is not a non-negative integer, or ``step`` or ``progress`` (when
        given) is not callable.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ArgumentError(f"steps must be a non-negative integer, not {steps!r}")
    if not callable(step):
        raise ArgumentError(f"step must be callable, not {type(step).__name__}")
    if progress is not None and not callable(progress):
        raise ArgumentError(f"progress must be callable or None, not {type(progress).__name__}")
    if not isinstance(reverse, bool):
        raise ArgumentError(f"reverse must be True or False, not {reverse!r}")
    order = range(steps, 0, -1) if reverse else range(1, steps + 1)
    for k, t in enumerate(order, start=1):
        if progress is not None:
            progress(k, steps)
        carry = step(t, carry)
    return carry
