"""The work budget: what an evaluation, a worked example, a gradient or a reference will
cost, estimated from its steps and cell size and checked before the work starts.

Certified evaluation is exact and interval arithmetic on SymPy expressions, far slower
than floating point: a worked example of a scalar cell takes about 16 ms a step (10,000
steps: minutes), and a vector cell's symbolic program grows with hidden × (hidden +
input), so a hidden-300 cell takes many minutes before its first step. Every public entry
that does such work estimates its time (:func:`estimate_seconds`) and refuses work over
:data:`~symlstm.limits.MAX_WORK_SECONDS` with a :class:`WorkBudgetError` that says how
long it would take and how to allow it: ``allow_large=True`` in Python, ``--allow-large``
on the command line (or :func:`allowing` around any calls).

>>> from symlstm.cell import Cell
>>> round(estimate_seconds("worked", Cell("tied"), 10_000))
160
>>> check_work("worked", Cell("tied"), 10_000)
Traceback (most recent call last):
...
symlstm.errors.WorkBudgetError: a worked example of 10000 steps of a tied cell would take \
about 3 minutes, over the work budget of 30 s (MAX_WORK_SECONDS in symlstm.limits): \
give --allow-large (Python: allow_large=True) to run it anyway
>>> check_work("worked", Cell("tied"), 10_000, allow_large=True) > 30
True

The cost model is :data:`COSTS`: seconds per *unit* of cell size, where a unit is one
product of a gate's pre-activation (a scalar cell is one unit; a vector cell's is hidden ×
(input + hidden + 1)), once for the symbolic set-up and again for every step (and, for
the reference, for every sequence of the batch). Its figures were measured on the 2-core
machine the package is developed on (see ``docs/limits.md``); they are rough (within
a factor of about 2), which is all a budget needs.

Allowed work that runs long shows one progress line on stderr when stderr is a
terminal (``symlstm: worked example: step 120/10000``), rewritten in place.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from symlstm import limits
from symlstm.errors import ArgumentError, UnknownNameError, WorkBudgetError
from symlstm.progress import StatusLine, stderr_is_terminal

__all__ = [
    "COSTS",
    "GRADIENT_FACTOR",
    "PROGRESS_AFTER_SECONDS",
    "Cost",
    "allowing",
    "check_work",
    "estimate_seconds",
    "progress",
    "work",
]


#: Allowed work estimated to take longer than this (seconds) shows progress on a terminal.
PROGRESS_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Cost:
    """Seconds one operation takes, by cell size and steps.

    ``scalar_step``: a step of a scalar or tied cell. ``setup`` (times units **
    ``setup_power``) and ``step`` (times units, per step): a vector cell.
    """

    label: str
    scalar_step: float
    setup: float
    step: float
    setup_power: float = 1.0
    #: Units beyond this many cost ``step_large`` each a step (0: no such rate): the
    #: reference's products of large matrices run exactly in integers, far cheaper a unit.
    large_from: int = 0
    step_large: float = 0.0
    #: The name in :mod:`symlstm.limits` of this operation's budget.
    limit: str = "MAX_WORK_SECONDS"


#: The cost model, by operation. Measured here (sympy 1.14, mpmath 1.3, python-flint 0.9,
#: 2 cores shared with other work): scalar worked example 300 steps 5.0 s; certified
#: evaluation 300 steps 0.2 s; gradients 300 steps 0.85 s. Vector cells, hidden = input:
#: the symbolic program 0.85-1.7 s at 8, 2.5-4.9 s at 16, 14 s at 32 (about 7 ms a unit),
#: then about 1 ms a unit a step certified, 3 ms worked; gradients, one step, 2.1 s at
#: hidden = input = 4, 8.5 s at 8, 16 s at 10 (the backward program grows faster), and
#: about 30 ms a unit a step. The reference (Arb), forward only, a step of one sequence:
#: 0.3 ms at hidden 32 (input 16), 1.0 ms at 64, 5.9 ms at 128, 20 ms at 256 (about
#: 0.2 µs a unit), 14 ms at 512 (T 200, batch 16: exact integer products; about 0.02 µs a
#: unit beyond 2^16 units); with gradients about 3 to 5 times as long (``times``).
COSTS: dict[str, Cost] = {
    "evaluation": Cost("a certified evaluation", 0.0008, 0.007, 0.001),
    "worked": Cost("a worked example", 0.016, 0.007, 0.003),
    "gradient": Cost("certified gradients", 0.003, 0.006, 0.03, setup_power=1.5),
    "audit": Cost("an audit", 0.004, 0.007, 0.002),
    "reference": Cost(
        "a certified reference", 0.0002, 0.0, 2e-7, large_from=2**16, step_large=2e-8
    ),
}
#: A validation is the reference's work (a unit at a time), under its own budget.
COSTS["validation"] = dataclasses.replace(
    COSTS["reference"], label="a validation", limit="MAX_VALIDATION_SECONDS"
)
#: How much longer a reference with gradients runs than one without (measured 3 to 5).
GRADIENT_FACTOR = 4


def _units(cell: Any) -> int:
    """Products in one step's pre-activations: 1 for a scalar cell, n × (m + h + 1)."""
    if not cell.is_vector or cell.hidden_size is None or cell.input_size is None:
        return 1  # an unsized vector cell is refused where it is evaluated
    h = cell.shape("h")[0]
    return cell.hidden_size * (cell.input_size + h + 1)


