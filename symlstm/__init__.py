"""symlstm: verified LSTM math.

The LSTM gate equations as SymPy expressions, and from that one model: exact,
arbitrary-precision and certified evaluation, worked examples, and audits of
documents' rounded numbers.

>>> import symlstm
>>> trace = symlstm.load_example("seed-step").certify()
>>> trace.decimals[0]["h"]
'0.276'
"""

from importlib.metadata import PackageNotFoundError, version

from symlstm.audit import audit
from symlstm.cell import Cell, Variant
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
from symlstm.evaluate import Enclosure, Trace, certify, evaluate
from symlstm.examples import Example, load_example
from symlstm.functions import hard_sigmoid, sigmoid

try:
    __version__ = version("symlstm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

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
    "certify",
    "evaluate",
    "hard_sigmoid",
    "load_example",
    "sigmoid",
]
