"""Frameworks' LSTM weight layouts as data, converted to and from the canonical parameters.

A :class:`Layout` says how one framework packs the canonical parameters W_k (n×m),
U_k (n×n), b_k (n) and p_k (n) of the gates k = i, f, g, o into its own named
arrays: the gate order of the packed blocks, whether the gates run down the rows
(PyTorch's ``weight_ih`` (4n, m)) or across the columns (Keras' ``kernel`` (m, 4n)),
which arrays hold which parts, and the names per layer and direction.
:data:`LAYOUTS` holds PyTorch, Keras 3, TF1 ``LSTMCell``, ONNX and the canonical
names themselves; :func:`to_canonical` and :func:`from_canonical` read any of them,
with no code written per framework.

>>> import numpy as np
>>> arrays = {
...     "weight_ih_l0": np.arange(8.0).reshape(8, 1),
...     "weight_hh_l0": np.zeros((8, 2)),
...     "bias_ih_l0": np.ones(8),
...     "bias_hh_l0": np.ones(8),
... }
>>> variant, params = to_canonical("torch", arrays)
>>> variant.label(), params["W_g"].ravel(), params["b_g"]
('textbook', array([4., 5.]), array([2., 2.]))
>>> sorted(from_canonical("keras", params))
['bias', 'kernel', 'recurrent_kernel']
"""

from __future__ import annotations

import fractions
import math
import numbers
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from symlstm.cell import Variant
from symlstm.errors import (
    ArgumentError,
    MissingDependencyError,
    ParameterError,
    ShapeError,
    UnknownNameError,
)
from symlstm.symbols import GATES, PEEPHOLE_GATES

__all__ = [
    "DIRECTIONS",
    "LAYOUTS",
    "ONNX_ATTRIBUTES",
    "ONNX_DEFAULT_ACTIVATIONS",
    "Layout",
    "Packed",
    "from_canonical",
    "get_layout",
    "onnx_attributes",
    "onnx_variant",
    "read_onnx_attributes",
    "to_canonical",
]

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
        The key in :data:`LAYOUTS`.
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
                    count[part, self._canonical(letter)] += 1
        for (part, k), c in count.items():
            allowed = {"W": (1,), "U": (1,), "b": (1, 2), "p": (0, 1) if k != "g" else (0,)}
            if c not in allowed[part]:
                raise ParameterError(f"layout {self.name}: {part}_{k} is in {c} blocks")

    def _canonical(self, letter: str) -> str:
        return "g" if letter == self.candidate else letter

    def array_gates(self, packed: Packed) -> tuple[str, ...]:
        """The gate letters packed into one of this layout's arrays, in their order
        (the layout's own letters: ONNX's ``c``, TF1's ``j``).

        >>> layout = LAYOUTS["onnx"]
        >>> layout.array_gates(layout.arrays[0]), layout.arrays[0].name
        (('i', 'o', 'f', 'c'), 'W')
        """
        return self.gates if packed.gates is None else packed.gates

    @property
    def canonical_gates(self) -> tuple[str, ...]:
        """The packed gate order in canonical letters (``c`` and ``j`` become ``g``).

        >>> LAYOUTS["onnx"].canonical_gates
        ('i', 'o', 'f', 'g')
        """
        return tuple(self._canonical(letter) for letter in self.gates)

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

        >>> LAYOUTS["torch"].names(layer=1, direction="reverse")
        ('weight_ih_l1_reverse', 'weight_hh_l1_reverse', 'bias_ih_l1_reverse', 'bias_hh_l1_reverse')
        """
        self._check_unit(layer, direction)
        return tuple(self._name(p, layer, direction) for p in self.arrays)

    def _name(self, packed: Packed, layer: int, direction: str) -> str:
        suffix = self.reverse_suffix if direction == "reverse" and self.reverse_suffix else ""
        names = self.direction_names or ("", "")
        side = names[DIRECTIONS.index(direction)]
        return packed.name.format(layer=layer, suffix=suffix, direction=side)

    def _check_unit(self, layer: int, direction: str) -> None:
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

    def _pattern(self, template: str) -> re.Pattern[str]:
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

    def _shape_text(self, packed: Packed, projected: bool = False) -> str:
        gates = len(self.array_gates(packed))
        if packed.is_matrix:
            inputs = " + ".join({"W": "m", "U": "p" if projected else "n"}[p] for p in packed.parts)
            dims = [f"{gates}n" if gates > 1 else "n", inputs]
            dims = dims if self.gate_axis == "rows" else dims[::-1]
        else:
            dims = [f"{len(packed.parts) * gates}n" if len(packed.parts) * gates > 1 else "n"]
        return "(" + ", ".join((["num_directions"] if self.direction_axis else []) + dims) + ")"

    def _shape(
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


def _torch_arrays(suffix: str) -> tuple[Packed, ...]:
    """PyTorch's arrays, named with ``suffix`` (nn.LSTM: ``_l{layer}{suffix}``): two biases."""
    return (
        Packed(f"weight_ih{suffix}", ("W",)),
        Packed(f"weight_hh{suffix}", ("U",)),
        Packed(f"bias_ih{suffix}", ("b",), optional=True),
        Packed(f"bias_hh{suffix}", ("b",), optional=True),
    )


