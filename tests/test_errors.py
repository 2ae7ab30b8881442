"""The exception hierarchy: every error is a SymLSTMError and the nearest built-in."""

from __future__ import annotations

import pytest

import symlstm.errors as errors
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
from symlstm.exact import to_rational
from symlstm.functions import activation


@pytest.mark.parametrize(
    ("cls", "builtins"),
    [
        (ParameterError, (ValueError,)),
        (ShapeError, (ParameterError, ValueError)),
        (UnknownNameError, (KeyError, LookupError)),
        (PrecisionError, (ValueError,)),
        (RangeError, (ParameterError, ValueError, OverflowError, ArithmeticError)),
        (ExampleFileError, (ValueError,)),
        (DataFileError, (ValueError,)),
    ],
)
def test_each_error_is_a_symlstm_error_and_its_builtin(cls, builtins):
    assert issubclass(cls, SymLSTMError)
    assert issubclass(SymLSTMError, Exception)
    for base in builtins:
        assert issubclass(cls, base), (cls, base)


@pytest.mark.parametrize(
    ("cls", "not_a"),
    [
        (ParameterError, KeyError),
        (UnknownNameError, ValueError),
        (PrecisionError, ParameterError),
        (ExampleFileError, ParameterError),
        (DataFileError, ParameterError),
        (ShapeError, OverflowError),
    ],
)
def test_errors_do_not_inherit_unrelated_builtins(cls, not_a):
    assert not issubclass(cls, not_a)


def test_public_names_are_exactly_the_error_classes():
    assert sorted(errors.__all__) == sorted(
        [
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
    )
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), Exception)


def test_unknown_name_error_message_is_not_quoted():
    message = "unknown activation 'swish'; known: sigmoid"
    err = UnknownNameError(message)
    assert str(err) == message
    # A plain KeyError would quote it: the subclass exists to avoid exactly this.
    assert str(KeyError(message)) == repr(message)
    assert str(UnknownNameError()) == ""


def test_builtin_except_clauses_catch_package_errors():
    with pytest.raises(KeyError, match="unknown activation 'swish'"):
        activation("swish")
    with pytest.raises(OverflowError, match="overflows float64"):
        to_rational("1e400", what="w_f")
    with pytest.raises(ValueError, match="w_f: 'nan' is not a finite number"):
        to_rational("nan", what="w_f")
