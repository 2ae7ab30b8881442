"""Real frameworks' LSTMs against the certified reference, in ULPs of their dtype."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from symlstm.cell import Cell, Variant
from symlstm.certified.run import normwise_ulps, reference
from symlstm.frameworks.layouts import (
    from_canonical,
    onnx_attributes,
    read_onnx_attributes,
    to_canonical,
)

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


# -- torch: two layers, bidirectional, LSTMCell, autograd ---------------------------------------

TORCH_DTYPES = {torch.float64: np.dtype(np.float64), torch.float32: np.dtype(np.float32)}
T_, B_, N_, M_ = 12, 3, 8, 5  # the sizes of the torch cases below


def _state_dict(module) -> dict:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _torch_reference(arrays, x, h0, c0, *, layout="torch", layer=0, direction="forward", dy=None):
    """The certified reference for one layer and direction of torch's arrays (both biases,
    summed exactly); ``x`` is that layer's input as torch gave it, in its dtype."""
    variant, params = to_canonical(layout, arrays, layer=layer, direction=direction, biases="exact")
    n, m = params["U_i"].shape[0], params["W_i"].shape[1]
    proj = params["W_hr"].shape[0] if "W_hr" in params else None  # proj_size
    cell = Cell("vector", variant, hidden_size=n, input_size=m, proj_size=proj)
    return reference(cell, params, x, h0, c0, dy=dy)


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_two_layer_lstm_is_within_the_bound(dtype):
    torch.manual_seed(10)
    lstm = torch.nn.LSTM(M_, N_, num_layers=2, dtype=dtype)  # b_ih and b_hh both random
    x = torch.randn(T_, B_, M_, dtype=dtype)
    h0, c0 = torch.randn(2, B_, N_, dtype=dtype), torch.randn(2, B_, N_, dtype=dtype)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(x, (h0, c0))
        # Layer 0's outputs as torch computes them: the same weights in a one-layer LSTM.
        first = torch.nn.LSTM(M_, N_, dtype=dtype)
        first.load_state_dict({k: v for k, v in lstm.state_dict().items() if k.endswith("_l0")})
        y0, (h0_n, c0_n) = first(x, (h0[:1], c0[:1]))
    assert torch.equal(h0_n[0], h_n[0]) and torch.equal(c0_n[0], c_n[0])
    arrays, np_dtype = _state_dict(lstm), TORCH_DTYPES[dtype]
    for layer, inputs, y_layer in ((0, x, y0), (1, y0, y)):
        ref = _torch_reference(
            arrays, inputs.numpy(), h0[layer].numpy(), c0[layer].numpy(), layer=layer
        )
        pairs = [(ref.y, y_layer.numpy()), (ref.h_T, h_n[layer].numpy())]
        pairs.append((ref.c_T, c_n[layer].numpy()))
        assert normwise_ulps(pairs, np_dtype) <= NORMWISE_ULP_BOUND, layer


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_bidirectional_lstm_is_within_the_bound(dtype):
    torch.manual_seed(11)
    lstm = torch.nn.LSTM(M_, N_, bidirectional=True, dtype=dtype)
    x = torch.randn(T_, B_, M_, dtype=dtype)
    h0, c0 = torch.randn(2, B_, N_, dtype=dtype), torch.randn(2, B_, N_, dtype=dtype)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(x, (h0, c0))
    arrays, np_dtype = _state_dict(lstm), TORCH_DTYPES[dtype]
    forward = _torch_reference(arrays, x.numpy(), h0[0].numpy(), c0[0].numpy())
    # The reverse direction runs on the time-reversed input; its outputs come back reversed.
    reverse = _torch_reference(
        arrays, x.numpy()[::-1], h0[1].numpy(), c0[1].numpy(), direction="reverse"
    )
    y = y.numpy()
    pairs = {
        "forward": [(forward.y, y[:, :, :N_]), (forward.h_T, h_n[0]), (forward.c_T, c_n[0])],
        "reverse": [(reverse.y, y[::-1, :, N_:]), (reverse.h_T, h_n[1]), (reverse.c_T, c_n[1])],
    }
    for name, group in pairs.items():
        group = [(exact, np.asarray(got)) for exact, got in group]
        assert normwise_ulps(group, np_dtype) <= NORMWISE_ULP_BOUND, name


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_lstm_cell_is_within_the_bound(dtype):
    torch.manual_seed(12)
    cell = torch.nn.LSTMCell(M_, N_, dtype=dtype)
    x = torch.randn(T_, B_, M_, dtype=dtype)
    h, c = torch.randn(B_, N_, dtype=dtype), torch.randn(B_, N_, dtype=dtype)
    h0, c0 = h.numpy(), c.numpy()
    hs, cs = [], []
    with torch.no_grad():
        for t in range(T_):  # each step reads the previous step's outputs as torch made them
            h, c = cell(x[t], (h, c))
            hs.append(h.numpy())
            cs.append(c.numpy())
    ref = _torch_reference(_state_dict(cell), x.numpy(), h0, c0, layout="torch_cell")
    pairs = [(ref.y, np.stack(hs)), (ref.c_T, cs[-1])]
    assert normwise_ulps(pairs, TORCH_DTYPES[dtype]) <= NORMWISE_ULP_BOUND


