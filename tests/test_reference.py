"""The certified ball-arithmetic reference against the hand-written mpmath cell.

Forward values are compared with ``vector_trace`` element by element; gradients with a
central finite difference of ``vector_trace`` at 60 digits (about 200 bits), one random
direction per tensor, so each gradient is checked on its own.
"""

from __future__ import annotations

import sys

import mpmath
import numpy as np
import pytest

from symlstm.cell import Cell
from symlstm.certified import run as reference_module
from symlstm.certified.blocks import row_blocks
from symlstm.certified.run import (
    ReferenceTensor,
    reference,
    vector_form,
)
from symlstm.derive.backward import BackwardStep, backward_step
from symlstm.errors import (
    MissingDependencyError,
    ParameterError,
    PrecisionError,
    ShapeError,
    SymLSTMError,
    UndecidedBranchError,
    UnknownNameError,
)

from lstm_reference import (
    SEED_SEQUENCE,
    SEED_STEP,
    SPEC_TABLE,
    VARIANTS,
    rounded,
    scalar_trace,
    vector_trace,
)

flint = pytest.importorskip("flint")

ALL_VARIANTS = {
    **VARIANTS,
    "relu-identity": {"candidate_activation": "relu", "output_activation": "identity"},
    "peephole-forget-bias-hard": {
        "peephole": True,
        "forget_bias": 1,
        "gate_activation": "hard_sigmoid_relu6",
        "output_activation": "softsign",
    },
}
DPS = 60
EPS = mpmath.mpf("1e-20")


def problem(variant: dict, *, steps=3, batch=2, n=3, m=2, seed=0, dtype=np.float32, proj=None):
    """A random cell problem: the cell, parameters, x, h0, c0 and upstream gradients
    (``proj``: PyTorch's proj_size, h has that many components)."""
    rng = np.random.default_rng(seed)
    cell = Cell("vector", hidden_size=n, input_size=m, proj_size=proj, **variant)
    p = n if proj is None else proj
    params = {}
    for name in cell.parameters:
        shape = tuple(int(d) for d in cell.shape(name))
        params[name] = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal((steps, batch, m)).astype(dtype)
    h0, c0 = (rng.standard_normal((batch, size)).astype(dtype) for size in (p, n))
    upstream = {
        "dy": rng.standard_normal((steps, batch, p)),
        "dhT": rng.standard_normal((batch, p)),
        "dcT": rng.standard_normal((batch, n)),
    }
    return cell, params, x, h0, c0, upstream


def exact(t: ReferenceTensor, index) -> mpmath.mpf:
    return mpmath.mpf(float(t.hi[index])) + mpmath.mpf(float(t.lo[index]))


def traces(params, x, h0, c0, variant):
    """vector_trace for every batch element (matrices and vectors as nested lists)."""
    lists = {
        k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in params.items()
    }
    return [
        vector_trace(
            lists, [x[t][b] for t in range(len(x))], h0[b], c0[b], variant=variant, dps=DPS
        )
        for b in range(len(h0))
    ]


def mp_nested(a: np.ndarray):
    return [mp_nested(r) for r in a] if a.ndim else mpmath.mpf(float(a))


def loss(params, x, h0, c0, variant, upstream) -> mpmath.mpf:
    """L = Σ_t dy_t · h_t + dhT · h_T + dcT · c_T, from vector_trace."""
    dy, dhT, dcT = upstream["dy"], upstream["dhT"], upstream["dcT"]
    total = mpmath.mpf(0)
    for b, steps in enumerate(traces(params, x, h0, c0, variant)):
        for t, step in enumerate(steps):
            total += mpmath.fsum(float(d) * h for d, h in zip(dy[t, b], step["h"], strict=True))
        total += mpmath.fsum(float(d) * h for d, h in zip(dhT[b], steps[-1]["h"], strict=True))
        total += mpmath.fsum(float(d) * c for d, c in zip(dcT[b], steps[-1]["c"], strict=True))
    return total


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_forward_matches_mpmath_cell(name):
    variant = ALL_VARIANTS[name]
    cell, params, x, h0, c0, _ = problem(variant, seed=len(name))
    r = reference(cell, params, x, h0, c0)
    assert r.grads is None
    with mpmath.workdps(DPS):
        for b, steps in enumerate(traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)):
            for t, step in enumerate(steps):
                for j, want in enumerate(step["h"]):
                    assert abs(exact(r.y, (t, b, j)) - want) <= 2.0**-100 * abs(want) + 1e-300
            for j in range(cell.hidden_size):
                assert exact(r.h_T, (b, j)) == exact(r.y, (len(steps) - 1, b, j))
                want = steps[-1]["c"][j]
                assert abs(exact(r.c_T, (b, j)) - want) <= 2.0**-100 * abs(want)


