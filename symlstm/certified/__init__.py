"""The certified reference: an LSTM over arrays (any sequence, batch, sizes and
variant) whose every output and gradient is an enclosure narrow enough to give the
correctly rounded float, and the ULP measure that compares other numbers with it."""

from symlstm.certified.inputs import vector_form
from symlstm.certified.run import (
    DEFAULT_BITS,
    MAX_PREC,
    START_PREC,
    ReferenceResult,
    reference,
)
from symlstm.certified.ulps import ReferenceTensor, normwise_ulps

__all__ = [
    "DEFAULT_BITS",
    "MAX_PREC",
    "START_PREC",
    "ReferenceResult",
    "ReferenceTensor",
    "normwise_ulps",
    "reference",
    "vector_form",
]
