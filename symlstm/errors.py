"""The exceptions symlstm raises.

Every error the package raises on bad input is a :class:`SymLSTMError`; each
subclass also inherits the nearest built-in exception, so ``except ValueError``
keeps working for callers who do not know about symlstm.

>>> from symlstm.errors import ShapeError
>>> issubclass(ShapeError, ValueError)
True
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ArgumentError",
    "ArrayShapeError",
    "DataFileError",
    "ExampleFileError",
    "ExpressionError",
    "MissingDependencyError",
    "ParameterError",
    "PdftoppmNotFoundError",
    "PrecisionError",
    "RangeError",
    "ShapeError",
    "StepError",
    "SymLSTMError",
    "TexError",
    "TexNotFoundError",
    "UndecidedBranchError",
    "UndecidedError",
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


class StepError(SymLSTMError, IndexError):
    """A time step that the example does not have (``symlstm diagram --step 9`` of a
    three-step example)."""


class ExampleFileError(SymLSTMError, ValueError):
    """An example or claims file cannot be read: not found, malformed, or inconsistent."""


class DataFileError(SymLSTMError, ValueError):
    """A file of arrays (weights, inputs, outputs, gradients) cannot be read or does not fit:
    not an .npz, corrupted, an array missing or unknown, a wrong shape or dtype."""


class ArrayShapeError(ShapeError, DataFileError):
    """An array given to :func:`symlstm.validation.validate` has a shape that its layout and
    sizes do not imply (batch-major data read as time-major, a whole network's ``y`` given
    for one unit, …): found before anything is computed; the message names the likely cause."""


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


class MissingDependencyError(SymLSTMError, ImportError):
    """An optional dependency is not installed: python-flint for the certified reference
    (``pip install 'symlstm[arb]'``), PyTorch for the generated PyTorch module; the
    message names the extra to install."""


class UndecidedError(PrecisionError):
    """An enclosure is too wide, at this working precision, to decide a rounding, a sign
    or a branch: raise the precision and retry.

    :func:`symlstm.numeric.rounding.with_increasing_precision` catches it and retries at a
    higher precision; it escapes only from calls made at one fixed precision (a
    :class:`~symlstm.numeric.evaluation.Trace`'s ``round`` at ``prec=...``).
    """


class UndecidedBranchError(UndecidedError):
    """A discontinuous choice (Piecewise, sign, Heaviside) is still undecided at ``max_prec``.

    The value it depends on lies on a kink, exactly or within the working precision;
    no precision the caller allows decides it, so the precision loop lets it through.
    """


class TexError(SymLSTMError, RuntimeError):
    """A LaTeX document did not compile (or a PDF page could not be rendered).

    The message quotes the error lines of the ``.log`` (those starting with ``!``
    and the few after them, down to the ``l.<line>`` context); ``log_excerpt``
    holds them alone and ``log_path`` the full log, when there is one.
    """

    def __init__(
        self, message: str, *, log_excerpt: str = "", log_path: Path | None = None
    ) -> None:
        super().__init__(message)
        self.log_excerpt = log_excerpt
        self.log_path = log_path


class TexNotFoundError(TexError):
    """No TeX engine (``pdflatex``) is on ``PATH``; the message names the packages to install."""


class PdftoppmNotFoundError(TexNotFoundError):
    """``pdftoppm`` is not on ``PATH``: install Debian's ``poppler-utils``."""


# -- used inside the package only: never raised out of a public call ----------------------


class UsageError(Exception):
    """The command line is malformed (raised by :mod:`symlstm.cli`'s argument parser
    instead of exiting; ``main`` prints it and returns exit status 2)."""


class OutputError(SymLSTMError, OSError):
    """The command's output could not be written (not a closed pipe: a full disk, an I/O
    error); :mod:`symlstm.cli` reports it with exit status 2."""


class UnverifiableError(Exception):
    """A rendered link cannot be checked from what is shown (elided entries, unknown
    notation); :func:`symlstm.render.check.check_rendered` reports the link as
    unverifiable instead of raising."""


class AccuracyShortfallError(UndecidedError):
    """Certified values came out with fewer correct bits than asked at this working
    precision (raised and caught inside :func:`symlstm.certified.run.reference`).

    ``quantity`` names the first value short of the bits asked (None when the forward
    pass already predicts the shortfall), ``got`` is the bits it has (None where a ball
    is not finite) and ``next_prec`` the working precision predicted to be enough.
    """

    def __init__(
        self, message: str, *, quantity: str | None, got: int | None, next_prec: int
    ) -> None:
        super().__init__(message)
        self.quantity = quantity
        self.got = got
        self.next_prec = next_prec