@pytest.mark.parametrize("name", ["textbook", "peephole"])
def test_projected_forward_matches_mpmath_cell(name):
    # PyTorch's proj_size: h = W_hr (o ⊙ tanh c), 2 components of a hidden size of 3.
    variant = ALL_VARIANTS[name]
    cell, params, x, h0, c0, _ = problem(variant, seed=5, proj=2)
    r = reference(cell, params, x, h0, c0)
    assert r.y.shape == (3, 2, 2) and r.h_T.shape == (2, 2) and r.c_T.shape == (2, 3)
    with mpmath.workdps(DPS):
        for b, steps in enumerate(traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)):
            for t, step in enumerate(steps):
                for j, want in enumerate(step["h"]):
                    assert abs(exact(r.y, (t, b, j)) - want) <= 2.0**-100 * abs(want) + 1e-300
            for j, want in enumerate(steps[-1]["c"]):
                assert abs(exact(r.c_T, (b, j)) - want) <= 2.0**-100 * abs(want)


@pytest.mark.parametrize("name", ["textbook", "peephole"])
def test_projected_gradients_match_finite_differences(name):
    test_gradients_match_finite_differences(name, proj=2)


def test_projected_interval_backend_gives_the_same_certified_results():
    cell, params, x, h0, c0, upstream = problem({"peephole": True}, seed=9, proj=2)
    arb = reference(cell, params, x, h0, c0, **upstream, backend="arb")
    interval = reference(cell, params, x, h0, c0, **upstream, backend="iv")
    same_certified(arb, interval, 106)


def test_projected_shapes_are_checked():
    cell, params, x, h0, c0, _ = problem({}, proj=2)
    with pytest.raises(ShapeError, match=r"h0: expected shape \(2, 2\)"):
        reference(cell, params, x, c0, c0)
    with pytest.raises(ShapeError, match=r"W_hr: expected shape \(2, 3\)"):
        reference(cell, {**params, "W_hr": params["W_hr"].T}, x, h0, c0)
    with pytest.raises(ShapeError, match=r"dy: expected shape \(3, 2, 2\)"):
        reference(cell, params, x, h0, c0, dy=np.zeros((3, 2, 3)))


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_gradients_match_finite_differences(name, proj=None):
    variant = ALL_VARIANTS[name]
    cell, params, x, h0, c0, upstream = problem(
        variant, seed=7 + len(name), dtype=np.float64, proj=proj
    )
    r = reference(cell, params, x, h0, c0, **upstream)
    assert set(r.grads) == {*cell.parameters, "x", "h0", "c0"}
    rng = np.random.default_rng(1)
    with mpmath.workdps(DPS):
        base = {**params, "x": x, "h0": h0, "c0": c0}
        for target, grad in r.grads.items():
            assert grad.shape == base[target].shape
            direction = rng.standard_normal(grad.shape)
            values = {}
            for sign in (1, -1):
                moved = {k: mp_nested(v) for k, v in base.items()}
                moved[target] = _moved(base[target], direction, sign * EPS)
                p = {k: moved[k] for k in cell.parameters}
                values[sign] = loss(p, moved["x"], moved["h0"], moved["c0"], variant, upstream)
            finite_difference = (values[1] - values[-1]) / (2 * EPS)
            terms = [exact(grad, i) * float(d) for i, d in np.ndenumerate(direction)]
            scale = mpmath.fsum(abs(v) for v in terms) + mpmath.mpf("1e-30")
            assert abs(mpmath.fsum(terms) - finite_difference) <= mpmath.mpf("1e-25") * scale, (
                target
            )


def _moved(value: np.ndarray, direction: np.ndarray, step: mpmath.mpf):
    if value.ndim == 0:
        return mpmath.mpf(float(value)) + step * float(direction)
    return [_moved(v, d, step) for v, d in zip(value, direction, strict=True)]


def own_loss(cell, inputs, upstream) -> mpmath.mpf:
    """The same loss, from the reference's own certified forward (hi + lo)."""
    params = {k: inputs[k] for k in cell.parameters}
    r = reference(cell, params, inputs["x"], inputs["h0"], inputs["c0"])
    terms = [exact(r.y, i) * float(d) for i, d in np.ndenumerate(upstream["dy"])]
    terms += [exact(r.h_T, i) * float(d) for i, d in np.ndenumerate(upstream["dhT"])]
    terms += [exact(r.c_T, i) * float(d) for i, d in np.ndenumerate(upstream["dcT"])]
    return mpmath.fsum(terms)


def test_gradients_match_richardson_of_its_own_forward():
    """Steps h v with h = 2^-20 and small integers v keep every input an exact float64, so the
    reference's own forward can be differenced; Richardson's (4 D(h/2) − D(h)) / 3 leaves
    an O(h⁴) ≈ 1e-24 error."""
    variant = {"peephole": True, "forget_bias": 1}
    cell, params, x, h0, c0, upstream = problem(variant, seed=11)
    r = reference(cell, params, x, h0, c0, **upstream)
    base = {k: v.astype(np.float64) for k, v in {**params, "x": x, "h0": h0, "c0": c0}.items()}
    rng = np.random.default_rng(2)
    with mpmath.workdps(40):
        for target, grad in r.grads.items():
            direction = rng.integers(-8, 9, size=grad.shape).astype(np.float64)

            def difference(h: float, target=target, direction=direction) -> mpmath.mpf:
                values = []
                for sign in (1, -1):
                    moved = base[target] + sign * h * direction
                    assert ((moved - base[target]) == sign * h * direction).all()  # exact
                    values.append(own_loss(cell, {**base, target: moved}, upstream))
                return (values[0] - values[1]) / (2 * mpmath.mpf(h))

            richardson = (4 * difference(2.0**-21) - difference(2.0**-20)) / 3
            terms = [exact(grad, i) * float(d) for i, d in np.ndenumerate(direction)]
            scale = mpmath.fsum(abs(v) for v in terms) + 1
            assert abs(mpmath.fsum(terms) - richardson) <= mpmath.mpf("1e-18") * scale, target


