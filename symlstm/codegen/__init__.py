"""Generated code from the cell's equations: a NumPy module
(:mod:`~symlstm.codegen.numpy_code`) and a PyTorch module
(:mod:`~symlstm.codegen.torch_code`), both printed from the one step plan."""

from symlstm.codegen.numpy_code import (
    GENERATED_KINDS,
    InPlaceNumPyPrinter,
    generate_numpy,
    numpy_module,
)
from symlstm.codegen.torch_code import TorchStepPrinter, generate_torch, torch_module

__all__ = [
    "GENERATED_KINDS",
    "InPlaceNumPyPrinter",
    "TorchStepPrinter",
    "generate_numpy",
    "generate_torch",
    "numpy_module",
    "torch_module",
]
