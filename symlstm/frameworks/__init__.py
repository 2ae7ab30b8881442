"""Frameworks' weight layouts (PyTorch, Keras, ONNX, the canonical one) and the
conversions between them and the cell's parameters."""

from symlstm.frameworks.layouts import (
    DIRECTIONS,
    LAYOUTS,
    ONNX_ATTRIBUTES,
    ONNX_DEFAULT_ACTIVATIONS,
    Layout,
    Packed,
    from_canonical,
    get_layout,
    onnx_attributes,
    onnx_variant,
    read_onnx_attributes,
    to_canonical,
)

__all__ = [
    "DIRECTIONS",
    "LAYOUTS",
    "ONNX_ATTRIBUTES",
    "ONNX_DEFAULT_ACTIVATIONS",
    "Layout",
    "Packed",
    "from_canonical",
    "get_layout",
    "onnx_attributes",
    "onnx_variant",
    "read_onnx_attributes",
    "to_canonical",
]