def test_certified_to_the_requested_bits():
    cell, params, x, h0, c0, upstream = problem({"peephole": True}, seed=3)
    r = reference(cell, params, x, h0, c0, **upstream, bits=80)
    assert r.certified_bits == 80
    assert min(t.certified_bits for t in (r.y, r.h_T, r.c_T, *r.grads.values())) >= 80
    r = reference(cell, params, x, h0, c0, **upstream)
    assert r.bits == 128 and r.certified_bits == 106
    assert min(t.certified_bits for t in (r.y, *r.grads.values())) >= 106


def test_a_long_sequence_raises_the_precision():
    variant = {"forget_gate": "coupled"}
    cell, params, x, h0, c0, upstream = problem(variant, steps=60, n=6, m=3, seed=5)
    params = {k: v * np.float32(1.5) for k, v in params.items()}
    saved = flint.ctx.prec
    r = reference(cell, params, x, h0, c0, **upstream)
    assert flint.ctx.prec == saved  # scoped
    assert r.bits > 128
    steps = traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)[1]
    with mpmath.workdps(DPS):
        for j, want in enumerate(steps[-1]["h"]):
            assert abs(exact(r.h_T, (1, j)) - want) <= 2.0**-100 * abs(want)
    with pytest.raises(PrecisionError, match=r"could not certify y to 106 bits at 128 bits"):
        reference(cell, params, x, h0, c0, **upstream, max_prec=128)
    assert flint.ctx.prec == saved  # restored after the error too


def test_the_forward_loss_picks_the_next_precision(monkeypatch):
    """N(0, 1) weights at hidden 16 lose more than 2 bits a step: the first attempt (the
    default guess, bits + 2 T) stops after the forward, and the second, at the precision
    its loss predicts, certifies all."""
    cell, params, x, h0, c0, upstream = problem({}, steps=60, n=16, m=4, seed=6, dtype=np.float64)
    parts = []
    attempt = reference_module.forward_backward

    def counted(*args):
        for part in attempt(*args):
            parts.append((flint.ctx.prec, "y" in part))
            yield part

    monkeypatch.setattr(reference_module, "forward_backward", counted)
    first = 240  # bits + 2 T, rounded up to 16 bits
    r = reference(cell, params, x, h0, c0, start_prec=first, **upstream)
    assert parts[0] == (first, True) and parts[1][0] > first  # no backward at the first
    assert len(parts) == 3 and r.bits == parts[1][0] == parts[2][0]
    assert min(t.certified_bits for t in (r.y, *r.grads.values())) >= 106
    parts.clear()
    guessed = reference(cell, params, x, h0, c0, **upstream)  # the default first guess
    assert parts[0][0] == first and len(parts) == 3
    assert guessed.y.hi.tolist() == r.y.hi.tolist()  # the same certified double-doubles


def test_nan_input_gives_nan_where_it_reaches():
    cell, params, x, h0, c0, upstream = problem({}, steps=3, seed=2)
    x[1, 0, 0] = np.nan
    r = reference(cell, params, x, h0, c0, **upstream)
    assert np.isfinite(r.y.hi[0]).all() and np.isfinite(r.y.hi[:, 1]).all()
    assert np.isnan(r.y.hi[1:, 0]).all()
    assert np.isnan(r.grads["W_f"].hi).all()  # summed over the batch
    assert np.isfinite(r.grads["x"].hi[:, 1]).all() and np.isnan(r.grads["x"].hi[:, 0]).all()
    computed = r.y.hi.astype(np.float32)
    assert r.y.max_ulps(computed) <= 0.5
    computed[0, 0, 0] = np.nan
    computed[1, 0, 0] = 0.0
    u = r.y.ulps(computed)
    assert u[0, 0, 0] == np.inf and u[1, 0, 0] == np.inf and u[2, 0, 0] == 0


