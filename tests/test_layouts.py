"""Framework weight layouts: round trips, and PyTorch's modules run through the canonical cell."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

import numpy as np
import pytest

from symlstm.cell import Variant
from symlstm.codegen.numpy_code import numpy_module
from symlstm.errors import ParameterError, ShapeError, SymLSTMError, UnknownNameError
from symlstm.frameworks.layouts import (
    LAYOUTS,
    Layout,
    from_canonical,
    get_layout,
    onnx_attributes,
    onnx_variant,
    read_onnx_attributes,
    to_canonical,
)
from symlstm.symbols import GATES

N, M = 3, 2  # hidden and input sizes of the random cells


def random_params(rng, dtype=np.float64, *, peephole=False, n=N, m=M):
    params = {}
    for k in GATES:
        params[f"W_{k}"] = rng.normal(size=(n, m)).astype(dtype)
        params[f"U_{k}"] = rng.normal(size=(n, n)).astype(dtype)
        params[f"b_{k}"] = rng.normal(size=n).astype(dtype)
    if peephole:
        params |= {f"p_{k}": rng.normal(size=n).astype(dtype) for k in "ifo"}
    return params


def assert_same(a, b):
    """Equal names, dtypes and bits (NaN equal to NaN)."""
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)


def test_every_table_is_one_to_one():
    for name, layout in LAYOUTS.items():
        assert layout.name == name
        assert sorted(layout.canonical_gates) == sorted(GATES)
        assert layout.candidate in layout.gates
    assert LAYOUTS["torch"].canonical_gates == ("i", "f", "g", "o")
    assert LAYOUTS["keras"].canonical_gates == ("i", "f", "g", "o")
    assert LAYOUTS["tf1"].canonical_gates == ("i", "g", "f", "o")
    assert LAYOUTS["onnx"].canonical_gates == ("i", "o", "f", "g")
    torch = LAYOUTS["torch"]
    with pytest.raises(ParameterError, match="not i, f, g, o"):
        dataclasses.replace(torch, gates=("i", "f", "f", "o"))
    with pytest.raises(ParameterError, match="U_i is in 2 blocks"):
        dataclasses.replace(torch, arrays=(*torch.arrays, torch.arrays[1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_canonical_to_layout_to_canonical_is_exact(name, dtype):
    rng = np.random.default_rng(1)
    layout = LAYOUTS[name]
    for peephole in (False, True) if layout.has_peepholes else (False,):
        params = random_params(rng, dtype, peephole=peephole)
        variant = Variant(peephole=peephole, forget_bias=layout.forget_bias or 0)
        arrays = from_canonical(layout, params, variant)
        assert all(a.dtype == dtype for a in arrays.values())
        back_variant, back = to_canonical(layout, arrays)
        assert back_variant == variant
        assert_same(back, params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_to_canonical_to_layout_is_exact(name, dtype):
    rng = np.random.default_rng(2)
    layout = LAYOUTS[name]
    peephole = layout.has_peepholes
    arrays = from_canonical(layout, random_params(rng, dtype, peephole=peephole))
    variant, params = to_canonical(layout, arrays)
    assert_same(from_canonical(layout, params, variant), arrays)


def test_two_biases_are_summed_and_come_back_as_one():
    rng = np.random.default_rng(3)
    torch_arrays = from_canonical("torch", random_params(rng, np.float32))
    torch_arrays["bias_hh_l0"] = rng.normal(size=4 * N).astype(np.float32)
    _, params = to_canonical("torch", torch_arrays)
    back = from_canonical("torch", params)
    np.testing.assert_array_equal(
        back["bias_ih_l0"], torch_arrays["bias_ih_l0"] + torch_arrays["bias_hh_l0"]
    )
    assert not back["bias_hh_l0"].any()
    onnx = from_canonical("onnx", params)
    onnx["B"][0, 4 * N :] = 0.25  # Rb
    _, from_onnx = to_canonical("onnx", onnx)
    np.testing.assert_array_equal(from_onnx["b_o"], params["b_o"] + np.float32(0.25))


def test_exact_biases_keep_the_sum_the_dtype_rounds():
    arrays = {
        "weight_ih": np.zeros((4, 1), np.float32),
        "weight_hh": np.zeros((4, 1), np.float32),
        "bias_ih": np.full(4, 1.0, np.float32),
        "bias_hh": np.array([2.0**-30, np.nan, np.inf, 0.5], np.float32),
    }
    _, rounded = to_canonical("torch_cell", arrays)
    assert rounded["b_i"][0] == 1.0 and rounded["b_i"].dtype == np.float32
    _, exact = to_canonical("torch_cell", arrays, biases="exact")
    assert exact["b_i"][0] == Fraction(1) + Fraction(2) ** -30
    assert np.isnan(exact["b_f"][0]) and exact["b_g"][0] == np.inf
    assert exact["W_i"].dtype == np.float32


def test_bias_free_modules_read_as_zero_biases():
    rng = np.random.default_rng(4)
    arrays = from_canonical("keras", random_params(rng))
    del arrays["bias"]
    _, params = to_canonical("keras", arrays)
    assert all(not params[f"b_{k}"].any() for k in GATES)


def test_wrong_gate_order_does_not_give_the_same_parameters():
    rng = np.random.default_rng(5)
    params = random_params(rng)
    # Keras and PyTorch agree on i, f, g, o; ONNX (i, o, f, c) does not.
    torch_arrays = from_canonical("torch", params)
    keras_arrays = from_canonical("keras", params)
    np.testing.assert_array_equal(keras_arrays["kernel"], torch_arrays["weight_ih_l0"].T)
    onnx = from_canonical("onnx", params)
    as_torch = {
        "weight_ih_l0": onnx["W"][0],
        "weight_hh_l0": onnx["R"][0],
        "bias_ih_l0": onnx["B"][0, : 4 * N],
        "bias_hh_l0": onnx["B"][0, 4 * N :],
    }
    _, misread = to_canonical("torch", as_torch)
    assert not np.array_equal(misread["W_f"], params["W_f"])
    assert not np.array_equal(misread["U_g"], params["U_g"])
    # A Keras kernel read with TF1's order (i, j, f, o) swaps f and the candidate.
    wrong = dataclasses.replace(LAYOUTS["keras"], name="keras-as-tf1", gates=("i", "c", "f", "o"))
    _, swapped = to_canonical(wrong, keras_arrays)
    np.testing.assert_array_equal(swapped["W_g"], params["W_f"])
    assert not np.array_equal(swapped["W_f"], params["W_f"])


def test_tf1_forget_bias_is_the_variant_forget_bias():
    rng = np.random.default_rng(6)
    params = random_params(rng)
    tf1 = from_canonical("tf1", params, Variant(forget_bias=1))
    variant, read = to_canonical("tf1", tf1)
    assert variant == Variant(forget_bias=1)
    assert to_canonical("tf1", tf1, forget_bias=0.0)[0] == Variant()
    x = rng.normal(size=(5, 4, M))
    y, _, c, _ = numpy_module(variant).forward(read, x)
    shifted = dict(read, b_f=read["b_f"] + 1.0)
    y1, _, c1, _ = numpy_module().forward(shifted, x)
    np.testing.assert_allclose(y, y1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(c, c1, rtol=0, atol=1e-14)


def test_onnx_directions_and_peephole_order():
    rng = np.random.default_rng(7)
    forward = random_params(rng, peephole=True)
    reverse = random_params(rng, peephole=True)
    a = from_canonical("onnx", forward)
    b = from_canonical("onnx", reverse, direction="reverse")
    np.testing.assert_array_equal(a["P"][0, N : 2 * N], forward["p_o"])  # P is i, o, f
    both = {name: np.concatenate([a[name], b[name]]) for name in a}
    assert both["W"].shape == (2, 4 * N, M) and both["B"].shape == (2, 8 * N)
    assert_same(to_canonical("onnx", both)[1], forward)
    assert_same(to_canonical("onnx", both, direction="reverse")[1], reverse)
    # One direction: slot 0, whichever the node's direction attribute is.
    assert_same(to_canonical("onnx", b, direction="reverse")[1], reverse)


def test_names_of_layers_and_directions():
    torch = get_layout("torch")
    assert torch.names(layer=2) == ("weight_ih_l2", "weight_hh_l2", "bias_ih_l2", "bias_hh_l2")
    arrays = from_canonical("torch", random_params(np.random.default_rng(8)), layer=1)
    assert sorted(arrays) == ["bias_hh_l1", "bias_ih_l1", "weight_hh_l1", "weight_ih_l1"]
    assert get_layout(torch) is torch


# -- errors ---------------------------------------------------------------------------


def test_errors_name_the_problem():
    rng = np.random.default_rng(9)
    arrays = from_canonical("torch", random_params(rng))
    with pytest.raises(UnknownNameError, match="unknown layout 'caffe'"):
        to_canonical("caffe", arrays)
    with pytest.raises(ParameterError, match=r"missing arrays .*: weight_hh_l0"):
        to_canonical("torch", {k: v for k, v in arrays.items() if k != "weight_hh_l0"})
    with pytest.raises(ParameterError, match=r"missing arrays .*: bias_hh_l0"):
        to_canonical("torch", {k: v for k, v in arrays.items() if k != "bias_hh_l0"})
    with pytest.raises(UnknownNameError, match=r"unknown array 'extra'.*expected weight_ih_l0"):
        to_canonical("torch", {**arrays, "extra": np.zeros(1)})
    with pytest.raises(ParameterError, match="missing arrays \\(layer 1, forward\\)"):
        to_canonical("torch", arrays, layer=1)
    bad = dict(arrays, weight_hh_l0=np.zeros((4 * N, N + 1)))
    message = f"weight_hh_l0: shape \\(12, 4\\), expected \\(12, 3\\) = \\(4n, n\\) with n = {N}"
    with pytest.raises(ShapeError, match=message):
        to_canonical("torch", bad)
    with pytest.raises(ShapeError, match="weight_ih_l0: shape \\(11, 2\\), expected \\(4n, m\\)"):
        to_canonical("torch", dict(arrays, weight_ih_l0=np.zeros((11, 2))))
    with pytest.raises(ShapeError, match=r"weight_hh_l0: shape \(12, 3\), expected \(12, 2\) "
                       r"= \(4n, p\) with n = 3, m = 2, p = 2"):  # fmt: skip
        to_canonical("torch", {**arrays, "weight_hr_l0": np.zeros((2, N))})
    with pytest.raises(ShapeError, match=r"weight_hr_l0: shape \(2, 2\), expected \(p, n\)"):
        to_canonical("torch", {**arrays, "weight_hr_l0": np.zeros((2, 2))})
    with pytest.raises(ParameterError, match="hold the forward direction only"):
        to_canonical("keras", from_canonical("keras", random_params(rng)), direction="reverse")
    with pytest.raises(UnknownNameError, match="unknown direction 'backward'"):
        to_canonical("torch", arrays, direction="backward")
    with pytest.raises(ParameterError, match="one layer"):
        to_canonical("onnx", from_canonical("onnx", random_params(rng)), layer=1)
    with pytest.raises(ParameterError, match="must hold real numbers"):
        to_canonical("torch", dict(arrays, bias_ih_l0=np.array(["a"] * 12)))
    with pytest.raises(ShapeError, match="num_directions 1 or 2"):
        to_canonical("onnx", {"W": np.zeros((3, 4, 1)), "R": np.zeros((3, 4, 1))})
    with pytest.raises(ParameterError, match="torch has no forget bias"):
        to_canonical("torch", arrays, forget_bias=1.0)
    assert all(issubclass(e, SymLSTMError) for e in (ParameterError, ShapeError, UnknownNameError))


def test_from_canonical_errors():
    rng = np.random.default_rng(10)
    params = random_params(rng, peephole=True)
    with pytest.raises(ParameterError, match="keras has no peepholes"):
        from_canonical("keras", params)
    with pytest.raises(ParameterError, match="torch has no forget bias"):
        from_canonical("torch", random_params(rng), Variant(forget_bias=1))
    with pytest.raises(ParameterError, match="standard forget gate"):
        from_canonical("torch", random_params(rng), Variant(forget_gate="coupled"))
    with pytest.raises(ShapeError, match="U_f: shape \\(3, 2\\), expected \\(3, 3\\)"):
        from_canonical("torch", dict(random_params(rng), U_f=np.zeros((3, 2))))
    with pytest.raises(ParameterError, match="missing arrays: b_o"):
        from_canonical("onnx", {k: v for k, v in random_params(rng).items() if k != "b_o"})


def test_non_finite_values_pass_through():
    params = random_params(np.random.default_rng(11))
    params["W_g"][0, 0] = np.nan
    params["b_o"][1] = -np.inf
    for name in LAYOUTS:
        assert_same(to_canonical(name, from_canonical(name, params))[1], params)


def projected_params(rng, dtype=np.float64, *, n=N, m=M, p=2):
    """Random canonical parameters of a cell with projections (PyTorch's proj_size p)."""
    params = {}
    for k in GATES:
        params[f"W_{k}"] = rng.normal(size=(n, m)).astype(dtype)
        params[f"U_{k}"] = rng.normal(size=(n, p)).astype(dtype)
        params[f"b_{k}"] = rng.normal(size=n).astype(dtype)
    params["W_hr"] = rng.normal(size=(p, n)).astype(dtype)
    return params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_projection_round_trips(dtype):
    params = projected_params(np.random.default_rng(21), dtype)
    for layer, direction in ((0, "forward"), (1, "reverse")):
        arrays = from_canonical("torch", params, layer=layer, direction=direction)
        suffix = "_reverse" if direction == "reverse" else ""
        assert arrays[f"weight_hh_l{layer}{suffix}"].shape == (4 * N, 2)
        np.testing.assert_array_equal(arrays[f"weight_hr_l{layer}{suffix}"], params["W_hr"])
        variant, back = to_canonical("torch", arrays, layer=layer, direction=direction)
        assert variant == Variant()
        assert_same(back, params)
        assert_same(from_canonical("torch", back, layer=layer, direction=direction), arrays)
    assert_same(to_canonical("canonical", params)[1], params)
    with pytest.raises(ParameterError, match="keras has no projection"):
        from_canonical("keras", params)
    with pytest.raises(ShapeError, match=r"W_hr: shape \(2, 2\), expected \(p, n\)"):
        from_canonical("torch", {**params, "W_hr": np.zeros((2, 2))})


def test_torch_lstm_with_projections_state_dict_round_trips():
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(M, 4, num_layers=2, bidirectional=True, proj_size=2).double()
    state = {k: v.numpy() for k, v in lstm.state_dict().items()}
    new_state = {}
    for layer in (0, 1):
        for direction in ("forward", "reverse"):
            _, params = to_canonical("torch", state, layer=layer, direction=direction)
            assert params["W_hr"].shape == (2, 4) and params["U_i"].shape == (4, 2)
            assert params["W_i"].shape == (4, M if layer == 0 else 4)  # 2 directions × p
            new_state |= from_canonical("torch", params, layer=layer, direction=direction)
    copy = torch.nn.LSTM(M, 4, num_layers=2, bidirectional=True, proj_size=2).double()
    copy.load_state_dict({k: torch.from_numpy(v) for k, v in new_state.items()})
    x = torch.randn(3, 1, M, dtype=torch.float64)
    with torch.no_grad():  # b_ih + b_hh summed into one bias: equal up to its rounding
        np.testing.assert_allclose(copy(x)[0].numpy(), lstm(x)[0].numpy(), rtol=0, atol=1e-14)


def test_layout_table_is_data():
    # A new convention is a table entry: the transposed, g-first cousin of PyTorch.
    custom = Layout(
        name="custom",
        gates=("g", "i", "f", "o"),
        gate_axis="columns",
        arrays=LAYOUTS["keras"].arrays,
    )
    params = random_params(np.random.default_rng(12))
    arrays = from_canonical(custom, params)
    np.testing.assert_array_equal(arrays["kernel"][:, :N], params["W_g"].T)
    assert_same(to_canonical(custom, arrays)[1], params)


# -- real PyTorch ---------------------------------------------------------------------


def _run(params, x, h0, c0):
    y, h, c, _ = numpy_module().forward(params, x, h0, c0)
    return y, h, c


@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_lstm_state_dict_runs_the_same_in_the_canonical_cell(bidirectional):
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    torch.manual_seed(0)
    layers, T, B = 2, 6, 3
    dirs = 2 if bidirectional else 1
    lstm = torch.nn.LSTM(M, N, num_layers=layers, bidirectional=bidirectional, dtype=torch.float64)
    rng = np.random.default_rng(13)
    x = rng.normal(size=(T, B, M))
    h0 = rng.normal(size=(layers * dirs, B, N))
    c0 = rng.normal(size=(layers * dirs, B, N))
    with torch.no_grad():
        states = (torch.from_numpy(h0), torch.from_numpy(c0))
        y_t, (h_t, c_t) = lstm(torch.from_numpy(x), states)
    state = lstm.state_dict()
    inputs = x
    for layer in range(layers):
        outputs = []
        for d, direction in enumerate(("forward", "reverse")[:dirs]):
            variant, params = to_canonical("torch", state, layer=layer, direction=direction)
            assert variant == Variant()
            assert all(p.dtype == np.float64 for p in params.values())
            slot = layer * dirs + d
            seq = inputs if direction == "forward" else inputs[::-1]
            y, h, c = _run(params, np.ascontiguousarray(seq), h0[slot], c0[slot])
            outputs.append(y if direction == "forward" else y[::-1])
            np.testing.assert_allclose(h, h_t[slot].numpy(), rtol=0, atol=1e-13)
            np.testing.assert_allclose(c, c_t[slot].numpy(), rtol=0, atol=1e-13)
        inputs = np.concatenate(outputs, axis=2)
    np.testing.assert_allclose(inputs, y_t.numpy(), rtol=0, atol=1e-13)
    # And back: canonical parameters written into a fresh module's state_dict load as they are.
    copy = torch.nn.LSTM(M, N, num_layers=layers, bidirectional=bidirectional, dtype=torch.float64)
    new_state = {}
    for layer in range(layers):
        for direction in ("forward", "reverse")[:dirs]:
            _, params = to_canonical("torch", state, layer=layer, direction=direction)
            new_state |= from_canonical("torch", params, layer=layer, direction=direction)
    copy.load_state_dict({k: torch.from_numpy(v) for k, v in new_state.items()})
    with torch.no_grad():
        y_copy, _ = copy(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    np.testing.assert_allclose(y_copy.numpy(), y_t.numpy(), rtol=0, atol=1e-14)


def test_torch_lstm_cell_state_dict_runs_the_same_in_the_canonical_cell():
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(M, N, dtype=torch.float64)
    rng = np.random.default_rng(14)
    x, h0, c0 = rng.normal(size=(4, M)), rng.normal(size=(4, N)), rng.normal(size=(4, N))
    with torch.no_grad():
        h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    _, params = to_canonical("torch_cell", cell.state_dict())
    _, h, c = _run(params, x[None], h0, c0)
    np.testing.assert_allclose(h, h_t.numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(c, c_t.numpy(), rtol=0, atol=1e-13)


def test_torch_without_biases_and_float32_exact_biases():
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    torch.manual_seed(2)
    no_bias = torch.nn.LSTM(M, N, bias=False)
    _, params = to_canonical("torch", no_bias.state_dict())
    assert params["b_i"].dtype == np.float32 and not params["b_i"].any()
    lstm = torch.nn.LSTM(M, N)  # float32
    state = lstm.state_dict()
    _, exact = to_canonical("torch", state, biases="exact")
    b_ih, b_hh = (state[f"bias_{s}_l0"].numpy() for s in ("ih", "hh"))
    for index, k in enumerate(GATES):
        rows = slice(index * N, (index + 1) * N)
        want = [
            Fraction(float(a)) + Fraction(float(b))
            for a, b in zip(b_ih[rows], b_hh[rows], strict=True)
        ]
        assert list(exact[f"b_{k}"]) == want


# -- ONNX node attributes: clip, input_forget, activations ----------------------------------------

ONNX_VARIANTS = [
    Variant(),
    Variant(clip=3),
    Variant(clip=0.75, forget_gate="coupled"),
    Variant(forget_gate="coupled", peephole=True),
    Variant(gate_activation="hard_sigmoid"),
    Variant(gate_activation="hard_sigmoid_relu6", output_activation="hard_sigmoid"),
    Variant(candidate_activation="relu", output_activation="softsign"),
    Variant(output_activation="identity", clip=8),
]


@pytest.mark.parametrize("variant", ONNX_VARIANTS, ids=lambda v: v.label())
def test_onnx_attributes_round_trip(variant):
    attributes = onnx_attributes(variant)
    assert onnx_variant(attributes, peephole=variant.peephole) == variant
    both = onnx_attributes(variant, num_directions=2)
    for direction in ("forward", "reverse"):
        got = onnx_variant(
            {**both, "direction": "bidirectional"}, direction=direction, peephole=variant.peephole
        )
        assert got == variant


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", ONNX_VARIANTS, ids=lambda v: v.label())
def test_onnx_arrays_and_attributes_round_trip(variant, dtype):
    from symlstm.cell import Cell

    rng = np.random.default_rng(21)
    cell = Cell("vector", variant, hidden_size=N, input_size=M)
    params = {k: rng.normal(size=cell.shape(k)).astype(dtype) for k in cell.parameters}
    arrays = from_canonical("onnx", params, variant)
    if variant.forget_gate == "coupled":  # the forget blocks ONNX Runtime does not read: zeros
        assert not arrays["W"][0, 2 * N : 3 * N].any() and not arrays["R"][0, 2 * N : 3 * N].any()
    got_variant, got = to_canonical("onnx", arrays, attributes=onnx_attributes(variant))
    assert got_variant == variant
    assert_same(got, {k: np.asarray(v) for k, v in params.items()})
    assert from_canonical("onnx", got, got_variant).keys() == arrays.keys()


def test_onnx_input_forget_ignores_the_forget_blocks():
    rng = np.random.default_rng(22)
    arrays = from_canonical("onnx", random_params(rng, peephole=True))
    variant, params = to_canonical("onnx", arrays, attributes={"input_forget": 1})
    assert variant == Variant(forget_gate="coupled", peephole=True)
    assert sorted(params) == sorted([f"{p}_{k}" for p in "WUb" for k in "igo"] + ["p_i", "p_o"])


def test_onnx_activation_parameters_are_consumed_in_order():
    attributes = {
        "direction": "bidirectional",
        "activations": ["HardSigmoid", "tanh", "HARDSIGMOID", "Sigmoid", "Affine", "Relu"],
        "activation_alpha": [0.2, 1 / 6, 1.0],  # HardSigmoid, HardSigmoid, Affine
        "activation_beta": [0.5, 0.5, 0.0],
    }
    forward = onnx_variant(attributes)
    assert (forward.gate_activation, forward.output_activation) == (
        "hard_sigmoid",
        "hard_sigmoid_relu6",
    )
    reverse = onnx_variant(attributes, direction="reverse")
    assert (reverse.candidate_activation, reverse.output_activation) == ("identity", "relu")
    # Absent alpha and beta take ONNX's defaults (HardSigmoid: 0.2, 0.5).
    assert onnx_variant({"activations": ["HardSigmoid", "Tanh", "Tanh"]}).gate_activation == (
        "hard_sigmoid"
    )


def test_read_onnx_attributes_of_a_node():
    pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")
    from onnx import helper

    variant = Variant(clip=2.5, forget_gate="coupled", gate_activation="hard_sigmoid")
    node = helper.make_node(
        "LSTM", ["X", "W", "R"], ["Y"], hidden_size=N, **onnx_attributes(variant)
    )
    attributes = read_onnx_attributes(node)
    assert attributes["activations"] == ["HardSigmoid", "Tanh", "Tanh"]
    assert attributes["hidden_size"] == N
    arrays = from_canonical("onnx", random_params(np.random.default_rng(26)))
    assert to_canonical("onnx", arrays, attributes=attributes)[0] == variant
    with pytest.raises(ParameterError, match="not an ONNX LSTM node: 'GRU'"):
        read_onnx_attributes(helper.make_node("GRU", ["X"], ["Y"]))


@pytest.mark.parametrize(
    ("attributes", "error", "message"),
    [
        ({"clip": -1.0}, ParameterError, "clip must be a positive number"),
        ({"clip": "3"}, ParameterError, "onnx clip must be a number"),
        ({"input_forget": 2}, ParameterError, "input_forget is 0 or 1"),
        ({"layout": 2}, ParameterError, "layout is 0 or 1"),
        ({"cell_clip": 1.0}, UnknownNameError, "unknown ONNX LSTM attribute 'cell_clip'"),
        ({"direction": "sideways"}, UnknownNameError, "unknown ONNX direction 'sideways'"),
        ({"direction": "bidirectional"}, ShapeError, "arrays hold 1 direction"),
        ({"hidden_size": 7}, ShapeError, "hidden_size is 7, the arrays' is 3"),
        ({"activations": ["Sigmoid", "Tanh"]}, ShapeError, "2 names, expected 3 per direction"),
        ({"activations": ["Sigmoid", "Swish", "Tanh"]}, UnknownNameError, "'Swish'"),
        (
            {"activations": ["Sigmoid", "Tanh", "Elu"]},
            ParameterError,
            r"ONNX activation Elu\(alpha=1\) has no match in symlstm.functions; supported: ",
        ),
        (
            {"activations": ["LeakyRelu", "Tanh", "Tanh"]},
            ParameterError,
            r"LeakyRelu\(alpha=0.00999999978\) has no match",
        ),
        (
            {"activations": ["HardSigmoid", "Tanh", "Tanh"], "activation_alpha": [0.3]},
            ParameterError,
            r"HardSigmoid\(alpha=0.300000012, beta=0.5\) has no match",
        ),
    ],
)
def test_onnx_attribute_errors(attributes, error, message):
    arrays = from_canonical("onnx", random_params(np.random.default_rng(23)))
    with pytest.raises(error, match=message):
        to_canonical("onnx", arrays, attributes=attributes)


def test_what_a_layout_cannot_say_is_an_error():
    rng = np.random.default_rng(24)
    with pytest.raises(ParameterError, match="torch arrays have no node attributes"):
        to_canonical("torch", from_canonical("torch", random_params(rng)), attributes={})
    with pytest.raises(ParameterError, match="torch has no clip"):
        from_canonical("torch", random_params(rng), Variant(clip=3))
    coupled = {k: v for k, v in random_params(rng).items() if not k.endswith("_f")}
    with pytest.raises(ParameterError, match="keras has the standard forget gate only"):
        from_canonical("keras", coupled, Variant(forget_gate="coupled"))
    with pytest.raises(ParameterError, match="a coupled cell has no forget-gate parameters: W_f"):
        from_canonical("onnx", random_params(rng), Variant(forget_gate="coupled"))
    with pytest.raises(ParameterError, match="ONNX's LSTM has no cell without a forget gate"):
        onnx_attributes(Variant(forget_gate="none"))
    with pytest.raises(ParameterError, match="ONNX's LSTM has no forget bias"):
        onnx_attributes(Variant(forget_bias=1))
    with pytest.raises(ParameterError, match=r"clip 1/10 is not a float32 number.*clip=0.1000000"):
        onnx_attributes(Variant(clip="0.1"))
    with pytest.raises(ParameterError, match="num_directions is 1 or 2"):
        onnx_attributes(Variant(), num_directions=3)
    assert onnx_attributes(Variant(clip=float(np.float32(0.1)))) == {"clip": float(np.float32(0.1))}


# -- Keras Bidirectional --------------------------------------------------------------------------


def test_keras_bidirectional_names_both_directions():
    rng = np.random.default_rng(25)
    layout = get_layout("keras_bidirectional")
    assert layout.names(direction="reverse") == (
        "backward_layer/kernel",
        "backward_layer/recurrent_kernel",
        "backward_layer/bias",
    )
    forward, reverse = random_params(rng), random_params(rng)
    arrays = from_canonical(layout, forward) | from_canonical(layout, reverse, direction="reverse")
    assert sorted(arrays)[:3] == [
        "backward_layer/bias",
        "backward_layer/kernel",
        "backward_layer/recurrent_kernel",
    ]
    assert_same(to_canonical(layout, arrays)[1], forward)
    assert_same(to_canonical(layout, arrays, direction="reverse")[1], reverse)
    # The single-layer keras names are the forward layer's, without the prefix.
    plain = {k.split("/")[1]: v for k, v in arrays.items() if k.startswith("forward_layer/")}
    assert_same(to_canonical("keras", plain)[1], forward)
    with pytest.raises(UnknownNameError, match="unknown array 'kernel'"):
        to_canonical(layout, plain)


def test_bad_argument_types_are_argument_errors():
    from symlstm.errors import ArgumentError

    with pytest.raises(ArgumentError, match="attributes must be a mapping"):
        onnx_variant(None)
    with pytest.raises(ArgumentError, match="direction must be a string, not int"):
        onnx_variant({}, direction=1)
    with pytest.raises(ArgumentError, match="hidden_size must be an integer, not str"):
        onnx_variant({}, hidden_size="4")
    with pytest.raises(ArgumentError, match="onnx hidden_size must be an integer, not str"):
        onnx_variant({"hidden_size": "x"})
    with pytest.raises(ArgumentError, match="peephole must be True or False"):
        onnx_variant({}, peephole="yes")
    with pytest.raises(ArgumentError, match="variant must be a Variant, not str"):
        onnx_attributes("peephole")
    with pytest.raises(ArgumentError, match="arrays must be a mapping"):
        to_canonical("torch", [1])
    with pytest.raises(ArgumentError, match="forget_bias must be a number or None, not str"):
        to_canonical("tf1", {}, forget_bias="1")
    with pytest.raises(ArgumentError, match="params must be a mapping"):
        from_canonical("torch", None)
    with pytest.raises(ArgumentError, match="variant must be a Variant or None, not str"):
        from_canonical("torch", {}, "peephole")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"activations": 3}, "onnx activations must be a list of names, not 3"),
        ({"activations": "Tanh"}, "must be a list of names, not 'Tanh'"),
        ({"activation_alpha": ["a"]}, "activation_alpha must be a list of numbers"),
        ({"layout": True}, "onnx layout is 0 or 1, not True"),
        ({"input_forget": 1.0}, "onnx input_forget is 0 or 1, not 1.0"),
        ({"hidden_size": "x"}, "hidden_size must be an integer"),
    ],
)
def test_wrongly_typed_onnx_attributes_are_refused(attributes, message):
    # Issue 18: {"layout": true} was taken as 1, {"activations": 3} raised a TypeError.
    with pytest.raises(SymLSTMError, match=re.escape(message)):
        onnx_variant(attributes)
