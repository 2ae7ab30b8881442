"""ONNX's LSTM: its weight layout (W (dirs, 4n, m), R (dirs, 4n, n), B (dirs, 8n) =
[Wb, Rb], P (dirs, 3n) in i, o, f order; rows i, o, f, c) and its node attributes, read as
a :class:`~symlstm.cell.Variant` (:func:`onnx_variant`) and written from one
(:func:`onnx_attributes`).
"""

from __future__ import annotations

import fractions
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from symlstm.cell import Variant
from symlstm.errors import (
    ArgumentError,
    MissingDependencyError,
    ParameterError,
    ShapeError,
    UnknownNameError,
)
from symlstm.frameworks.common import (
    DIRECTIONS,
    Layout,
    Packed,
    check_direction,
    check_mapping,
    check_optional_int,
    check_variant,
    type_name,
)

__all__ = [
    "ONNX",
    "ONNX_ATTRIBUTES",
    "ONNX_DEFAULT_ACTIVATIONS",
    "onnx_attributes",
    "onnx_variant",
    "read_onnx_attributes",
]

#: ONNX LSTM: W (dirs, 4n, m), R (dirs, 4n, n), B (dirs, 8n) = [Wb, Rb], P (dirs, 3n) in
#: i, o, f order; c is the candidate.
ONNX = Layout(
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
)

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
    check_mapping(attributes, "attributes")
    check_direction(direction)
    check_optional_int(num_directions, "num_directions", 1)
    check_optional_int(hidden_size, "hidden_size", 1)
    if not isinstance(peephole, bool | np.bool_):
        raise ArgumentError(f"peephole must be True or False, not {type_name(peephole)}")
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
    check_optional_int(size, "onnx hidden_size", 1)
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
    check_variant(variant)
    check_optional_int(num_directions, "num_directions", 1)
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
