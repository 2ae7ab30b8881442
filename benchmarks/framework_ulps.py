"""Framework LSTMs against the certified reference: the worst error in ULPs of their dtype.

One stated case (hidden 64, input 64, batch 8, T 50, inputs N(0, 1), each framework's default
initialisation, random h0 and c0 where the framework takes them): torch.nn.LSTM (CPU), ONNX
Runtime's LSTM operator (float32 only: its CPU kernel has no float64) and Keras 3 on the torch
backend. Weights go through :mod:`symlstm.layouts`; the reference is
:func:`symlstm.reference.reference` (every number certified to 106 bits). Prints, for y and
c_T, the worst error in ULPs at the tensor's largest exact value (normwise, the measure of
docs/codegen.md) and the worst element-wise error. Frameworks that are not installed are
skipped with a note.

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

from symlstm.cell import Cell
from symlstm.layouts import from_canonical, to_canonical
from symlstm.reference import normwise_ulps, reference


def run_torch(x, h0, c0, dtype):
    import torch

    torch.manual_seed(0)
    t_dtype = torch.float32 if dtype == np.float32 else torch.float64
    lstm = torch.nn.LSTM(x.shape[2], h0.shape[1], dtype=t_dtype)
    with torch.no_grad():
        y, (_h, c) = lstm(
            torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
        )
    arrays = {k: v.numpy() for k, v in lstm.state_dict().items()}
    return to_canonical("torch", arrays, biases="exact"), y.numpy(), c[0].numpy()


def run_onnxruntime(x, h0, c0, dtype):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    if dtype != np.float32:
        return None
    n, m = h0.shape[1], x.shape[2]
    rng = np.random.default_rng(1)
    cell = Cell("vector", hidden_size=n, input_size=m)
    scale = 1 / np.sqrt(n)  # the usual U(-1/sqrt(n), 1/sqrt(n)) initialisation
    params = {k: rng.uniform(-scale, scale, cell.shape(k)).astype(dtype) for k in cell.parameters}
    arrays = from_canonical("onnx", params)
    T, B = x.shape[:2]
    node = helper.make_node(
        "LSTM", ["X", "W", "R", "B", "", "h0", "c0"], ["Y", "", "Y_c"], hidden_size=n
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
    return to_canonical("onnx", arrays), y[:, 0], c[0]


def run_keras(x, h0, c0, dtype):
    import keras

    if keras.backend.backend() != "torch":
        return None
    keras.utils.set_random_seed(0)
    layer = keras.layers.LSTM(
        h0.shape[1], return_sequences=True, return_state=True, dtype=np.dtype(dtype).name
    )
    y, _, c = (
        keras.ops.convert_to_numpy(v) for v in layer(x.transpose(1, 0, 2), initial_state=[h0, c0])
    )
    arrays = {w.name: keras.ops.convert_to_numpy(w.value) for w in layer.weights}
    return to_canonical("keras", arrays), y.transpose(1, 0, 2), c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    T, B, n, m = args.steps, args.batch, args.hidden, args.input
    print(f"hidden {n}, input {m}, batch {B}, T {T}; normwise ULPs | element-wise max ULPs")
    for name, run in (("torch", run_torch), ("onnxruntime", run_onnxruntime), ("keras", run_keras)):
        for dtype in (np.float64, np.float32):
            rng = np.random.default_rng(0)
            x = rng.normal(size=(T, B, m)).astype(dtype)
            h0, c0 = (rng.normal(size=(B, n)).astype(dtype) for _ in range(2))
            try:
                got = run(x, h0, c0, dtype)
            except ImportError as err:
                print(f"{name:12s} {np.dtype(dtype).name:8s} not installed ({err.name})")
                break
            if got is None:
                print(f"{name:12s} {np.dtype(dtype).name:8s} not available in this framework")
                continue
            (variant, params), y, c = got
            cell = Cell("vector", variant, hidden_size=n, input_size=m)
            ref = reference(cell, params, x, h0, c0)
            print(
                f"{name:12s} {np.dtype(dtype).name:8s} y {normwise_ulps([(ref.y, y)], dtype):5.1f}"
                f"  c_T {normwise_ulps([(ref.c_T, c)], dtype):5.1f} | y {ref.y.max_ulps(y):.3g}"
                f"  c_T {ref.c_T.max_ulps(c):.3g}"
            )


if __name__ == "__main__":
    main()