def test_ulps_rounds_the_double_double_once():
    tie = 1.0 + 2.0**-24  # halfway between two float32 numbers
    t = ReferenceTensor(np.array([tie, tie, tie]), np.array([2.0**-80, -(2.0**-80), 0.0]), 106)
    up, down = np.float32(1.0 + 2.0**-23), np.float32(1.0)
    assert t.rounded(np.float32).tolist() == [up, down, down]  # the last: ties to even
    assert t.ulps(np.array([up, down, down], dtype=np.float32)).max() <= 0.5
    zero = ReferenceTensor(np.zeros(2), np.zeros(2), 106)
    tiny = np.finfo(np.float32).smallest_subnormal
    assert zero.ulps(np.array([tiny, -tiny], dtype=np.float32)).tolist() == [1.0, 1.0]
    big = ReferenceTensor(np.array([1e39, 1e39]), np.zeros(2), 106)
    assert big.ulps(np.array([np.inf, 3e38], dtype=np.float32)).tolist() == [0.0, np.inf]
    with pytest.raises(ShapeError, match=r"expected shape \(2,\)"):
        zero.ulps(np.zeros(3))
    with pytest.raises(ParameterError, match="int64"):
        zero.ulps(np.zeros(2, dtype=np.int64))
    assert ReferenceTensor(np.zeros(0), np.zeros(0), 106).max_ulps(np.zeros(0)) == 0.0


def test_tied_seed_examples_via_vector_form():
    tied = Cell("tied")
    floats = {k: float(v) for k, v in SEED_STEP.items()}
    cell, params = vector_form(tied, floats)
    assert cell.hidden_size == cell.input_size == 1
    assert params["W_f"].tolist() == params["U_f"].tolist() == [[0.7]]
    r = reference(cell, params, np.array([[[0.5]]]), np.array([[0.2]]), np.array([[0.4]]))
    with mpmath.workdps(DPS):
        want = scalar_trace(floats, [0.5], 0.2, 0.4, kind="tied")[0]["h"]
        assert abs(exact(r.y, (0, 0, 0)) - want) <= 2.0**-100 * want
    assert rounded(exact(r.y, (0, 0, 0)), 3) == "0.276"
    floats = {k: float(v) for k, v in SEED_SEQUENCE.items()}
    cell, params = vector_form(tied, floats)
    xs = np.array([0.2, 0.4, 0.6])[:, None, None]
    r = reference(cell, params, xs)
    assert [rounded(exact(r.y, (t, 0, 0)), 2) for t in range(3)] == SPEC_TABLE["h"]


def test_vector_form_of_a_scalar_cell_and_its_errors():
    scalar = Cell("scalar", peephole=True)
    given = {name: 0.25 for name in scalar.parameters}
    cell, params = vector_form(scalar, given)
    assert cell.variant == scalar.variant and set(params) == set(scalar.parameters)
    assert params["p_o"].shape == (1,) and params["U_g"].shape == (1, 1)
    with pytest.raises(ParameterError, match="tied and scalar"):
        vector_form(Cell("vector", hidden_size=1, input_size=1), {})
    with pytest.raises(UnknownNameError, match="w_z"):
        vector_form(Cell("tied"), {"w_z": 1.0})


def test_bad_cells_names_and_shapes():
    cell, params, x, h0, _, upstream = problem({}, seed=4)
    with pytest.raises(ParameterError, match="vector_form"):
        reference(Cell("tied"), params, x)
    with pytest.raises(ParameterError, match="hidden_size"):
        reference(Cell("vector"), params, x)
    with pytest.raises(ParameterError, match=r"missing parameter.*b_o"):
        reference(cell, {k: v for k, v in params.items() if k != "b_o"}, x)
    with pytest.raises(UnknownNameError, match="'p_f'"):
        reference(cell, {**params, "p_f": np.zeros(3)}, x)
    with pytest.raises(ShapeError, match=r"W_i: expected shape \(3, 2\), got \(2, 3\)"):
        reference(cell, {**params, "W_i": params["W_i"].T}, x)
    with pytest.raises(ParameterError, match="W_i: expected a float32 or float64 array"):
        reference(cell, {**params, "W_i": params["W_i"].astype(complex)}, x)
    with pytest.raises(ShapeError, match="x: expected 3 dimensions"):
        reference(cell, params, x[0])
    with pytest.raises(ShapeError, match=r"x: expected shape \(T, B, 2\)"):
        reference(cell, params, x[:, :, :1])
    with pytest.raises(ShapeError, match=r"h0: expected shape \(2, 3\)"):
        reference(cell, params, x, h0.T)
    with pytest.raises(ShapeError, match=r"dy: expected shape \(3, 2, 3\)"):
        reference(cell, params, x, dy=upstream["dy"][1:])
    with pytest.raises(ShapeError, match="dcT"):
        reference(cell, params, x, dcT=np.zeros(3))
    with pytest.raises(PrecisionError, match="bits must be a positive integer"):
        reference(cell, params, x, bits=0)
    with pytest.raises(PrecisionError, match="must exceed bits"):
        reference(cell, params, x, bits=200, max_prec=128)


def twin_rows_problem(variant: dict):
    """Rows 0 and 1 are twins (equal mathematically, equal balls computed); row 2 reads
    h[0] − h[1] = 0 at 5/2 (the hard sigmoid's kink) or at 0 (sign's), which the balls
    can never decide from the second step on."""
    cell = Cell("vector", hidden_size=3, input_size=1, **variant)
    params = {}
    for name in cell.parameters:
        shape = tuple(int(d) for d in cell.shape(name))
        params[name] = np.full(shape, 0.5)
        if name.startswith("U_"):
            params[name][2] = [1.0, -1.0, 0.0]
        if name.startswith("W_"):
            params[name][2] = 0.0
    return cell, params


