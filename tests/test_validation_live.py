"""symlstm.validation.live: real PyTorch modules, Keras layers and ONNX Runtime models run
by check_torch, check_keras and check_onnx and validated in one call; a tampered module
fails; a missing framework is a clear error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from symlstm.errors import (
    ArgumentError,
    DataFileError,
    MissingDependencyError,
    ParameterError,
)
from symlstm.validation.live import check_keras, check_onnx, check_torch, validate_onnx_model
from symlstm.validation.report import ValidationReport

T, B, N, M = 5, 3, 4, 3


def _x(seed=0, shape=(T, B, M), dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# -- PyTorch --------------------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")


def _lstm(torch, seed=0, *args, **kwargs):
    torch.manual_seed(seed)
    return torch.nn.LSTM(M, N, *args, **kwargs)


def test_torch_forward_and_gradients_pass(torch):
    lstm = _lstm(torch)
    report = check_torch(lstm, _x())
    assert isinstance(report, ValidationReport) and report.passed, report.text()
    assert set(report.tensors) == {"y", "h_T", "c_T"} and report.layout == "torch"
    h0, c0 = _x(1, (1, B, N)), _x(2, (1, B, N))
    report = check_torch(lstm, torch.from_numpy(_x()), h0, c0, grads=True)
    assert report.passed, report.text()
    assert {"grad weight_ih_l0", "grad bias_hh_l0", "grad x", "grad h0", "grad c0"} <= set(
        report.tensors
    )
    assert all(p.grad is None for p in lstm.parameters())  # the module's .grad untouched


def test_torch_layouts_read_from_the_module(torch):
    lstm = _lstm(torch, 1, batch_first=True, proj_size=2, dtype=torch.float64)
    report = check_torch(lstm, _x(3, (B, T, M)), grads=True)  # batch-major, as the module takes
    assert report.passed and report.sizes["proj"] == 2, report.text()
    assert report.dtype == np.float64
    cell = torch.nn.LSTMCell(M, N)
    report = check_torch(cell, _x(4), _x(5, (B, N)), _x(6, (B, N)), grads=True)
    assert report.passed and report.layout == "torch_cell", report.text()
    nobias = _lstm(torch, 2, bias=False)
    assert check_torch(nobias, _x(7)).passed


def _whole_networks() -> bool:
    """Whether validate judges whole networks (several layers, both directions) by default."""
    import inspect

    from symlstm.validation import validate

    return inspect.signature(validate).parameters["layer"].default is None


def test_torch_bidirectional_one_direction_per_report(torch):
    lstm = _lstm(torch, 3, bidirectional=True)
    for direction in ("forward", "reverse"):
        report = check_torch(lstm, _x(8), grads=True, direction=direction)
        assert report.passed and report.direction == direction, report.text()
    report = check_torch(lstm, _x(8), grads=True)  # both directions at once
    assert report.passed and report.direction == "bidirectional", report.text()
    assert {"grad weight_ih_l0", "grad weight_ih_l0_reverse", "grad x"} <= set(report.tensors)
    with pytest.raises(ParameterError, match="whose inner outputs the framework does not"):
        check_torch(_lstm(torch, 4, num_layers=2), _x(8), direction="forward")


def test_torch_whole_networks(torch):
    stack = _lstm(torch, 4, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    x = _x(9, (B, T, M))
    if not _whole_networks():
        with pytest.raises(ParameterError, match="2-layer network"):
            check_torch(stack, x)
        return
    report = check_torch(stack, x, _x(10, (4, B, 2)), _x(11, (4, B, N)))
    assert report.passed, report.text()
    # Gradients of the whole stack, against autograd: every unit's weights, x, h0, c0.
    report = check_torch(stack, x, _x(10, (4, B, 2)), _x(11, (4, B, N)), grads=True)
    assert report.passed, report.text()
    grads = [name for name in report.tensors if name.startswith("grad")]
    assert len(grads) == 4 * 5 + 1 + 8  # 5 arrays per unit (weight_hr too), x, h0 and c0
    assert {"grad weight_hr_l1_reverse", "grad x", "grad c0 (layer 1, reverse)"} <= set(grads)
    assert all(report.tensors[name].normwise_ulp < 10 for name in grads)

    class Frozen(torch.nn.LSTM):
        """Gradients that stop at the input: its x gradient is wrong (zero)."""

        def forward(self, x, hx=None):
            return super().forward(x.detach(), hx)

    frozen = Frozen(M, N, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    frozen.load_state_dict(stack.state_dict())
    report = check_torch(frozen, x, grads=True, diagnosis=False)
    assert [n for n, t in report.tensors.items() if t.verdict == "fail"] == ["grad x"]


def test_a_tampered_torch_module_fails(torch):
    class Tampered(torch.nn.LSTM):
        """An LSTM whose output is off by a relative 1e-4 (about 800 float32 ULPs)."""

        def forward(self, x, hx=None):
            y, (h, c) = super().forward(x, hx)
            return y * (1 + 1e-4), (h, c)

    torch.manual_seed(0)
    report = check_torch(Tampered(M, N), _x(), diagnosis=False)
    assert report.verdict == "fail"
    assert report.tensors["y"].verdict == "fail" and report.tensors["h_T"].verdict == "pass"

    class Frozen(torch.nn.LSTM):
        """Gradients that stop at the input: its x gradient is wrong (zero)."""

        def forward(self, x, hx=None):
            return super().forward(x.detach(), hx)

    torch.manual_seed(0)
    report = check_torch(Frozen(M, N), _x(), grads=True, diagnosis=False)
    assert report.tensors["grad x"].verdict == "fail"
    assert report.tensors["grad weight_ih_l0"].verdict == "pass"


def test_torch_arguments_are_checked(torch, monkeypatch):
    lstm = _lstm(torch)
    with pytest.raises(ArgumentError, match=r"torch\.nn\.LSTM or torch\.nn\.LSTMCell"):
        check_torch(torch.nn.GRU(M, N), _x())
    with pytest.raises(ParameterError, match="input_size is 3"):
        check_torch(lstm, _x(shape=(T, B, M + 1)))
    with pytest.raises(ParameterError, match="both h0 and c0"):
        check_torch(lstm, _x(), _x(1, (1, B, N)))
    with pytest.raises(ParameterError, match="the module raised RuntimeError"):
        check_torch(lstm, _x(), _x(1, (1, B + 1, N)), _x(1, (1, B + 1, N)))
    with pytest.raises(ArgumentError):
        check_torch(lstm, _x(), grads="yes")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'symlstm\[torch\]'"):
        check_torch(lstm, _x())


# -- Keras ----------------------------------------------------------------------------------------


@pytest.fixture
def keras(monkeypatch):
    """Keras 3 on the torch backend (chosen when keras is first imported)."""
    import os

    if "keras" not in sys.modules:
        monkeypatch.setitem(os.environ, "KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="the keras extra: pip install '.[keras]'")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    return keras


def test_keras_lstm_passes(keras):
    layer = keras.layers.LSTM(N, return_sequences=True, return_state=True)
    report = check_keras(layer, _x(1, (B, T, M)), _x(2, (B, N)), _x(3, (B, N)))
    assert report.passed and set(report.tensors) == {"y", "h_T", "c_T"}, report.text()
    backwards = keras.layers.LSTM(N, return_sequences=True, go_backwards=True, dtype="float64")
    report = check_keras(backwards, _x(4, (B, T, M)))
    assert report.passed and report.dtype == np.float64, report.text()
    with pytest.raises(ParameterError, match="return_sequences=True"):
        check_keras(keras.layers.LSTM(N), _x(1, (B, T, M)))
    with pytest.raises(ParameterError, match="activation is 'relu'"):
        check_keras(keras.layers.LSTM(N, activation="relu", return_sequences=True), _x())
    with pytest.raises(ArgumentError, match=r"keras\.layers\.LSTM"):
        check_keras(keras.layers.GRU(N, return_sequences=True), _x())


def test_keras_bidirectional_one_direction_per_report(keras):
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(N, return_sequences=True, return_state=True)
    )
    h0, c0 = _x(5, (2, B, N)), _x(6, (2, B, N))
    for direction in ("forward", "reverse"):
        report = check_keras(layer, _x(7, (B, T, M)), h0, c0, direction=direction)
        assert report.passed and report.direction == direction, report.text()
    summed = keras.layers.Bidirectional(
        keras.layers.LSTM(N, return_sequences=True), merge_mode="sum"
    )
    with pytest.raises(ParameterError, match="merge_mode 'sum'"):
        check_keras(summed, _x(7, (B, T, M)), direction="forward")
    if _whole_networks():
        for merged in (layer, summed):
            report = check_keras(merged, _x(7, (B, T, M)))
            assert report.passed, report.text()


# -- ONNX Runtime ---------------------------------------------------------------------------------


@pytest.fixture
def onnx():
    pytest.importorskip("onnxruntime", reason="the onnx extra: pip install '.[onnx]'")
    return pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")


def _onnx_model(onnx, path, direction="forward", outputs=("Y", "Y_h", "Y_c"), before=False):
    """An LSTM node (W, R, B initializers) behind a Relu when ``before``; saved at ``path``."""
    from onnx import TensorProto, helper, numpy_helper

    dirs = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(9)
    stored = {
        "W": rng.normal(size=(dirs, 4 * N, M)) / 2,
        "R": rng.normal(size=(dirs, 4 * N, N)) / 2,
        "B": rng.normal(size=(dirs, 8 * N)) / 2,
    }
    nodes = [helper.make_node("Relu", ["input"], ["X"])] if before else []
    names = [name if name in outputs else "" for name in ("Y", "Y_h", "Y_c")]
    nodes.append(
        helper.make_node(
            "LSTM", ["X", "W", "R", "B"], names, hidden_size=N, direction=direction, name="rnn"
        )
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input" if before else "X", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in stored.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    return str(path)


def test_check_onnx_passes(onnx, tmp_path):
    path = _onnx_model(onnx, tmp_path / "m.onnx")
    report = check_onnx(path, {"X": _x()})
    assert report.passed and set(report.tensors) == {"y", "h_T", "c_T"}, report.text()
    np.savez(tmp_path / "X.npz", X=_x())
    assert check_onnx(path, str(tmp_path / "X.npz")).passed  # an .npz path
    # the node behind another node, with only Y_h as a graph output: its X and all three
    # outputs are fetched from the run
    path = _onnx_model(onnx, tmp_path / "inner.onnx", outputs=("Y_h",), before=True)
    report = check_onnx(path, {"input": _x()})
    assert report.passed and set(report.tensors) == {"y", "h_T", "c_T"}, report.text()
    with pytest.raises(DataFileError, match="missing: input"):
        check_onnx(path, {"X": _x()})


def test_check_onnx_directions(onnx, tmp_path):
    path = _onnx_model(onnx, tmp_path / "rev.onnx", direction="reverse")
    report = check_onnx(path, {"X": _x()})
    assert report.passed and report.direction == "reverse", report.text()
    path = _onnx_model(onnx, tmp_path / "bi.onnx", direction="bidirectional")
    for direction in ("forward", "reverse"):
        report = check_onnx(path, {"X": _x()}, direction=direction)
        assert report.passed and report.direction == direction, report.text()
    if _whole_networks():
        assert check_onnx(path, {"X": _x()}).passed
    else:
        with pytest.raises(ParameterError, match="direction='forward'"):
            check_onnx(path, {"X": _x()})


def test_validate_onnx_model_takes_outputs_by_graph_names(onnx, tmp_path):
    import onnxruntime as ort

    path = _onnx_model(onnx, tmp_path / "m.onnx", outputs=("Y_h", "Y"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y_h, y = session.run(["Y_h", "Y"], {"X": _x()})
    report = validate_onnx_model(path, {"X": _x()}, {"Y": y, "Y_h": y_h})
    assert report.passed and set(report.tensors) == {"y", "h_T"}, report.text()
    report = validate_onnx_model(path, {"X": _x()}, {"Y": y * np.float32(1.001)})
    assert report.verdict == "fail"


def test_missing_frameworks_name_their_extra(monkeypatch, tmp_path):
    for module, call, extra in (
        ("keras", lambda: check_keras(object(), _x()), "keras"),
        ("onnxruntime", lambda: check_onnx(_onnx_model_or_skip(tmp_path), {"X": _x()}), "onnx"),
    ):
        monkeypatch.setitem(sys.modules, module, None)
        with pytest.raises(MissingDependencyError, match=rf"pip install 'symlstm\[{extra}\]'"):
            call()


def _onnx_model_or_skip(tmp_path):
    onnx = pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")
    return _onnx_model(onnx, tmp_path / "m.onnx")
