"""Examples as data: a cell, its parameters, initial state, inputs and digits to show.

An example is a small TOML or JSON file (see ``seed-step.toml`` beside this
module). Numbers may be decimal strings or bare numbers; both are read as exact
decimals, never through binary floats. Built-in examples ship in this package.

>>> ex = load_example("seed-step")
>>> ex.cell.kind, ex.parameters["w_f"], ex.inputs
('tied', 7/10, (1/2,))
>>> ex.places("f"), ex.places("h")
(2, 3)
>>> sorted(builtin_examples())
['seed-sequence', 'seed-step', 'vector-demo']
"""

from __future__ import annotations

import decimal
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from symlstm import budget
from symlstm.cell import Cell, Variant
from symlstm.errors import ExampleFileError, SymLSTMError, UnknownNameError
from symlstm.limits import MAX_FILE_BYTES, MAX_PLACES, check_nesting, check_number, elide
from symlstm.numeric.evaluation import Trace, certify, evaluate
from symlstm.params import ExactValue, exact_number, exact_value, inputs, parameters, state
from symlstm.symbols import Notation, notation

__all__ = [
    "Example",
    "builtin_examples",
    "builtin_path",
    "is_builtin_name",
    "load_example",
    "parse_example",
    "read_data_file",
]

_SUFFIXES = (".toml", ".json")
_TOP_KEYS = {
    "names",
    "targets",
    "name",
    "title",
    "source",
    "description",
    "cell",
    "parameters",
    "initial",
    "inputs",
    "digits",
}
_CELL_KEYS = {"kind", "notation", "variant", "hidden_size", "input_size"}
#: The longest word read as a name (a cell kind, notation, activation, forget gate).
_MAX_NAME = 64
#: The form of a built-in example's name; anything else is a path.
_BUILTIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def builtin_examples() -> dict[str, str]:
    """Built-in example names and their titles.

    >>> builtin_examples()["seed-step"]
    "One step of the spec's LSTM cell (section 5)"
    """
    out = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".toml") and not entry.name.endswith("-claims.toml"):
            out[entry.name[: -len(".toml")]] = read_data_file(entry).get("title", "")
    return dict(sorted(out.items()))


def is_builtin_name(text: object) -> bool:
    """Whether ``text`` has the form of a built-in name: lower-case letters, digits, hyphens.

    Anything else (a path, ``../x``, a name with a suffix) is never looked up among the
    package's own files.

    >>> is_builtin_name("seed-step"), is_builtin_name("../../x"), is_builtin_name("a.toml")
    (True, False, False)
    """
    return isinstance(text, str) and _BUILTIN_NAME.fullmatch(text) is not None


def builtin_path(name: str) -> Any:
    """The packaged file of a built-in example or claims file (``name.toml``).

    Only names of the form ``[a-z0-9][a-z0-9-]*`` are looked up, so no name can reach
    outside the package's example directory.

    >>> builtin_path("../../x")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: '../../x' is not a built-in example name ...
    """
    if not is_builtin_name(name):
        raise UnknownNameError(
            f"{elide(repr(name))} is not a built-in example name (lower-case letters, "
            f"digits and hyphens); built-in: {', '.join(builtin_examples())}"
        )
    entry = resources.files(__package__) / f"{name}.toml"
    if not entry.is_file():
        raise UnknownNameError(
            f"unknown example {name!r}; built-in: {', '.join(builtin_examples())} "
            "(or give the path of a .toml or .json file)"
        )
    return entry


def _read_bytes(path: Any, name: str) -> bytes:
    """At most :data:`~symlstm.limits.MAX_FILE_BYTES` of the file, or an error naming it."""
    try:
        with path.open("rb") if hasattr(path, "open") else open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ExampleFileError(f"{name}: no such file") from None
    except (OSError, ValueError) as err:
        raise ExampleFileError(f"{name}: cannot read: {err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ExampleFileError(
            f"{name}: larger than {MAX_FILE_BYTES:,} bytes (MAX_FILE_BYTES in symlstm.limits)"
        )
    return raw


