"""Framework LSTMs against the certified reference: the worst error in ULPs of their dtype.

One stated case (hidden 64, input 64, batch 8, T 50, inputs N(0, 1), each framework's default
initialisation, random h0 and c0 where the framework takes them): torch.nn.LSTM (CPU; one
layer, the second layer of two, both directions of a bidirectional one, a whole 2-layer
bidirectional batch_first network through :func:`symlstm.validation.validate`, autograd's
gradients),
torch.nn.LSTMCell stepped along the sequence, ONNX Runtime's LSTM operator (float32 only: its
CPU kernel has no float64; plain, with clip 1 and with input_forget) and Keras 3 on the torch
backend (LSTM, and both directions of Bidirectional(LSTM)). Weights go through
:mod:`symlstm.frameworks.layouts`; the reference is :func:`symlstm.reference` (every number
certified to 106 bits) on each implementation's own dtype-rounded weights and inputs: a second
layer runs on the first layer's outputs as the framework produced them, a reverse direction on
the time-reversed input. Prints, per tensor group, the worst error in ULPs at the group's
largest exact value (normwise, the measure of docs/codegen.md) and the worst element-wise
error. Frameworks that are not installed are skipped with a note.

    python benchmarks/framework_ulps.py [--steps 50 --hidden 64 --input 64 --batch 8]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symlstm.cell import Cell, Variant
from symlstm.certified.run import normwise_ulps, reference
from symlstm.frameworks.layouts import from_canonical, onnx_attributes, to_canonical


def _reference(layout, arrays, x, h0=None, c0=None, *, dy=None, **read):
    variant, params = to_canonical(layout, arrays, **read)
    n, m = params["U_i"].shape[0], params["W_i"].shape[1]
    cell = Cell("vector", variant, hidden_size=n, input_size=m)
    return reference(cell, params, x, h0, c0, dy=dy)


def _torch_dtype(dtype):
    import torch

    return torch.float32 if dtype == np.float32 else torch.float64


def _state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def run_torch(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(x.shape[2], h0.shape[1], dtype=_torch_dtype(dtype))
    with torch.no_grad():
        y, (_h, c) = lstm(
            torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
        )
    ref = _reference("torch", _state(lstm), x, h0, c0, biases="exact")
    yield "LSTM", {"y": [(ref.y, y.numpy())], "c_T": [(ref.c_T, c[0].numpy())]}


def run_torch_two_layers(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    t_dtype, n, m = _torch_dtype(dtype), h0.shape[1], x.shape[2]
    lstm = torch.nn.LSTM(m, n, num_layers=2, dtype=t_dtype)
    first = torch.nn.LSTM(m, n, dtype=t_dtype)  # layer 0 alone, for its outputs
    first.load_state_dict({k: v for k, v in lstm.state_dict().items() if k.endswith("_l0")})
    states = (torch.from_numpy(np.stack([h0, h0])), torch.from_numpy(np.stack([c0, c0])))
    with torch.no_grad():
        y, (_h, c) = lstm(torch.from_numpy(x), states)
        y0, _ = first(torch.from_numpy(x), (states[0][:1], states[1][:1]))
    ref = _reference("torch", _state(lstm), y0.numpy(), h0, c0, layer=1, biases="exact")
    yield "LSTM layer 2 of 2", {"y": [(ref.y, y.numpy())], "c_T": [(ref.c_T, c[1].numpy())]}


def run_torch_bidirectional(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    n = h0.shape[1]
    lstm = torch.nn.LSTM(x.shape[2], n, bidirectional=True, dtype=_torch_dtype(dtype))
    states = (torch.from_numpy(np.stack([h0, h0])), torch.from_numpy(np.stack([c0, c0])))
    with torch.no_grad():
        y, (_h, c) = lstm(torch.from_numpy(x), states)
    y = y.numpy()
    ref = _reference("torch", _state(lstm), x[::-1], h0, c0, direction="reverse", biases="exact")
    yield (
        "LSTM bidirectional, reverse",
        {
            "y": [(ref.y, y[::-1, :, n:])],
            "c_T": [(ref.c_T, c[1].numpy())],
        },
    )


def run_torch_network(x, h0, c0, dtype):
    """A whole 2-layer bidirectional batch_first network in one symlstm.validation.validate
    call: each layer's reference on the previous layer's certified outputs (the stack judged
    as a whole), the worst normwise error of each tensor group over its layers and
    directions."""
    import torch

    from symlstm.validation import validate

    torch.manual_seed(0)
    n = h0.shape[1]
    lstm = torch.nn.LSTM(
        x.shape[2], n, num_layers=2, bidirectional=True, batch_first=True,
        dtype=_torch_dtype(dtype),
    )  # fmt: skip
    states = np.stack([h0] * 4), np.stack([c0] * 4)
    x_bm = np.ascontiguousarray(x.swapaxes(0, 1))
    with torch.no_grad():
        y, (h, c) = lstm(torch.from_numpy(x_bm), tuple(map(torch.from_numpy, states)))
    report = validate(
        "torch",
        _state(lstm),
        {"x": x_bm, "h0": states[0], "c0": states[1]},
        {"y": y.numpy(), "h_T": h.numpy(), "c_T": c.numpy()},
        batch_first=True,
        diagnosis=False,
    )
    yield "2 layers bidir. (validate)", report


def run_torch_cell(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(x.shape[2], h0.shape[1], dtype=_torch_dtype(dtype))
    h, c, hs = torch.from_numpy(h0), torch.from_numpy(c0), []
    with torch.no_grad():
        for x_t in torch.from_numpy(x):
            h, c = cell(x_t, (h, c))
            hs.append(h.numpy())
    ref = _reference("torch_cell", _state(cell), x, h0, c0, biases="exact")
    yield "LSTMCell, T steps", {"y": [(ref.y, np.stack(hs))], "c_T": [(ref.c_T, c.numpy())]}


def run_torch_gradients(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(x.shape[2], h0.shape[1], dtype=_torch_dtype(dtype))
    dy = np.random.default_rng(2).normal(size=(*x.shape[:2], h0.shape[1])).astype(dtype)
    xt, h0t, c0t = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, h0[None], c0[None]))
    y, _ = lstm(xt, (h0t, c0t))
    (y * torch.from_numpy(dy)).sum().backward()  # L = sum(y * dy)
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    ref = _reference("torch", _state(lstm), x, h0, c0, dy=dy, biases="exact")
    got = {}
    for bias in ("ih", "hh"):  # each bias's gradient is the canonical db
        other = "bias_hh" if bias == "ih" else "bias_ih"
        g = {k: np.zeros_like(v) if other in k else v for k, v in grads.items()}
        got[bias] = to_canonical("torch", g)[1]
    yield (
        "LSTM autograd gradients",
        {
            "dW": [(ref.grads[f"W_{k}"], got["ih"][f"W_{k}"]) for k in "ifgo"],
            "dU": [(ref.grads[f"U_{k}"], got["ih"][f"U_{k}"]) for k in "ifgo"],
            "db_ih": [(ref.grads[f"b_{k}"], got["ih"][f"b_{k}"]) for k in "ifgo"],
            "db_hh": [(ref.grads[f"b_{k}"], got["hh"][f"b_{k}"]) for k in "ifgo"],
            "dx": [(ref.grads["x"], xt.grad.numpy())],
            "dh0": [(ref.grads["h0"], h0t.grad[0].numpy())],
            "dc0": [(ref.grads["c0"], c0t.grad[0].numpy())],
        },
    )


def _onnx_run(arrays, x, h0, c0, attributes):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    (T, B, m), n = x.shape, h0.shape[1]
    inputs = ["X", "W", "R", "B", "", "h0", "c0", "P" if "P" in arrays else ""]
    node = helper.make_node(
        "LSTM",
        [i for i in inputs if i or inputs.index(i) < 7],
        ["Y", "", "Y_c"],
        hidden_size=n,
        **attributes,
    )
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [node],
        "lstm",
        [
            helper.make_tensor_value_info(k, f, s)
            for k, s in (("X", [T, B, m]), ("h0", [1, B, n]), ("c0", [1, B, n]))
        ],
        [
            helper.make_tensor_value_info("Y", f, [T, 1, B, n]),
            helper.make_tensor_value_info("Y_c", f, [1, B, n]),
        ],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y, c = session.run(None, {"X": x, "h0": h0[None], "c0": c0[None]})
    return y[:, 0], c[0]


def run_onnxruntime(x, h0, c0, dtype):
    import onnxruntime  # noqa: F401  (skip the framework when it is missing)

    if dtype != np.float32:
        return
    n, m = h0.shape[1], x.shape[2]
    for label, variant in (
        ("LSTM", Variant()),
        ("LSTM clip 1", Variant(clip=1)),
        ("LSTM input_forget", Variant(forget_gate="coupled")),
    ):
        rng = np.random.default_rng(1)
        cell = Cell("vector", variant, hidden_size=n, input_size=m)
        scale = 1 / np.sqrt(n)  # the usual U(-1/sqrt(n), 1/sqrt(n)) initialisation
        params = {
            k: rng.uniform(-scale, scale, cell.shape(k)).astype(dtype) for k in cell.parameters
        }
        arrays = from_canonical("onnx", params, variant)
        attributes = onnx_attributes(variant)
        y, c = _onnx_run(arrays, x, h0, c0, attributes)
        ref = _reference("onnx", arrays, x, h0, c0, attributes=attributes)
        yield label, {"y": [(ref.y, y)], "c_T": [(ref.c_T, c)]}


def run_keras(x, h0, c0, dtype):
    import keras

    if keras.backend.backend() != "torch":
        return
    keras.utils.set_random_seed(0)
    n = h0.shape[1]
    layer = keras.layers.LSTM(
        n, return_sequences=True, return_state=True, dtype=np.dtype(dtype).name
    )
    y, _, c = (
        keras.ops.convert_to_numpy(v) for v in layer(x.transpose(1, 0, 2), initial_state=[h0, c0])
    )
    arrays = {w.name: keras.ops.convert_to_numpy(w.value) for w in layer.weights}
    ref = _reference("keras", arrays, x, h0, c0)
    yield "LSTM", {"y": [(ref.y, y.transpose(1, 0, 2))], "c_T": [(ref.c_T, c)]}
    bidirectional = keras.layers.Bidirectional(  # the wrapper has a dtype of its own
        keras.layers.LSTM(n, return_sequences=True, dtype=np.dtype(dtype).name),
        dtype=np.dtype(dtype).name,
    )
    y = keras.ops.convert_to_numpy(bidirectional(x.transpose(1, 0, 2))).transpose(1, 0, 2)
    assert y.dtype == dtype, y.dtype
    arrays = {
        f"{side}/{w.name}": keras.ops.convert_to_numpy(w.value)
        for side in ("forward_layer", "backward_layer")
        for w in getattr(bidirectional, side).weights
    }
    ref = _reference("keras_bidirectional", arrays, x[::-1], direction="reverse")
    yield "Bidirectional, reverse", {"y": [(ref.y, y[::-1, :, n:])]}


RUNS = (
    ("torch", run_torch),
    ("torch", run_torch_two_layers),
    ("torch", run_torch_bidirectional),
    ("torch", run_torch_network),
    ("torch", run_torch_cell),
    ("torch", run_torch_gradients),
    ("onnxruntime", run_onnxruntime),
    ("keras", run_keras),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    T, B, n, m = args.steps, args.batch, args.hidden, args.input
    print(f"hidden {n}, input {m}, batch {B}, T {T}; normwise ULPs | element-wise max ULPs")
    missing = set()
    for name, run in RUNS:
        for dtype in (np.float64, np.float32):
            if name in missing:
                break
            rng = np.random.default_rng(0)
            x = rng.normal(size=(T, B, m)).astype(dtype)
            h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
            try:
                rows = list(run(x, h0, c0, dtype))
            except ImportError as err:
                print(f"{name:12s} not installed ({err.name})")
                missing.add(name)
                break
            if not rows:
                print(f"{name:12s} {np.dtype(dtype).name:8s} not available in this framework")
            for label, groups in rows:
                if hasattr(groups, "tensors"):  # a ValidationReport: its worst per group
                    tensors = groups.tensors.values()
                    worst_of = {
                        g: max(t.normwise_ulp for t in tensors if t.name.split(" ")[0] == g)
                        for g in ("y", "c_T")
                    }
                    normwise = "  ".join(f"{g} {v:.1f}" for g, v in worst_of.items())
                    worst = max(t.max_ulp for t in tensors)
                    print(
                        f"{name:12s} {np.dtype(dtype).name:8s} {label:28s} {normwise} | {worst:.3g}"
                    )
                    continue
                normwise = "  ".join(
                    f"{g} {normwise_ulps(pairs, dtype):.1f}" for g, pairs in groups.items()
                )
                worst = max(e.max_ulps(c) for pairs in groups.values() for e, c in pairs)
                print(f"{name:12s} {np.dtype(dtype).name:8s} {label:28s} {normwise} | {worst:.3g}")


if __name__ == "__main__":
    main()