def test_a_kink_the_balls_cannot_decide_raises():
    cell, params = twin_rows_problem({"gate_activation": "hard_sigmoid"})
    params["b_o"][2] = 2.5
    x = np.ones((2, 1, 1))
    forward = reference(cell, params, x)  # max(0, min(1, ·)) is continuous: no choice made
    assert forward.y.hi[1, 0, 2] > 0
    with pytest.raises(UndecidedBranchError, match=r"z_o < 5/2.*dz_o at step 2.*256 bits"):
        reference(cell, params, x, dy=np.ones((2, 1, 3)), max_prec=256)
    cell, params = twin_rows_problem({"candidate_activation": "softsign"})
    params["b_g"][2] = 0.0
    with pytest.raises(UndecidedBranchError, match=r"sign\(z_g\).*dz_g at step 2"):
        reference(
            cell, params, x, np.zeros((1, 3)), np.ones((1, 3)), dy=np.ones((2, 1, 3)), max_prec=256
        )


def test_a_zero_by_cancellation_is_certified_below_the_subnormals():
    cell, params = twin_rows_problem({"candidate_activation": "softsign"})
    params["b_g"][2] = 0.0
    x = np.ones((2, 1, 1))
    # h[0] − h[1] = 0 reaches y[1, 0, 2] as a ball around 0 that only shrinks with precision
    with pytest.raises(PrecisionError, match=r"y to 106 bits.*not told apart from zero"):
        reference(cell, params, x, max_prec=512)
    r = reference(cell, params, x)
    assert r.bits >= 2048 and r.y.hi[1, 0, 2] == 0 and r.y.lo[1, 0, 2] == 0


def test_backward_forms_are_checked(monkeypatch):
    def tampered(cell):
        bw = backward_step(cell)
        eqs = tuple(
            type(eq)(eq.lhs, 2 * eq.rhs) if str(eq.lhs) == "dW_i" else eq for eq in bw.equations
        )
        return BackwardStep(cell, eqs)

    from symlstm import plan as plan_module  # the step plan derives the backward step

    monkeypatch.setattr(plan_module, "backward_step", tampered)
    plan_module.step_plan.cache_clear()
    cell, params, x, _, _, upstream = problem({"forget_bias": 3}, seed=1)
    try:
        with pytest.raises(SymLSTMError, match=r"backward_step gives dW_i = 2\*dz_i\*x"):
            reference(cell, params, x, **upstream)
    finally:
        plan_module.step_plan.cache_clear()


def test_without_python_flint(monkeypatch):
    monkeypatch.setitem(sys.modules, "flint", None)
    cell, params, x, *_ = problem({})
    with pytest.raises(MissingDependencyError, match=r"pip install 'symlstm\[arb\]'") as err:
        reference(cell, params, x, backend="arb")
    assert isinstance(err.value, ImportError) and isinstance(err.value, SymLSTMError)


def same_certified(a, b, bits):
    """Two results hold the same numbers to ``bits``: NaN where the other has NaN, and
    double-doubles within 2^-bits relatively."""
    pairs = [(a.y, b.y), (a.h_T, b.h_T), (a.c_T, b.c_T)]
    assert (a.grads is None) == (b.grads is None)
    if a.grads is not None:
        assert set(a.grads) == set(b.grads)
        pairs += [(a.grads[k], b.grads[k]) for k in a.grads]
    for s, t in pairs:
        assert min(s.certified_bits, t.certified_bits) >= bits
        assert (np.isnan(s.hi) == np.isnan(t.hi)).all()
        finite = ~np.isnan(s.hi)
        gap = np.abs((s.hi - t.hi) + (s.lo - t.lo))[finite]
        assert (gap <= 2.0 ** (1 - bits) * np.abs(s.hi[finite]) + 2.0**-1074).all()


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_interval_backend_gives_the_same_certified_results(name):
    cell, params, x, h0, c0, upstream = problem(ALL_VARIANTS[name], seed=3 + len(name))
    arb = reference(cell, params, x, h0, c0, **upstream, backend="arb")
    interval = reference(cell, params, x, h0, c0, **upstream, backend="iv")
    same_certified(arb, interval, 106)


@pytest.mark.parametrize("name", ["textbook", "hard-gate", "peephole-forget-bias-hard"])
def test_interval_backend_on_nan_inputs(name):
    cell, params, x, h0, c0, upstream = problem(ALL_VARIANTS[name], seed=2)
    x[1, 0, 0] = np.nan
    arb = reference(cell, params, x, h0, c0, **upstream, backend="arb")
    interval = reference(cell, params, x, h0, c0, **upstream, backend="iv")
    assert np.isnan(interval.y.hi[1:, 0]).all() and np.isfinite(interval.y.hi[:, 1]).all()
    same_certified(arb, interval, 106)


