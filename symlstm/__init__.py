"""symlstm: verified LSTM math.

The LSTM gate equations as SymPy expressions, and from that one model: exact,
arbitrary-precision and certified evaluation, worked examples, audits of
documents' rounded numbers, backprop formulas and certified gradients, generated
NumPy and PyTorch code, and a certified reference that validates other
implementations.

>>> import symlstm
>>> trace = symlstm.load_example("seed-step").certify()
>>> trace.decimals[0]["h"]
'0.276'
>>> print(symlstm.worked_example(symlstm.load_example("seed-step")).text().splitlines()[6])
f_t = σ(W_f·h_{t-1} + W_f·x_t) = σ(0.7 × 0.2 + 0.7 × 0.5) = σ(0.49)

What the README and the tutorials use is here at the top level. The heavier parts
(validation's diagnosis, code generation, layouts, gradients, drafting claims) are
imported when first used, so ``import symlstm`` stays light. The functions
``reference``, ``validate`` and ``explain`` share their names with their modules
(``symlstm.certified.run.reference`` …), so they are not top-level names yet: a
top-level ``symlstm.certified.run`` would be the module once any code imported it.
"""

from importlib.metadata import PackageNotFoundError, version

from symlstm.cell import Cell, Variant
from symlstm.claims.audit import audit
from symlstm.errors import (
    DataFileError,
    ExampleFileError,
    ParameterError,
    PrecisionError,
    RangeError,
    ShapeError,
    SymLSTMError,
    UnknownNameError,
)
from symlstm.examples import Example, load_example
from symlstm.functions import hard_sigmoid, sigmoid
from symlstm.numeric.evaluation import Enclosure, Trace, certify, evaluate

try:
    __version__ = version("symlstm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

#: Top-level names imported on first use: name → its module.
_LAZY = {
    "reference": "symlstm.certified.run",
    "normwise_ulps": "symlstm.certified.run",
    "validate": "symlstm.validation.run",
    "diagnose": "symlstm.validation.diagnosis",
    "check_torch": "symlstm.validation.live",
    "check_keras": "symlstm.validation.live",
    "check_onnx": "symlstm.validation.live",
    "explain": "symlstm.claims.explain",
    "to_canonical": "symlstm.frameworks.layouts",
    "from_canonical": "symlstm.frameworks.layouts",
    "generate_numpy": "symlstm.codegen.numpy_code",
    "generate_torch": "symlstm.codegen.torch_code",
    "backward_step": "symlstm.derive.backward",
    "certify_gradients": "symlstm.derive.gradients",
    "worked_example": "symlstm.render.worked",
    "worked_gradient": "symlstm.render.gradients",
    "check_rendered": "symlstm.render.check",
    "cell_diagram": "symlstm.render.diagram",
    "draft_claims": "symlstm.claims.draft",
    "builtin_examples": "symlstm.examples",
    "numpy_module": "symlstm.codegen.numpy_code",
    "torch_module": "symlstm.codegen.torch_code",
    "local_derivatives": "symlstm.derive.backward",
    "prove_gradients": "symlstm.derive.proofs",
    "derivation": "symlstm.render.derivation",
    "load_claims": "symlstm.claims.audit",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once imported, an ordinary attribute
        return value
    raise AttributeError(f"module 'symlstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Cell",
    "DataFileError",
    "Enclosure",
    "Example",
    "ExampleFileError",
    "ParameterError",
    "PrecisionError",
    "RangeError",
    "ShapeError",
    "SymLSTMError",
    "Trace",
    "UnknownNameError",
    "Variant",
    "__version__",
    "audit",
    "backward_step",
    "builtin_examples",
    "cell_diagram",
    "certify",
    "certify_gradients",
    "check_keras",
    "check_onnx",
    "check_rendered",
    "check_torch",
    "derivation",
    "diagnose",
    "draft_claims",
    "evaluate",
    "explain",
    "from_canonical",
    "generate_numpy",
    "generate_torch",
    "hard_sigmoid",
    "load_claims",
    "load_example",
    "local_derivatives",
    "normwise_ulps",
    "numpy_module",
    "prove_gradients",
    "reference",
    "sigmoid",
    "to_canonical",
    "torch_module",
    "validate",
    "worked_example",
    "worked_gradient",
]
