"""Keras' and TensorFlow's LSTM weight layouts: Keras 3 ``LSTM`` (``kernel`` (m, 4n),
``recurrent_kernel`` (n, 4n), ``bias``; columns i, f, c, o), its ``Bidirectional`` wrapper
(the same arrays under ``forward_layer/`` and ``backward_layer/``), and TF1's ``LSTMCell``
(one kernel of input rows then recurrent rows; columns i, j, f, o; ``forget_bias``).

>>> KERAS_BIDIRECTIONAL.names(direction="reverse")[0], TF1.forget_bias
('backward_layer/kernel', 1.0)
"""

from __future__ import annotations

from symlstm.frameworks.common import Layout, Packed

__all__ = ["KERAS", "KERAS_BIDIRECTIONAL", "TF1"]


def _keras_arrays(prefix: str) -> tuple[Packed, ...]:
    """Keras 3's LSTM arrays, named with ``prefix`` (Bidirectional: ``{direction}/``)."""
    return (
        Packed(f"{prefix}kernel", ("W",)),
        Packed(f"{prefix}recurrent_kernel", ("U",)),
        Packed(f"{prefix}bias", ("b",), optional=True),
    )


#: Keras 3 LSTM: kernel (m, 4n), recurrent_kernel (n, 4n), bias (4n); c is the candidate.
KERAS = Layout(
    name="keras",
    gates=("i", "f", "c", "o"),
    candidate="c",
    gate_axis="columns",
    arrays=_keras_arrays(""),
)
#: Keras 3 Bidirectional(LSTM): the same arrays under the wrapper's forward_layer and
#: backward_layer (which runs on the time-reversed input).
KERAS_BIDIRECTIONAL = Layout(
    name="keras_bidirectional",
    gates=("i", "f", "c", "o"),
    candidate="c",
    gate_axis="columns",
    arrays=_keras_arrays("{direction}/"),
    direction_names=("forward_layer", "backward_layer"),
)
#: TF1 LSTMCell: one kernel (m + n, 4n) of input rows then recurrent rows; j is the
#: candidate; forget_bias (1.0) is added inside σ and is not in the arrays.
TF1 = Layout(
    name="tf1",
    gates=("i", "j", "f", "o"),
    candidate="j",
    gate_axis="columns",
    arrays=(
        Packed("kernel", ("W", "U")),
        Packed("bias", ("b",)),
        *(Packed(f"w_{k}_diag", ("p",), gates=(k,), optional=True) for k in "ifo"),
    ),
    forget_bias=1.0,
)