def _keras_arrays(prefix: str) -> tuple[Packed, ...]:
    """Keras 3's LSTM arrays, named with ``prefix`` (Bidirectional: ``{direction}/``)."""
    return (
        Packed(f"{prefix}kernel", ("W",)),
        Packed(f"{prefix}recurrent_kernel", ("U",)),
        Packed(f"{prefix}bias", ("b",), optional=True),
    )


def _canonical_arrays() -> tuple[Packed, ...]:
    arrays = []
    for k in GATES:
        arrays += [Packed(f"{p}_{k}", (p,), gates=(k,)) for p in ("W", "U", "b")]
    arrays += [Packed(f"p_{k}", ("p",), gates=(k,), optional=True) for k in PEEPHOLE_GATES]
    return tuple(arrays)


#: The known layouts by name. ``torch_cell`` is torch.nn.LSTMCell, whose names have no ``_l0``.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        # torch.nn.LSTM / LSTMCell (LSTMCell's names have no _l0): two biases, summed.
        Layout(
            name="torch",
            gates=("i", "f", "g", "o"),
            arrays=_torch_arrays("_l{layer}{suffix}"),
            layered=True,
            reverse_suffix="_reverse",
            projection="weight_hr_l{layer}{suffix}",
        ),
        Layout(
            name="torch_cell",
            gates=("i", "f", "g", "o"),
            arrays=_torch_arrays(""),
        ),
        # Keras 3 LSTM: kernel (m, 4n), recurrent_kernel (n, 4n), bias (4n); c is the candidate.
        Layout(
            name="keras",
            gates=("i", "f", "c", "o"),
            candidate="c",
            gate_axis="columns",
            arrays=_keras_arrays(""),
        ),
        # Keras 3 Bidirectional(LSTM): the same arrays under the wrapper's forward_layer and
        # backward_layer (which runs on the time-reversed input).
        Layout(
            name="keras_bidirectional",
            gates=("i", "f", "c", "o"),
            candidate="c",
            gate_axis="columns",
            arrays=_keras_arrays("{direction}/"),
            direction_names=("forward_layer", "backward_layer"),
        ),
        # TF1 LSTMCell: one kernel (m + n, 4n) of input rows then recurrent rows; j is the
        # candidate; forget_bias (1.0) is added inside σ and is not in the arrays.
        Layout(
            name="tf1",
            gates=("i", "j", "f", "o"),
            candidate="j",
            gate_axis="columns",
            arrays=(
                Packed("kernel", ("W", "U")),
                Packed("bias", ("b",)),
                *(Packed(f"w_{k}_diag", ("p",), gates=(k,), optional=True) for k in "ifo"),
            ),
            forget_bias=1.0,
        ),
        # ONNX LSTM: W (dirs, 4n, m), R (dirs, 4n, n), B (dirs, 8n) = [Wb, Rb],
        # P (dirs, 3n) in i, o, f order; c is the candidate.
        Layout(
            name="onnx",
            gates=("i", "o", "f", "c"),
            candidate="c",
            arrays=(
                Packed("W", ("W",)),
                Packed("R", ("U",)),
                Packed("B", ("b", "b"), optional=True),
                Packed("P", ("p",), gates=("i", "o", "f"), optional=True),
            ),
            direction_axis=True,
            attributes="onnx",
        ),
        Layout(name="canonical", gates=GATES, arrays=_canonical_arrays(), projection="W_hr"),
    )
}


def get_layout(layout: Layout | str) -> Layout:
    """The layout itself, or the one of that name in :data:`LAYOUTS`.

    >>> get_layout("tf1").canonical_gates
    ('i', 'g', 'f', 'o')
    >>> get_layout("caffe")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown layout 'caffe'; known: torch, torch_cell, keras, ...
    """
    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except (KeyError, TypeError):
        known = ", ".join(LAYOUTS)
        raise UnknownNameError(f"unknown layout {layout!r}; known: {known}") from None


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_mapping(value: Any, what: str) -> None:
    if not isinstance(value, Mapping):
        raise ArgumentError(f"{what} must be a mapping of names to values, not {_type_name(value)}")