def test_interval_backend_at_a_hard_sigmoid_kink():
    cell, params = twin_rows_problem({"gate_activation": "hard_sigmoid"})
    params["b_o"][2] = 2.5
    x = np.ones((2, 1, 1))
    interval = reference(cell, params, x, backend="iv")  # the continuous max/min: no choice
    same_certified(reference(cell, params, x, backend="arb"), interval, 106)
    with pytest.raises(UndecidedBranchError, match=r"z_o < 5/2.*dz_o at step 2.*256 bits"):
        reference(cell, params, x, dy=np.ones((2, 1, 3)), max_prec=256, backend="iv")
    # exactly on the kink at step 1 (h0 = 0, so z_o = 2.5 exactly): decided, both agree
    dy = np.ones((1, 1, 3))
    arb = reference(cell, params, x[:1], dy=dy, backend="arb")
    same_certified(arb, reference(cell, params, x[:1], dy=dy, backend="iv"), 106)


def test_interval_backend_raises_the_precision_like_arb():
    cell, params, x, h0, c0, upstream = problem({"forget_gate": "coupled"}, steps=12, seed=5)
    mpmath.iv.prec = saved = 77
    try:
        arb = reference(cell, params, x, h0, c0, **upstream, start_prec=64, backend="arb")
        interval = reference(cell, params, x, h0, c0, **upstream, start_prec=64, backend="iv")
        assert mpmath.iv.prec == saved  # scoped
    finally:
        mpmath.iv.prec = 53
    assert arb.bits > 64 and interval.bits > 64
    same_certified(arb, interval, 106)


def test_interval_backend_without_python_flint(monkeypatch):
    cell, params, x, h0, c0, upstream = problem({"peephole": True}, seed=9)
    arb = reference(cell, params, x, h0, c0, **upstream, backend="arb")
    monkeypatch.setitem(sys.modules, "flint", None)
    with pytest.warns(RuntimeWarning, match="mpmath's interval arithmetic"):
        auto = reference(cell, params, x, h0, c0, **upstream)
    same_certified(arb, auto, 106)
    same_certified(arb, reference(cell, params, x, h0, c0, **upstream, backend="iv"), 106)
    with pytest.raises(ParameterError, match=r"backend must be one of 'auto', 'arb', 'iv'"):
        reference(cell, params, x, backend="flint")


def test_progress_line_on_long_references_only(capsys, monkeypatch):
    cell, params, x, h0, c0, upstream = problem({}, seed=4)
    reference(cell, params, x, h0, c0, **upstream, progress=True)  # quick: nothing shown
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(reference_module._Progress.__init__, "__defaults__", (None, 0.0))
    reference(cell, params, x, h0, c0, **upstream, progress=True)  # as if it ran for long
    err = capsys.readouterr().err
    assert "symlstm reference: forward step 1/3 at 128 bits" in err
    assert err.endswith("\r\x1b[K")  # the line is erased at the end
    reference(cell, params, x, h0, c0, **upstream)  # default: only on a terminal
    assert capsys.readouterr().err == ""
    reference(cell, params, x, h0, c0, progress=True, backend="iv")
    assert "forward step 1/3 at 128 bits (mpmath.iv)" in capsys.readouterr().err


def _same(a: ReferenceTensor, b: ReferenceTensor) -> bool:
    return (
        np.array_equal(a.hi, b.hi, equal_nan=True)
        and np.array_equal(a.lo, b.lo)
        and a.certified_bits == b.certified_bits
    )


@pytest.mark.slow  # starts worker processes
@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ({}, {"steps": 4, "batch": 5}),
        ({"peephole": True}, {"steps": 3, "batch": 3, "proj": 2}),
        # N(0, 1) weights over 60 steps: the first attempt falls short and is retried
        ({"forget_gate": "coupled"}, {"steps": 60, "batch": 3, "n": 6, "m": 3, "seed": 5}),
        # 8 rows, 50 steps: the first row's pilot sets the first precision, in both
        ({"forget_gate": "coupled"}, {"steps": 50, "batch": 8, "n": 4, "m": 3, "seed": 5}),
    ],
)
def test_workers_give_what_one_process_gives(variant, options):
    """Row blocks in other processes: the same balls row by row, the same precision
    sequence judged over the whole batch, hence the same double-doubles and accuracies."""
    cell, params, x, h0, c0, _ = problem(variant, **options)
    one = reference(cell, params, x, h0, c0)
    for workers in (2, 3, 8):  # 8 > batch: one block per row
        many = reference(cell, params, x, h0, c0, workers=workers)
        assert many.bits == one.bits and many.grads is None
        assert all(_same(getattr(many, k), getattr(one, k)) for k in ("y", "h_T", "c_T"))
    if options.get("steps") == 60:
        assert one.bits > reference_module.START_PREC  # the retry was exercised
    with mpmath.workdps(DPS):  # and it is right: the last row against the mpmath cell
        steps = traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)[-1]
        if options.get("proj") is None:
            for j, want in enumerate(steps[-1]["h"]):
                assert abs(exact(many.h_T, (-1, j)) - want) <= 2.0**-100 * abs(want)