def _canonical_gradients(layout: str, grads: dict, bias: str) -> dict:
    """torch's gradients of its packed arrays under canonical names (the layout is a
    relabeling); b_k's from ``bias`` ("ih" or "hh") alone."""
    other = "bias_hh" if bias == "ih" else "bias_ih"
    arrays = {k: np.zeros_like(v) if other in k else v for k, v in grads.items()}
    _, out = to_canonical(layout, arrays)  # b_k = the chosen gradient + 0, exactly
    return out


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_autograd_gradients_are_within_the_bound(dtype):
    torch.manual_seed(13)
    lstm = torch.nn.LSTM(M_, N_, dtype=dtype)
    x = torch.randn(T_, B_, M_, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, B_, N_, dtype=dtype, requires_grad=True)
    c0 = torch.randn(1, B_, N_, dtype=dtype, requires_grad=True)
    dy = torch.randn(T_, B_, N_, dtype=dtype)
    y, _ = lstm(x, (h0, c0))
    (y * dy).sum().backward()  # L = Σ y ⊙ dy: dL/dy = dy
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    ref = _torch_reference(
        _state_dict(lstm),
        x.detach().numpy(),
        h0[0].detach().numpy(),
        c0[0].detach().numpy(),
        dy=dy.numpy(),
    )
    got = _canonical_gradients("torch", grads, "ih")
    got |= {"x": x.grad.numpy(), "h0": h0.grad[0].numpy(), "c0": c0.grad[0].numpy()}
    # torch's gradients of b_ih and b_hh both are the canonical db (summed differently:
    # they need not agree to the last bit).
    got_hh = _canonical_gradients("torch", grads, "hh")
    np_dtype = TORCH_DTYPES[dtype]
    assert normwise_ulps([(ref.y, y.detach().numpy())], np_dtype) <= NORMWISE_ULP_BOUND
    for part in ("W", "U", "b"):
        pairs = [(ref.grads[f"{part}_{k}"], got[f"{part}_{k}"]) for k in "ifgo"]
        assert normwise_ulps(pairs, np_dtype) <= NORMWISE_ULP_BOUND, part
    pairs = [(ref.grads[f"b_{k}"], got_hh[f"b_{k}"]) for k in "ifgo"]
    assert normwise_ulps(pairs, np_dtype) <= NORMWISE_ULP_BOUND, "b (from bias_hh)"
    for name in ("x", "h0", "c0"):
        assert normwise_ulps([(ref.grads[name], got[name])], np_dtype) <= NORMWISE_ULP_BOUND


# -- torch with projections (proj_size): h = W_hr (o ⊙ tanh c), p < n components --------------

