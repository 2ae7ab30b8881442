"""The common machinery of the frameworks' LSTM weight layouts: a :class:`Layout` states one
framework's convention as data (gate order, rows or columns, which arrays hold which parts,
the names per layer and direction), :class:`Packed` one of its arrays; the argument checks
the layout modules share. The layouts themselves are in :mod:`symlstm.frameworks.torch`,
:mod:`symlstm.frameworks.keras`, :mod:`symlstm.frameworks.onnx` and here (the canonical
names); :mod:`symlstm.frameworks.layouts` gathers them and converts.
"""

from __future__ import annotations

import numbers
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from symlstm.cell import Variant
from symlstm.errors import ArgumentError, ParameterError, UnknownNameError
from symlstm.symbols import GATES, PEEPHOLE_GATES

__all__ = ["CANONICAL", "DIRECTIONS", "PARTS", "Layout", "Packed"]

#: The directions of a bidirectional LSTM.
DIRECTIONS: tuple[str, ...] = ("forward", "reverse")
#: What a packed array can hold: input weights W, recurrent weights U, biases b, peepholes p.
PARTS: tuple[str, ...] = ("W", "U", "b", "p")


@dataclass(frozen=True)
class Packed:
    """One named array of a layout and the canonical parts packed into it.

    Parameters
    ----------
    name
        The array's name; ``{layer}`` and ``{suffix}`` stand for the layer index and the
        layout's reverse-direction suffix (empty for the forward direction).
    parts
        The parts stacked in the array, in order: ``("W", "U")`` is TF1's kernel (input
        rows, then recurrent rows); ``("b", "b")`` is ONNX's B = [Wb, Rb]. Weights stack
        along the input axis, vectors end to end.
    gates
        The order of the gate blocks in this array, in the layout's letters; None for the
        layout's own order (ONNX's peepholes have their own, i, o, f).
    optional
        Whether the array may be absent: all biases absent means zero biases (PyTorch's
        ``bias=False``), all peepholes absent means no peepholes.
    """

    name: str
    parts: tuple[str, ...]
    gates: tuple[str, ...] | None = None
    optional: bool = False

    @property
    def is_matrix(self) -> bool:
        return self.parts[0] in ("W", "U")


