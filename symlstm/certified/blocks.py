"""The certified reference's forward attempts over blocks of batch rows, each block in a
worker process (``reference(..., workers=N)``): rows are independent, so each block's
balls are what one process would compute, and an attempt is judged over the whole batch.

>>> row_blocks(16, 2)
[(0, 8), (8, 16)]
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from symlstm import progress
from symlstm.cell import Variant
from symlstm.certified.balls import choose_balls
from symlstm.certified.inputs import Inputs
from symlstm.certified.passes import forward_backward, next_precision, plan_for
from symlstm.certified.ulps import ReferenceTensor
from symlstm.errors import AccuracyShortfallError, UndecidedError

__all__: list[str] = []  # shared with run.py, not part of the API

#: The forward outputs, and the axis of each that runs along the batch.
BATCH_AXIS = {"y": 1, "h_T": 0, "c_T": 0}


def row_blocks(batch: int, workers: int) -> list[tuple[int, int]]:
    """``batch`` rows cut into at most ``workers`` contiguous blocks, as even as can be."""
    bounds = np.linspace(0, batch, min(workers, batch) + 1).round().astype(int).tolist()
    return list(itertools.pairwise(bounds))


def rows(data: Inputs, start: int, stop: int) -> Inputs:
    """The inputs of rows ``start:stop`` (forward only); ``finite`` stays the whole
    batch's, so that a block measures its balls as the whole batch would."""
    return dataclasses.replace(
        data,
        batch=stop - start,
        x=data.x[:, start:stop],
        h0=data.h0[start:stop],
        c0=data.c0[start:stop],
    )


#: In a worker process: where it reports the steps it has done (None: nowhere).
STEPS: Any = None


def start_worker(steps: Any) -> None:
    """A worker process's initializer: the queue it reports its steps to."""
    global STEPS
    STEPS = steps


def forward_block(
    variant: Variant, backend: str, data: Inputs, prec: int, block: int
) -> dict[str, tuple[int | None, np.ndarray, np.ndarray]] | str:
    """One forward attempt at ``prec`` over a block of rows, in a worker process: each
    output's accuracy and double-double; or the message of an undecided kink. The steps
    done go to the progress queue (``(block, step)``, at most five times a second)."""
    ops = choose_balls(backend)
    plan = plan_for(variant, backend)
    throttle = progress.Throttle()

    def tick(phase: str, t: int, steps: int) -> None:
        if STEPS is not None and throttle(final=t == steps):
            STEPS.put((block, t))

    with ops.context.workprec(prec):
        try:
            part = next(forward_backward(plan, data, ops, 0, tick))
        except UndecidedError as err:
            return str(err)
        out = {}
        for name, values in part.items():
            hi, lo = ops.double_double(values, data.finite)
            out[name] = (
                ops.accuracy(values, data.finite),
                hi.reshape(values.shape),
                lo.reshape(values.shape),
            )
        return out


def attempt_blocks(
    pool: concurrent.futures.Executor,
    variant: Variant,
    backend: str,
    data: Inputs,
    blocks: list[tuple[int, int]],
    bits: int,
    prec: int,
    tick: Callable[..., None],
    steps: Any = None,
) -> dict[str, ReferenceTensor]:
    """One forward attempt at ``prec`` with each row block in a worker process, judged
    as :func:`~symlstm.certified.run.reference` judges the whole batch in one process: the
    same accuracies (the least over the blocks), the same shortfall and next precision,
    the same tensors."""
    futures = [
        pool.submit(forward_block, variant, backend, rows(data, a, b), prec, i)
        for i, (a, b) in enumerate(blocks)
    ]
    done = [0] * len(blocks)
    pending = set(futures)
    while pending:
        _, pending = concurrent.futures.wait(pending, timeout=0.25)
        while steps is not None and not steps.empty():
            block, t = steps.get()
            done[block] = max(done[block], t)
        tick("forward", min(done), data.steps, f" in {len(blocks)} processes")
    parts = [f.result() for f in futures]
    for part in parts:
        if isinstance(part, str):
            raise UndecidedError(part)
    tensors = {}
    for name, axis in BATCH_AXIS.items():
        accuracies = [part[name][0] for part in parts]  # type: ignore[index]
        got = None if None in accuracies else min(accuracies)  # type: ignore[type-var]
        if got is None or got < bits:
            raise AccuracyShortfallError(
                f"{name} has {got} of {bits} bits",
                quantity=name,
                got=got,
                next_prec=next_precision(prec, bits, got, 1),
            )
        hi = np.concatenate([part[name][1] for part in parts], axis=axis)  # type: ignore[index]
        lo = np.concatenate([part[name][2] for part in parts], axis=axis)  # type: ignore[index]
        tensors[name] = ReferenceTensor(hi, lo, got)
    return tensors
