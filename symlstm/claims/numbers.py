"""The numbers a document states: read from a text, Markdown or LaTeX file, each
with its line, column, text and decimal places (the reader of :mod:`symlstm.claims.draft`)."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from symlstm.errors import ArgumentError, ExampleFileError
from symlstm.limits import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_NUMBER_DIGITS,
    MAX_DOCUMENT_NUMBER_EXPONENT,
    MAX_DOCUMENT_NUMBERS,
)
from symlstm.numeric.rounding import (
    stated_places,
)

__all__ = ["MAX_NUMBERS", "Number", "find_numbers"]

#: The largest document read, in bytes.
#: The most numbers one document may state.
MAX_NUMBERS = MAX_DOCUMENT_NUMBERS  # one table: symlstm.limits
#: The most digits of one number, and the largest decimal exponent, the reader matches.
MAX_NUMBER_DIGITS = MAX_DOCUMENT_NUMBER_DIGITS  # one table: symlstm.limits
MAX_NUMBER_EXPONENT = MAX_DOCUMENT_NUMBER_EXPONENT  # one table: symlstm.limits
#: Where text is cut to this many characters, around the number.
WHERE_CHARS = 80
#: Quantities whose percentages are matched (``45%`` against ``100*c``).
PERCENT_QUANTITIES = ("c", "h", "f", "i", "o")
_LATEX_SUFFIXES = (".tex", ".ltx", ".latex")


# -- numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number as the document states it."""

    line: int  # counted from 1
    column: int  # of its first character (the sign, if any), counted from 0
    text: str  # as written, with a Unicode minus as "-" and without the "%"
    percent: bool = False

    @cached_property
    def value(self) -> Fraction:
        return Fraction(self.text)

    @cached_property
    def places(self) -> int:
        """The decimal places it is stated to."""
        return stated_places(self.text)


