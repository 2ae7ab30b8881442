"""The limits symlstm puts on its input, in one table, and the checks that enforce them.

Every number, file and archive that comes from outside is checked against these
limits *before* any expensive work: a number's exponent and digit count on its
text (before an exact fraction is built: ``1e999999999`` as an exact fraction
would take for ever), a data file's size and nesting depth before it is parsed,
an ``.npz`` member's size from the zip directory and the ``.npy`` header before
it is decompressed. Each limit is refused with a :class:`~symlstm.errors.SymLSTMError`
naming the input, in one line.

:data:`LIMITS` is the table (name, value, what it bounds and why); the documentation's
limits page shows it, and :func:`table_markdown` prints it.

>>> check_number("0.7", "w_f")
'0.7'
>>> check_number("1e999999999", "example.toml: parameters.w_f")
Traceback (most recent call last):
...
symlstm.errors.RangeError: example.toml: parameters.w_f: '1e999999999' overflows float64: \
its decimal exponent is beyond ±400 (MAX_EXPONENT in symlstm.limits)
>>> elide("1234567890" * 10_000)
'1234567890…(100000 digits)…34567890'

To add a limit: define the constant here with a comment, add its row to
:data:`LIMITS`, and regenerate the table in ``docs/limits.md`` from
:func:`table_markdown` (a test checks that the two agree).
"""

from __future__ import annotations

import decimal
import fractions
import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from symlstm.errors import ArgumentError, ExampleFileError, ParameterError, RangeError

__all__ = [
    "LIMITS",
    "MAX_CHECK_PREC",
    "MAX_CONSTANT_BITS",
    "MAX_DOCUMENT_BYTES",
    "MAX_DOCUMENT_NUMBERS",
    "MAX_DOCUMENT_NUMBER_DIGITS",
    "MAX_DOCUMENT_NUMBER_EXPONENT",
    "MAX_DPS",
    "MAX_EXPONENT",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_NODES",
    "MAX_EXPRESSION_NUMBER_DIGITS",
    "MAX_EXPRESSION_NUMBER_EXPONENT",
    "MAX_EXPRESSION_TOKENS",
    "MAX_FILE_BYTES",
    "MAX_FUNCTION_NESTING",
    "MAX_NESTING",
    "MAX_NPZ_MEMBERS",
    "MAX_NPZ_MEMBER_BYTES",
    "MAX_NPZ_TOTAL_BYTES",
    "MAX_NUMBER_DIGITS",
    "MAX_ONNX_BYTES",
    "MAX_PLACES",
    "MAX_POWER_EXPONENT",
    "MAX_PREC",
    "MAX_REFERENCE_PREC",
    "MAX_ROUNDING_DIGITS",
    "MAX_SHOWN_DIGITS",
    "MAX_STRUCTURED_STEPS",
    "MAX_SYMBOLIC_STEPS",
    "MAX_VALIDATION_SECONDS",
    "MAX_WORKERS",
    "MAX_WORK_SECONDS",
    "Limit",
    "check_nesting",
    "check_number",
    "elide",
    "table_markdown",
]