def read_data_file(path: Any) -> dict[str, Any]:
    """Read a TOML or JSON file with every number as an exact :class:`decimal.Decimal`.

    Before parsing, the file's size and nesting depth are checked against
    :mod:`symlstm.limits`; after, every number in it (its exponent and digits, and that
    it is finite), each named by the file and its key.

    Parameters
    ----------
    path
        A path, or a file of the package's resources.

    Raises
    ------
    ExampleFileError
        If the file is missing, too large, nested too deep, is neither TOML nor JSON,
        does not parse, or holds a NaN or infinity.
    ParameterError, RangeError
        For a number with too many digits or too large an exponent.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "w.json")
    >>> with open(path, "w") as f:
    ...     _ = f.write('{"inputs": {"x": [0.5, NaN]}}')
    >>> read_data_file(path)
    Traceback (most recent call last):
    ...
    symlstm.errors.ExampleFileError: .../w.json: inputs.x[1]: NaN is not a finite number ...
    """
    name = str(path)
    suffix = Path(getattr(path, "name", name)).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ExampleFileError(f"{name}: expected a .toml or .json file")
    raw = _read_bytes(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ExampleFileError(f"{name}: cannot read: {err}") from None
    check_nesting(text, name, toml=suffix == ".toml")
    try:
        if suffix == ".toml":
            data = tomllib.loads(text, parse_float=decimal.Decimal)
        else:
            data = json.loads(
                text,
                parse_float=decimal.Decimal,
                parse_int=decimal.Decimal,
                parse_constant=decimal.Decimal,  # NaN, Infinity: refused below, with the key
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ExampleFileError(f"{name}: not valid {suffix[1:].upper()}: {err}") from None
    except ValueError as err:  # an integer beyond Python's int-string limit
        raise ExampleFileError(f"{name}: not valid {suffix[1:].upper()}: {err}") from None
    except RecursionError:  # the nesting check makes this unreachable; kept as a net
        raise ExampleFileError(f"{name}: nested too deep to parse") from None
    if not isinstance(data, dict):
        raise ExampleFileError(f"{name}: the top level must be a table/object")
    _check_numbers(data, name, "")
    return data


def _check_numbers(value: Any, name: str, key: str) -> None:
    """Every number in parsed data, finite and within the limits, named by file and key."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(v, name, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            _check_numbers(v, name, f"{key}[{k}]")
    elif (isinstance(value, decimal.Decimal) and not value.is_finite()) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise ExampleFileError(
            f"{name}: {key}: {value} is not a finite number (NaN and infinities are not accepted)"
        )
    elif isinstance(value, decimal.Decimal | int) and not isinstance(value, bool):
        check_number(value, f"{name}: {key}")


@dataclass(frozen=True)
class Example:
    """A validated example: everything needed to evaluate and show it."""

    name: str
    title: str
    source: str
    cell: Cell
    notation: str
    parameters: dict[str, ExactValue]
    h0: ExactValue
    c0: ExactValue
    inputs: tuple[ExactValue, ...]
    digits: Mapping[str, int] = field(default_factory=lambda: {"default": 3})
    path: str | None = None
    #: Plain-text labels that replace symbols' names (canonical name → label).
    names: Mapping[str, str] = field(default_factory=dict)
    #: Targets y_t of a squared-error loss, one per step (``[targets] y = [...]``).
    targets: tuple[ExactValue, ...] | None = None

    def notation_with_names(self) -> Notation:
        """The example's notation, with its ``[names]`` labels (escaped for LaTeX).

        >>> ex = parse_example({"cell": {"kind": "tied"}, "names": {"x": "word_t"},
        ...                     "parameters": {"w_f": 1, "w_i": 1, "w_g": 1, "w_o": 1, "b": 0},
        ...                     "inputs": {"x": [1]}})
        >>> ex.notation_with_names().latex["x"], ex.notation_with_names().text["x"]
        ('\\\\mathrm{word\\\\_t}', 'word_t')
        """
        from symlstm.render.document import escape_latex

        latex = {k: rf"\mathrm{{{escape_latex(v)}}}" for k, v in self.names.items()}
        return notation(self.notation).with_names(latex=latex, text=dict(self.names))

    def places(self, quantity: str) -> int:
        """Decimal places shown for a quantity."""
        return self.digits.get(quantity, self.digits.get("default", 3))

    @property
    def hand_places(self) -> dict[str, int]:
        """Hand-calculation rounding: every quantity of the cell at its shown places."""
        return {q: self.places(q) for q in self.cell.quantities}

    def evaluate(self, **kwargs: Any) -> Trace:
        """:func:`symlstm.numeric.evaluation.evaluate` on this example."""
        return evaluate(self.cell, self.parameters, self.inputs, self.h0, self.c0, **kwargs)

    def certify(self, *, hand: bool = False, **kwargs: Any) -> Trace:
        """:func:`symlstm.certify` on this example (``hand=True``: hand-calculation)."""
        kwargs.setdefault("places", None if "significant" in kwargs else dict(self.digits))
        return certify(
            self.cell,
            self.parameters,
            self.inputs,
            self.h0,
            self.c0,
            hand_places=self.hand_places if hand else None,
            **kwargs,
        )


def _table(data: Mapping, key: str, origin: str, *, required: bool = True) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            raise ExampleFileError(f"{origin}: missing [{key}] table")
        return {}
    if not isinstance(value, dict):
        raise ExampleFileError(f"{origin}: [{key}] must be a table/object, not {_kind(value)}")
    return value


def _check_keys(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(elide(str(k)) for k in set(table) - allowed)
    if unknown:
        raise ExampleFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _kind(value: Any) -> str:
    """What a wrongly typed value is, for a message (long values elided)."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {elide(value)!r}"
    if value is None:
        return "null"
    return elide(str(value))


def _int(value: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | decimal.Decimal):
        raise ExampleFileError(f"{what} must be an integer, not {_kind(value)}")
    check_number(value, what)  # before int(): no 10**999999999 is ever built
    if value != int(value):
        raise ExampleFileError(f"{what} must be an integer, not {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ExampleFileError(f"{what}: must be {lo}..{hi}, not {value}")
    return int(value)


def _text(
    data: Mapping, key: str, where: str, default: str | None = None, *, name: bool = False
) -> str | None:
    """A text field; ``name``: one of a few known words (a kind, a notation, an activation)."""
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ExampleFileError(f"{where} {key} must be text, not {_kind(value)}")
    if name and value is not None and len(value) > _MAX_NAME:
        raise UnknownNameError(f"{where} {key}: {elide(value)!r} is not a name symlstm knows")
    return value


#: The variant options that are text or true/false (the others are numbers or absent).
_VARIANT_TYPES: dict[str, type] = {
    "peephole": bool,
    "forget_gate": str,
    "gate_activation": str,
    "candidate_activation": str,
    "output_activation": str,
}


def _variant(table: Any, origin: str) -> Variant:
    where = f"{origin} [cell.variant]"
    if not isinstance(table, dict):
        raise ExampleFileError(f"{where} must be a table, not {_kind(table)}")
    options = {}
    for key, value in table.items():
        expected = _VARIANT_TYPES.get(key)
        if expected is not None and not isinstance(value, expected):
            wanted = "true or false" if expected is bool else "text"
            raise ExampleFileError(f"{where} {key} must be {wanted}, not {_kind(value)}")
        if expected is str:
            _text(table, key, where, name=True)
        if key in ("forget_bias", "clip"):
            value = exact_number(value, f"{where} {key}")
        options[key] = value
    return Variant.from_mapping(options)


def parse_example(data: Mapping[str, Any], *, origin: str = "example") -> Example:
    """Validate example data (as read by :func:`read_data_file`) into an :class:`Example`.

    Raises
    ------
    ExampleFileError
        For a structural problem (missing table, unknown key, wrong type).
    ParameterError, ShapeError, UnknownNameError
        For values that do not fit the cell, each message starting with ``origin``.
    """
    if not isinstance(origin, str):
        raise ExampleFileError(f"origin must be text, not {_kind(origin)}")
    if not isinstance(data, Mapping):
        raise ExampleFileError(f"{origin}: expected a table/mapping, not {type(data).__name__}")
    _check_keys(data, _TOP_KEYS, origin)
    texts = {k: _text(data, k, origin, "") for k in ("title", "source", "description")}
    name = _text(data, "name", origin, origin)
    cell_table = _table(data, "cell", origin)
    _check_keys(cell_table, _CELL_KEYS, f"{origin} [cell]")
    try:
        sizes = {
            k: _int(cell_table[k], f"{origin} [cell] {k}", lo=1)
            for k in ("hidden_size", "input_size")
            if k in cell_table
        }
        kind = _text(cell_table, "kind", f"{origin} [cell]", "tied", name=True)
        cell = Cell(kind, _variant(cell_table.get("variant", {}), origin), **sizes)
        default_notation = "spec" if cell.kind == "tied" else "canonical"
        note = notation(
            _text(cell_table, "notation", f"{origin} [cell]", default_notation, name=True)
        )
        initial = _table(data, "initial", origin, required=False)
        _check_keys(initial, {"h", "c"}, f"{origin} [initial]")
        input_table = _table(data, "inputs", origin)
        _check_keys(input_table, {"x"}, f"{origin} [inputs]")
        if "x" not in input_table:
            raise ExampleFileError(f"{origin}: [inputs] needs x, one value per step")
        if isinstance(input_table["x"], list):  # the budget, before any number is converted
            budget.check_work("evaluation", cell, len(input_table["x"]))
        digits = {"default": 3}
        for key, value in _table(data, "digits", origin, required=False).items():
            if key != "default" and key not in cell.quantities:
                raise UnknownNameError(
                    f"{origin} [digits]: unknown quantity {elide(repr(key))}; "
                    f"known: default, {', '.join(cell.quantities)}"
                )
            digits[key] = _int(value, f"{origin} [digits] {key}", lo=0, hi=MAX_PLACES)
        return Example(
            name=name,
            title=texts["title"],
            source=texts["source"],
            cell=cell,
            notation=note.name,
            parameters=parameters(cell, _table(data, "parameters", origin)),
            h0=state(cell, "h_prev", initial.get("h")),
            c0=state(cell, "c_prev", initial.get("c")),
            inputs=inputs(cell, input_table["x"]),
            digits=digits,
            path=origin,
            names=_names(_table(data, "names", origin, required=False), cell, origin),
            targets=_targets(_table(data, "targets", origin, required=False), cell, origin),
        )
    except SymLSTMError as err:
        if str(err).startswith(origin):
            raise
        raise type(err)(f"{origin}: {err}") from None


def _targets(table: Mapping[str, Any], cell: Cell, origin: str) -> tuple | None:
    _check_keys(table, {"y"}, f"{origin} [targets]")
    if "y" not in table:
        return None
    ys = table["y"]
    if not isinstance(ys, list | tuple):
        raise ExampleFileError(
            f"{origin} [targets]: y must be a list, one target per step, not {_kind(ys)}"
        )
    return tuple(exact_value(y, cell.shape("h"), f"y[{t + 1}]") for t, y in enumerate(ys))


def _names(table: Mapping[str, Any], cell: Cell, origin: str) -> dict[str, str]:
    known = [*cell.symbols, *cell.parameters]
    for key, value in table.items():
        if key not in known:
            raise UnknownNameError(
                f"{origin} [names]: unknown symbol {elide(repr(key))}; known: {', '.join(known)}"
            )
        if not isinstance(value, str) or not value.strip():
            raise ExampleFileError(f"{origin} [names] {key}: a label must be non-empty text")
    return {k: v.strip() for k, v in table.items()}


def load_example(name_or_path: str | Path) -> Example:
    """Load a built-in example by name, or an example file by path.

    A built-in name has the form ``[a-z0-9][a-z0-9-]*`` (:func:`is_builtin_name`);
    anything else, or a name with a ``.toml`` or ``.json`` suffix, or one that exists
    as a file, is a path, and a path is never looked up among the package's files.

    >>> load_example("seed-step").title
    "One step of the spec's LSTM cell (section 5)"
    >>> load_example("no-such-example")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown example 'no-such-example'; built-in: ...
    >>> load_example("../../no-such-example")
    Traceback (most recent call last):
    ...
    symlstm.errors.ExampleFileError: ../../no-such-example: no such file ...
    """
    if not isinstance(name_or_path, str | os.PathLike):
        raise ExampleFileError(
            f"expected an example's name or path, not {type(name_or_path).__name__}"
        )
    text = os.fspath(name_or_path)
    if isinstance(text, bytes):
        raise ExampleFileError(
            f"expected an example's name or path as text, not {elide(repr(text))}"
        )
    path = Path(text)
    if isinstance(name_or_path, str) and is_builtin_name(text) and not path.exists():
        return parse_example(read_data_file(builtin_path(text)), origin=text)
    if path.suffix.lower() not in _SUFFIXES and not path.exists():
        raise ExampleFileError(
            f"{elide(text, 40)}: no such file (a file needs a .toml or .json suffix; "
            f"built-in examples: {', '.join(builtin_examples())})"
        )
    return parse_example(read_data_file(path), origin=text)
