"""PyTorch's LSTM weight layouts: ``torch.nn.LSTM`` (``weight_ih_l{k}``, ``_reverse``,
``weight_hr_l{k}`` with ``proj_size``) and ``torch.nn.LSTMCell``; two biases per gate,
rows in the order i, f, g, o.

>>> TORCH.names(layer=1, direction="reverse")[0], TORCH_CELL.names()
('weight_ih_l1_reverse', ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'))
"""

from __future__ import annotations

from symlstm.frameworks.common import Layout, Packed

__all__ = ["TORCH", "TORCH_CELL"]


def _torch_arrays(suffix: str) -> tuple[Packed, ...]:
    """PyTorch's arrays, named with ``suffix`` (nn.LSTM: ``_l{layer}{suffix}``): two biases."""
    return (
        Packed(f"weight_ih{suffix}", ("W",)),
        Packed(f"weight_hh{suffix}", ("U",)),
        Packed(f"bias_ih{suffix}", ("b",), optional=True),
        Packed(f"bias_hh{suffix}", ("b",), optional=True),
    )


#: torch.nn.LSTM: two biases, summed; ``_l{layer}``, ``_reverse``, the projection weight_hr.
TORCH = Layout(
    name="torch",
    gates=("i", "f", "g", "o"),
    arrays=_torch_arrays("_l{layer}{suffix}"),
    layered=True,
    reverse_suffix="_reverse",
    projection="weight_hr_l{layer}{suffix}",
)
#: torch.nn.LSTMCell, whose names have no ``_l0``.
TORCH_CELL = Layout(name="torch_cell", gates=("i", "f", "g", "o"), arrays=_torch_arrays(""))
