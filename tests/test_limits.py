"""The table of limits: each checked on the text before any work, refused in one clear line."""

from __future__ import annotations

import decimal
import fractions
import re
import time
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy

import symlstm.limits as limits
from symlstm.errors import ExampleFileError, ParameterError, RangeError, SymLSTMError
from symlstm.limits import (
    LIMITS,
    MAX_EXPONENT,
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    check_nesting,
    check_number,
    elide,
    table_markdown,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "limits.md"


def _fast(call, *args, seconds: float = 1.0, **kwargs):
    """Run ``call`` and return what it raised, asserting it took under ``seconds``."""
    start = time.perf_counter()
    try:
        call(*args, **kwargs)
    except SymLSTMError as err:
        error = err
    else:
        error = None
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"{call.__name__}{args!r:.80} took {elapsed:.2f} s"
    return error


def test_every_constant_is_in_the_table_once_with_a_reason():
    constants = {n for n in limits.__all__ if n.startswith("MAX_")}
    assert sorted(row.name for row in LIMITS) == sorted(constants)
    for row in LIMITS:
        assert getattr(limits, row.name) == row.value > 0
        assert row.reason and row.bounds and "|" not in row.reason + row.bounds


def test_the_docs_table_is_the_module_table():
    text = DOCS.read_text(encoding="utf-8")
    assert table_markdown() in text


def test_the_docs_page_is_in_the_toctree():
    index = (DOCS.parent / "index.md").read_text(encoding="utf-8")
    assert re.search(r"^limits$", index, re.MULTILINE)


@pytest.mark.parametrize(
    "text",
    [
        "1e999999999",
        "-1E+999999999",
        "1e-999999999",
        "0e999999999",
        "1e" + "9" * 5000,
        "0." + "0" * 2000 + "1",
        "1" + "0" * 500,
        "1_000e999",
    ],
)
def test_huge_exponents_are_refused_on_the_text_at_once(text):
    err = _fast(check_number, text, "file.toml: parameters.w_f")
    assert isinstance(err, RangeError)
    message = str(err)
    assert message.startswith("file.toml: parameters.w_f: ")
    assert "MAX_EXPONENT" in message and "\n" not in message and len(message) < 300


def test_too_many_digits_are_refused_and_elided():
    text = "1234567890" * 10_000
    err = _fast(check_number, "0." + text, "x[1]")
    assert isinstance(err, ParameterError) and not isinstance(err, RangeError)
    assert "100000 significant digits" in str(err) and "…" in str(err) and len(str(err)) < 300
    assert isinstance(_fast(check_number, "1/" + "7" * 5000, "b"), ParameterError)
    assert isinstance(_fast(check_number, decimal.Decimal("0." + "1" * 1001), "b"), ParameterError)


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("1e999999999"),
        decimal.Decimal("-1e-999999999"),
        10**100_000,
        -(10**401),
        10**402,
        fractions.Fraction(1, 10**5000),
        sympy.Rational(10**5000, 3),
        sympy.Float(mpmath.mpf((0, 1, 3_000_000, 1))),  # 2**3000000
    ],
    ids=[
        "Decimal",
        "Decimal-small",
        "int",
        "negative-int",
        "int-402",
        "Fraction",
        "Rational",
        "Float",
    ],
)
def test_numbers_of_every_type_are_checked_by_size(value):
    err = _fast(check_number, value, "w")
    assert isinstance(err, RangeError), err
    assert len(str(err)) < 300


@pytest.mark.parametrize(
    "value",
    ["0.7", "-1.5e3", "1e400", "1e-400", "1/3", "+.5", "1_000", 0.1, 7, np.float32(0.5),
     np.int64(3), decimal.Decimal("2.5e-10"), fractions.Fraction(1, 3), sympy.Rational(1, 7),
     sympy.Float("0.25"), 10**400, "nan", "abc", "", "0." + "1" * MAX_NUMBER_DIGITS],
)  # fmt: skip
def test_ordinary_numbers_and_non_numbers_pass_through_unchanged(value):
    # Non-numbers like "abc" and "nan" are left for to_rational, which names them.
    assert check_number(value, "w") is value


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_booleans_are_not_numbers(value):
    with pytest.raises(ParameterError, match=r"^layout: .* is a boolean, not a number$"):
        check_number(value, "layout")


@pytest.mark.parametrize("text", ["٣", "1.٥", "１", "²", "3\u00a0٣"])
def test_non_ascii_digits_are_refused(text):
    with pytest.raises(ParameterError, match="only ASCII digits"):
        check_number(text, "x")


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, b"1", object()])
def test_non_number_types_are_refused_with_the_name(value):
    with pytest.raises(ParameterError, match=r"^w: .* is not a number$"):
        check_number(value, "w")


def test_non_finite_decimals_are_refused():
    for text in ("NaN", "Infinity", "-Infinity", "sNaN"):
        with pytest.raises(ParameterError, match="not a finite number"):
            check_number(decimal.Decimal(text), "w")


def test_the_exponent_limit_sits_just_past_float64():
    # 1e400 is still read (and refused later, by to_rational, as overflowing float64).
    assert check_number(f"9.99e{MAX_EXPONENT}", "w")
    with pytest.raises(RangeError, match="overflows float64"):
        check_number(f"1e{MAX_EXPONENT + 1}", "w")
    with pytest.raises(RangeError, match="underflows float64"):
        check_number(f"1e-{MAX_EXPONENT + 1}", "w")


def test_elide_keeps_both_ends_and_the_length():
    assert elide("short") == "short"
    long = "1234567890" * 10_000
    assert elide(long) == "1234567890…(100000 digits)…34567890"
    assert elide("ab" * 100).endswith("…abababab") and "(200 characters)" in elide("ab" * 100)


@pytest.mark.parametrize(
    ("text", "toml"),
    [
        ("[" * 200_000, False),
        ("a = " + "[" * 100_000, True),
        ("a = " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1), True),
        ('{"a": ' * 100_000, False),
        ("a = " + "{b = " * 100_000, True),
    ],
)
def test_deep_nesting_is_refused_before_parsing(text, toml):
    err = _fast(check_nesting, text, "/some/dir/deep.file", toml=toml)
    assert isinstance(err, ExampleFileError)
    assert str(err).startswith("/some/dir/deep.file: nested more than 64 levels")


@pytest.mark.parametrize(
    ("text", "toml"),
    [
        ("a = " + "[" * MAX_NESTING + "]" * MAX_NESTING, True),
        ('a = "' + "[" * 1000 + '"', True),
        ("a = '" + "[" * 1000 + "'", True),
        ('a = """\n' + "[" * 1000 + '\n"""', True),
        ("a = '''\n" + "{" * 1000 + "\n'''", True),
        ("# " + "[" * 1000 + "\na = 1", True),
        ('a = "\\"' + "[" * 1000 + '"', True),
        ('{"a": "' + "[" * 1000 + '"}', False),
        ('{"a": "\\"' + "{" * 1000 + '"}', False),
        ("[[claims]]\nt = 1\n[[claims]]\nt = 2\n", True),
        ("", True),
    ],
)
def test_brackets_in_strings_and_comments_do_not_count(text, toml):
    check_nesting(text, "f", toml=toml)


def test_a_large_flat_file_is_scanned_quickly():
    text = "a = [" + ", ".join(["[1, 2]"] * 200_000) + "]"
    assert _fast(check_nesting, text, "f", seconds=2.0) is None