@dataclass(frozen=True, kw_only=True)
class Layout:
    """A framework's LSTM weight convention, as data.

    Parameters
    ----------
    name
        The key in :data:`symlstm.frameworks.layouts.LAYOUTS`.
    gates
        The order of the four gate blocks in the packed arrays, in the framework's letters.
    candidate
        The letter that means the candidate g (Keras and ONNX: ``"c"``, TF1: ``"j"``).
    gate_axis
        ``"rows"``: weights are (gates·n, inputs), as W_k itself (PyTorch, ONNX);
        ``"columns"``: (inputs, gates·n), the transpose (Keras, TF1).
    arrays
        The named arrays of one layer and direction.
    direction_axis
        Whether every array has a leading (num_directions, …) axis (ONNX).
    layered
        Whether the names carry a layer index (PyTorch's ``_l{layer}``).
    reverse_suffix
        What the names of the reverse direction add (PyTorch's ``"_reverse"``); None if
        the layout has no reverse names.
    direction_names
        The two values of a ``{direction}`` field in the names (Keras' Bidirectional:
        ``forward_layer/kernel``, ``backward_layer/kernel``); None if the names have none.
    forget_bias
        The default of a constant added inside the forget gate's σ (TF1: 1.0); None if the
        framework has no such constant.
    attributes
        Whether the layout reads a node's attributes besides its arrays (``"onnx"``:
        ``clip``, ``input_forget``, ``activations``; see :func:`onnx_variant`); None if not.
    projection
        The name template of the optional projection matrix W_hr (p, n) of an LSTM with
        projections (PyTorch's ``proj_size``: ``weight_hr_l{layer}{suffix}``), stored as
        the canonical W_hr is; present, it makes h (and U's input axis) p wide. None if
        the layout has none.
    """

    name: str
    gates: tuple[str, ...]
    candidate: str = "g"
    gate_axis: Literal["rows", "columns"] = "rows"
    arrays: tuple[Packed, ...]
    direction_axis: bool = False
    layered: bool = False
    reverse_suffix: str | None = None
    direction_names: tuple[str, str] | None = None
    forget_bias: float | None = None
    attributes: Literal["onnx"] | None = None
    projection: str | None = None

    def __post_init__(self) -> None:
        # The tables must be one-to-one: every canonical weight comes from exactly one block.
        if sorted(self.canonical_gates) != sorted(GATES) or len(set(self.gates)) != 4:
            raise ParameterError(f"layout {self.name}: gates {self.gates} are not i, f, g, o")
        if self.gate_axis not in ("rows", "columns"):
            raise UnknownNameError(f"layout {self.name}: gate_axis is rows or columns")
        count = {(part, k): 0 for part in PARTS for k in GATES}
        for packed in self.arrays:
            for part in packed.parts:
                if part not in PARTS or (packed.is_matrix != (part in ("W", "U"))):
                    raise ParameterError(f"layout {self.name}: {packed.name} mixes {packed.parts}")
                for letter in self.array_gates(packed):
                    if letter not in self.gates:
                        raise ParameterError(f"layout {self.name}: {packed.name} has {letter!r}")
                    count[part, self.canonical_letter(letter)] += 1
        for (part, k), c in count.items():
            allowed = {"W": (1,), "U": (1,), "b": (1, 2), "p": (0, 1) if k != "g" else (0,)}
            if c not in allowed[part]:
                raise ParameterError(f"layout {self.name}: {part}_{k} is in {c} blocks")

    def canonical_letter(self, letter: str) -> str:
        """The canonical gate letter of one of this layout's letters (``c``, ``j``: ``g``)."""
        return "g" if letter == self.candidate else letter

    def array_gates(self, packed: Packed) -> tuple[str, ...]:
        """The gate letters packed into one of this layout's arrays, in their order
        (the layout's own letters: ONNX's ``c``, TF1's ``j``).

        >>> from symlstm.frameworks.onnx import ONNX as layout
        >>> layout.array_gates(layout.arrays[0]), layout.arrays[0].name
        (('i', 'o', 'f', 'c'), 'W')
        """
        return self.gates if packed.gates is None else packed.gates

    @property
    def canonical_gates(self) -> tuple[str, ...]:
        """The packed gate order in canonical letters (``c`` and ``j`` become ``g``).

        >>> from symlstm.frameworks.onnx import ONNX
        >>> ONNX.canonical_gates
        ('i', 'o', 'f', 'g')
        """
        return tuple(self.canonical_letter(letter) for letter in self.gates)

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions the arrays can hold."""
        both = (
            self.direction_axis
            or self.reverse_suffix is not None
            or self.direction_names is not None
        )
        return DIRECTIONS if both else DIRECTIONS[:1]

    @property
    def has_peepholes(self) -> bool:
        return any("p" in packed.parts for packed in self.arrays)

    def names(self, *, layer: int = 0, direction: str = "forward") -> tuple[str, ...]:
        """The array names of one layer and direction.

        >>> from symlstm.frameworks.torch import TORCH
        >>> TORCH.names(layer=1, direction="reverse")
        ('weight_ih_l1_reverse', 'weight_hh_l1_reverse', 'bias_ih_l1_reverse', 'bias_hh_l1_reverse')
        """
        self.check_unit(layer, direction)
        return tuple(self.array_name(p, layer, direction) for p in self.arrays)

    def array_name(self, packed: Packed, layer: int, direction: str) -> str:
        """The name of one of this layout's arrays for a layer and direction."""
        suffix = self.reverse_suffix if direction == "reverse" and self.reverse_suffix else ""
        names = self.direction_names or ("", "")
        side = names[DIRECTIONS.index(direction)]
        return packed.name.format(layer=layer, suffix=suffix, direction=side)

    def check_unit(self, layer: int, direction: str) -> None:
        """Raise unless this layout holds the unit (``layer``, ``direction``)."""
        if direction not in DIRECTIONS:
            raise UnknownNameError(
                f"unknown direction {direction!r}; known: {', '.join(DIRECTIONS)}"
            )
        if direction not in self.directions:
            raise ParameterError(f"{self.name} arrays hold the forward direction only")
        if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
            raise ParameterError(f"layer must be a non-negative integer, not {layer!r}")
        if layer and not self.layered:
            raise ParameterError(f"{self.name} arrays hold one layer: layer must be 0")

    def name_pattern(self, template: str) -> re.Pattern[str]:
        """A regular expression matching a name template for every layer and direction."""
        regex = ""
        for literal, field, _, _ in string.Formatter().parse(template):
            regex += re.escape(literal)
            if field == "layer":
                regex += r"\d+"
            elif field == "suffix":
                regex += f"(?:{re.escape(self.reverse_suffix)})?" if self.reverse_suffix else ""
            elif field == "direction":
                regex += "(?:" + "|".join(map(re.escape, self.direction_names or ())) + ")"
        return re.compile(regex)

    def shape_text(self, packed: Packed, projected: bool = False) -> str:
        """An array's shape in words: ``(4n, m)``, ``(num_directions, 8n)``."""
        gates = len(self.array_gates(packed))
        if packed.is_matrix:
            inputs = " + ".join({"W": "m", "U": "p" if projected else "n"}[p] for p in packed.parts)
            dims = [f"{gates}n" if gates > 1 else "n", inputs]
            dims = dims if self.gate_axis == "rows" else dims[::-1]
        else:
            dims = [f"{len(packed.parts) * gates}n" if len(packed.parts) * gates > 1 else "n"]
        return "(" + ", ".join((["num_directions"] if self.direction_axis else []) + dims) + ")"

    def array_shape(
        self, packed: Packed, n: int, m: int, dirs: int, p: int | None = None
    ) -> tuple[int, ...]:
        """The shape of an array; ``p``: the projection size (h's width), n without one."""
        gates = len(self.array_gates(packed))
        p = n if p is None else p
        if packed.is_matrix:
            inputs = sum(m if part == "W" else p for part in packed.parts)
            dims = (gates * n, inputs) if self.gate_axis == "rows" else (inputs, gates * n)
        else:
            dims = (len(packed.parts) * gates * n,)
        return (dirs, *dims) if self.direction_axis else dims