def _check_operation(operation: Any) -> Cost:
    if not isinstance(operation, str):
        raise ArgumentError(f"operation must be a string, not {type(operation).__name__}")
    if operation not in COSTS:
        raise UnknownNameError(f"unknown operation {operation!r}; known: {', '.join(COSTS)}")
    return COSTS[operation]


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise ArgumentError(f"{what} must be >= 0, not {value}")
    return value


def estimate_seconds(
    operation: str, cell: Any, steps: int, batch: int = 1, *, times: int = 1
) -> float:
    """Estimated seconds of ``operation`` on ``steps`` steps of ``cell`` (``batch`` sequences),
    ``times`` over (a network's units; :data:`GRADIENT_FACTOR` with gradients).

    Parameters
    ----------
    operation
        A key of :data:`COSTS`: ``"evaluation"``, ``"worked"``, ``"gradient"``,
        ``"audit"`` or ``"reference"``.
    cell
        The :class:`~symlstm.cell.Cell` (vector cells need their sizes).
    steps, batch
        Steps of the sequence, and sequences (the reference's batch).

    Returns
    -------
    float
        Seconds on the machine the model was measured on.

    >>> from symlstm.cell import Cell
    >>> estimate_seconds("evaluation", Cell("tied"), 1000)
    0.8
    """
    from symlstm.cell import Cell

    cost = _check_operation(operation)
    if not isinstance(cell, Cell):
        raise ArgumentError(f"cell must be a Cell, not {type(cell).__name__}")
    steps, batch = _check_count(steps, "steps"), _check_count(batch, "batch")
    times = max(_check_count(times, "times"), 1)
    if not cell.is_vector:
        return cost.scalar_step * steps * max(batch, 1) * times
    units = _units(cell)
    per_step = cost.step * units
    if cost.large_from and units > cost.large_from:
        per_step = cost.step * cost.large_from + cost.step_large * (units - cost.large_from)
    setup = cost.setup * units**cost.setup_power
    return (setup + per_step * steps * max(batch, 1)) * times


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


def _describe(cell: Any, steps: int, batch: int) -> str:
    if cell.is_vector:
        shape = f"a hidden-{cell.hidden_size} vector cell (input {cell.input_size})"
    else:
        shape = f"a {cell.kind} cell"
    sequences = f", batch {batch}" if batch > 1 else ""
    return f"{steps} step{'s' if steps != 1 else ''} of {shape}{sequences}"