#: Largest decimal exponent (of the leading digit) of a number read from a file or an
#: option: float64 spans about 1e-324 to 1.8e308, so nothing beyond ±400 can be followed.
MAX_EXPONENT = 400
#: Most significant digits of a number read from a file or an option.
MAX_NUMBER_DIGITS = 1000
#: Deepest nesting of arrays and tables in a TOML or JSON file.
MAX_NESTING = 64
#: Largest TOML or JSON file read (examples, claims).
MAX_FILE_BYTES = 4 * 2**20
#: Largest array in an .npz file, uncompressed, as its .npy header declares it.
MAX_NPZ_MEMBER_BYTES = 2**30
#: Largest total of all arrays of one .npz file, uncompressed.
MAX_NPZ_TOTAL_BYTES = 2**30
#: Most arrays in one .npz file.
MAX_NPZ_MEMBERS = 1024
#: Largest ONNX model file read (its LSTM node's weights; protobuf itself stops at 2 GiB).
MAX_ONNX_BYTES = 2**30
#: Most decimal places of a quantity shown (an example file's ``[digits]``).
MAX_PLACES = 1000
#: Longest work (estimated seconds: symlstm.budget) run without ``allow_large``.
MAX_WORK_SECONDS = 30
#: Longest validation (estimated seconds) run without ``allow_large``.
MAX_VALIDATION_SECONDS = 600
#: Most processes the certified reference runs the batch rows in (``workers``).
MAX_WORKERS = 256
#: Significant digits of the JSON values (`--dps`).
MAX_DPS = 500
#: Decimal places (``example --digits``) or significant digits (``grad --digits``) shown.
MAX_SHOWN_DIGITS = 1000
#: Digits of one correctly rounded decimal (certify, certify_gradients, round_places).
MAX_ROUNDING_DIGITS = 4000
#: Working precision (bits) at which certification gives up and reports the value.
MAX_PREC = 1 << 15
#: Working precision (bits) at which the certified reference (symlstm.certified.run) gives up.
MAX_REFERENCE_PREC = 4096
#: Working precision (bits) spent on one link of a rendered derivation before it is
#: called unverifiable (symlstm.render.check).
MAX_CHECK_PREC = 2048
#: The text of a loss or a claim's quantity.
MAX_EXPRESSION_CHARS = 2000
#: Names, numbers, operators and parentheses of a loss or quantity.
MAX_EXPRESSION_TOKENS = 500
#: Nesting of parentheses and calls in a loss or quantity.
MAX_EXPRESSION_DEPTH = 32
#: The whole-number exponent n of a power a**n in a loss or quantity.
MAX_POWER_EXPONENT = 64
#: Functions applied inside functions (exp(exp(exp(h))) is 3).
MAX_FUNCTION_NESTING = 3
#: Digits of one number written in a loss or quantity.
MAX_EXPRESSION_NUMBER_DIGITS = 50
#: The exponent e of a number written 1.5e-300 in a loss or quantity.
MAX_EXPRESSION_NUMBER_EXPONENT = 300
#: An exact constant the expression parser computes (9**64 has 203).
MAX_CONSTANT_BITS = 4096
#: A SymPy expression passed in directly (the Python API).
MAX_EXPRESSION_NODES = 5000
#: A document read by `symlstm claims draft`.
MAX_DOCUMENT_BYTES = 2**20
#: The numbers one drafted document may state.
MAX_DOCUMENT_NUMBERS = 5000
#: Digits of one number a drafted document states.
MAX_DOCUMENT_NUMBER_DIGITS = 50
#: The exponent of a number a drafted document states.
MAX_DOCUMENT_NUMBER_EXPONENT = 100
#: Steps of a symbolic unrolled graph (naive gradients, proofs).
MAX_SYMBOLIC_STEPS = 64
#: Steps written out by structured_gradients.
MAX_STRUCTURED_STEPS = 1000


@dataclass(frozen=True)
class Limit:
    """One row of the table: a limit's constant, its value, what it bounds and why."""

    name: str
    value: int
    unit: str
    bounds: str
    reason: str