_TOKEN = re.compile(
    r"(?P<body>\.?\d(?:[\d.,]*\d)?)"
    r"(?P<exp>[eE][-+]?\d+(?![\w.]))?"
    r"(?P<tail>[^\W\d_]+|\\(?:text|line|column|paper)(?:width|height)|\\[a-z]*skip|\\hsize)?"
    r"(?P<pct>\s*+(?:\\[,;: ]|~)?+\s*+\\?%)?",
)
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_URL = re.compile(r"(?:https?://|www\.)\S++|[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_HEADING_NUMBER = re.compile(r"\s*(?:#+\s*|>\s*)?[1-9]\d?\.[1-9]\d?\.?\s+[A-Z(]")
_LATEX_OPTIONS = re.compile(r"\\[A-Za-z@]++\*?\s*+\[[^\]\n]{0,200}+\]")
_OPERAND = re.compile(r"[\w)\]}|!.]")


def _blank(text: str, pattern: re.Pattern) -> str:
    """``text`` with each match of ``pattern`` replaced by spaces (columns kept)."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _latex_comment_start(line: str) -> int:
    """Where an unescaped ``%`` starts a LaTeX comment, or the line's length."""
    k = 0
    while k < len(line):
        if line[k] == "\\":
            k += 2
            continue
        if line[k] == "%":
            return k
        k += 1
    return len(line)


def _not_parsed(line: int, text: str, why: str) -> ExampleFileError:
    shown = text if len(text) <= 40 else text[:37] + "…"
    return ExampleFileError(f"line {line}: cannot read the number {shown!r}: {why}")


def find_numbers(lines: Sequence[str], *, latex: bool = False) -> list[Number]:
    """The numbers a document states, line by line (see the module's notes on which).

    Parameters
    ----------
    lines
        The document's lines.
    latex
        Read as LaTeX: ``%`` starts a comment and only ``\\%`` is a percent sign.

    Raises
    ------
    ExampleFileError
        For a number the reader cannot read exactly: written with non-ASCII digits
        (``０.６２``), with digit grouping (``1,234.5``), or with more than
        :data:`MAX_NUMBER_DIGITS` digits or an exponent beyond ±:data:`MAX_NUMBER_EXPONENT`;
        or for more than :data:`MAX_NUMBERS` numbers.

    >>> [n.text + "%" * n.percent for n in find_numbers(["5. Step 2: σ(0.42) = 0.603, "
    ...     "45% (C_1 = .5) e^{-0.49} 1.5em v1.2 1.2.3 2024 x_3 10.5cm 1-0.25"])]
    ['0.42', '0.603', '45%', '.5', '-0.49', '0.25']
    >>> find_numbers(["costs 1,234.50 in total"])
    Traceback (most recent call last):
    ...
    symlstm.errors.ExampleFileError: line 1: cannot read the number '1,234.50': digit grouping ...
    """
    if isinstance(lines, str) or not isinstance(lines, Sequence):
        raise ArgumentError(f"lines must be a list of lines, not {type(lines).__name__}")
    if not all(isinstance(line, str) for line in lines):
        raise ArgumentError("lines must be a list of text lines")
    if not isinstance(latex, bool):
        raise ArgumentError(f"latex must be True or False, not {type(latex).__name__}")
    out: list[Number] = []
    for k, raw in enumerate(lines, start=1):
        line = raw[: _latex_comment_start(raw)] if latex else raw
        line = _blank(line, _URL)
        if latex:
            line = _blank(line, _LATEX_OPTIONS)
        heading = _HEADING_NUMBER.match(line)
        for m in _TOKEN.finditer(line):
            start = m.start()
            if start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_.\\"):
                continue  # part of a name, a subscript (x_3) or a dotted number
            body = m.group("body")
            if any(not ("0" <= ch <= "9") for ch in body if ch.isdigit()):
                if "." in body or m.group("pct"):
                    raise _not_parsed(k, m.group(), "written with digits other than 0-9")
                continue
            if heading and start < heading.end() and start == len(line) - len(line.lstrip("#> ")):
                continue
            percent = bool(m.group("pct")) and (not latex or "\\%" in m.group("pct"))
            if _GROUPED.fullmatch(body) and ("." in body or percent):
                raise _not_parsed(k, body, "digit grouping is not read (write 1234.5, not 1,234.5)")
            if m.group("tail"):
                continue  # a length (1.5em, 0.8\textwidth) or part of a name
            parts = body.split(",")
            column = start
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                number = _number(k, line, column, part, m.group("exp") if last else None,
                                 percent and last)  # fmt: skip
                if number is not None:
                    out.append(number)
                    if len(out) > MAX_NUMBERS:
                        raise ExampleFileError(
                            f"line {k}: more than {MAX_NUMBERS} numbers in one document "
                            "(MAX_NUMBERS in symlstm.claims.draft)"
                        )
                column += len(part) + 1
    return out


def _number(k: int, line: str, column: int, body: str, exp: str | None, percent: bool):
    if not body or body.count(".") > 1 or body.endswith("."):
        return None
    if "." not in body and not percent:
        return None  # integers are list numbers, years, steps: not claims
    digits = len(body.replace(".", "").lstrip("0"))
    if digits > MAX_NUMBER_DIGITS:
        raise _not_parsed(k, body, f"more than {MAX_NUMBER_DIGITS} digits")
    if exp and abs(int(exp[1:])) > MAX_NUMBER_EXPONENT:
        raise _not_parsed(k, body + exp, f"an exponent beyond ±{MAX_NUMBER_EXPONENT}")
    sign = ""
    unary = column == 1 or (column > 1 and not _OPERAND.fullmatch(line[column - 2]))
    if column > 0 and line[column - 1] in "-−+" and unary:
        sign = "-" if line[column - 1] in "-−" else "+"
        column -= 1
    return Number(k, column, sign + body + (exp or ""), percent)


# -- the document ------------------------------------------------------------------------


def read_document(path: str | os.PathLike) -> tuple[list[str], bool]:
    """The lines of a text, Markdown or LaTeX document, and whether it is LaTeX.

    Raises
    ------
    ExampleFileError
        If the file is missing, larger than :data:`MAX_DOCUMENT_BYTES`, binary
        (NUL bytes) or not UTF-8.
    """
    if not isinstance(path, str | os.PathLike):
        raise ArgumentError(f"document must be a path, not {type(path).__name__}")
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ExampleFileError(f"{name}: no such file") from None
    except (OSError, ValueError) as err:
        raise ExampleFileError(
            f"{name}: cannot read: {getattr(err, 'strerror', None) or err}"
        ) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ExampleFileError(
            f"{name}: larger than {MAX_DOCUMENT_BYTES:,} bytes "
            "(MAX_DOCUMENT_BYTES in symlstm.claims.draft)"
        )
    if b"\x00" in raw:
        raise ExampleFileError(f"{name}: not a text document (it holds NUL bytes: binary?)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ExampleFileError(
            f"{name}: not a text document: not UTF-8 "
            f"(byte {err.start}: {raw[err.start : err.start + 1]!r})"
        ) from None
    text = unicodedata.normalize("NFC", text)
    latex = Path(name).suffix.lower() in _LATEX_SUFFIXES or "\\documentclass" in text
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), latex
