"""symlstm.validation on whole networks as real frameworks hand them out (issue 15 items 1, 2,
4, 5): torch stacks with both directions, proj_size and batch_first; Keras Bidirectional in
each merge mode; ONNX Runtime nodes in every direction, with sequence_lens, an initial
state and any subset of Y, Y_h, Y_c; shape mistakes refused before anything is computed,
and layout mistakes diagnosed by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symlstm.errors import ArrayShapeError, ShapeError
from symlstm.frameworks.layouts import from_canonical, to_canonical
from symlstm.validation import validate

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

T, B, N, M = 5, 3, 4, 3


def _state_dict(module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _torch_network(seed=0, **kwargs):
    torch.manual_seed(seed)
    return torch.nn.LSTM(M, N, **kwargs)


def _fixes(report) -> list[str]:
    return [fix.fix for fix in report.diagnosis or [] if fix.agrees]


# -- torch ---------------------------------------------------------------------------------------


def test_a_two_layer_bidirectional_projected_batch_first_torch_network_passes_whole():
    lstm = _torch_network(1, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, M)).astype(np.float32)  # batch-major, as the module takes it
    h0 = rng.normal(size=(4, B, 2)).astype(np.float32)
    c0 = rng.normal(size=(4, B, N)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    outputs = {"y": y.numpy(), "h_T": h_n.numpy(), "c_T": c_n.numpy()}
    inputs = {"x": x, "h0": h0, "c0": c0}
    report = validate("torch", _state_dict(lstm), inputs, outputs, batch_first=True)
    assert report.passed, report.text()
    assert report.layers == 2 and report.direction == "bidirectional" and report.layer is None
    assert report.initial_state == "given"
    names = set(report.tensors)
    assert {
        "y (forward)",
        "y (reverse)",
        "h_T (layer 0, forward)",
        "c_T (layer 1, reverse)",
    } <= names
    text = report.text()
    assert "torch layout, 2 layers, bidirectional, float32" in text and "worst of all:" in text
    # The same data without --batch-first: refused before anything is computed.
    with pytest.raises(ArrayShapeError, match=r"batch-major .* read as time-major"):
        validate("torch", _state_dict(lstm), inputs, outputs)


def test_one_unit_alone_and_a_whole_networks_y_for_one_unit():
    lstm = _torch_network(3, num_layers=2)
    x = np.random.default_rng(4).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, _) = lstm(torch.from_numpy(x))
    weights = _state_dict(lstm)
    report = validate("torch", weights, {"x": x}, {"y": y.numpy(), "h_T": h_n.numpy()})
    assert report.passed and report.initial_state == "zeros (not given)", report.text()
    assert "initial state: zeros (not given)" in report.text()
    assert json.loads(report.json())["initial_state"] == "zeros (not given)"
    # Layer 0 alone given the network's y (layer 1's output): the diagnosis names it.
    report = validate("torch", weights, {"x": x}, {"y": y.numpy()}, layer=0)
    assert not report.passed
    assert "y is layer 1's output, not layer 0's" in _fixes(report), report.text()


def test_y_of_both_directions_for_a_one_direction_network_is_refused():
    lstm = _torch_network(5, bidirectional=True)
    x = np.random.default_rng(6).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(x))
    forward_only = {k: v for k, v in _state_dict(lstm).items() if "reverse" not in k}
    with pytest.raises(ShapeError, match="y of both directions for a one-direction network"):
        validate("torch", forward_only, {"x": x}, {"y": y.numpy()})


def test_batch_major_read_as_time_major_is_diagnosed_where_shapes_cannot_tell():
    lstm = _torch_network(7, batch_first=True)
    x = np.random.default_rng(8).normal(size=(B, B, M)).astype(np.float32)  # T = B
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(x))
    report = validate("torch", _state_dict(lstm), {"x": x}, {"y": y.numpy()})
    assert not report.passed
    assert any("batch-major data read as time-major" in f for f in _fixes(report)), report.text()
    assert validate("torch", _state_dict(lstm), {"x": x}, {"y": y.numpy()}, batch_first=True).passed


def test_a_time_reversed_sequence_and_a_missing_initial_state_are_diagnosed():
    lstm = _torch_network(9)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x[::-1].copy()))
    report = validate("torch", _state_dict(lstm), {"x": x}, {"y": y.numpy()})
    assert "x given in reverse time order (the sequence read time-reversed)" in _fixes(report)
    # A non-zero initial state used, not given: zeros are assumed, the report says so,
    # and the diagnosis finds an initial state that explains the numbers.
    h0 = rng.normal(size=(1, B, N)).astype(np.float32)
    c0 = rng.normal(size=(1, B, N)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    outputs = {"y": y.numpy(), "h_T": h_n.numpy(), "c_T": c_n.numpy()}
    report = validate("torch", _state_dict(lstm), {"x": x}, outputs)
    assert report.initial_state == "zeros (not given)" and not report.passed
    assert any("non-zero initial state" in f for f in _fixes(report)), report.text()


def test_identical_gate_weights_cannot_tell_gate_orders_apart():
    # The input and output gates have the same weights, and the implementation reads the
    # f and g blocks swapped: (i, g, f, o) and (o, g, f, i) explain the numbers alike.
    lstm = _torch_network(11)
    with torch.no_grad():
        for p in lstm.parameters():
            blocks = p.view(4, N, *p.shape[1:])
            blocks[3] = blocks[0]
    weights = _state_dict(lstm)
    with torch.no_grad():
        for p in lstm.parameters():
            blocks = p.view(4, N, *p.shape[1:])
            blocks[[1, 2]] = blocks[[2, 1]].clone()
    x = np.random.default_rng(12).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(x))
    report = validate("torch", weights, {"x": x}, {"y": y.numpy()})
    agreeing = _fixes(report)
    assert report.ambiguous and len(agreeing) >= 2, report.text()
    assert any("order i, g, f, o" in f for f in agreeing)
    assert any("order o, g, f, i" in f for f in agreeing)
    assert "the data cannot tell apart" in report.text()


def test_rows_drawn_at_random_are_stated():
    lstm = _torch_network(13)
    x = np.random.default_rng(14).normal(size=(T, 6, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, _) = lstm(torch.from_numpy(x))
    outputs = {"y": y.numpy(), "h_T": h_n.numpy()}
    report = validate("torch", _state_dict(lstm), {"x": x}, outputs, rows=2, seed=1)
    assert report.passed and len(report.rows) == 2 and report.total_batch == 6
    assert json.loads(report.json())["rows"] == list(report.rows)
    assert f"rows: 2 of 6 drawn at random: {report.rows[0]}, {report.rows[1]}" in report.text()
    assert report.tensors["y"].shape == (T, 2, N)


# -- Keras ---------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("merge", ["concat", "sum", "ave", "mul"])
def test_keras_bidirectional_passes_in_each_merge_mode(keras, merge):
    keras.utils.set_random_seed(15)
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(N, return_sequences=True, return_state=True, dtype="float32"),
        merge_mode=merge,
        dtype="float32",
    )
    x = np.random.default_rng(16).normal(size=(B, T, M)).astype(np.float32)  # batch-major
    y, h_f, c_f, h_b, c_b = (keras.ops.convert_to_numpy(a) for a in layer(x))
    arrays = {
        f"{side}/{w.name}": keras.ops.convert_to_numpy(w.value)
        for side in ("forward_layer", "backward_layer")
        for w in getattr(layer, side).weights
    }
    outputs = {"y": y, "h_T": np.stack([h_f, h_b]), "c_T": np.stack([c_f, c_b])}
    report = validate("keras_bidirectional", arrays, {"x": x}, outputs, merge_mode=merge)
    assert report.passed, report.text()
    assert ("y" in report.tensors) == (merge != "concat")


# -- ONNX Runtime --------------------------------------------------------------------------------


def _onnx_run(weights, x, *, lengths=None, h0=None, c0=None, outputs=("Y", "Y_h", "Y_c"), **attrs):
    """One ONNX LSTM node run by ONNX Runtime; the outputs asked for, by name."""
    pytest.importorskip("onnx", reason="the onnx extra")
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra")
    from onnx import TensorProto, helper, numpy_helper

    n = weights["R"].shape[-1]
    feeds = {"X": x}
    names = ["X", "W", "R", "B"]
    for name, value in (("sequence_lens", lengths), ("initial_h", h0), ("initial_c", c0)):
        names.append(name if value is not None else "")
        if value is not None:
            feeds[name] = value
    names.append("P" if "P" in weights else "")
    while names[-1] == "":
        names.pop()
    node = helper.make_node("LSTM", names, list(outputs), hidden_size=n, **attrs)
    graph_inputs = [
        helper.make_tensor_value_info(
            k, TensorProto.INT32 if k == "sequence_lens" else TensorProto.FLOAT, list(v.shape)
        )
        for k, v in feeds.items()
    ]
    graph = helper.make_graph(
        [node],
        "lstm",
        graph_inputs,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outputs],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(outputs, session.run(None, feeds), strict=True)), feeds


def _onnx_weights(seed, directions=1):
    rng = np.random.default_rng(seed)
    return {
        "W": rng.normal(size=(directions, 4 * N, M)).astype(np.float32),
        "R": rng.normal(size=(directions, 4 * N, N)).astype(np.float32),
        "B": rng.normal(size=(directions, 8 * N)).astype(np.float32),
    }


def test_onnx_reverse_is_honoured_and_y_h_y_c_alone_are_accepted():
    weights = _onnx_weights(17)
    x = np.random.default_rng(18).normal(size=(T, B, M)).astype(np.float32)
    outs, feeds = _onnx_run(weights, x, direction="reverse")
    attributes = {"direction": "reverse"}
    report = validate("onnx", weights, feeds, outs, attributes=attributes)
    assert report.passed and report.direction == "reverse", report.text()
    only_states = {"Y_h": outs["Y_h"], "Y_c": outs["Y_c"]}
    assert validate("onnx", weights, feeds, only_states, attributes=attributes).passed
    # The attribute left out: the diagnosis says the implementation ran in reverse.
    report = validate("onnx", weights, feeds, outs)
    assert not report.passed
    assert any("ran the reverse direction" in f for f in _fixes(report)), report.text()


def test_onnx_bidirectional_with_an_initial_state_passes():
    weights = _onnx_weights(19, directions=2)
    rng = np.random.default_rng(20)
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    h0 = rng.normal(size=(2, B, N)).astype(np.float32)
    c0 = rng.normal(size=(2, B, N)).astype(np.float32)
    outs, feeds = _onnx_run(weights, x, h0=h0, c0=c0, direction="bidirectional")
    attributes = {"direction": "bidirectional"}
    report = validate("onnx", weights, feeds, outs, attributes=attributes)
    assert report.passed, report.text()
    assert {"y (forward)", "y (reverse)", "h_T (reverse)"} <= set(report.tensors)
    only_y_h = {"Y_h": outs["Y_h"]}
    assert validate("onnx", weights, feeds, only_y_h, attributes=attributes).passed
    # One direction alone, with its own part of Y.
    report = validate(
        "onnx", weights, feeds, {"Y": outs["Y"][:, 1:]}, direction="reverse", attributes=attributes
    )
    assert report.passed, report.text()
    with pytest.raises(ArrayShapeError, match="whole network's Y"):
        validate("onnx", weights, feeds, outs, direction="reverse", attributes=attributes)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_onnx_ragged_batch_with_sequence_lens_passes(direction):
    weights = _onnx_weights(21, directions=2 if direction == "bidirectional" else 1)
    x = np.random.default_rng(22).normal(size=(T, B, M)).astype(np.float32)
    lengths = np.array([T, 2, 4], dtype=np.int32)
    outs, feeds = _onnx_run(weights, x, lengths=lengths, direction=direction)
    assert np.all(outs["Y"][2:, :, 1] == 0)  # past row 1's length: zeros
    attributes = {"direction": direction}
    report = validate("onnx", weights, feeds, outs, attributes=attributes)
    assert report.passed, report.text()
    if direction == "forward":
        # sequence_lens left out: the diagnosis names it, with the rows' lengths.
        del feeds["sequence_lens"]
        report = validate("onnx", weights, feeds, outs, attributes=attributes)
        assert not report.passed
        assert any("sequence lengths not given" in f and "5, 2, 4" in f for f in _fixes(report))


def test_onnx_layout_1_and_a_batch_first_conflict():
    # onnxruntime refuses layout = 1: ONNX Runtime's time-major numbers, given batch-major.
    weights = _onnx_weights(23)
    x = np.random.default_rng(24).normal(size=(T, B, M)).astype(np.float32)
    outs, _ = _onnx_run(weights, x)
    batch_major = {
        "Y": outs["Y"].transpose(2, 0, 1, 3),
        "Y_h": outs["Y_h"].swapaxes(0, 1),
        "Y_c": outs["Y_c"].swapaxes(0, 1),
    }
    inputs = {"X": x.swapaxes(0, 1)}
    assert validate("onnx", weights, inputs, batch_major, attributes={"layout": 1}).passed
    with pytest.raises(Exception, match="contradicts the node's layout"):
        validate("onnx", weights, inputs, batch_major, attributes={"layout": 1}, batch_first=False)


# -- the command line ----------------------------------------------------------------------------


def test_cli_whole_network_and_a_shape_mistake_in_one_line(tmp_path, capsys):
    from symlstm.cli import main

    lstm = _torch_network(25, num_layers=2, bidirectional=True, batch_first=True)
    x = np.random.default_rng(26).normal(size=(B, T, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x))
    np.savez(tmp_path / "w.npz", **_state_dict(lstm))
    np.savez(tmp_path / "x.npz", x=x)
    np.savez(tmp_path / "y.npz", y=y.numpy(), h_T=h_n.numpy(), c_T=c_n.numpy())
    files = ["--weights", str(tmp_path / "w.npz"), "--inputs", str(tmp_path / "x.npz"),
             "--outputs", str(tmp_path / "y.npz")]  # fmt: skip
    assert main(["validate", "--layout", "torch", *files, "--batch-first"]) == 0
    out = capsys.readouterr().out
    assert "initial state: zeros (not given)" in out and "verdict: PASS" in out
    assert main(["validate", "--layout", "torch", *files]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "batch-major" in captured.err


def test_cli_onnx_reverse_attribute_is_honoured(tmp_path, capsys):
    from symlstm.cli import main

    weights = _onnx_weights(27)
    x = np.random.default_rng(28).normal(size=(T, B, M)).astype(np.float32)
    outs, feeds = _onnx_run(weights, x, direction="reverse")
    np.savez(tmp_path / "w.npz", **weights)
    np.savez(tmp_path / "x.npz", **feeds)
    np.savez(tmp_path / "y.npz", **outs)
    files = ["--weights", str(tmp_path / "w.npz"), "--inputs", str(tmp_path / "x.npz"),
             "--outputs", str(tmp_path / "y.npz")]  # fmt: skip
    argv = ["validate", "--layout", "onnx", *files, "--format", "json"]
    assert main([*argv, "--attributes", '{"direction": "reverse"}']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["direction"] == "reverse" and report["initial_state"] == "zeros (not given)"
    assert main([*argv, "--direction", "reverse"]) == 0  # a one-direction node, said so
    capsys.readouterr()
    assert main([*argv, "--diagnose", "never"]) == 1  # run forward: fails
    capsys.readouterr()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w, i, o: None, None),  # as given: passes
        (lambda w, i, o: o.update(h_T=o["h_T"][:1]), r"1 states for a network of 2 units"),
        (lambda w, i, o: o.update(y=o["y"][..., :N]), r"y of one direction for a bidirectional"),
        (lambda w, i, o: i.update(x=i["x"][..., :2]), r"inputs: x has shape \(5, 3, 2\)"),
    ],
)
def test_shape_mistakes_name_their_likely_cause(change, message):
    lstm = _torch_network(29, bidirectional=True)
    x = np.random.default_rng(30).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(torch.from_numpy(x))
    weights, inputs = _state_dict(lstm), {"x": x}
    outputs = {"y": y.numpy(), "h_T": h_n.numpy(), "c_T": c_n.numpy()}
    change(weights, inputs, outputs)
    if message is None:
        assert validate("torch", weights, inputs, outputs).passed
        return
    with pytest.raises(ArrayShapeError, match=message):
        validate("torch", weights, inputs, outputs)


def test_keras_time_major_data_is_refused_with_its_cause():
    rng = np.random.default_rng(31)
    weights = {
        "kernel": rng.normal(size=(M, 4 * N)).astype(np.float32),
        "recurrent_kernel": rng.normal(size=(N, 4 * N)).astype(np.float32),
    }
    from symlstm.codegen.numpy_code import numpy_module
    from symlstm.frameworks.layouts import to_canonical

    _, params = to_canonical("keras", weights)
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    y, h_T, _, _ = numpy_module().forward(params, x)
    outputs = {"y": y.astype(np.float32), "h_T": h_T.astype(np.float32)}
    with pytest.raises(ArrayShapeError, match=r"time-major .* read as batch-major.*--time-major"):
        validate("keras", weights, {"x": x}, outputs)
    assert validate("keras", weights, {"x": x}, outputs, batch_first=False).passed


def test_ignored_sequence_lens_and_another_layers_output_are_diagnosed():
    # The implementation ignores sequence_lens: every row ran all T steps.
    weights = _onnx_weights(32)
    x = np.random.default_rng(33).normal(size=(T, B, M)).astype(np.float32)
    outs, feeds = _onnx_run(weights, x)
    feeds["sequence_lens"] = np.array([T, 2, 3], dtype=np.int32)
    report = validate("onnx", weights, feeds, outs)
    assert any("sequence_lens ignored" in f for f in _fixes(report)), report.text()
    # y of a two-layer network's first layer, given as the network's output.
    lstm = _torch_network(34, num_layers=2)
    first = torch.nn.LSTM(M, N)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(first, f"{name}_l0").copy_(getattr(lstm, f"{name}_l0"))
        y0, _ = first(torch.from_numpy(x))
    report = validate("torch", _state_dict(lstm), {"x": x}, {"y": y0.numpy()})
    assert "y is layer 0's output, not the last layer's" in _fixes(report), report.text()


def test_the_networks_input_for_an_upper_layer_and_bad_gradients_are_refused_first():
    lstm = _torch_network(35, num_layers=2)
    x = np.random.default_rng(36).normal(size=(T, B, M)).astype(np.float32)
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(x))
    weights = _state_dict(lstm)
    with pytest.raises(ArrayShapeError, match="likely the network's input given for layer 1"):
        validate("torch", weights, {"x": x}, {"y": y.numpy()}, layer=1)
    grads = {"dy": y.numpy(), "weight_ih_l0": weights["weight_ih_l0"][:, :2]}
    with pytest.raises(ArrayShapeError, match=r"grads: weight_ih_l0 has shape \(16, 2\)"):
        validate("torch", weights, {"x": x}, {"y": y.numpy()}, grads, layer=0)
    # The whole network's gradients: dy like the network's y, checked before anything runs.
    with pytest.raises(ArrayShapeError, match=r"grads: dy has shape \(5, 3, 2\), expected"):
        validate("torch", weights, {"x": x}, {"y": y.numpy()}, {"dy": y.numpy()[..., :2]})
    with pytest.raises(ArrayShapeError, match=r"grads: h0 has shape \(1, 3, 4\), expected"):
        validate("torch", weights, {"x": x}, {"y": y.numpy()}, {"dy": y.numpy(),
                 "h0": np.zeros((1, B, N), np.float32)})  # fmt: skip


def test_onnx_bidirectional_peepholes_ragged_with_an_initial_state_pass():
    rng = np.random.default_rng(37)
    weights = _onnx_weights(38, directions=2) | {
        "P": rng.normal(size=(2, 3 * N)).astype(np.float32)
    }
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    h0, c0 = (rng.normal(size=(2, B, N)).astype(np.float32) for _ in range(2))
    lengths = np.array([3, T, 1], dtype=np.int32)
    outs, feeds = _onnx_run(weights, x, lengths=lengths, h0=h0, c0=c0, direction="bidirectional")
    report = validate("onnx", weights, feeds, outs, attributes={"direction": "bidirectional"})
    assert report.passed and report.variant.peephole, report.text()


def test_a_keras_lstm_with_its_states_passes_batch_major_by_default(keras):
    keras.utils.set_random_seed(39)
    layer = keras.layers.LSTM(N, return_sequences=True, return_state=True, dtype="float32")
    x = np.random.default_rng(40).normal(size=(B, T, M)).astype(np.float32)
    y, h, c = (keras.ops.convert_to_numpy(a) for a in layer(x))
    weights = {w.name: keras.ops.convert_to_numpy(w.value) for w in layer.weights}
    report = validate("keras", weights, {"x": x}, {"y": y, "h_T": h, "c_T": c})
    assert report.passed and report.batch_first, report.text()


# -- gradients of a whole network (issue 15: backprop through the stack) --------------------------


def _stack_with_gradients(seed=41):
    """A 2-layer bidirectional projected batch_first float32 torch network, run with an
    initial state, and autograd's gradients of L = Σ y·dy + Σ h_n·dhT + Σ c_n·dcT."""
    lstm = _torch_network(seed, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    rng = np.random.default_rng(seed + 1)
    x = torch.from_numpy(rng.normal(size=(B, T, M)).astype(np.float32)).requires_grad_()
    h0 = torch.from_numpy(rng.normal(size=(4, B, 2)).astype(np.float32)).requires_grad_()
    c0 = torch.from_numpy(rng.normal(size=(4, B, N)).astype(np.float32)).requires_grad_()
    y, (h_n, c_n) = lstm(x, (h0, c0))
    seeds = [rng.normal(size=tuple(t.shape)).astype(np.float32) for t in (y, h_n, c_n)]
    loss = sum((t * torch.from_numpy(s)).sum() for t, s in zip((y, h_n, c_n), seeds, strict=True))
    loss.backward()
    grads = {k: p.grad.numpy().copy() for k, p in lstm.named_parameters()}
    grads |= {"dy": seeds[0], "dhT": seeds[1], "dcT": seeds[2], "x": x.grad.numpy()}
    grads |= {"h0": h0.grad.numpy(), "c0": c0.grad.numpy()}
    inputs = {"x": x.detach().numpy(), "h0": h0.detach().numpy(), "c0": c0.detach().numpy()}
    outputs = {"y": y.detach().numpy(), "h_T": h_n.detach().numpy(), "c_T": c_n.detach().numpy()}
    return _state_dict(lstm), inputs, outputs, grads


def test_a_whole_networks_gradients_pass_against_torch_autograd():
    weights, inputs, outputs, grads = _stack_with_gradients()
    report = validate("torch", weights, inputs, outputs, grads, batch_first=True)
    assert report.passed, report.text()
    units = [f"l{k}{s}" for k in (0, 1) for s in ("", "_reverse")]
    expected = {
        f"grad {w}_{u}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        for u in units
    }  # fmt: skip
    expected |= {
        f"grad {s} (layer {k}, {d})" for s in ("h0", "c0") for k in (0, 1)
        for d in ("forward", "reverse")
    }  # fmt: skip
    expected.add("grad x")
    assert {n for n in report.tensors if n.startswith("grad")} == expected
    # Each layer's gradient tolerance is (8 + 2·√16)·√5 → 36 ULPs (sums of 4·hidden = 16
    # terms), the two layers' added like a random walk: ⌈36·√2⌉ = 51.
    for name in expected:  # torch's float32 backward: a few ULPs from the certified values
        t = report.tensors[name]
        assert 0 < t.normwise_ulp < 8 and t.tolerance == 51, (name, t)
    assert report.tensors["grad x"].shape == (T, B, M) and report.tensors["grad x"].step_ulps
    lines = report.text().splitlines()
    assert any(line.startswith("grad weight_hr_l1_reverse ") for line in lines)
    assert any(line.startswith("grad c0 (layer 1, reverse) ") for line in lines)


def test_a_tampered_gradient_of_one_unit_fails_alone():
    weights, inputs, outputs, grads = _stack_with_gradients(43)
    # Layer 0's reverse recurrent weights, 1e-4 relative off (hundreds of ULPs): only
    # that unit's tensor fails; the certified dy it is measured with is the layer above's.
    grads["weight_hh_l0_reverse"] = grads["weight_hh_l0_reverse"] * np.float32(1 + 1e-4)
    report = validate("torch", weights, inputs, outputs, grads, batch_first=True, diagnosis=False)
    failing = [name for name, t in report.tensors.items() if t.verdict == "fail"]
    assert failing == ["grad weight_hh_l0_reverse"] and report.verdict == "fail"
    assert report.tensors["grad weight_hh_l0_reverse"].normwise_ulp > 100
    # dh0 of the upper reverse unit given for the lower one: both fail, the rest passes.
    grads = _stack_with_gradients(43)[3]
    grads["h0"] = grads["h0"][[0, 3, 2, 1]]
    report = validate("torch", weights, inputs, outputs, grads, batch_first=True, diagnosis=False)
    failing = [name for name, t in report.tensors.items() if t.verdict == "fail"]
    assert failing == ["grad h0 (layer 0, reverse)", "grad h0 (layer 1, reverse)"]


def test_gradients_through_a_merged_bidirectional_output_in_each_merge_mode():
    # Two directions summed, averaged or multiplied (Keras Bidirectional's merge_mode):
    # each direction's dy is the merged dy (halved for ave; for mul, times the other
    # direction's certified output). Torch's units give the numbers, repacked in the
    # keras_bidirectional layout (bias_hh zero, so kernel + bias is exact).
    lstm = _torch_network(45, bidirectional=True)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
        lstm.bias_hh_l0_reverse.zero_()
    rng = np.random.default_rng(46)
    x = torch.from_numpy(rng.normal(size=(T, B, M)).astype(np.float32)).requires_grad_()
    for merge in ("sum", "ave", "mul"):
        lstm.zero_grad()
        x.grad = None
        y, _ = lstm(x)
        if merge == "mul":
            merged = y[..., :N] * y[..., N:]
        else:
            merged = y[..., :N] + y[..., N:]
            merged = merged / 2 if merge == "ave" else merged
        dy = rng.normal(size=tuple(merged.shape)).astype(np.float32)
        (merged * torch.from_numpy(dy)).sum().backward()
        weights, grads = {}, {"dy": dy.swapaxes(0, 1), "x": x.grad.numpy().swapaxes(0, 1)}
        for name, suffix in (("forward_layer", ""), ("backward_layer", "_reverse")):
            for array, source in (("kernel", "weight_ih"), ("recurrent_kernel", "weight_hh"),
                                  ("bias", "bias_ih")):  # fmt: skip
                parameter = getattr(lstm, f"{source}_l0{suffix}")
                weights[f"{name}/{array}"] = parameter.detach().numpy().T.copy()
                grads[f"{name}/{array}"] = parameter.grad.numpy().T.copy()
        outputs = {"y": merged.detach().numpy().swapaxes(0, 1)}  # batch-major, as Keras
        batch_major = {"x": x.detach().numpy().swapaxes(0, 1)}
        report = validate("keras_bidirectional", weights, batch_major, outputs, grads,
                          merge_mode=merge)  # fmt: skip
        assert report.passed, report.text()
        assert {"grad forward_layer/kernel", "grad backward_layer/bias", "grad x"} <= set(
            report.tensors
        )
    # mul's gradients read as sum's: every gradient fails (each direction's seed differs)
    report = validate("keras_bidirectional", weights, batch_major, outputs, grads,
                      merge_mode="sum", diagnosis=False)  # fmt: skip
    failing = {name for name, t in report.tensors.items() if t.verdict == "fail"}
    assert {"y", "grad forward_layer/kernel", "grad backward_layer/kernel", "grad x"} <= failing


def test_gradients_of_a_bidirectional_onnx_node_per_direction():
    # Torch's bidirectional float32 LSTM (bias_hh zero, so ONNX's Wb + Rb is torch's bias
    # exactly) repacked as an ONNX node, its autograd gradients too: W, R, B have a
    # direction axis, each direction's part compared on its own line.
    lstm = _torch_network(47, bidirectional=True)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
        lstm.bias_hh_l0_reverse.zero_()
    rng = np.random.default_rng(48)
    x = torch.from_numpy(rng.normal(size=(T, B, M)).astype(np.float32)).requires_grad_()
    h0, c0 = (
        torch.from_numpy(rng.normal(size=(2, B, N)).astype(np.float32)).requires_grad_()
        for _ in range(2)
    )
    y, (h_n, c_n) = lstm(x, (h0, c0))
    seeds = [rng.normal(size=tuple(t.shape)).astype(np.float32) for t in (y, h_n, c_n)]
    sum(
        (t * torch.from_numpy(s)).sum() for t, s in zip((y, h_n, c_n), seeds, strict=True)
    ).backward()
    weights: dict[str, list] = {"W": [], "R": [], "B": []}
    grads: dict[str, list] = {"W": [], "R": [], "B": []}
    for direction, suffix in (("forward", ""), ("reverse", "_reverse")):
        for target, source in ((weights, "detach"), (grads, "grad")):
            arrays = {
                f"{name}_l0{suffix}": (p.detach() if source == "detach" else p.grad).numpy()
                for name, p in (
                    (n, getattr(lstm, f"{n}_l0{suffix}"))
                    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                )
            }
            arrays[f"bias_hh_l0{suffix}"] = np.zeros_like(arrays[f"bias_hh_l0{suffix}"])
            _, params = to_canonical("torch", arrays, direction=direction)
            packed = from_canonical("onnx", params)
            if source == "grad":  # both of a gate's biases have the gradient db_k
                packed["B"][:, 4 * N :] = packed["B"][:, : 4 * N]
            for name in ("W", "R", "B"):
                target[name].append(packed[name][0])
    onnx_weights = {k: np.stack(v) for k, v in weights.items()}
    onnx_grads = {k: np.stack(v) for k, v in grads.items()}

    def onnx_y(a):  # (T, B, 2N) → ONNX's Y (T, D, B, N)
        return a.reshape(T, B, 2, N).transpose(0, 2, 1, 3).copy()

    onnx_grads |= {"dy": onnx_y(seeds[0]), "dhT": seeds[1], "dcT": seeds[2]}
    onnx_grads |= {"x": x.grad.numpy(), "h0": h0.grad.numpy(), "c0": c0.grad.numpy()}
    inputs = {"X": x.detach().numpy(), "initial_h": h0.detach().numpy(),
              "initial_c": c0.detach().numpy()}  # fmt: skip
    outputs = {"Y": onnx_y(y.detach().numpy()), "Y_h": h_n.detach().numpy()}
    attributes = {"direction": "bidirectional"}
    report = validate("onnx", onnx_weights, inputs, outputs, onnx_grads, attributes=attributes)
    assert report.passed, report.text()
    assert [n for n in report.tensors if n.startswith("grad")] == [
        "grad W (forward)", "grad R (forward)", "grad B (forward)",
        "grad W (reverse)", "grad R (reverse)", "grad B (reverse)",
        "grad x", "grad h0 (forward)", "grad h0 (reverse)", "grad c0 (forward)",
        "grad c0 (reverse)",
    ]  # fmt: skip
    # The reverse direction's recurrent gradient tampered with: that line alone fails.
    onnx_grads["R"] = onnx_grads["R"].copy()
    onnx_grads["R"][1] *= np.float32(1 + 1e-4)
    report = validate("onnx", onnx_weights, inputs, outputs, onnx_grads, attributes=attributes,
                      diagnosis=False)  # fmt: skip
    assert [n for n, t in report.tensors.items() if t.verdict == "fail"] == ["grad R (reverse)"]