#: True while allowed work runs: from :func:`allowing`, or inside a checked operation
#: (whose estimate covers the calls it makes).
_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar("symlstm_allowed", default=False)
#: The progress line of the outermost operation running, if it shows one.
_PROGRESS: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "symlstm_progress", default=None
)


@contextlib.contextmanager
def allowing(allow: bool = True) -> Iterator[None]:
    """Work over the budget is allowed inside this block (``allow=False``: as outside).

    >>> from symlstm.cell import Cell
    >>> with allowing():
    ...     check_work("worked", Cell("tied"), 10**6) > 3600
    True
    """
    if not isinstance(allow, bool):
        raise ArgumentError(f"allow must be True or False, not {type(allow).__name__}")
    token = _ALLOWED.set(allow or _ALLOWED.get())
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def check_work(
    operation: str,
    cell: Any,
    steps: int,
    *,
    batch: int = 1,
    times: int = 1,
    allow_large: bool = False,
) -> float:
    """Refuse ``operation`` if its estimate is over the budget; return the estimate.

    Raises
    ------
    WorkBudgetError
        If :func:`estimate_seconds` is over the operation's budget
        (:data:`~symlstm.limits.MAX_WORK_SECONDS`; a validation's
        :data:`~symlstm.limits.MAX_VALIDATION_SECONDS`) and neither ``allow_large`` nor an
        enclosing :func:`allowing` allows it.
    """
    if not isinstance(allow_large, bool):
        raise ArgumentError(f"allow_large must be True or False, not {type(allow_large).__name__}")
    seconds = estimate_seconds(operation, cell, steps, batch, times=times)
    name = COSTS[operation].limit
    limit = getattr(limits, name)  # read now: a caller may change it
    if seconds > limit and not (allow_large or _ALLOWED.get()):
        raise WorkBudgetError(
            f"{COSTS[operation].label} of {_describe(cell, steps, batch)}"
            + (f", {times} times over (a network's units, the backward pass)" if times > 1 else "")
            + f" would take about "
            f"{_duration(seconds)}, over the work budget of {limit:g} s "
            f"({name} in symlstm.limits): give --allow-large "
            "(Python: allow_large=True) to run it anyway"
        )
    return seconds


@contextlib.contextmanager
def work(
    operation: str,
    cell: Any,
    steps: int,
    *,
    batch: int = 1,
    times: int = 1,
    allow_large: bool = False,
) -> Iterator[float | None]:
    """Check ``operation``'s estimate (:func:`check_work`), then run the block as allowed
    work, with a progress line on a terminal when it is estimated to run long.

    Calls inside the block are not checked again: the outer estimate covers them. The
    block gets the estimate in seconds (None inside another checked operation).
    """
    if _inside.get():
        yield None  # an operation inside a checked one
        return
    seconds = check_work(operation, cell, steps, batch=batch, times=times, allow_large=allow_large)
    show = seconds > PROGRESS_AFTER_SECONDS and stderr_is_terminal()
    line = _Progress(COSTS[operation].label.split(" ", 1)[1], show)
    tokens = (_ALLOWED.set(True), _inside.set(True), _PROGRESS.set(line))
    try:
        yield seconds
    finally:
        _PROGRESS.reset(tokens[2])
        _inside.reset(tokens[1])
        _ALLOWED.reset(tokens[0])
        line.close()


_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("symlstm_inside", default=False)


class _Progress:
    """``symlstm: worked example: step t/T`` on stderr (a :class:`StatusLine`)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.line = StatusLine() if enabled else None

    def __call__(self, t: int, steps: int) -> None:
        if self.line is not None:
            self.line.show(f"symlstm: {self.label}: step {t}/{steps}", final=t == steps)

    def close(self) -> None:
        if self.line is not None:
            self.line.close()


def progress(t: int, steps: int) -> None:
    """Report step ``t`` of ``steps`` of the running operation (nothing unless it shows a
    progress line: long allowed work, stderr a terminal). Called once a step."""
    line = _PROGRESS.get()
    if line is not None:
        line(t, steps)
