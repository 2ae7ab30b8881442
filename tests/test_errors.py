"""The exception hierarchy: every error is a SymLSTMError and the nearest built-in."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import symlstm
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
from symlstm.functions import activation
from symlstm.numeric.exact import to_rational


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
        (errors.MissingDependencyError, (ImportError,)),
        (errors.UndecidedError, (PrecisionError, ValueError)),
        (errors.UndecidedBranchError, (errors.UndecidedError, PrecisionError, ValueError)),
        (errors.TexError, (RuntimeError,)),
        (errors.TexNotFoundError, (errors.TexError, RuntimeError)),
        (errors.PdftoppmNotFoundError, (errors.TexNotFoundError, RuntimeError)),
        (errors.OutputError, (OSError,)),
        (errors.StepError, (IndexError,)),
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


def test_every_exception_class_is_defined_in_errors():
    """Issue 16: no exception class outside symlstm/errors.py (a module may re-export one)."""
    outside = []
    for info in pkgutil.walk_packages(symlstm.__path__, "symlstm."):
        if info.name == "symlstm.__main__":
            continue  # importing it runs the command
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and info.name != "symlstm.errors"
            ):
                outside.append(f"{info.name}.{name}")
    assert outside == []


def test_old_import_paths_are_the_same_classes():
    from symlstm.certified import run as reference
    from symlstm.numeric import rounding
    from symlstm.render import document

    assert reference.MissingDependencyError is errors.MissingDependencyError
    assert reference.UndecidedBranchError is errors.UndecidedBranchError
    assert rounding.Undecided is errors.UndecidedError
    assert document.TexError is errors.TexError
    assert document.TexNotFoundError is errors.TexNotFoundError
    assert document.PdftoppmNotFoundError is errors.PdftoppmNotFoundError


def test_the_top_level_names_are_what_they_say():
    # Issue 16: what the README and tutorials use is at the top level, imported lazily,
    # and no top-level name is shadowed by a submodule of the same name.
    import sys
    import types

    import symlstm

    for name in symlstm.__all__:
        value = getattr(symlstm, name)
        assert not isinstance(value, types.ModuleType), name
    assert symlstm.worked_example.__module__ == "symlstm.render.worked"
    assert symlstm.generate_numpy.__module__ == "symlstm.codegen.numpy_code"
    assert sorted(dir(symlstm)) == sorted(symlstm.__all__)
    # `import symlstm` alone loads neither validation nor any framework.
    import subprocess

    heavy = "('torch', 'symlstm.validation', 'symlstm.codegen.numpy_code')"
    code = f"import sys, symlstm; print(sorted(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
