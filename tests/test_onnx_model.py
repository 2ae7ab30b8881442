"""symlstm.frameworks.onnx_model: an ONNX model's LSTM node read from the file, and
``symlstm validate --model``, on models built with onnx.helper and run by ONNX Runtime;
hostile files refused within seconds."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from symlstm.cli import main
from symlstm.errors import ArgumentError, DataFileError, UnknownNameError
from symlstm.frameworks.onnx_model import LSTMNode, load_model, read_lstm_node
from symlstm.limits import MAX_ONNX_BYTES

onnx = pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install '.[onnx]'")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

T, B, N, M = 5, 2, 4, 3


def _weights(seed: int, dirs: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W": rng.normal(size=(dirs, 4 * N, M)).astype(np.float32) / 2,
        "R": rng.normal(size=(dirs, 4 * N, N)).astype(np.float32) / 2,
        "B": rng.normal(size=(dirs, 8 * N)).astype(np.float32) / 2,
    }


def _model(
    nodes: list, inputs: list[str], outputs: list[str], initializers: dict[str, np.ndarray]
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in inputs],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def _one_lstm(tmp_path, seed=0, **attributes):
    """A model whose LSTM node has W, R, B as initializers and h0, c0 as graph inputs."""
    node = helper.make_node(
        "LSTM",
        ["X", "W", "R", "B", "", "h0", "c0"],
        ["Y", "Y_h", "Y_c"],
        hidden_size=N,
        name="lstm",
        **attributes,
    )
    model = _model([node], ["X", "h0", "c0"], ["Y", "Y_h", "Y_c"], _weights(seed))
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path, model


def _run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))


def _feeds(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "X": rng.normal(size=(T, B, M)).astype(np.float32),
        "h0": rng.normal(size=(1, B, N)).astype(np.float32),
        "c0": rng.normal(size=(1, B, N)).astype(np.float32),
    }


# -- reading the node -----------------------------------------------------------------------------


def test_the_node_is_read_with_its_stored_weights_and_names(tmp_path):
    path, _ = _one_lstm(tmp_path, clip=5.0)
    found = read_lstm_node(path)
    assert isinstance(found, LSTMNode) and found.name == "lstm"
    assert set(found.weights) == {"W", "R", "B"}
    np.testing.assert_array_equal(found.weights["R"], _weights(0)["R"])
    assert found.attributes == {"hidden_size": N, "clip": 5.0}
    assert found.inputs == {"X": "X", "W": "W", "R": "R", "B": "B", "initial_h": "h0",
                            "initial_c": "c0"}  # fmt: skip
    assert found.outputs == {"Y": "Y", "Y_h": "Y_h", "Y_c": "Y_c"}
    assert found.missing() == ("X", "initial_h", "initial_c")
    weights, inputs, outputs = found.arrays({"X": 1, "h0": 2, "c0": 3}, {"Y_h": 4})
    assert set(weights) == {"W", "R", "B"}
    assert inputs == {"x": 1, "h0": 2, "c0": 3} and outputs == {"h_T": 4}
    with pytest.raises(DataFileError, match=r"missing 'c0' \(initial_c\)"):
        found.arrays({"X": 1, "h0": 2}, {})
    with pytest.raises(DataFileError, match=r"'Q' is not an output .* expected: 'Y' \(Y\)"):
        found.arrays({"X": 1, "h0": 2, "c0": 3}, {"Q": 1})


def test_weights_given_as_graph_inputs_and_constant_nodes(tmp_path):
    w = _weights(2)
    const = helper.make_node("Constant", [], ["R"], value=numpy_helper.from_array(w["R"], name="R"))
    node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=N)  # unnamed
    model = _model([const, node], ["X", "W"], ["Y"], {})
    found = read_lstm_node(model)
    assert found.name == "" and set(found.weights) == {"R"} and found.missing() == ("X", "W")
    weights, inputs, _ = found.arrays({"X": "x", "W": w["W"]}, {})
    assert set(weights) == {"W", "R"} and inputs == {"x": "x"}


def test_several_lstm_nodes_are_named(tmp_path):
    w = _weights(3)
    first = helper.make_node("LSTM", ["X", "W", "R"], ["Y1"], hidden_size=N, name="enc")
    squeeze = helper.make_node("Squeeze", ["Y1", "axis"], ["Z"])
    second = helper.make_node("LSTM", ["Z", "W2", "R"], ["Y2"], hidden_size=N, name="dec")
    model = _model(
        [first, squeeze, second],
        ["X"],
        ["Y2"],
        {**w, "W2": np.ones((1, 4 * N, N), np.float32)},
    )
    model.graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "axis"))
    with pytest.raises(DataFileError, match=r"2 LSTM nodes \('enc', 'dec'\); name one with --node"):
        read_lstm_node(model)
    assert read_lstm_node(model, "dec").weights["W"].shape == (1, 4 * N, N)
    assert read_lstm_node(model, "Y1").name == "enc"  # an output's name names its node
    with pytest.raises(UnknownNameError, match=r"no LSTM node named 'zz'; its LSTM nodes: 'enc'"):
        read_lstm_node(model, "zz")
    with pytest.raises(UnknownNameError):
        read_lstm_node(model, "")


# -- hostile files --------------------------------------------------------------------------------


def _refused_fast(call, error, match):
    start = time.monotonic()
    with pytest.raises(error, match=match) as info:
        call()
    assert time.monotonic() - start < 5
    assert "\n" not in str(info.value)


def test_hostile_files_are_refused_in_one_line(tmp_path):
    _refused_fast(lambda: read_lstm_node(tmp_path / "none.onnx"), DataFileError, "no such file")
    _refused_fast(lambda: read_lstm_node(tmp_path), DataFileError, "not a file")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not protobuf \x00" * 100)
    _refused_fast(lambda: read_lstm_node(garbage), DataFileError, "not an ONNX model")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    _refused_fast(lambda: load_model(empty), DataFileError, "no graph of nodes")
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(MAX_ONNX_BYTES + 1)  # sparse: nothing is written
    _refused_fast(lambda: read_lstm_node(big), DataFileError, "MAX_ONNX_BYTES")
    relu = _model([helper.make_node("Relu", ["X"], ["Y"])], ["X"], ["Y"], {})
    onnx.save(relu, tmp_path / "relu.onnx")
    _refused_fast(
        lambda: read_lstm_node(tmp_path / "relu.onnx"), DataFileError, r"no LSTM node .*Relu"
    )
    with pytest.raises(ArgumentError):
        read_lstm_node(3)
    with pytest.raises(ArgumentError):
        read_lstm_node(garbage, node=3)


def test_external_data_and_lying_tensors_are_refused(tmp_path):
    _, model = _one_lstm(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    external = onnx.ModelProto()
    external.CopyFrom(model)  # onnx.save moves the tensors of the model it saves
    onnx.save(
        external,
        outside / "m.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    _refused_fast(lambda: read_lstm_node(outside / "m.onnx"), DataFileError, "external data file")
    lying = onnx.ModelProto()
    lying.CopyFrom(model)
    w = lying.graph.initializer[0]
    del w.dims[:]
    w.dims.extend([2**40, 2**40])  # claims 2^80 numbers, holds a few hundred
    _refused_fast(lambda: read_lstm_node(lying), DataFileError, "declares shape")


# -- symlstm validate --model ---------------------------------------------------------------------


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_cli_validates_a_model_as_written(tmp_path, capsys):
    path, model = _one_lstm(tmp_path)
    feeds = _feeds()
    got = _run(model, feeds)
    inputs = _npz(tmp_path / "X.npz", **feeds)
    outputs = _npz(tmp_path / "Y.npz", **got)
    args = ["validate", "--model", str(path), "--inputs", inputs, "--outputs", outputs]
    assert main(args) == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert "verdict: PASS" in text
    bad = dict(got)
    bad["Y"] = bad["Y"] * np.float32(1 + 1e-4)
    outputs = _npz(tmp_path / "bad.npz", **bad)
    args = ["validate", "--model", str(path), "--inputs", inputs, "--outputs", outputs]
    assert main([*args, "--diagnose", "never"]) == 1
    assert "verdict: FAIL" in capsys.readouterr().out


def test_cli_refuses_unclear_models_with_exit_2(tmp_path, capsys):
    w = _weights(4)
    first = helper.make_node("LSTM", ["X", "W", "R"], ["Y1"], hidden_size=N, name="enc")
    second = helper.make_node("LSTM", ["X", "W", "R"], ["Y2"], hidden_size=N, name="dec")
    onnx.save(_model([first, second], ["X"], ["Y1", "Y2"], w), tmp_path / "two.onnx")
    inputs = _npz(tmp_path / "X.npz", X=np.zeros((T, B, M), np.float32))
    outputs = _npz(tmp_path / "Y.npz", Y1=np.zeros((T, 1, B, N), np.float32))
    base = ["validate", "--inputs", inputs, "--outputs", outputs, "--model"]
    assert main([*base, str(tmp_path / "two.onnx")]) == 2
    err = capsys.readouterr().err
    assert "2 LSTM nodes ('enc', 'dec')" in err and "--node" in err
    assert main([*base, str(tmp_path / "two.onnx"), "--node", "zz"]) == 2
    assert "no LSTM node named 'zz'" in capsys.readouterr().err
    (tmp_path / "bad.onnx").write_bytes(b"\x00\x01garbage" * 10)
    assert main([*base, str(tmp_path / "bad.onnx")]) == 2
    err = capsys.readouterr().err
    assert "not an ONNX model" in err and len(err.strip().splitlines()) == 1
    assert os.path.exists(tmp_path / "bad.onnx")