P_ = 3  # the projection size of the cases below (N_ = 8 hidden)


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_lstm_with_projections_is_within_the_bound(dtype):
    torch.manual_seed(20)
    kw = {"num_layers": 2, "bidirectional": True, "proj_size": P_, "dtype": dtype}
    lstm = torch.nn.LSTM(M_, N_, **kw)
    x = torch.randn(T_, B_, M_, dtype=dtype)
    h0, c0 = torch.randn(4, B_, P_, dtype=dtype), torch.randn(4, B_, N_, dtype=dtype)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(x, (h0, c0))
        # Layer 0's outputs (both directions) as torch computes them, for layer 1's input.
        first = torch.nn.LSTM(M_, N_, bidirectional=True, proj_size=P_, dtype=dtype)
        first.load_state_dict({k: v for k, v in lstm.state_dict().items() if "_l0" in k})
        y0, _ = first(x, (h0[:2], c0[:2]))
    assert y.shape == (T_, B_, 2 * P_) and h_n.shape == (4, B_, P_) and c_n.shape == (4, B_, N_)
    arrays, np_dtype = _state_dict(lstm), TORCH_DTYPES[dtype]
    for layer, inputs, y_layer in ((0, x.numpy(), y0.numpy()), (1, y0.numpy(), y.numpy())):
        for d, direction in enumerate(("forward", "reverse")):
            slot, seq = 2 * layer + d, inputs if d == 0 else inputs[::-1]
            ref = _torch_reference(
                arrays, seq, h0[slot].numpy(), c0[slot].numpy(), layer=layer, direction=direction
            )
            got = y_layer[:, :, d * P_ : (d + 1) * P_]
            pairs = [(ref.y, got if d == 0 else got[::-1]), (ref.h_T, h_n[slot].numpy())]
            pairs.append((ref.c_T, c_n[slot].numpy()))
            assert normwise_ulps(pairs, np_dtype) <= NORMWISE_ULP_BOUND, (layer, direction)


def _projected_run(seed: int, dtype):
    """A torch.nn.LSTM with proj_size, run forward and backward on a random loss sum(y·dy):
    lstm, x, h0, c0, dy, y, (h_T, c_T), with x, h0 and c0 holding their gradients."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(M_, N_, proj_size=P_, dtype=dtype)
    x = torch.randn(T_, B_, M_, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, B_, P_, dtype=dtype, requires_grad=True)
    c0 = torch.randn(1, B_, N_, dtype=dtype, requires_grad=True)
    dy = torch.randn(T_, B_, P_, dtype=dtype)
    y, final = lstm(x, (h0, c0))
    (y * dy).sum().backward()
    return lstm, x, h0, c0, dy, y, final


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_torch_autograd_gradients_with_projections_are_within_the_bound(dtype):
    lstm, x, h0, c0, dy, y, _ = _projected_run(21, dtype)
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    state = [a.detach().numpy() for a in (x, h0[0], c0[0])]
    ref = _torch_reference(_state_dict(lstm), *state, dy=dy.numpy())
    got = _canonical_gradients("torch", grads, "ih")
    got |= {"x": x.grad.numpy(), "h0": h0.grad[0].numpy(), "c0": c0.grad[0].numpy()}
    np_dtype = TORCH_DTYPES[dtype]
    assert got["W_hr"].shape == (P_, N_) and got["U_i"].shape == (N_, P_)
    assert normwise_ulps([(ref.y, y.detach().numpy())], np_dtype) <= NORMWISE_ULP_BOUND
    for part in ("W", "U", "b"):
        pairs = [(ref.grads[f"{part}_{k}"], got[f"{part}_{k}"]) for k in "ifgo"]
        assert normwise_ulps(pairs, np_dtype) <= NORMWISE_ULP_BOUND, part
    for name in ("W_hr", "x", "h0", "c0"):
        assert normwise_ulps([(ref.grads[name], got[name])], np_dtype) <= NORMWISE_ULP_BOUND, name


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_validate_passes_torch_with_projections(dtype):
    from symlstm.validation import tolerance_ulps, validate

    lstm, x, h0, c0, dy, y, (h_T, c_T) = _projected_run(22, dtype)
    weights = _state_dict(lstm)
    inputs = {"x": x.detach().numpy(), "h0": h0.detach().numpy(), "c0": c0.detach().numpy()}
    outputs = {k: v.detach().numpy() for k, v in (("y", y), ("h_T", h_T), ("c_T", c_T))}
    grads = {"dy": dy.numpy(), **{k: p.grad.numpy() for k, p in lstm.named_parameters()}}
    grads |= {"x": x.grad.numpy(), "h0": h0.grad.numpy(), "c0": c0.grad.numpy()}
    report = validate("torch", weights, inputs, outputs, grads)
    assert report.sizes["proj"] == P_
    assert report.verdict == "pass", report
    # Pre-activations sum M_ + P_ + 1 terms, the projection N_.
    terms = max(M_ + P_ + 1, N_)
    assert report.tensors["y"].tolerance == tolerance_ulps(x.shape[0], terms)
    assert {"y", "h_T", "c_T", "grad weight_hr_l0", "grad h0", "grad c0"} <= set(report.tensors)
    # The same numbers with the projection's gradient spoiled fail on that tensor alone.
    grads["weight_hr_l0"] = grads["weight_hr_l0"] * np.asarray(1.001, dtype=grads["x"].dtype)
    spoiled = validate("torch", weights, inputs, outputs, grads)
    failed = [name for name, t in spoiled.tensors.items() if t.verdict == "fail"]
    assert failed == ["grad weight_hr_l0"]


# -- ONNX Runtime's LSTM operator on a model built with the onnx package ------------------------


def _onnx_lstm(arrays: dict, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, **attributes):
    """Run one ONNX LSTM node (opset 14) in ONNX Runtime: Y (T, 1, B, n), Y_h, Y_c, and
    the node's attributes as :func:`read_onnx_attributes` reads them back."""
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
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], hidden_size=n, **attributes)
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
    return (*session.run(None, feeds), read_onnx_attributes(node))