@pytest.mark.slow  # starts worker processes
def test_workers_on_nan_rows_and_with_gradients():
    cell, params, x, h0, c0, upstream = problem({}, steps=3, batch=4, seed=2)
    x[1, 2, 0] = np.nan  # one row undefined from step 2: the whole batch is not finite
    one, two = reference(cell, params, x, h0, c0), reference(cell, params, x, h0, c0, workers=2)
    assert all(_same(getattr(one, k), getattr(two, k)) for k in ("y", "h_T", "c_T"))
    assert np.isnan(two.y.hi[1:, 2]).all() and np.isfinite(two.y.hi[:, :2]).all()
    # gradients: one process (the parameters' gradients sum over every row)
    one = reference(cell, params, x, h0, c0, **upstream)
    two = reference(cell, params, x, h0, c0, **upstream, workers=2)
    assert all(_same(one.grads[k], two.grads[k]) for k in one.grads)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_workers_must_be_a_positive_integer(workers):
    cell, params, x, h0, c0, _ = problem({})
    with pytest.raises(SymLSTMError, match="workers must be a positive integer"):
        reference(cell, params, x, h0, c0, workers=workers)


def test_row_blocks_are_contiguous_and_even():
    blocks = row_blocks
    assert blocks(16, 2) == [(0, 8), (8, 16)]
    assert blocks(5, 3) == [(0, 2), (2, 3), (3, 5)]
    assert blocks(2, 8) == [(0, 1), (1, 2)]
    assert blocks(7, 1) == [(0, 7)]


@pytest.fixture
def exact_products(monkeypatch):
    """Every matrix of floats multiplied in integers (:func:`balls._exact_by_column`),
    which otherwise starts at inner dimension EXACT_PRODUCT_MIN."""
    from symlstm.certified import balls

    monkeypatch.setattr(balls, "EXACT_PRODUCT_MIN", 1)
    return balls


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_exact_products_match_mpmath_cell(name, exact_products):
    variant = ALL_VARIANTS[name]
    cell, params, x, h0, c0, upstream = problem(variant, seed=len(name) + 7, steps=4, batch=3)
    x[0, 1] = 0.0  # a zero column of x, and one of h0
    h0[2] = 0.0
    r = reference(cell, params, x, h0, c0, **upstream)
    with mpmath.workdps(DPS):
        for b, steps in enumerate(traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)):
            for t, step in enumerate(steps):
                for j, want in enumerate(step["h"]):
                    assert abs(exact(r.y, (t, b, j)) - want) <= 2.0**-100 * abs(want) + 1e-300
    # the same certified numbers as the arb_mat products, to the last bit here
    exact_products.EXACT_PRODUCT_MIN = 10**9
    plain = reference(cell, params, x, h0, c0, **upstream)
    assert plain.bits == r.bits
    for k in ("y", "h_T", "c_T"):
        got, want = getattr(r, k), getattr(plain, k)
        assert np.array_equal(got.hi, want.hi)
        assert np.all(np.abs(got.lo - want.lo) <= 2.0**-104 * np.abs(want.hi))
    for k, g in r.grads.items():
        assert np.array_equal(g.hi, plain.grads[k].hi), k


def test_exact_products_of_a_projected_cell_and_a_long_sequence(exact_products):
    cell, params, x, h0, c0, upstream = problem({"peephole": True}, steps=3, proj=2, seed=9)
    r = reference(cell, params, x, h0, c0, **upstream)
    exact_products.EXACT_PRODUCT_MIN = 10**9
    plain = reference(cell, params, x, h0, c0, **upstream)
    assert np.array_equal(r.y.hi, plain.y.hi) and np.array_equal(
        r.grads["W_hr"].hi, plain.grads["W_hr"].hi
    )
    # precision raised past 500 bits: the columns' grids follow it
    variant = {"forget_gate": "coupled"}
    cell, params, x, h0, c0, _ = problem(variant, steps=60, n=6, m=3, seed=5)
    params = {k: v * np.float32(1.5) for k, v in params.items()}
    exact_products.EXACT_PRODUCT_MIN = 1
    r = reference(cell, params, x, h0, c0)
    assert r.bits > 128
    steps = traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)[1]
    with mpmath.workdps(DPS):
        for j, want in enumerate(steps[-1]["h"]):
            assert abs(exact(r.h_T, (1, j)) - want) <= 2.0**-100 * abs(want)


