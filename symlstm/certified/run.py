"""A certified, batched LSTM reference in ball arithmetic, for checking float code in ULPs.

:func:`reference` runs a vector cell forward along a batch of sequences and, given
upstream gradients, backward through time, in Arb ball arithmetic (python-flint,
the ``arb`` extra: ``pip install 'symlstm[arb]'``), or, where python-flint is
missing, in mpmath's interval arithmetic (``backend="iv"``, far slower). Every
value is a ball that provably contains the exact result for the exact binary
inputs; the working precision is raised until every output and gradient is known
to ``bits`` relative bits, and each comes back as a double-double
:class:`ReferenceTensor` whose :meth:`~ReferenceTensor.ulps` measures a float32 or
float64 result against it.

Nothing here restates the gate equations. The affine parts W_k x + U_k h + b_k (and,
for a projected cell, h = W_hr m) and their adjoints run as ``arb_mat`` products;
everything else is the equations of the scalar cell of the same variant
(:meth:`symlstm.cell.Cell.equations`) and of its backward step
(:func:`symlstm.derive.backward.backward_step`), as the step plan splits them
(:func:`symlstm.plan.step_plan`, which the generated NumPy and PyTorch modules are
printed from too), compiled once by :func:`symlstm.numeric.compile.compile_expression`
over the ball context (:class:`~symlstm.numeric.contexts.ArbContext` or
:class:`~symlstm.numeric.contexts.IvContext`) into closures that apply ball operations to
whole (hidden, batch) arrays, and run along the sequence by the one time loop
(:func:`symlstm.numeric.sequence.through_time`): one attempt at one working precision is
:mod:`symlstm.certified.passes`; this module judges the attempts and raises the
precision, and :mod:`symlstm.certified.blocks` runs blocks of batch rows in worker
processes. The ULP measure is in :mod:`symlstm.certified.ulps`, the input checks in
:mod:`symlstm.certified.inputs` and the matrices in :mod:`symlstm.certified.balls`.

Kinks: Max, Min and Abs are continuous, so a ball across a kink gives a valid
enclosure. A discontinuous choice (a Piecewise condition, sign, Heaviside) is
made only when the ball decides it; otherwise the precision is raised, and past
``max_prec`` :class:`~symlstm.errors.UndecidedBranchError` names the condition.

>>> cell, params = vector_form(Cell("tied"), {"w_f": 0.5, "w_i": 0.5, "w_g": 0.5,
...                                           "w_o": 0.5, "b": 0})
>>> sorted(params)
['U_f', 'U_g', 'U_i', 'U_o', 'W_f', 'W_g', 'W_i', 'W_o', 'b_f', 'b_g', 'b_i', 'b_o']
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from symlstm import budget, limits, progress
from symlstm.cell import Cell
from symlstm.certified.balls import Balls, choose_balls
from symlstm.certified.blocks import attempt_blocks, row_blocks, rows, start_worker
from symlstm.certified.inputs import Inputs, check_inputs, vector_form
from symlstm.certified.passes import Plan, forward_backward, next_precision, plan_for
from symlstm.certified.ulps import ReferenceTensor, normwise_ulps
from symlstm.errors import (
    AccuracyShortfallError,
    ArgumentError,
    MissingDependencyError,
    PrecisionError,
    UndecidedBranchError,
    UndecidedError,
)
from symlstm.numeric.rounding import with_increasing_precision
from symlstm.progress import stderr_is_terminal

__all__ = ["DEFAULT_BITS", "MAX_PREC", "START_PREC", "ReferenceResult", "reference"]

# Kept importable from here: the tensors, the ULP measure, the vector form, and the errors
# the reference raises (their home is symlstm.errors).
_REEXPORTED = (ReferenceTensor, normwise_ulps, vector_form, MissingDependencyError)

#: Relative accuracy certified by default: a double-double's worth.
DEFAULT_BITS = 106
#: The least working precision of the first attempt (see :func:`reference`), raised
#: until certified.
START_PREC = 128
#: Working precision beyond which :func:`reference` gives up (one table:
#: :data:`symlstm.limits.MAX_REFERENCE_PREC`).
MAX_PREC = limits.MAX_REFERENCE_PREC


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceResult:
    """What :func:`reference` returns.

    ``y`` is (T, B, n), ``h_T`` and ``c_T`` are (B, n). ``grads`` (when upstream
    gradients were given) holds the gradient of every parameter by name, and of
    ``"x"``, ``"h0"`` and ``"c0"``. ``bits`` is the working precision that certified
    them, ``certified_bits`` the relative accuracy asked for.
    """

    y: ReferenceTensor
    h_T: ReferenceTensor
    c_T: ReferenceTensor
    grads: dict[str, ReferenceTensor] | None
    bits: int
    certified_bits: int


class _Progress:
    """The reference's progress: to the listener of a :func:`symlstm.progress.listening`
    block (validate's bar) where there is one, else one status line on stderr, shown once
    the reference has run for ``delay`` seconds (:class:`~symlstm.progress.StatusLine`)."""

    def __init__(
        self, enabled: bool, stream: Any = None, delay: float = 2.0, *, backend: str = "arb"
    ) -> None:
        self.backend = "" if backend == "arb" else " (mpmath.iv)"
        self.report = progress.listener() if enabled else None
        own_line = enabled and self.report is None
        self.line = progress.StatusLine(stream, delay=delay) if own_line else None
        self.enabled = enabled
        self.prec = 0

    def __call__(self, phase: str, t: int, steps: int, where: str = "") -> None:
        """Step ``t`` of ``steps`` of ``phase`` done (``where``: " in 2 processes")."""
        detail = f"{where} at {self.prec} bits{self.backend}"
        if self.report is not None:
            self.report(phase, t, steps, detail.lstrip())
        elif self.line is not None:
            self.line.show(f"symlstm reference: {phase} step {t}/{steps}{detail}")

    def close(self) -> None:
        if self.line is not None:
            self.line.close()


# -- the first precision of a long forward pass ---------------------------------------------------

#: A reference without gradients of at least PILOT_BATCH rows and PILOT_STEPS steps first
#: runs its first row alone over the first half of the steps, and starts the batch at
#: the precision that asks for: the bits lost times two (the balls widen faster in the
#: first steps than later, so this overestimates the loss a little), plus PILOT_MARGIN.
PILOT_BATCH = 8
PILOT_STEPS = 50
PILOT_MARGIN = 4


def _pilot_precision(
    plan: Plan,
    data: Inputs,
    ops: Balls,
    bits: int,
    prec: int,
    max_prec: int,
    tick: _Progress,
    matrices: dict[str, Any] | None = None,
) -> int:
    """The first row's forward over the first half of the steps at ``prec``: the
    precision its loss, times the steps over the steps run, asks for, rounded up to 16
    bits (at least START_PREC, at most ``max_prec``); ``prec`` where it measures nothing
    (a non-finite ball, an undecided kink, or every bit lost)."""
    steps = -(-data.steps // 2)
    row = dataclasses.replace(rows(data, 0, 1), steps=steps, x=data.x[:steps, :1])
    tick.prec = prec
    with ops.context.workprec(prec):
        try:
            first_row = lambda phase, t, steps: tick("first row", t, steps)  # noqa: E731
            part = next(forward_backward(plan, row, ops, 0, first_row, matrices))
        except UndecidedError:
            return prec
        accuracies = [ops.accuracy(values, data.finite) for values in part.values()]
    if None in accuracies or min(accuracies) < 1:  # type: ignore[type-var,operator]
        return prec
    loss = (prec - min(accuracies)) * data.steps / steps  # type: ignore[type-var,operator]
    need = bits + math.ceil(loss) + PILOT_MARGIN
    return min(max_prec, max(START_PREC, -(-need // 16) * 16))


# -- certification --------------------------------------------------------------------------------


def _attempt_certified(
    plan: Plan,
    data: Inputs,
    ops: Balls,
    bits: int,
    prec: int,
    first: int,
    predict: bool,
    tick: Any,
    matrices: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, int | None]]:
    """One attempt at ``prec``: balls and accuracies, all certified to ``bits``; or
    :class:`~symlstm.errors.AccuracyShortfallError` naming the first tensor short of
    ``bits`` and the precision to try next. ``first`` is the first attempt's precision:
    the least length the gradient products' factors are trimmed to grows from
    ``bits + 24`` with every retry.

    The forward part is checked first, so that an attempt it fails skips the backward.
    With ``predict``, the backward is also skipped when the forward's loss says it will
    fail: the gradients were measured to lose at most about twice the bits the forward
    loses (the error of h_1 reaches h_T, then goes back to dh_0).
    """
    balls: dict[str, np.ndarray] = {}
    accuracy: dict[str, int | None] = {}
    factor = 2 if data.gradients else 1
    floor = bits + 24 + prec - first
    for part in forward_backward(plan, data, ops, floor, tick, matrices):
        for name, values in part.items():
            accuracy[name] = got = ops.accuracy(values, data.finite)
            if got is None or got < bits:
                raise AccuracyShortfallError(
                    f"{name} has {got} of {bits} bits",
                    quantity=name,
                    got=got,
                    next_prec=next_precision(prec, bits, got, factor),
                )
            balls[name] = values
        if predict and "y" in part:
            got = min(accuracy[name] for name in part)
            retry = next_precision(prec, bits, got, factor)
            if retry is not None:
                raise AccuracyShortfallError(
                    f"the forward pass predicts fewer than {bits} bits",
                    quantity=None,
                    got=got,
                    next_prec=retry,
                )
        factor = 1
    return balls, accuracy


def _predicted_precision(prec: int, err: UndecidedError) -> int:
    """The precision loop's next precision: the one a shortfall predicts; double after an
    undecided kink, where nothing was measured."""
    return err.next_prec if isinstance(err, AccuracyShortfallError) else 2 * prec


def _tensor(values: np.ndarray, bits: int, ops: Balls, finite: bool) -> ReferenceTensor:
    """``finite``: every ball is known to be finite (certified from finite inputs)."""
    hi, lo = ops.double_double(values, finite)
    return ReferenceTensor(hi.reshape(values.shape), lo.reshape(values.shape), bits)


def reference(
    cell: Cell,
    params: Mapping[str, Any],
    x: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    dy: Any = None,
    dhT: Any = None,
    dcT: Any = None,
    bits: int = DEFAULT_BITS,
    start_prec: int | None = None,
    max_prec: int = MAX_PREC,
    progress: bool | None = None,
    backend: str = "auto",
    allow_large: bool = False,
    workers: int = 1,
) -> ReferenceResult:
    """Run a vector cell along a batch of sequences in certified ball arithmetic.

    Parameters
    ----------
    cell
        A sized vector :class:`~symlstm.cell.Cell`, any variant (see :func:`vector_form`
        for tied and scalar cells).
    params
        Name → float32 or float64 array: W_k (n, m), U_k (n, n), b_k (n,), p_k (n,);
        exactly the names of ``cell.parameters``. Each float is taken exactly. A
        projected cell (``proj_size`` p) has U_k (n, p) and ``W_hr`` (p, n), and h has
        p components wherever it appears below (y, h0, h_T, dy, dhT).
    x
        Inputs, (T, B, m), time-major.
    h0, c0
        Initial states, (B, n); zeros when left out.
    dy, dhT, dcT
        Upstream gradients: ∂L/∂h_t for every step (T, B, n), and extra gradients on
        the final h and c (B, n). Giving any of them asks for the gradients (the rest
        are zeros).
    bits
        Relative accuracy to certify every output and gradient to: each ball's radius
        is at most 2^-bits of its smallest magnitude, or the ball lies within 2^-1075
        of zero (it rounds to zero in every float format, so it cannot matter).
    start_prec, max_prec
        First and largest working precision in bits. The default first precision is
        a guess from the balls' measured widening, at most about 2 bits a step over
        forward and backward: ``bits + 2 T`` rounded up to 16 bits, at least
        ``START_PREC``; without gradients, for ``PILOT_BATCH`` rows or more and
        ``PILOT_STEPS`` steps or more, the first row is first run alone over half the
        steps at that precision, and its loss, times two, plus
        ``PILOT_MARGIN`` bits sets the first precision of the whole batch (a few per
        cent of the time: the widening grows with the hidden size, about 2 bits a step
        at 512, and a first attempt that falls short costs a whole pass). After a
        shortfall the next precision adds the bits lost
        (twice the forward's loss, when the forward decides it, before the backward
        runs) and a margin; it doubles where nothing was measured (a non-finite ball,
        a kink undecided). It is the backend's global precision (python-flint's
        ``ctx.prec``, or ``mpmath.iv.prec``) while this runs, restored afterwards,
        also on error, so do not run two references at once in threads.
    progress
        A status line on stderr (step and working precision) for references that
        run longer than two seconds; None (the default) shows it only when stderr
        is a terminal.
    backend
        ``"arb"``: python-flint's Arb balls (the ``arb`` extra). ``"iv"``: mpmath's
        interval arithmetic, the same equations and certification, far slower (see the
        benchmarks). ``"auto"`` (the default): Arb where python-flint imports, otherwise
        mpmath with a :class:`RuntimeWarning` (and "mpmath.iv" in the progress line).
    allow_large
        Run a reference whose estimated time (steps × batch × cell size,
        :mod:`symlstm.budget`) is over the work budget; otherwise it raises
        :class:`~symlstm.errors.WorkBudgetError` before any work.
    workers
        Processes to run the batch rows in, as contiguous blocks of rows (at most one
        block per row), when no gradients are asked: rows are independent, every row's
        balls are computed the same way whatever rows share its process, and every
        attempt is judged over the whole batch, so the result is identical to one
        process's (``workers=1``, the default). The workers are started with
        multiprocessing's ``spawn`` context for this call and stopped at its end (a
        second or so each); a script that asks for them needs the usual ``if __name__
        == "__main__":`` guard. With upstream gradients the reference runs in one
        process: the parameters' gradients are sums over all rows.

    Returns
    -------
    ReferenceResult
        ``y``, ``h_T``, ``c_T`` and, with upstream gradients, ``grads``.

    Raises
    ------
    PrecisionError
        When ``max_prec`` does not certify a tensor (named in the message);
        :class:`~symlstm.errors.UndecidedBranchError` when it does not decide a kink.
    ShapeError, ParameterError, UnknownNameError
        For bad shapes, missing or unknown parameter names, or a cell that is not a
        sized vector cell.
    MissingDependencyError
        For ``backend="arb"`` without python-flint.

    >>> import pytest
    >>> flint = pytest.importorskip("flint")  # the arb extra
    >>> cell = Cell("vector", hidden_size=2, input_size=1)
    >>> params = {name: np.full(cell.shape(name), 0.5, dtype=np.float32)
    ...           for name in cell.parameters}
    >>> x = np.ones((3, 1, 1), dtype=np.float32)
    >>> r = reference(cell, params, x, dy=np.ones((3, 1, 2)))
    >>> r.y.hi[-1]
    array([[0.78876583, 0.78876583]])
    >>> r.y.max_ulps(r.y.hi.astype(np.float32)) <= 0.5
    True
    >>> sorted(r.grads)[:3], r.grads["b_o"].hi.shape
    (['U_f', 'U_g', 'U_i'], (2,))
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ArgumentError(f"workers must be a positive integer, not {workers!r}")
    if workers > limits.MAX_WORKERS:
        raise ArgumentError(
            f"workers must be at most {limits.MAX_WORKERS} (MAX_WORKERS in symlstm.limits), "
            f"not {workers}"
        )
    for name, value in (("bits", bits), ("max_prec", max_prec)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentError(f"{name} must be an integer, not {type(value).__name__}")
    ops = choose_balls(backend)
    guessed = start_prec is None
    if start_prec is None:
        steps = np.shape(x)[0] if np.ndim(x) else 0
        start_prec = max(START_PREC, -(-(bits + 2 * steps) // 16) * 16)
    for name, value in (("bits", bits), ("start_prec", start_prec), ("max_prec", max_prec)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PrecisionError(f"{name} must be a positive integer, not {value!r}")
    if not bits < max_prec:
        raise PrecisionError(f"max_prec ({max_prec}) must exceed bits ({bits})")
    data = check_inputs(cell, params, x, h0, c0, dy, dhT, dcT)
    cost = "reference" if ops.name == "arb" else "evaluation"  # mpmath.iv: far slower
    # the reference's cost model is of a forward pass; mpmath.iv's (evaluation) covers both
    times = budget.GRADIENT_FACTOR if data.gradients and cost == "reference" else 1
    with budget.work(
        cost, cell, data.steps, batch=data.batch, times=times, allow_large=allow_large
    ):
        return _reference(
            cell, data, ops, bits, start_prec, max_prec, progress, workers, pilot=guessed
        )


def _reference(
    cell, data, ops, bits, start_prec, max_prec, progress, workers=1, pilot=False
) -> ReferenceResult:
    plan = plan_for(cell.variant, ops.name)
    if cell.projected:  # the one equation the element-wise plan does not cover
        plan.step.check_projection("the reference")
    first = min(start_prec, max_prec)
    tick = _Progress(stderr_is_terminal() if progress is None else progress, backend=ops.name)
    matrices: dict[str, Any] = {}  # the weight matrices, kept from one attempt to the next
    if pilot and not data.gradients and data.batch >= PILOT_BATCH and data.steps >= PILOT_STEPS:
        first = _pilot_precision(plan, data, ops, bits, first, max_prec, tick, matrices)

    blocks = row_blocks(data.batch, workers) if not data.gradients else []
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    steps: Any = None  # the workers' progress queue
    if len(blocks) > 1:
        spawn = multiprocessing.get_context("spawn")
        steps = spawn.SimpleQueue() if tick.enabled else None
        pool = concurrent.futures.ProcessPoolExecutor(
            len(blocks), mp_context=spawn, initializer=start_worker, initargs=(steps,)
        )

    def attempt(prec: int) -> tuple[dict[str, ReferenceTensor], int]:
        tick.prec = prec
        if pool is not None:
            return attempt_blocks(
                pool, cell.variant, ops.name, data, blocks, bits, prec, tick, steps
            ), prec
        with ops.context.workprec(prec):
            balls, accuracy = _attempt_certified(
                plan, data, ops, bits, prec, first, prec < max_prec, tick, matrices
            )
            tensors = {k: _tensor(v, accuracy[k], ops, data.finite) for k, v in balls.items()}
        return tensors, prec

    def give_up(prec: int, err: UndecidedError) -> PrecisionError:
        if not isinstance(err, AccuracyShortfallError):
            return UndecidedBranchError(
                f"cannot decide {err} even at {prec} bits: the value lies on a kink of "
                "a piecewise function (or within 2^-prec of one)"
            )
        if err.got is None:
            short = "a ball is not finite"
        elif err.got < -(1 << 20):
            short = "a value is not told apart from zero"
        else:
            short = f"only {err.got} bits"
        failed = str(err.quantity).replace("grad:", "the gradient of ")
        return PrecisionError(
            f"could not certify {failed} to {bits} bits at {prec} bits working precision "
            f"({short}); raise max_prec or ask for fewer bits"
        )

    try:
        tensors, prec = with_increasing_precision(
            attempt,
            start=first,
            max_prec=max_prec,
            next_precision=_predicted_precision,
            give_up=give_up,
        )
    finally:
        tick.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    grads = {k.removeprefix("grad:"): v for k, v in tensors.items() if k.startswith("grad:")}
    return ReferenceResult(
        tensors["y"],
        tensors["h_T"],
        tensors["c_T"],
        grads if data.gradients else None,
        prec,
        bits,
    )