@pytest.mark.parametrize("extras", ["B", "", "B,P"])
def test_onnx_runtime_lstm_is_within_the_bound(extras):
    dtype = np.float32  # ONNX Runtime 1.32's CPU LSTM: "does not support double yet"
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
    y, h_T, c_T, _ = _onnx_lstm(arrays, x, h0, c0)
    variant, back = to_canonical("onnx", arrays)
    assert variant == cell.variant
    ref = reference(cell, back, x, h0, c0)
    np_dtype = np.dtype(dtype)
    assert _normwise(ref.y, y[:, 0], np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.h_T, h_T[0], np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.c_T, c_T[0], np_dtype) <= NORMWISE_ULP_BOUND


ONNX_ATTRIBUTE_CASES = {
    "clip": Variant(clip=0.75),
    "input_forget": Variant(forget_gate="coupled"),
    "input_forget, clip, P": Variant(forget_gate="coupled", clip=1.5, peephole=True),
    "HardSigmoid": Variant(gate_activation="hard_sigmoid", clip=2.0),
}


@pytest.mark.parametrize("case", list(ONNX_ATTRIBUTE_CASES))
def test_onnx_runtime_clip_and_input_forget_are_within_the_bound(case):
    dtype = np.dtype(np.float32)
    variant = ONNX_ATTRIBUTE_CASES[case]
    rng = np.random.default_rng(7)
    T, B, n, m = 12, 3, 8, 5
    cell = Cell("vector", variant, hidden_size=n, input_size=m)
    params = {k: rng.normal(size=cell.shape(k)).astype(dtype) for k in cell.parameters}
    x = rng.normal(size=(T, B, m)).astype(dtype)
    h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
    arrays = from_canonical("onnx", params, variant)
    y, h_T, c_T, attributes = _onnx_lstm(arrays, x, h0, c0, **onnx_attributes(variant))
    got_variant, back = to_canonical("onnx", arrays, attributes=attributes)
    assert got_variant == variant
    ref = reference(cell, back, x, h0, c0)
    pairs = [(ref.y, y[:, 0]), (ref.h_T, h_T[0]), (ref.c_T, c_T[0])]
    assert normwise_ulps(pairs, dtype) <= NORMWISE_ULP_BOUND
    if variant.clip is not None:  # the clip must matter: without it the numbers differ
        unclipped_cell = Cell("vector", replace(variant, clip=None), hidden_size=n, input_size=m)
        unclipped = reference(unclipped_cell, back, x, h0, c0)
        assert normwise_ulps([(unclipped.y, y[:, 0])], dtype) > 1000