#: The table of limits, one row per constant of this module.
LIMITS: tuple[Limit, ...] = (
    Limit(
        "MAX_EXPONENT",
        MAX_EXPONENT,
        "decimal exponent",
        "the exponent of a number read from a file or an option (of its leading digit)",
        "float64 spans about 1e-324 to 1.8e308; an exact fraction of 1e999999999 never ends",
    ),
    Limit(
        "MAX_NUMBER_DIGITS",
        MAX_NUMBER_DIGITS,
        "digits",
        "the significant digits of a number read from a file or an option",
        "far beyond any dtype; longer numbers only slow exact arithmetic down",
    ),
    Limit(
        "MAX_NESTING",
        MAX_NESTING,
        "levels",
        "nesting of arrays and tables in a TOML or JSON file (checked before parsing)",
        "a matrix needs 2 levels; deeper files exhaust the parser's recursion",
    ),
    Limit(
        "MAX_FILE_BYTES",
        MAX_FILE_BYTES,
        "bytes",
        "the size of a TOML or JSON file (examples, claims)",
        "the largest useful example is a few kilobytes",
    ),
    Limit(
        "MAX_NPZ_MEMBER_BYTES",
        MAX_NPZ_MEMBER_BYTES,
        "bytes",
        "one array of an .npz file, uncompressed, from its zip entry and .npy header",
        "checked before decompressing, so a small file cannot claim gigabytes",
    ),
    Limit(
        "MAX_NPZ_TOTAL_BYTES",
        MAX_NPZ_TOTAL_BYTES,
        "bytes",
        "all arrays of one .npz file together, uncompressed",
        "the certified reference is far slower than reading; larger inputs take hours",
    ),
    Limit(
        "MAX_NPZ_MEMBERS",
        MAX_NPZ_MEMBERS,
        "arrays",
        "the arrays in one .npz file",
        "a layout names at most a few dozen arrays",
    ),
    Limit(
        "MAX_ONNX_BYTES",
        MAX_ONNX_BYTES,
        "bytes",
        "an ONNX model file read by `symlstm validate --model` (checked before parsing)",
        "protobuf refuses 2 GiB; an LSTM's weights are megabytes",
    ),
    Limit(
        "MAX_PLACES",
        MAX_PLACES,
        "decimal places",
        "the places of a quantity in an example file's `[digits]`",
        "certifying 1000 places of the built-in examples takes well under a second",
    ),
    Limit(
        "MAX_WORK_SECONDS",
        MAX_WORK_SECONDS,
        "seconds",
        "the estimated time of an evaluation, worked example, gradient, audit or reference "
        "(steps × cell size, `symlstm.budget`), checked before it starts",
        "a scalar worked example takes about 16 ms a step, a hidden-300 vector cell many "
        "minutes; `--allow-large` (Python: `allow_large=True`) runs it anyway",
    ),
    Limit(
        "MAX_VALIDATION_SECONDS",
        MAX_VALIDATION_SECONDS,
        "seconds",
        "the estimated time of `symlstm validate` (every unit of the network, its "
        "certified reference forward and backward), checked before it starts",
        "validating an `nn.LSTM(512, 512)`'s outputs on 200 steps of 16 rows is estimated at "
        "about a minute and runs in under one here; ten minutes is a size no one meant "
        "(`--allow-large` runs it anyway, with a progress bar on a terminal)",
    ),
    Limit(
        "MAX_WORKERS",
        MAX_WORKERS,
        "processes",
        "the processes the certified reference runs a batch's rows in (`--workers`, `workers=`)",
        "each is a Python with the package loaded (about a second and 100 MB to start); more "
        "than the machine has cores only costs, and thousands would exhaust it",
    ),
    Limit(
        "MAX_DPS",
        MAX_DPS,
        "digits",
        "significant digits of the JSON values (`--dps`)",
        "500 take a few seconds for the built-in examples; beyond about 600 the working "
        "precision doubles again and the time about quadruples",
    ),
    Limit(
        "MAX_SHOWN_DIGITS",
        MAX_SHOWN_DIGITS,
        "digits",
        "decimal places (`example --digits`) or significant digits (`grad --digits`, "
        "a worked derivation) shown",
        "the built-in examples are certified and worked at 1000 in about a second",
    ),
    Limit(
        "MAX_ROUNDING_DIGITS",
        MAX_ROUNDING_DIGITS,
        "digits",
        "the digits of one correctly rounded decimal (the Python API: certify, "
        "certify_gradients, round_places)",
        "certification stops at MAX_PREC bits (about 9800 digits) and Python prints "
        "integers of at most 4300 digits",
    ),
    Limit(
        "MAX_PREC",
        MAX_PREC,
        "bits",
        "the working precision at which certification gives up (a rounding that close "
        "to a tie is reported, not guessed)",
        "exact ties are decided exactly; anything else is decided long before",
    ),
    Limit(
        "MAX_REFERENCE_PREC",
        MAX_REFERENCE_PREC,
        "bits",
        "the working precision at which the certified reference (`symlstm.certified.run`, "
        "`validate`) gives up on a tensor or a kink (its `max_prec` argument raises it)",
        "the balls lose about 2 bits a step forward and backward, so 4096 bits leave a "
        "double-double's 106 for about 2000 steps",
    ),
    Limit(
        "MAX_CHECK_PREC",
        MAX_CHECK_PREC,
        "bits",
        "the working precision spent on one link of a rendered derivation before the "
        "link is reported unverifiable",
        "the numbers shown have a few digits; a link still undecided at 2048 bits is "
        "reported, not guessed",
    ),
    Limit(
        "MAX_EXPRESSION_CHARS",
        MAX_EXPRESSION_CHARS,
        "characters",
        "the text of a loss or a claim's quantity",
        "the longest useful loss is a line",
    ),
    Limit(
        "MAX_EXPRESSION_TOKENS",
        MAX_EXPRESSION_TOKENS,
        "tokens",
        "names, numbers, operators and parentheses of a loss or quantity",
        "bounds the parser's work",
    ),
    Limit(
        "MAX_EXPRESSION_DEPTH",
        MAX_EXPRESSION_DEPTH,
        "levels",
        "nesting of parentheses and calls in a loss or quantity",
        "5000 unary minus signs or deep parentheses would exhaust the recursion",
    ),
    Limit(
        "MAX_POWER_EXPONENT",
        MAX_POWER_EXPONENT,
        "",
        "the whole-number exponent n of a power a**n in a loss or quantity",
        "h**999999999 or 9**9**9**9 would never finish exactly",
    ),
    Limit(
        "MAX_FUNCTION_NESTING",
        MAX_FUNCTION_NESTING,
        "levels",
        "functions applied inside functions (exp(exp(exp(h))) is 3)",
        "five nested exp overflow any precision",
    ),
    Limit(
        "MAX_EXPRESSION_NUMBER_DIGITS",
        MAX_EXPRESSION_NUMBER_DIGITS,
        "digits",
        "digits of one number written in a loss or quantity",
        "a loss's constants are short",
    ),
    Limit(
        "MAX_EXPRESSION_NUMBER_EXPONENT",
        MAX_EXPRESSION_NUMBER_EXPONENT,
        "decimal exponent",
        "the exponent e of a number written 1.5e-300 in a loss or quantity",
        "float64's range",
    ),
    Limit(
        "MAX_CONSTANT_BITS",
        MAX_CONSTANT_BITS,
        "bits",
        "an exact constant the expression parser computes (9**64 has 203)",
        "larger constants are never what a loss means",
    ),
    Limit(
        "MAX_EXPRESSION_NODES",
        MAX_EXPRESSION_NODES,
        "nodes",
        "a SymPy expression passed in directly (the Python API)",
        "bounds evaluation and differentiation",
    ),
    Limit(
        "MAX_DOCUMENT_BYTES",
        MAX_DOCUMENT_BYTES,
        "bytes",
        "a document read by `symlstm claims draft`",
        "a long paper is a few hundred kilobytes of text",
    ),
    Limit(
        "MAX_DOCUMENT_NUMBERS",
        MAX_DOCUMENT_NUMBERS,
        "numbers",
        "the numbers one drafted document may state",
        "each is matched against every quantity at every step",
    ),
    Limit(
        "MAX_DOCUMENT_NUMBER_DIGITS",
        MAX_DOCUMENT_NUMBER_DIGITS,
        "digits",
        "digits of one number a drafted document states",
        "a worked example's numbers are short",
    ),
    Limit(
        "MAX_DOCUMENT_NUMBER_EXPONENT",
        MAX_DOCUMENT_NUMBER_EXPONENT,
        "decimal exponent",
        "the exponent of a number a drafted document states",
        "beyond this no LSTM quantity can match",
    ),
    Limit(
        "MAX_SYMBOLIC_STEPS",
        MAX_SYMBOLIC_STEPS,
        "steps",
        "steps of a symbolic unrolled graph (naive gradients, proofs)",
        "the unrolled graph grows exponentially with the steps",
    ),
    Limit(
        "MAX_STRUCTURED_STEPS",
        MAX_STRUCTURED_STEPS,
        "steps",
        "steps written out by structured_gradients",
        "its size grows linearly; beyond this it is unreadable",
    ),
)


