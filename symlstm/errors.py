"""The exceptions symlstm raises.

Every error the package raises on bad input is a :class:`SymLSTMError`; each
subclass also inherits the nearest built-in exception, so ``except ValueError``
keeps working for callers who do not know about symlstm.

>>> from symlstm.errors import ShapeError
>>> issubclass(ShapeError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "DataFileError",
    "ExampleFileError",
    "ExpressionError",
    "ParameterError",
    "PrecisionError",
    "RangeError",
    "ShapeError",
    "SymLSTMError",
    "UndefinedError",
    "UnknownNameError",
    "WorkBudgetError",
]


class SymLSTMError(Exception):
    """Base class of every error symlstm raises on purpose."""


class ParameterError(SymLSTMError, ValueError):
    """A parameter, state or input value is missing, not a number, or not finite."""


class ShapeError(ParameterError):
    """A value has the wrong shape for the cell (for example a 2×3 ``W_i`` in a 2×2 cell)."""


class UnknownNameError(SymLSTMError, KeyError):
    """A name (example, variant, format, parameter, quantity) is not one symlstm knows.

    ``KeyError`` quotes its message; ``str`` here returns it unquoted.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PrecisionError(SymLSTMError, ValueError):
    """A precision is not usable (``dps <= 0``) or a result could not be certified."""


class RangeError(ParameterError, OverflowError):
    """A number lies beyond float64's range, where no implementation could follow it."""


class ExampleFileError(SymLSTMError, ValueError):
    """An example or claims file cannot be read: not found, malformed, or inconsistent."""


class DataFileError(SymLSTMError, ValueError):
    """A file of arrays (weights, inputs, outputs, gradients) cannot be read or does not fit:
    not an .npz, corrupted, an array missing or unknown, a wrong shape or dtype."""


class ArgumentError(SymLSTMError, TypeError):
    """An argument of a Python call has the wrong type (``places="3"``, ``Variant.parse(None)``)."""


class ExpressionError(SymLSTMError, ValueError):
    """A loss or claim quantity is malformed or beyond the limits on its size."""


class UndefinedError(ExpressionError):
    """An expression is undefined, infinite, NaN or complex where it is evaluated."""


class WorkBudgetError(SymLSTMError, ValueError):
    """The work asked for is estimated to take longer than the work budget
    (:data:`symlstm.limits.MAX_WORK_SECONDS`); ``allow_large=True`` or ``--allow-large``
    runs it anyway."""
