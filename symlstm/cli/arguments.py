"""What the command line shares: its argument types, its exit statuses, and how a
command writes its output and reports an error."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable
from typing import NoReturn

from symlstm.errors import UsageError
from symlstm.limits import MAX_DPS, MAX_SHOWN_DIGITS

#: The command line's own helpers, shared by its command modules: not API.
__all__: list[str] = []

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors exit 2 through one path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


#: Most decimal places (``example --digits``) or significant digits (``grad --digits``)
#: shown: the built-in examples are certified and worked at 1000 in about a second.
MAX_DIGITS = MAX_SHOWN_DIGITS  # one table: symlstm.limits
#: Most significant digits of ``--dps``: 500 take a few seconds for the built-in examples
#: (beyond about 600 the working precision doubles again and the time about quadruples).


def integer_type(
    low: int, high: int | None = None, *, too_low: str = "", too_high: str = ""
) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high`` (no upper end if None).

    Only ASCII digits are read (not ``"٣"``), and a long number is refused on its length
    before it is converted. ``too_low`` and ``too_high`` say why a value is refused.

    >>> integer_type(1, 9)("3")
    3
    >>> integer_type(1, 9, too_high="more than anyone reads")("10")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be 1..9, not 10: more than anyone reads
    """

    def refuse(value: object, why: str) -> NoReturn:
        wanted = f"{low}..{high}" if high is not None else f"{low} or more"
        raise argparse.ArgumentTypeError(f"must be {wanted}, not {value}" + (why and f": {why}"))

    def parse(text: str) -> int:
        number = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", number, flags=re.ASCII):
            shown = text if len(text) <= 20 else f"{text[:10]}…({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"{shown!r} is not an integer")
        magnitude = number.lstrip("+-").lstrip("0")
        if len(magnitude) > 18:  # beyond any limit: refused without converting it
            negative = number.startswith("-")
            shown = f"{'-' if negative else ''}{magnitude[:6]}…({len(magnitude)} digits)"
            refuse(shown, too_low if negative else too_high)
        value = int(number)
        if value < low:
            refuse(value, too_low)
        if high is not None and value > high:
            refuse(value, too_high)
        return value

    return parse


nonnegative_type = integer_type(0)
#: ``example --digits``: decimal places.
places_type = integer_type(
    1,
    MAX_DIGITS,
    too_low="with no decimal places a worked example rounds its operands to whole numbers "
    "and its equations stop being checkable",
    too_high="more places than symlstm certifies in seconds",
)
#: ``grad --digits``: significant digits of the worked derivation.
significant_type = integer_type(
    1,
    MAX_DIGITS,
    too_low="a worked derivation shows at least one significant digit",
    too_high="more digits than symlstm certifies in seconds",
)
#: ``--dps``: significant digits of certified values.
dps_type = integer_type(
    1,
    MAX_DPS,
    too_low="a value has at least one significant digit",
    too_high="more significant digits than symlstm certifies in seconds",
)


def ulps_type(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of ULPs >= 0, not {text}")
    return value


def json_object_type(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of attribute name → value")
    return value


def allow_large(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="run work estimated over the work budget (see docs/limits.md); it may take "
        "minutes or hours, with progress on a terminal",
    )


def emit(source: str, output: str | None, command: str) -> int:
    """Print ``source``, or write it to the file ``output`` (a write error is exit 2)."""
    if output is None:
        print(source, end="")
        return EXIT_OK
    try:
        with open(output, "w", encoding="utf-8") as file:
            file.write(source)
    except OSError as err:
        raise UsageError(f"symlstm {command}: cannot write {output}: {err.strerror}") from None
    return EXIT_OK


def report(message: object) -> None:
    """One line on stderr; nothing if stderr itself is gone (``2>&1 | head``)."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)
