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
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from symlstm.cell import Cell, Variant
from symlstm.errors import ExampleFileError, SymLSTMError, UnknownNameError
from symlstm.evaluate import Trace, certify, evaluate
from symlstm.params import ExactValue, exact_value, inputs, parameters, state
from symlstm.symbols import Notation, notation

__all__ = [
    "Example",
    "builtin_examples",
    "builtin_path",
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


def builtin_examples() -> dict[str, str]:
    """Built-in example names and their titles."""
    out = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".toml") and not entry.name.endswith("-claims.toml"):
            out[entry.name[: -len(".toml")]] = read_data_file(entry).get("title", "")
    return dict(sorted(out.items()))


def builtin_path(name: str) -> Any:
    """The packaged file of a built-in example or claims file (``name.toml``)."""
    entry = resources.files(__package__) / f"{name}.toml"
    if not entry.is_file():
        raise UnknownNameError(
            f"unknown example {name!r}; built-in: {', '.join(builtin_examples())} "
            "(or give the path of a .toml or .json file)"
        )
    return entry


def _reject_constant(name: str) -> None:
    raise ExampleFileError(f"{name} is not a finite number (JSON NaN/Infinity are not accepted)")


def read_data_file(path: Any) -> dict[str, Any]:
    """Read a TOML or JSON file with every number as an exact :class:`decimal.Decimal`.

    Raises
    ------
    ExampleFileError
        If the file is missing, is neither TOML nor JSON, or does not parse.
    """
    name = getattr(path, "name", str(path))
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ExampleFileError(f"{name}: expected a .toml or .json file")
    try:
        text = (
            path.read_text(encoding="utf-8")
            if hasattr(path, "read_text")
            else (Path(path).read_text(encoding="utf-8"))
        )
    except FileNotFoundError:
        raise ExampleFileError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ExampleFileError(f"{name}: cannot read: {err}") from None
    try:
        if suffix == ".toml":
            data = tomllib.loads(text, parse_float=decimal.Decimal)
        else:
            data = json.loads(
                text,
                parse_float=decimal.Decimal,
                parse_int=decimal.Decimal,
                parse_constant=_reject_constant,
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ExampleFileError(f"{name}: not valid {suffix[1:].upper()}: {err}") from None
    if not isinstance(data, dict):
        raise ExampleFileError(f"{name}: the top level must be a table/object")
    return data


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
        """:func:`symlstm.evaluate.evaluate` on this example."""
        return evaluate(self.cell, self.parameters, self.inputs, self.h0, self.c0, **kwargs)

    def certify(self, *, hand: bool = False, **kwargs: Any) -> Trace:
        """:func:`symlstm.evaluate.certify` on this example (``hand=True``: hand-calculation)."""
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
        raise ExampleFileError(f"{origin}: [{key}] must be a table/object")
    return value


def _check_keys(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ExampleFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | decimal.Decimal):
        raise ExampleFileError(f"{what} must be an integer, not {value!r}")
    if value != int(value):
        raise ExampleFileError(f"{what} must be an integer, not {value}")
    return int(value)


def parse_example(data: Mapping[str, Any], *, origin: str = "example") -> Example:
    """Validate example data (as read by :func:`read_data_file`) into an :class:`Example`.

    Raises
    ------
    ExampleFileError
        For a structural problem (missing table, unknown key, wrong type).
    ParameterError, ShapeError, UnknownNameError
        For values that do not fit the cell, each message starting with ``origin``.
    """
    _check_keys(data, _TOP_KEYS, origin)
    cell_table = _table(data, "cell", origin)
    _check_keys(cell_table, _CELL_KEYS, f"{origin} [cell]")
    try:
        variant_table = cell_table.get("variant", {})
        if not isinstance(variant_table, dict):
            raise ExampleFileError(f"{origin}: [cell.variant] must be a table")
        sizes = {
            k: _int(cell_table[k], f"{origin}: {k}")
            for k in ("hidden_size", "input_size")
            if k in cell_table
        }
        cell = Cell(cell_table.get("kind", "tied"), Variant.from_mapping(variant_table), **sizes)
        note = notation(cell_table.get("notation", "spec" if cell.kind == "tied" else "canonical"))
        initial = _table(data, "initial", origin, required=False)
        _check_keys(initial, {"h", "c"}, f"{origin} [initial]")
        input_table = _table(data, "inputs", origin)
        _check_keys(input_table, {"x"}, f"{origin} [inputs]")
        if "x" not in input_table:
            raise ExampleFileError(f"{origin}: [inputs] needs x, one value per step")
        digits = {"default": 3}
        for key, value in _table(data, "digits", origin, required=False).items():
            if key != "default" and key not in cell.quantities:
                raise UnknownNameError(
                    f"{origin} [digits]: unknown quantity {key!r}; "
                    f"known: default, {', '.join(cell.quantities)}"
                )
            digits[key] = _int(value, f"{origin} [digits] {key}")
            if not 0 <= digits[key] <= 1000:
                raise ExampleFileError(f"{origin} [digits] {key}: must be 0..1000")
        return Example(
            name=str(data.get("name", origin)),
            title=str(data.get("title", "")),
            source=str(data.get("source", "")),
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
    if not isinstance(ys, list):
        raise ExampleFileError(f"{origin} [targets]: y must be a list, one target per step")
    return tuple(exact_value(y, cell.shape("h"), f"y[{t + 1}]") for t, y in enumerate(ys))


def _names(table: Mapping[str, Any], cell: Cell, origin: str) -> dict[str, str]:
    known = [*cell.symbols, *cell.parameters]
    for key, value in table.items():
        if key not in known:
            raise UnknownNameError(
                f"{origin} [names]: unknown symbol {key!r}; known: {', '.join(known)}"
            )
        if not isinstance(value, str) or not value.strip():
            raise ExampleFileError(f"{origin} [names] {key}: a label must be non-empty text")
    return {k: v.strip() for k, v in table.items()}


def load_example(name_or_path: str | Path) -> Example:
    """Load a built-in example by name, or an example file by path.

    >>> load_example("no-such-example")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown example 'no-such-example'; built-in: ...
    """
    text = str(name_or_path)
    if Path(text).suffix.lower() in _SUFFIXES or Path(text).exists():
        path = Path(text)
        return parse_example(read_data_file(path), origin=str(path))
    entry = builtin_path(text)
    return parse_example(read_data_file(entry), origin=text)