def _check_optional_int(value: Any, what: str, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{what} must be an integer, not {_type_name(value)}")
    if value < low:
        raise ParameterError(f"{what} must be >= {low}, not {value}")


def _check_direction(direction: Any) -> None:
    if not isinstance(direction, str):
        raise ArgumentError(f"direction must be a string, not {_type_name(direction)}")
    if direction not in DIRECTIONS:
        raise UnknownNameError(f"unknown direction {direction!r}; known: {', '.join(DIRECTIONS)}")


def _check_variant(variant: Any, optional: bool = False) -> None:
    if not isinstance(variant, Variant) and not (optional and variant is None):
        wanted = "a Variant or None" if optional else "a Variant"
        raise ArgumentError(f"variant must be {wanted}, not {_type_name(variant)}")


# -- ONNX node attributes ---------------------------------------------------------------------

#: The attributes of an ONNX LSTM node (opset 7 to 22) that :func:`onnx_variant` reads.
ONNX_ATTRIBUTES: tuple[str, ...] = (
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "input_forget",
    "layout",
)
#: ONNX's default activations f, g, h of one direction: the gates, the candidate, the output.
ONNX_DEFAULT_ACTIVATIONS: tuple[str, str, str] = ("Sigmoid", "Tanh", "Tanh")
# ONNX activation (lowercase, as onnxruntime compares them) → (alpha default, beta default),
# None where the function takes no such parameter: onnxruntime consumes activation_alpha and
# activation_beta in order, one value for each activation that takes one.
_ONNX_PARAMETERS: dict[str, tuple[float | None, float | None]] = {
    "affine": (0.0, 0.0),
    "relu": (None, None),
    "leakyrelu": (0.01, None),
    "thresholdedrelu": (0.0, None),
    "tanh": (None, None),
    "scaledtanh": (0.0, 0.0),
    "sigmoid": (None, None),
    "hardsigmoid": (0.2, 0.5),
    "elu": (1.0, None),
    "softsign": (None, None),
    "softplus": (None, None),
}
# (ONNX activation, float32 alpha, float32 beta) → the activation of symlstm.functions that
# computes it; one-to-one, so the same table writes a variant's activations as attributes.
_ONNX_TO_SYMLSTM: dict[tuple[str, float | None, float | None], str] = {
    ("Sigmoid", None, None): "sigmoid",
    ("Tanh", None, None): "tanh",
    ("Relu", None, None): "relu",
    ("Softsign", None, None): "softsign",
    ("HardSigmoid", float(np.float32(0.2)), 0.5): "hard_sigmoid",
    ("HardSigmoid", float(np.float32(1 / 6)), 0.5): "hard_sigmoid_relu6",
    ("Affine", 1.0, 0.0): "identity",
}
_SYMLSTM_TO_ONNX = {v: k for k, v in _ONNX_TO_SYMLSTM.items()}
assert len(_SYMLSTM_TO_ONNX) == len(_ONNX_TO_SYMLSTM)  # the table is one-to-one


def _onnx_activation_text(name: str, alpha: float | None, beta: float | None) -> str:
    params = [f"{k}={v:.9g}" for k, v in (("alpha", alpha), ("beta", beta)) if v is not None]
    return f"{name}({', '.join(params)})" if params else name


def _onnx_activations(attributes: Mapping[str, Any], dirs: int) -> list[str]:
    """The symlstm activation of each entry of ``activations`` (f, g, h per direction)."""
    given = attributes.get("activations", ONNX_DEFAULT_ACTIVATIONS * dirs)
    if isinstance(given, str | bytes) or not isinstance(given, list | tuple):
        raise ParameterError(f"onnx activations must be a list of names, not {given!r}")
    for key in ("activation_alpha", "activation_beta"):
        values = attributes.get(key, ())
        if not isinstance(values, list | tuple) or any(
            isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values
        ):
            raise ParameterError(f"onnx {key} must be a list of numbers, not {values!r}")
    names = [n.decode() if isinstance(n, bytes) else n for n in given]
    if len(names) != 3 * dirs:
        raise ShapeError(
            f"onnx activations: {len(names)} names, expected 3 per direction (f, g, h) "
            f"for {dirs} direction{'s' if dirs > 1 else ''}"
        )
    alphas = [float(np.float32(a)) for a in attributes.get("activation_alpha", ())]
    betas = [float(np.float32(b)) for b in attributes.get("activation_beta", ())]
    canonical = {key.lower(): key for key, _, _ in _ONNX_TO_SYMLSTM}
    out = []
    for name in names:
        if not isinstance(name, str) or name.lower() not in _ONNX_PARAMETERS:
            known = ", ".join(sorted({key for key, _, _ in _ONNX_TO_SYMLSTM}))
            raise UnknownNameError(f"unknown ONNX activation {name!r}; supported: {known}")
        alpha_default, beta_default = _ONNX_PARAMETERS[name.lower()]
        alpha = beta = None
        if alpha_default is not None:
            alpha = alphas.pop(0) if alphas else float(np.float32(alpha_default))
        if beta_default is not None:
            beta = betas.pop(0) if betas else float(np.float32(beta_default))
        key = (canonical.get(name.lower(), name), alpha, beta)
        if key not in _ONNX_TO_SYMLSTM:
            supported = ", ".join(_onnx_activation_text(*k) for k in _ONNX_TO_SYMLSTM)
            raise ParameterError(
                f"ONNX activation {_onnx_activation_text(name, alpha, beta)} has no match in "
                f"symlstm.functions; supported: {supported}"
            )
        out.append(_ONNX_TO_SYMLSTM[key])
    return out


def onnx_variant(
    attributes: Mapping[str, Any],
    *,
    direction: str = "forward",
    num_directions: int | None = None,
    hidden_size: int | None = None,
    peephole: bool = False,
) -> Variant:
    """The :class:`~symlstm.cell.Variant` an ONNX LSTM node's attributes describe.

    ``clip`` is the variant's clip (as the float32 the node stores, taken exactly),
    ``input_forget=1`` the coupled forget gate f = 1 − i, and ``activations`` (f, g, h per
    direction) its gate, candidate and output activations. ``activation_alpha`` and
    ``activation_beta`` are consumed in order, one value for each activation that takes
    one, with ONNX's defaults, as onnxruntime reads them (names are case-insensitive).
    ``HardSigmoid`` with α = 0.2, β = 0.5 is :func:`~symlstm.functions.hard_sigmoid` and with
    α = 1/6 it is ``hard_sigmoid_relu6``: the node's α is the float32 nearest to them, the
    symbolic cell takes the exact 1/5 or 1/6 (a relative difference under 2^-25).
    ``Affine`` with α = 1, β = 0 is the identity. Other activations, or other α and β, raise.
    ``layout`` (batch-major X and Y) does not change the weights and is only checked.

    Parameters
    ----------
    attributes
        Attribute name → value, as :func:`read_onnx_attributes` gives them (or as given to
        ``onnx.helper.make_node``).
    direction
        Which direction's activations to read (``"reverse"`` is slot 1 of a bidirectional
        node's six).
    num_directions, hidden_size, peephole
        What the arrays say, checked against ``direction`` and ``hidden_size``; the
        peephole flag passes through to the variant.

    >>> onnx_variant({"clip": 3.0, "input_forget": 1}).label()
    'coupled forget gate, clip 3'
    >>> onnx_variant({"activations": ["HardSigmoid", "Tanh", "Tanh"]}).gate_activation
    'hard_sigmoid'
    >>> onnx_variant({"activations": ["Sigmoid", "Elu", "Tanh"]})
    Traceback (most recent call last):
    ...
    symlstm.errors.ParameterError: ONNX activation Elu(alpha=1) has no match in ...

    Raises
    ------
    ArgumentError
        For arguments of the wrong type (``attributes`` not a mapping, ``direction`` not
        a string, ``num_directions`` or ``hidden_size`` not an integer, ``peephole`` not
        a bool) and for attribute values of the wrong type.
    UnknownNameError
        For an unknown attribute, direction or activation.
    ShapeError, ParameterError
        For attributes that contradict the arrays or that symlstm cannot compute.
    """
    _check_mapping(attributes, "attributes")
    _check_direction(direction)
    _check_optional_int(num_directions, "num_directions", 1)
    _check_optional_int(hidden_size, "hidden_size", 1)
    if not isinstance(peephole, bool | np.bool_):
        raise ArgumentError(f"peephole must be True or False, not {_type_name(peephole)}")
    for key in attributes:
        if key not in ONNX_ATTRIBUTES:
            raise UnknownNameError(
                f"unknown ONNX LSTM attribute {key!r}; known: {', '.join(ONNX_ATTRIBUTES)}"
            )
    node_direction = attributes.get("direction", "forward")
    if isinstance(node_direction, bytes):
        node_direction = node_direction.decode()
    if node_direction not in ("forward", "reverse", "bidirectional"):
        raise UnknownNameError(
            f"unknown ONNX direction {node_direction!r}; known: forward, reverse, bidirectional"
        )
    dirs = 2 if node_direction == "bidirectional" else 1
    if num_directions is not None and num_directions != dirs:
        raise ShapeError(
            f"the node's direction is {node_direction}, the arrays hold {num_directions} "
            "direction(s)"
        )
    if direction not in DIRECTIONS:
        raise UnknownNameError(f"unknown direction {direction!r}; known: {', '.join(DIRECTIONS)}")
    size = attributes.get("hidden_size")
    _check_optional_int(size, "onnx hidden_size", 1)
    if size is not None and hidden_size is not None and int(size) != hidden_size:
        raise ShapeError(f"the node's hidden_size is {size}, the arrays' is {hidden_size}")
    for key in ("layout", "input_forget"):  # integers 0 or 1: true and 1.0 are not
        value = attributes.get(key, 0)
        if isinstance(value, bool | float) or value not in (0, 1):
            raise ParameterError(f"onnx {key} is 0 or 1, not {value!r}")
    input_forget = attributes.get("input_forget", 0)
    clip = attributes.get("clip")
    if clip is not None:
        if isinstance(clip, bool) or not isinstance(clip, numbers.Real):
            raise ParameterError(f"onnx clip must be a number, not {clip!r}")
        clip = float(np.float32(clip))  # what the node stores and onnxruntime compares with
    slot = 1 if direction == "reverse" and dirs == 2 else 0
    gate, candidate, output = _onnx_activations(attributes, dirs)[3 * slot : 3 * slot + 3]
    return Variant(
        peephole=peephole,
        forget_gate="coupled" if input_forget else "standard",
        clip=clip,
        gate_activation=gate,
        candidate_activation=candidate,
        output_activation=output,
    )


def onnx_attributes(variant: Variant, *, num_directions: int = 1) -> dict[str, Any]:
    """The ONNX LSTM node attributes that make a node compute ``variant``: the inverse of
    :func:`onnx_variant` (only attributes that differ from ONNX's defaults).

    Give them to ``onnx.helper.make_node("LSTM", …, **attributes)`` with the arrays of
    :func:`from_canonical` (``direction`` and ``hidden_size`` are the caller's).

    >>> onnx_attributes(Variant(clip=3, forget_gate="coupled"))
    {'clip': 3.0, 'input_forget': 1}
    >>> onnx_attributes(Variant(gate_activation="hard_sigmoid"))
    {'activations': ['HardSigmoid', 'Tanh', 'Tanh'], 'activation_alpha': [0.2...], ...}

    Raises
    ------
    ArgumentError
        If ``variant`` is not a :class:`~symlstm.cell.Variant` or ``num_directions`` not
        an integer.
    ParameterError
        For what an ONNX node cannot say: no forget gate, a forget bias (fold it into B),
        a clip that is not a float32 number.
    """
    _check_variant(variant)
    _check_optional_int(num_directions, "num_directions", 1)
    if num_directions not in (1, 2):
        raise ParameterError(f"num_directions is 1 or 2, not {num_directions!r}")
    if variant.forget_gate == "none":
        raise ParameterError("ONNX's LSTM has no cell without a forget gate")
    if variant.forget_bias != 0:
        raise ParameterError("ONNX's LSTM has no forget bias: add it to b_f first (which rounds)")
    out: dict[str, Any] = {}
    if variant.clip is not None:
        clip = float(np.float32(float(variant.clip)))
        if fractions.Fraction(clip) != fractions.Fraction(variant.clip.p, variant.clip.q):
            raise ParameterError(
                f"clip {variant.clip} is not a float32 number, and ONNX stores clip as float32: "
                f"use Variant(clip={clip!r}) to validate such a node"
            )
        out["clip"] = clip
    if variant.forget_gate == "coupled":
        out["input_forget"] = 1
    acts = (variant.gate_activation, variant.candidate_activation, variant.output_activation)
    entries = [_SYMLSTM_TO_ONNX.get(a) for a in acts]
    missing = [a for a, e in zip(acts, entries, strict=True) if e is None]
    if missing:
        raise ParameterError(f"ONNX's LSTM has no activation {missing[0]!r}")
    if tuple(e[0] for e in entries) != ONNX_DEFAULT_ACTIVATIONS:
        out["activations"] = [e[0] for e in entries] * num_directions
        alphas = [e[1] for e in entries if e[1] is not None] * num_directions
        betas = [e[2] for e in entries if e[2] is not None] * num_directions
        if alphas:
            out["activation_alpha"] = alphas
        if betas:
            out["activation_beta"] = betas
    return out


def read_onnx_attributes(node: Any) -> dict[str, Any]:
    """An ONNX ``NodeProto``'s attributes as plain Python values (strings decoded).

    Raises
    ------
    ParameterError
        If the node is not an LSTM node.
    MissingDependencyError
        Without the onnx package (the ``onnx`` extra).
    """
    try:
        from onnx import helper
    except ImportError:  # pragma: no cover - the onnx extra is installed in CI
        raise MissingDependencyError(
            "reading an ONNX node needs the onnx package: pip install 'symlstm[onnx]'"
        ) from None
    if getattr(node, "op_type", None) != "LSTM":
        raise ParameterError(f"not an ONNX LSTM node: {getattr(node, 'op_type', node)!r}")

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {a.name: plain(helper.get_attribute_value(a)) for a in node.attribute}


def _as_array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # torch's bfloat16, ragged lists …
        raise ParameterError(f"{name}: not an array of numbers ({exc})") from None
    if array.dtype.kind not in "fiu":
        raise ParameterError(f"{name} must hold real numbers, not {array.dtype}")
    return array


def _select(layout: Layout, arrays: Mapping[str, Any], layer: int, direction: str):
    """The arrays of one (layer, direction), after the name checks: {Packed: array or None}."""
    layout._check_unit(layer, direction)
    patterns = [layout._pattern(p.name) for p in layout.arrays]
    if layout.projection is not None:
        patterns.append(layout._pattern(layout.projection))
    for key in arrays:
        if not any(p.fullmatch(key) for p in patterns):
            expected = ", ".join(layout.names(layer=layer, direction=direction))
            raise UnknownNameError(
                f"unknown array {key!r} for layout {layout.name}; expected {expected}"
            )
    chosen = {p: arrays.get(layout._name(p, layer, direction)) for p in layout.arrays}
    missing = [layout._name(p, layer, direction) for p, a in chosen.items() if a is None]
    for part in ("b", "p"):
        group = [layout._name(p, layer, direction) for p in layout.arrays if part in p.parts]
        absent = [name for name in group if name in missing]
        optional = all(p.optional for p in layout.arrays if part in p.parts)
        if optional and len(absent) == len(group):
            missing = [name for name in missing if name not in group]
    if missing:
        where = f" (layer {layer}, {direction})" if layout.directions != ("forward",) else ""
        raise ParameterError(f"{layout.name}: missing arrays{where}: {', '.join(missing)}")
    return {
        p: None if a is None else _as_array(a, layout._name(p, layer, direction))
        for p, a in chosen.items()
    }


def _sizes(
    layout: Layout,
    chosen: dict[Packed, Any],
    names: dict[Packed, str],
    projection: tuple[str, np.ndarray] | None = None,
) -> tuple:
    """(n, m, num_directions, p) read off the input weights (and the projection's rows:
    p is None without one), after checking every shape."""
    lead = 1 if layout.direction_axis else 0
    packed = next(p for p in layout.arrays if "W" in p.parts)  # every layout has one
    array = chosen[packed]
    dims = array.shape[lead:] if array.ndim == lead + 2 else (0, 0)
    gate_dim, input_dim = dims if layout.gate_axis == "rows" else dims[::-1]
    n, rest = divmod(gate_dim, len(layout.array_gates(packed)))
    p = None
    if projection is not None:
        name, w_hr = projection
        if w_hr.ndim != 2 or w_hr.shape[0] < 1 or w_hr.shape[1] != n:
            raise ShapeError(
                f"{name}: shape {w_hr.shape}, expected (p, n) = (p, {n}) with p >= 1 "
                f"(the projection W_hr, proj_size p)"
            )
        p = w_hr.shape[0]
    m = input_dim - (n if p is None else p) * packed.parts.count("U")
    dirs = array.shape[0] if lead and array.ndim else 1
    if rest or n < 1 or m < 1 or dirs not in (1, 2):
        why = "num_directions 1 or 2, " if lead else ""
        raise ShapeError(
            f"{names[packed]}: shape {array.shape}, expected {layout._shape_text(packed)} "
            f"with {why}n >= 1, m >= 1"
        )
    for packed, array in chosen.items():
        expected = layout._shape(packed, n, m, dirs, p)
        if array is not None and array.shape != expected:
            sizes = f"n = {n}, m = {m}" + ("" if p is None else f", p = {p}")
            raise ShapeError(
                f"{names[packed]}: shape {array.shape}, expected {expected} "
                f"= {layout._shape_text(packed, p is not None)} with {sizes}"
            )
    return n, m, dirs, p


def _exact_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def add(x: Any, y: Any) -> Any:
        x, y = float(x), float(y)  # float16/32/64 widen exactly
        if math.isfinite(x) and math.isfinite(y):
            return fractions.Fraction(x) + fractions.Fraction(y)
        return x + y  # NaN and ±inf pass through; validation is elsewhere

    return np.frompyfunc(add, 2, 1)(a, b).astype(object)


def to_canonical(
    layout: Layout | str,
    arrays: Mapping[str, Any],
    *,
    layer: int = 0,
    direction: str = "forward",
    forget_bias: float | None = None,
    biases: Literal["sum", "exact"] = "sum",
    attributes: Mapping[str, Any] | None = None,
) -> tuple[Variant, dict[str, np.ndarray]]:
    """Read one layer and direction of a layout's arrays as canonical parameters.

    Parameters
    ----------
    layout
        A :class:`Layout` or a name in :data:`LAYOUTS`.
    arrays
        The framework's arrays by name (a PyTorch ``state_dict`` works as it is). Arrays of
        other layers and directions may be present; names the layout does not know may not.
    layer, direction
        Which layer (PyTorch's ``_l{layer}``) and direction (``"forward"`` or
        ``"reverse"``) to read. An ONNX array with one direction holds it in slot 0
        whichever the node's ``direction`` attribute says; with two, reverse is slot 1.
    forget_bias
        The constant inside the forget gate's σ, for layouts that have one (TF1's
        ``forget_bias``); None for the layout's default.
    biases
        For layouts with two biases per gate (PyTorch's b_ih + b_hh, ONNX's Wb + Rb):
        ``"sum"`` adds them in the arrays' dtype, which rounds unless the sum is
        representable; ``"exact"`` returns those b_k as object arrays of exact
        :class:`fractions.Fraction` sums (NaN and ±inf stay floats), which
        :mod:`symlstm.params` reads exactly. A framework adds the two biases to different
        partial sums, so neither form is its rounding; exact sums keep the reference exact.
    attributes
        For layouts with node attributes (ONNX): the node's attributes by name (a dict,
        or :func:`read_onnx_attributes` of a ``NodeProto``), read by :func:`onnx_variant`:
        ``clip``, ``input_forget`` and ``activations`` set the variant. With
        ``input_forget=1`` the forget gate's blocks of W, R, B and P are not read (ONNX
        Runtime ignores them) and the parameters are those of the coupled cell.

    Returns
    -------
    variant, params
        The :class:`~symlstm.cell.Variant` the arrays describe (peepholes if present, the
        forget bias; activations are not in the arrays and stay the defaults), and the
        parameters by canonical name (W_k (n, m), U_k (n, n), b_k (n,), p_k (n,)), as
        fresh C-ordered arrays of the input's dtype. With a projection (PyTorch's
        ``weight_hr_l{k}``, proj_size p) they include ``W_hr`` (p, n) and U_k is
        (n, p): build the cell with ``proj_size=params["W_hr"].shape[0]``.

    Raises
    ------
    ArgumentError
        For arguments of the wrong type: ``arrays`` or ``attributes`` not a mapping,
        ``layer`` not an integer, ``direction`` not a string, ``forget_bias`` not a
        number.
    UnknownNameError
        For an unknown layout, direction or array name.
    ParameterError
        For missing arrays, a forget bias the layout cannot have, or attributes for a
        layout without any.
    ShapeError
        For an array of the wrong shape; the message names it and the expected shape.

    >>> import numpy as np
    >>> kernel = np.arange(12.0).reshape(2 + 1, 4)  # m = 2 input rows, then n = 1 recurrent
    >>> variant, p = to_canonical("tf1", {"kernel": kernel, "bias": np.zeros(4)})
    >>> variant.label(), p["W_g"], p["U_f"]
    ('forget bias 1', array([[1., 5.]]), array([[10.]]))
    """
    layout = get_layout(layout)
    _check_mapping(arrays, "arrays")
    _check_optional_int(layer, "layer", 0)
    _check_direction(direction)
    if forget_bias is not None and (
        isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real)
    ):
        raise ArgumentError(f"forget_bias must be a number or None, not {_type_name(forget_bias)}")
    if forget_bias is not None and not math.isfinite(forget_bias):
        raise ParameterError(f"forget_bias must be finite, not {forget_bias}")
    if attributes is not None:
        _check_mapping(attributes, "attributes")
    if not isinstance(biases, str) or biases not in ("sum", "exact"):
        raise UnknownNameError(f"unknown biases option {biases!r}; known: sum, exact")
    if attributes is not None and layout.attributes is None:
        raise ParameterError(f"{layout.name} arrays have no node attributes")
    if forget_bias is None:
        forget_bias = layout.forget_bias or 0.0
    elif forget_bias != 0 and layout.forget_bias is None:
        raise ParameterError(f"{layout.name} has no forget bias; fold it into b_f")
    chosen = _select(layout, arrays, layer, direction)
    names = {p: layout._name(p, layer, direction) for p in layout.arrays}
    projection = None
    if layout.projection is not None:
        name = layout._name(Packed(layout.projection, ("W",)), layer, direction)
        if name in arrays:
            projection = (name, _as_array(arrays[name], name))
    n, m, dirs, proj = _sizes(layout, chosen, names, projection)
    slot = 1 if direction == "reverse" and dirs == 2 else 0
    blocks: dict[str, list[np.ndarray]] = {}
    for packed, array in chosen.items():
        if array is None:
            continue
        if layout.direction_axis:
            array = array[slot]
        if packed.is_matrix and layout.gate_axis == "columns":
            array = array.T
        gates = layout.array_gates(packed)
        start = 0
        for part in packed.parts:
            width = m if part == "W" else (n if proj is None else proj)
            for index, letter in enumerate(gates):
                rows = slice(index * n, (index + 1) * n)
                if packed.is_matrix:
                    block = array[rows, start : start + width]
                else:
                    block = array[start + index * n : start + (index + 1) * n]
                blocks.setdefault(f"{part}_{layout._canonical(letter)}", []).append(block)
            start += width if packed.is_matrix else len(gates) * n
    params: dict[str, np.ndarray] = {}
    weights_dtype = blocks["W_i"][0].dtype
    for k in GATES:
        params[f"W_{k}"] = np.array(blocks[f"W_{k}"][0], order="C")
        params[f"U_{k}"] = np.array(blocks[f"U_{k}"][0], order="C")
        bias = blocks.get(f"b_{k}", [np.zeros(n, weights_dtype)])
        if len(bias) == 1:
            params[f"b_{k}"] = np.array(bias[0], order="C")
        elif biases == "exact":
            params[f"b_{k}"] = _exact_sum(*bias)
        else:
            params[f"b_{k}"] = np.add(*bias)
    peepholes = [k for k in PEEPHOLE_GATES if f"p_{k}" in blocks]
    for k in peepholes:
        params[f"p_{k}"] = np.array(blocks[f"p_{k}"][0], order="C")
    if projection is not None:
        params["W_hr"] = np.array(projection[1], order="C")
    if attributes is None:
        return Variant(peephole=bool(peepholes), forget_bias=forget_bias), params
    variant = onnx_variant(
        attributes,
        direction=direction,
        num_directions=dirs,
        hidden_size=n,
        peephole=bool(peepholes),
    )
    if variant.forget_gate == "coupled":  # f = 1 − i: the forget gate's blocks are not read
        params = {k: v for k, v in params.items() if not k.endswith("_f")}
    return variant, params


