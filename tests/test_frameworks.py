"""Real frameworks' LSTMs against the certified reference, in ULPs of their dtype."""

from __future__ import annotations

import numpy as np
import pytest

from symlstm.cell import Cell
from symlstm.layouts import to_canonical
from symlstm.reference import reference

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

#: The codegen tests' normwise bound (docs/codegen.md), applied to other implementations.
NORMWISE_ULP_BOUND = 64


def _normwise(exact, computed, dtype) -> float:
    error = np.abs((np.asarray(computed, np.float64) - exact.hi) - exact.lo)
    return float(error.max() / np.spacing(dtype.type(np.max(np.abs(exact.hi)))))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_lstm_outputs_are_within_the_bound(dtype):
    torch.manual_seed(0)
    T, B, n, m = 30, 4, 16, 8
    lstm = torch.nn.LSTM(m, n, dtype=dtype)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()  # one bias: the canonical b_k is then exactly torch's
    x = torch.randn(T, B, m, dtype=dtype)
    h0, c0 = torch.randn(1, B, n, dtype=dtype), torch.randn(1, B, n, dtype=dtype)
    with torch.no_grad():
        y, (h_T, c_T) = lstm(x, (h0, c0))
    arrays = {k: v.numpy() for k, v in lstm.state_dict().items()}
    variant, params = to_canonical("torch", arrays)
    cell = Cell("vector", variant, hidden_size=n, input_size=m)
    ref = reference(cell, params, x.numpy(), h0[0].numpy(), c0[0].numpy())
    np_dtype = np.dtype(np.float64 if dtype == torch.float64 else np.float32)
    for exact, got in ((ref.y, y), (ref.h_T, h_T[0]), (ref.c_T, c_T[0])):
        assert _normwise(exact, got.numpy(), np_dtype) <= NORMWISE_ULP_BOUND


def test_a_wrong_gate_order_is_far_outside_the_bound():
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        y, _ = lstm(x)
    arrays = {k: v.numpy() for k, v in lstm.state_dict().items()}
    _, params = to_canonical("torch", arrays)
    for part in "WUb":  # the forget gate and the candidate read from each other's rows
        params[f"{part}_f"], params[f"{part}_g"] = params[f"{part}_g"], params[f"{part}_f"]
    ref = reference(Cell("vector", hidden_size=4, input_size=3), params, x.numpy())
    assert _normwise(ref.y, y.numpy(), np.dtype(np.float64)) > 1e6


def test_torch_with_both_biases_against_the_exactly_summed_biases():
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float32)  # b_ih and b_hh both random
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        y, _ = lstm(x)
    arrays = {k: v.numpy() for k, v in lstm.state_dict().items()}
    variant, params = to_canonical("torch", arrays, biases="exact")
    ref = reference(Cell("vector", variant, hidden_size=4, input_size=3), params, x.numpy())
    assert _normwise(ref.y, y.numpy(), np.dtype(np.float32)) <= NORMWISE_ULP_BOUND