def table_markdown() -> str:
    """The table of :data:`LIMITS` as Markdown (the one in ``docs/limits.md``).

    >>> print(table_markdown().splitlines()[0])
    | limit | value | bounds | why |
    """
    rows = ["| limit | value | bounds | why |", "|---|---|---|---|"]
    for limit in LIMITS:
        rows.append(
            f"| `{limit.name}` | {limit.value:,} {limit.unit} | {limit.bounds} | {limit.reason} |"
        )
    return "\n".join(rows)


# -- messages -------------------------------------------------------------------------------------


def elide(text: str, keep: int = 10) -> str:
    """``text`` shortened for a message: its first and last characters around a count.

    >>> elide("0.7")
    '0.7'
    >>> elide("x" * 50)
    'xxxxxxxxxx…(50 characters)…xxxxxxxx'
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or not 2 <= keep <= 1000:
        raise ArgumentError(f"keep must be an integer from 2 to 1000, not {keep!r}")
    text = str(text)
    if len(text) <= 2 * keep + 20:
        return text
    kind = "digits" if text.isdigit() else "characters"
    return f"{text[:keep]}…({len(text)} {kind})…{text[-(keep - 2) :]}"


def _shown(value: object) -> str:
    if isinstance(value, str):
        return repr(elide(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, decimal.Decimal):
        return elide(str(value))
    numerator, denominator = getattr(value, "numerator", None), getattr(value, "denominator", 1)
    if isinstance(numerator, int) and isinstance(denominator, int) and denominator != 1:
        return f"a fraction of {numerator.bit_length()}/{denominator.bit_length()} bits"
    try:
        return elide(repr(value))
    except ValueError:  # a number too long for Python to print
        return f"a {type(value).__name__} too long to print"


# -- numbers --------------------------------------------------------------------------------------

#: A decimal number as text: sign, digits with an optional point, optional exponent (ASCII).
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_FRACTION = re.compile(r"([+-]?)([0-9]+)/([0-9]+)")
#: Integers must be below 10**(MAX_EXPONENT + 1), a number of about this many bits.
_INT_BOUND = 10 ** (MAX_EXPONENT + 1)
_MAX_INT_BITS = _INT_BOUND.bit_length()
#: Bits of a rational's numerator or denominator: as much as a decimal within the limits.
_MAX_RATIONAL_BITS = math.ceil((MAX_EXPONENT + MAX_NUMBER_DIGITS + 1) * math.log2(10))


def _out_of_range(what: str, value: object, small: bool = False) -> RangeError:
    flows = "underflows" if small else "overflows"
    return RangeError(
        f"{what}: {_shown(value)} {flows} float64: its decimal exponent is beyond "
        f"±{MAX_EXPONENT} (MAX_EXPONENT in symlstm.limits)"
    )


def _too_long(what: str, value: object, digits: int) -> ParameterError:
    return ParameterError(
        f"{what}: {_shown(value)} has {digits} significant digits; at most "
        f"{MAX_NUMBER_DIGITS} (MAX_NUMBER_DIGITS in symlstm.limits)"
    )


def _check_decimal_parts(what: str, value: object, digits: str, exponent: int) -> None:
    """``digits`` (the mantissa's, point removed) times 10**``exponent``."""
    significant = digits.lstrip("0")
    if len(significant) > MAX_NUMBER_DIGITS:
        raise _too_long(what, value, len(significant))
    leading = exponent + len(significant) - 1 if significant else exponent
    if abs(leading) > MAX_EXPONENT or abs(exponent) > MAX_EXPONENT + MAX_NUMBER_DIGITS:
        raise _out_of_range(what, value, small=leading < 0)


def _check_text(text: str, what: str, original: object) -> None:
    if not text.isascii():
        raise ParameterError(
            f"{what}: {_shown(original)} is not a number (only ASCII digits 0-9 are read)"
        )
    if m := _DECIMAL.fullmatch(text):
        _, whole, frac, exp = m.groups()
        if not (whole or frac):
            return  # "", ".", "e5": not a number; the conversion says so
        if exp is not None and len(exp.lstrip("+-").lstrip("0")) > 9:
            raise _out_of_range(what, original, small=exp.startswith("-"))
        exponent = int(exp) if exp is not None else 0
        frac = frac or ""
        _check_decimal_parts(what, original, whole + frac, exponent - len(frac))
    elif m := _FRACTION.fullmatch(text):
        for part in m.groups()[1:]:
            if len(part.lstrip("0")) > MAX_NUMBER_DIGITS:
                raise _too_long(what, original, len(part.lstrip("0")))
    elif len(text) > MAX_NUMBER_DIGITS + 20:
        raise ParameterError(f"{what}: {_shown(original)} is not a number")


def check_number(value: object, what: str = "value") -> object:
    """Check a number from outside against the limits, on its text; return it unchanged.

    Decimal text and :class:`decimal.Decimal` are checked on their digits and exponent
    before any exact fraction is built; an ``int``, ``Fraction`` or SymPy number on its
    size in bits. Booleans are refused (``True`` is not 1 here), and so are non-ASCII
    digits (``"٣"``), non-finite decimals, and values that are not numbers or text at
    all (``None``, a list). A float, and text that is short but not a number (``"nan"``,
    ``"abc"``), are returned as they are, for :func:`symlstm.numeric.exact.to_rational` to
    convert or refuse.

    Parameters
    ----------
    value
        The number as read: text, ``int``, ``float``, ``Decimal``, ``Fraction``, a NumPy
        or SymPy number.
    what
        Where it was read (a file and key, an option), for the message.

    Returns
    -------
    object
        ``value`` itself.

    Raises
    ------
    RangeError
        If its decimal exponent is beyond ±:data:`MAX_EXPONENT`.
    ParameterError
        If it has more than :data:`MAX_NUMBER_DIGITS` significant digits, is a boolean,
        has non-ASCII characters, is a non-finite ``Decimal``, or is not a number.

    >>> check_number(True, "layout")
    Traceback (most recent call last):
    ...
    symlstm.errors.ParameterError: layout: True is a boolean, not a number
    >>> check_number("٣", "x[1]")
    Traceback (most recent call last):
    ...
    symlstm.errors.ParameterError: x[1]: '٣' is not a number (only ASCII digits 0-9 are read)
    """
    if isinstance(value, bool | np.bool_):
        raise ParameterError(f"{what}: {value!r} is a boolean, not a number")
    if isinstance(value, str):
        _check_text(value.strip().replace("_", ""), what, value)
    elif isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ParameterError(f"{what}: {value} is not a finite number")
        _, digits, exponent = value.as_tuple()
        _check_decimal_parts(what, value, "".join(map(str, digits)), int(exponent))
    elif isinstance(value, numbers.Integral):
        n = abs(int(value))
        if n.bit_length() > _MAX_INT_BITS or n >= _INT_BOUND:
            raise _out_of_range(what, int(value))
    elif isinstance(value, fractions.Fraction) or _is_sympy_rational(value):
        for part, small in ((value.numerator, False), (value.denominator, True)):
            if int(part).bit_length() > _MAX_RATIONAL_BITS:
                raise _out_of_range(what, value, small)
    elif _is_sympy_float(value):
        _, _, exponent, bits = value._mpf_
        if bits and (abs(exponent + bits) > _MAX_INT_BITS or bits > _MAX_RATIONAL_BITS):
            raise _out_of_range(what, value, small=exponent + bits < 0)
    elif not isinstance(value, numbers.Number) and not _is_sympy(value):
        raise ParameterError(f"{what}: {_shown(value)} ({type(value).__name__}) is not a number")
    return value


def _is_sympy(value: object) -> bool:
    return type(value).__module__.startswith("sympy")


def _is_sympy_rational(value: object) -> bool:
    return _is_sympy(value) and getattr(value, "is_Rational", False)


def _is_sympy_float(value: object) -> bool:
    return (
        _is_sympy(value)
        and getattr(value, "is_Float", False)
        and len(getattr(value, "_mpf_", ())) == 4
    )


# -- files ----------------------------------------------------------------------------------------

#: Strings and comments of TOML (whose brackets do not nest), and of JSON (a subset here).
_TOML_SKIP = re.compile(
    r"'''.*?'''|\"\"\"(?:[^\\]|\\.)*?\"\"\"|'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\"|#[^\n]*", re.DOTALL
)
_JSON_SKIP = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"")
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def check_nesting(text: str, what: str, *, toml: bool = True) -> None:
    """Refuse TOML (or JSON) text nested deeper than :data:`MAX_NESTING`, before parsing it.

    Brackets and braces are counted outside strings and comments; a parser would
    otherwise recurse once per level and fail with a ``RecursionError``.

    >>> check_nesting("a = [[1, 2], [3, 4]]", "w.toml")
    >>> check_nesting("[" * 100_000, "deep.json", toml=False)
    Traceback (most recent call last):
    ...
    symlstm.errors.ExampleFileError: deep.json: nested more than 64 levels deep \
(MAX_NESTING in symlstm.limits)
    """
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a string, not {type(text).__name__}")
    if not isinstance(what, str):
        raise ArgumentError(f"what must be a string, not {type(what).__name__}")
    if not isinstance(toml, bool):
        raise ArgumentError(f"toml must be True or False, not {toml!r}")
    skip = _TOML_SKIP if toml else _JSON_SKIP
    brackets = _NOT_BRACKET.sub("", skip.sub(" ", text))
    if not brackets:
        return
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    if int(np.cumsum(steps).max()) > MAX_NESTING:
        raise ExampleFileError(
            f"{what}: nested more than {MAX_NESTING} levels deep (MAX_NESTING in symlstm.limits)"
        )