def test_exact_products_fall_back_where_they_cannot_hold(exact_products):
    """NaN inputs (non-finite balls: that column as an arb_mat), weights whose exponents
    spread too far for 62-bit integers (the whole matrix as an arb_mat)."""
    ops = exact_products.choose_balls("arb")
    wide = np.array([[1.0, 2.0**-80], [3.0, -0.5]])
    assert not ops.exact(ops.point_matrix(wide))
    assert ops.exact(ops.point_matrix(np.array([[1.0, 2.0**-8], [3.0, -0.5]])))
    assert not ops.exact(ops.point_matrix(np.array([[np.nan, 1.0]])))
    cell, params, x, h0, c0, _ = problem({}, steps=3, seed=2, batch=3)
    x[1, 0, 0] = np.nan
    r = reference(cell, params, x, h0, c0)
    assert np.isnan(r.y.hi[1:, 0]).all() and np.isfinite(r.y.hi[:, 1:]).all()
    exact_products.EXACT_PRODUCT_MIN = 10**9
    plain = reference(cell, params, x, h0, c0)
    assert np.array_equal(r.y.hi, plain.y.hi, equal_nan=True)
    params["U_f"][0, 0] = 2.0**-100  # a float32 weight far below the others
    r = reference(cell, params, x, h0, c0)
    exact_products.EXACT_PRODUCT_MIN = 1
    assert np.array_equal(reference(cell, params, x, h0, c0).y.hi, r.y.hi, equal_nan=True)


def test_an_exact_product_encloses_the_exact_sums(exact_products):
    """Each ball of U h contains Σ_k u_ik h_k for every h_k in its ball (checked at the
    ends of the balls, at 2000 bits), and is no wider than the arb_mat product's."""
    ops = exact_products.choose_balls("arb")
    rng = np.random.default_rng(4)
    u = rng.uniform(-0.1, 0.1, size=(12, 7)).astype(np.float32).astype(np.float64)
    matrix = ops.point_matrix(u)
    with ops.context.workprec(200):
        h = np.empty((7, 3), dtype=object)
        h.ravel()[:] = [flint.arb(v).tanh() / 3 for v in rng.normal(size=21).tolist()]
        h[2, 1] = flint.arb(0)
        got = ops.by_column(matrix, h)
        plain = ops.by_column(matrix.arb, h)
    with ops.context.workprec(2000):
        for j in range(3):
            for ends in (lambda b: b.lower(), lambda b: b.upper(), lambda b: b.mid()):
                for i in range(12):
                    total = sum(
                        (flint.arb(u[i, k]) * ends(h[k, j]) for k in range(7)), flint.arb(0)
                    )
                    assert got[i, j].contains(total)
    assert all(
        g.rad() <= 1.01 * p.rad() + 2.0**-400
        for g, p in zip(got.ravel(), plain.ravel(), strict=True)
    )


@pytest.mark.slow  # starts worker processes
def test_workers_give_what_one_process_gives_with_exact_products():
    """At hidden 128 the products run in integers (in the workers too)."""
    from symlstm.certified import balls

    cell, params, x, h0, c0, _ = problem({}, steps=3, batch=3, n=128, m=128, seed=11)
    params = {k: v / np.float32(16) for k, v in params.items()}
    ops = balls.choose_balls("arb")
    u = params["U_i"].astype(np.float64)
    assert balls.EXACT_PRODUCT_MIN <= 128 and ops.exact(ops.point_matrix(u))
    one = reference(cell, params, x, h0, c0)
    two = reference(cell, params, x, h0, c0, workers=2)
    assert all(_same(getattr(one, k), getattr(two, k)) for k in ("y", "h_T", "c_T"))


def test_a_long_forward_pass_starts_where_its_first_row_says(monkeypatch):
    """Without gradients, 8 rows or more and 50 steps or more: the first row's first half
    at the guessed precision sets the first precision, and one attempt certifies all."""
    variant = {"forget_gate": "coupled"}
    cell, params, x, h0, c0, upstream = problem(variant, steps=60, batch=8, n=6, m=3, seed=5)
    params = {k: v * np.float32(1.5) for k, v in params.items()}
    pilots, attempts = [], []
    pilot, attempt = reference_module._pilot_precision, reference_module.forward_backward

    def spied_pilot(*args):
        pilots.append(pilot(*args))
        return pilots[-1]

    def counted(plan, data, *rest):
        attempts.append((flint.ctx.prec, data.batch, data.steps))
        yield from attempt(plan, data, *rest)

    monkeypatch.setattr(reference_module, "_pilot_precision", spied_pilot)
    monkeypatch.setattr(reference_module, "forward_backward", counted)
    r = reference(cell, params, x, h0, c0)
    assert attempts == [(240, 1, 30), (pilots[0], 8, 60)]  # bits + 2 T, then the batch
    assert r.bits == pilots[0] and r.y.certified_bits >= 106
    assert pilots[0] < 240  # this cell loses less than the guess allows for
    with mpmath.workdps(DPS):
        steps = traces(params, x.tolist(), h0.tolist(), c0.tolist(), variant)[7]
        for j, want in enumerate(steps[-1]["h"]):
            assert abs(exact(r.h_T, (7, j)) - want) <= 2.0**-100 * abs(want)
    # no pilot with a start precision given, with gradients, or for fewer rows
    attempts.clear()
    reference(cell, params, x, h0, c0, start_prec=pilots[0])
    reference(cell, params, x, h0, c0, dy=upstream["dy"][:, :, :])
    reference(cell, params, x[:, :7], h0[:7], c0[:7])
    assert len(pilots) == 1 and all(batch != 1 for _, batch, _ in attempts)
