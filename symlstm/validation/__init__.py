"""Another implementation's LSTM numbers against the certified reference, with a diagnosis.

:func:`validate` takes the weights in a framework's own layout (:mod:`symlstm.frameworks.layouts`),
the inputs, and the numbers the implementation produced, all as the framework hands them
out: a whole network (its layers, directions and projection read from the weights'
names), batch-major where the framework is (Keras, ONNX's ``layout=1``, PyTorch's
``batch_first``), ONNX's ``Y``, ``Y_h``, ``Y_c`` (any of them) with ``sequence_lens`` and
its ``direction`` attribute. Every array's shape is checked against what the layout and
sizes imply before anything is computed. It computes the certified reference
(:func:`symlstm.certified.run.reference`) on exactly those weights and inputs, each layer
on the previous layer's certified outputs, and reports per tensor (per layer and
direction) the largest absolute, relative and ULP errors, the worst element, the NaN and
infinity counts, and a verdict against :func:`tolerance_ulps`. When the numbers
disagree, :func:`diagnose` tries the usual convention mistakes one at a time (the 24 gate
orders, transposed matrices, forget biases, dropped or doubled biases, h and c swapped,
hard sigmoid, a clip, a dropped tanh) and the layout mistakes (batch-major read as
time-major, a time-reversed sequence, another layer's output, a missing initial state,
ignored sequence lengths or direction), and says which of them makes the numbers agree,
or that the data cannot tell several apart.

The verdict is normwise: each tensor's largest error is measured in ULPs of the claimed
dtype at the tensor's largest exact magnitude. Element-wise ULPs are reported too, but
cannot be the verdict: an element that cancellation makes tiny has a large error
relative to itself in any floating-point evaluation.

NaN and infinity: the reference follows NaN and ±inf inputs in the extended reals
(σ(+∞) = 1, 0·∞ undefined). Where it leaves a value undefined, the implementation must
give NaN or ±inf; a finite number there fails ("turned NaN into numbers"), and so does
a NaN or infinity where the exact value is finite.

>>> import numpy as np
>>> from symlstm.codegen.numpy_code import numpy_module
>>> from symlstm.frameworks.layouts import to_canonical
>>> rng = np.random.default_rng(0)
>>> weights = {"kernel": rng.normal(size=(3, 8)), "recurrent_kernel": rng.normal(size=(2, 8)),
...            "bias": rng.normal(size=8)}
>>> x = rng.normal(size=(5, 1, 3))
>>> _, params = to_canonical("keras", weights)
>>> y, h_T, c_T, _ = numpy_module().forward(params, x)  # the implementation under test
>>> # Keras hands out batch-major arrays: (B, T, ·)
>>> report = validate("keras", weights, {"x": x.swapaxes(0, 1)},
...                   {"y": y.swapaxes(0, 1), "c_T": c_T})
>>> report.verdict, report.tensors["y"].normwise_ulp <= report.tensors["y"].tolerance
('pass', True)
"""

from __future__ import annotations

from symlstm.validation import report
from symlstm.validation.diagnosis import diagnose
from symlstm.validation.live import check_keras, check_onnx, check_torch, validate_onnx_model
from symlstm.validation.npz import load_npz
from symlstm.validation.report import (
    Fix,
    TensorReport,
    ValidationReport,
    compare,
    tolerance_ulps,
)
from symlstm.validation.run import validate

__all__ = [
    "AS_GIVEN",
    "Fix",
    "TensorReport",
    "ValidationReport",
    "check_keras",
    "check_onnx",
    "check_torch",
    "compare",
    "diagnose",
    "load_npz",
    "tolerance_ulps",
    "validate",
    "validate_onnx_model",
]

#: The diagnosis of numbers that agree as they are (defined in the report module; the
#: assignment gives it its place in the API reference).
AS_GIVEN = report.AS_GIVEN