def _canonical_arrays() -> tuple[Packed, ...]:
    arrays = []
    for k in GATES:
        arrays += [Packed(f"{p}_{k}", (p,), gates=(k,)) for p in ("W", "U", "b")]
    arrays += [Packed(f"p_{k}", ("p",), gates=(k,), optional=True) for k in PEEPHOLE_GATES]
    return tuple(arrays)


#: symlstm's own names: one array per gate and part (W_i, U_i, b_i, …, p_i …, W_hr).
CANONICAL = Layout(name="canonical", gates=GATES, arrays=_canonical_arrays(), projection="W_hr")


# -- argument checks shared by the layout modules ----------------------------------------------


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for messages."""
    return type(value).__name__


def check_mapping(value: Any, what: str) -> None:
    """Raise ArgumentError unless ``value`` is a mapping."""
    if not isinstance(value, Mapping):
        raise ArgumentError(f"{what} must be a mapping of names to values, not {type_name(value)}")


def check_optional_int(value: Any, what: str, low: int) -> None:
    """Raise unless ``value`` is None or an integer >= ``low``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{what} must be an integer, not {type_name(value)}")
    if value < low:
        raise ParameterError(f"{what} must be >= {low}, not {value}")


def check_direction(direction: Any) -> None:
    """Raise unless ``direction`` is one of :data:`DIRECTIONS`."""
    if not isinstance(direction, str):
        raise ArgumentError(f"direction must be a string, not {type_name(direction)}")
    if direction not in DIRECTIONS:
        raise UnknownNameError(f"unknown direction {direction!r}; known: {', '.join(DIRECTIONS)}")


def check_variant(variant: Any, optional: bool = False) -> None:
    """Raise ArgumentError unless ``variant`` is a Variant (or None, if ``optional``)."""
    if not isinstance(variant, Variant) and not (optional and variant is None):
        wanted = "a Variant or None" if optional else "a Variant"
        raise ArgumentError(f"variant must be {wanted}, not {type_name(variant)}")