def from_canonical(
    layout: Layout | str,
    params: Mapping[str, Any],
    variant: Variant | None = None,
    *,
    layer: int = 0,
    direction: str = "forward",
) -> dict[str, np.ndarray]:
    """Pack canonical parameters into a layout's named arrays for one layer and direction.

    Parameters
    ----------
    layout
        A :class:`Layout` or a name in :data:`LAYOUTS`.
    params
        W_k, U_k, b_k for k = i, f, g, o and, for a peephole cell, p_i, p_f, p_o; for a
        projected cell (proj_size), W_hr, written where the layout keeps it (PyTorch's
        ``weight_hr_l{k}``).
    variant
        The cell's variant; None reads peepholes from ``params``. It must have the
        standard forget gate (ONNX: or the coupled one, whose forget blocks are written
        as zeros, which ONNX Runtime does not read), a nonzero forget bias only for a
        layout that has one (TF1's: give the same ``forget_bias`` to the TF1 cell; it is
        not an array), and a clip only for a layout with node attributes (ONNX). Clip,
        coupling and activations are not arrays: :func:`onnx_attributes` writes them as
        an ONNX node's attributes.
    layer, direction
        Which names to use (PyTorch: ``_l{layer}`` and ``_reverse``). ONNX arrays come
        with num_directions = 1; stack two along axis 0 for a bidirectional node.

    Returns
    -------
    dict
        The arrays by the layout's names, of the parameters' dtype. Where the layout has
        two biases per gate, the first holds b_k and the second zeros, so reading them back
        gives b_k exactly.

    >>> import numpy as np
    >>> params = {f"{p}_{k}": np.zeros((1, 1)) for p in "WU" for k in "ifgo"}
    >>> params |= {f"b_{k}": np.full(1, float(j)) for j, k in enumerate("ifgo")}
    >>> from_canonical("onnx", params)["B"]
    array([[0., 3., 1., 2., 0., 0., 0., 0.]])

    Raises
    ------
    ArgumentError
        For ``params`` that is not a mapping, a ``variant`` that is not a
        :class:`~symlstm.cell.Variant` or None, a ``layer`` that is not an integer or a
        ``direction`` that is not a string.
    UnknownNameError, ParameterError, ShapeError
        For unknown or missing parameters, wrong shapes, or a variant the layout cannot
        hold.
    """
    layout = get_layout(layout)
    _check_mapping(params, "params")
    _check_variant(variant, optional=True)
    _check_optional_int(layer, "layer", 0)
    _check_direction(direction)
    canonical = LAYOUTS["canonical"]
    coupled = variant is not None and variant.forget_gate == "coupled"
    if coupled and layout.attributes == "onnx":  # zeros where ONNX reads no forget gate
        params = _with_zero_forget_gate(params)
    elif variant is not None and variant.forget_gate != "standard":
        raise ParameterError(f"{layout.name} has the standard forget gate only")
    if variant is not None and variant.clip is not None and layout.attributes is None:
        raise ParameterError(f"{layout.name} has no clip")
    # Reading params as the canonical layout checks their names and shapes.
    found, checked = to_canonical(canonical, params)
    variant = found if variant is None else variant
    if variant.forget_bias != 0 and layout.forget_bias is None:
        raise ParameterError(
            f"{layout.name} has no forget bias: add it to b_f first (which rounds)"
        )
    if variant.peephole != found.peephole:
        raise ParameterError(
            f"the variant {'has' if variant.peephole else 'has no'} peepholes, "
            f"the parameters {'do' if found.peephole else 'do not'}"
        )
    if variant.peephole and not layout.has_peepholes:
        raise ParameterError(f"{layout.name} has no peepholes")
    if "W_hr" in checked and layout.projection is None:
        raise ParameterError(f"{layout.name} has no projection (W_hr, PyTorch's proj_size)")
    layout._check_unit(layer, direction)
    out: dict[str, np.ndarray] = {}
    seen: set[str] = set()  # across arrays: PyTorch's second bias is an array of its own
    for packed in layout.arrays:
        if "p" in packed.parts and not variant.peephole:
            continue
        gates = layout.array_gates(packed)
        pieces = []
        for part in packed.parts:
            blocks = []
            for letter in gates:
                key = f"{part}_{layout._canonical(letter)}"
                block = checked[key]
                if key in seen:  # a second bias of this gate: zeros, so the sum is b_k exactly
                    block = np.zeros_like(block)
                seen.add(key)
                blocks.append(block)
            pieces.append(np.concatenate(blocks))
        array = np.concatenate(pieces, axis=1 if packed.is_matrix else 0)
        if packed.is_matrix and layout.gate_axis == "columns":
            array = array.T
        array = np.array(array[None] if layout.direction_axis else array, order="C")
        out[layout._name(packed, layer, direction)] = array
    if "W_hr" in checked:
        name = layout._name(Packed(layout.projection, ("W",)), layer, direction)
        out[name] = np.array(checked["W_hr"], order="C")
    return out


def _with_zero_forget_gate(params: Mapping[str, Any]) -> dict[str, Any]:
    """A coupled cell's parameters with zero forget-gate blocks, shaped like the input gate's."""
    extra = [k for k in params if k.endswith("_f")]
    if extra:
        raise ParameterError(f"a coupled cell has no forget-gate parameters: {', '.join(extra)}")
    out = dict(params)
    for part in ("W", "U", "b", "p"):
        if f"{part}_i" in params:
            out[f"{part}_f"] = np.zeros_like(np.asarray(params[f"{part}_i"]))
    return out