# -- Keras 3 with the torch backend -------------------------------------------------------------


@pytest.fixture
def keras(monkeypatch):
    """Keras 3 on the torch backend (chosen when keras is first imported)."""
    import os
    import sys

    if "keras" not in sys.modules:
        monkeypatch.setitem(os.environ, "KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="the keras extra: pip install '.[keras]'")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    return keras


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_lstm_is_within_the_bound(dtype, keras):
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
    # unit_forget_bias (Keras' default) is an initializer: its 1s are in the bias array.
    assert variant.forget_bias == 0 and np.all(params["b_f"] == 1) and np.all(params["b_i"] == 0)
    ref = reference(Cell("vector", variant, hidden_size=n, input_size=m), params, x, h0, c0)
    np_dtype = np.dtype(dtype)
    assert _normwise(ref.y, y.transpose(1, 0, 2), np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.h_T, h_T, np_dtype) <= NORMWISE_ULP_BOUND
    assert _normwise(ref.c_T, c_T, np_dtype) <= NORMWISE_ULP_BOUND


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_bidirectional_lstm_is_within_the_bound(dtype, keras):
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(8)
    T, B, n, m = 12, 3, 8, 5
    layer = keras.layers.Bidirectional(  # the wrapper has a dtype of its own
        keras.layers.LSTM(n, return_sequences=True, dtype=dtype.name), dtype=dtype.name
    )
    x = rng.normal(size=(T, B, m)).astype(dtype)
    y = keras.ops.convert_to_numpy(layer(x.transpose(1, 0, 2))).transpose(1, 0, 2)
    assert y.dtype == dtype
    # Keras' merge_mode "concat": forward outputs, then the backward layer's, reversed back.
    arrays = {
        f"{side}/{w.name}": keras.ops.convert_to_numpy(w.value)
        for side in ("forward_layer", "backward_layer")
        for w in getattr(layer, side).weights
    }
    for direction, inputs, outputs in (
        ("forward", x, y[:, :, :n]),
        ("reverse", x[::-1], y[::-1, :, n:]),  # the backward layer reads x time-reversed
    ):
        variant, params = to_canonical("keras_bidirectional", arrays, direction=direction)
        ref = reference(Cell("vector", variant, hidden_size=n, input_size=m), params, inputs)
        assert normwise_ulps([(ref.y, outputs)], dtype) <= NORMWISE_ULP_BOUND, direction
    # symlstm.validation reads the whole layer's (B, T, 2n) output as Keras returns it, and
    # one direction's part alone.
    from symlstm.validation import validate

    x_bm, y_bm = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
    report = validate("keras_bidirectional", arrays, {"x": x_bm}, {"y": y_bm})
    assert report.passed and report.direction == "bidirectional", report.text()
    for slot, direction in enumerate(("forward", "reverse")):
        part = {"y": y_bm[..., slot * n : (slot + 1) * n]}
        report = validate("keras_bidirectional", arrays, {"x": x_bm}, part, direction=direction)
        assert report.passed, report.text()


def test_validate_diagnoses_a_projected_lstm_with_a_wrong_gate_order():
    from symlstm.validation import validate

    torch.manual_seed(23)
    lstm = torch.nn.LSTM(M_, N_, proj_size=P_, dtype=torch.float64)
    x = torch.randn(6, 2, M_, dtype=torch.float64)
    with torch.no_grad():
        y, (h_T, c_T) = lstm(x)
    weights = _state_dict(lstm)
    rows = weights["weight_ih_l0"].reshape(4, N_, M_)  # the claim packs f and g swapped
    spoiled = dict(weights, weight_ih_l0=rows[[0, 2, 1, 3]].reshape(4 * N_, M_))
    for k in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        spoiled[k] = weights[k].reshape(4, N_, -1)[[0, 2, 1, 3]].reshape(weights[k].shape)
    outputs = {"y": y.numpy(), "h_T": h_T.numpy(), "c_T": c_T.numpy()}
    report = validate("torch", spoiled, {"x": x.numpy()}, outputs)
    assert report.verdict == "fail"
    assert report.diagnosis and "order i, g, f, o" in report.diagnosis[0].fix, report.diagnosis
