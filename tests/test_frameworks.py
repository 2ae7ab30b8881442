"""Real frameworks' LSTMs against the certified reference, in ULPs of their dtype."""

from __future__ import annotations

import numpy as np
import pytest

from symlstm.cell import Cell
from symlstm.layouts import to_canonical
from symlstm.reference import normwise_ulps, reference

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

#: The codegen tests' normwise bound (docs/codegen.md), applied to other implementations.
NORMWISE_ULP_BOUND = 64


def _normwise(exact, computed, dtype) -> float:
    return normwise_ulps([(exact, computed)], dtype)


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


# -- ONNX Runtime's LSTM operator on a model built with the onnx package ------------------------


def _onnx_lstm(arrays: dict, x: np.ndarray, h0: np.ndarray, c0: np.ndarray):
    """Run one ONNX LSTM node (opset 14) in ONNX Runtime: Y (T, 1, B, n), Y_h, Y_c."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install '.[onnx]'")
    from onnx import TensorProto, helper, numpy_helper

    n = arrays["R"].shape[-1]
    elem = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    names = ["X", "W", "R", "B", "", "initial_h", "initial_c", "P"]
    given = {*arrays, "X", "initial_h", "initial_c"}
    inputs = [name if name in given else "" for name in names]
    while inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], hidden_size=n)
    graph = helper.make_graph(
        [node],
        "lstm",
        [
            helper.make_tensor_value_info("X", elem, list(x.shape)),
            helper.make_tensor_value_info("initial_h", elem, [1, *h0.shape]),
            helper.make_tensor_value_info("initial_c", elem, [1, *c0.shape]),
        ],
        [
            helper.make_tensor_value_info("Y", elem, [x.shape[0], 1, x.shape[1], n]),
            helper.make_tensor_value_info("Y_h", elem, [1, x.shape[1], n]),
            helper.make_tensor_value_info("Y_c", elem, [1, x.shape[1], n]),
        ],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": x, "initial_h": h0[None], "initial_c": c0[None]}
    return session.run(None, feeds)


@pytest.mark.parametrize("extras", ["B", "", "B,P"])
def test_onnx_runtime_lstm_is_within_the_bound(extras):
    dtype = np.float32  # ONNX Runtime 1.32's CPU LSTM: "does not support double yet"
    from symlstm.layouts import from_canonical

    rng = np.random.default_rng(5)
    T, B, n, m = 12, 3, 6, 4
    peephole = "P" in extras
    cell = Cell("vector", hidden_size=n, input_size=m, peephole=peephole)
    params = {k: (rng.normal(size=cell.shape(k)) * 0.5).astype(dtype) for k in cell.parameters}
    if "B" not in extras:
        params |= {k: np.zeros_like(v) for k, v in params.items() if k.startswith("b_")}
    arrays = from_canonical("onnx", params, cell.variant)
    if "B" not in extras:
        del arrays["B"]
    x = rng.normal(size=(T, B, m)).astype(dtype)
    h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
    y, h_T, c_T = _onnx_lstm(arrays, x, h0, c0)
    variant, back = to_canonical("onnx", arrays)
    assert variant == cell.variant
    ref = reference(cell, back, x, h0, c0)
    np_dtype = np.dtype(dtype)
    assert _normwise(ref.y, y[:, 0], np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.h_T, h_T[0], np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.c_T, c_T[0], np_dtype) <= NORMWISE_ULP_BOUND


# -- Keras 3 with the torch backend -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_lstm_is_within_the_bound(dtype, monkeypatch):
    import os
    import sys

    if "keras" not in sys.modules:  # the backend is chosen when keras is first imported
        monkeypatch.setitem(os.environ, "KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="the keras extra: pip install '.[keras]'")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    rng = np.random.default_rng(6)
    T, B, n, m = 15, 3, 5, 4
    layer = keras.layers.LSTM(
        n, return_sequences=True, return_state=True, dtype=np.dtype(dtype).name
    )
    x = rng.normal(size=(T, B, m)).astype(dtype)
    h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
    y, h_T, c_T = (
        keras.ops.convert_to_numpy(v)
        for v in layer(x.transpose(1, 0, 2), initial_state=[h0, c0])  # Keras is batch-major
    )
    arrays = {w.name: keras.ops.convert_to_numpy(w.value) for w in layer.weights}
    variant, params = to_canonical("keras", arrays)
    ref = reference(Cell("vector", variant, hidden_size=n, input_size=m), params, x, h0, c0)
    np_dtype = np.dtype(dtype)
    assert _normwise(ref.y, y.transpose(1, 0, 2), np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.h_T, h_T, np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.c_T, c_T, np_dtype) <= NORMWISE_ULP_BOUND
