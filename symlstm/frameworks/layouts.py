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
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from symlstm.cell import Variant
from symlstm.errors import ArgumentError, ParameterError, ShapeError, UnknownNameError
from symlstm.frameworks.common import (
    CANONICAL,
    DIRECTIONS,
    Layout,
    Packed,
    check_direction,
    check_mapping,
    check_optional_int,
    check_variant,
    type_name,
)
from symlstm.frameworks.keras import KERAS, KERAS_BIDIRECTIONAL, TF1
from symlstm.frameworks.onnx import (
    ONNX,
    ONNX_ATTRIBUTES,
    ONNX_DEFAULT_ACTIVATIONS,
    onnx_attributes,
    onnx_variant,
    read_onnx_attributes,
)
from symlstm.frameworks.torch import TORCH, TORCH_CELL
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

#: The known layouts by name. ``torch_cell`` is torch.nn.LSTMCell, whose names have no ``_l0``.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (TORCH, TORCH_CELL, KERAS, KERAS_BIDIRECTIONAL, TF1, ONNX, CANONICAL)
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
    layout.check_unit(layer, direction)
    patterns = [layout.name_pattern(p.name) for p in layout.arrays]
    if layout.projection is not None:
        patterns.append(layout.name_pattern(layout.projection))
    for key in arrays:
        if not any(p.fullmatch(key) for p in patterns):
            expected = ", ".join(layout.names(layer=layer, direction=direction))
            raise UnknownNameError(
                f"unknown array {key!r} for layout {layout.name}; expected {expected}"
            )
    chosen = {p: arrays.get(layout.array_name(p, layer, direction)) for p in layout.arrays}
    missing = [layout.array_name(p, layer, direction) for p, a in chosen.items() if a is None]
    for part in ("b", "p"):
        group = [layout.array_name(p, layer, direction) for p in layout.arrays if part in p.parts]
        absent = [name for name in group if name in missing]
        optional = all(p.optional for p in layout.arrays if part in p.parts)
        if optional and len(absent) == len(group):
            missing = [name for name in missing if name not in group]
    if missing:
        where = f" (layer {layer}, {direction})" if layout.directions != ("forward",) else ""
        raise ParameterError(f"{layout.name}: missing arrays{where}: {', '.join(missing)}")
    return {
        p: None if a is None else _as_array(a, layout.array_name(p, layer, direction))
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
            f"{names[packed]}: shape {array.shape}, expected {layout.shape_text(packed)} "
            f"with {why}n >= 1, m >= 1"
        )
    for packed, array in chosen.items():
        expected = layout.array_shape(packed, n, m, dirs, p)
        if array is not None and array.shape != expected:
            sizes = f"n = {n}, m = {m}" + ("" if p is None else f", p = {p}")
            raise ShapeError(
                f"{names[packed]}: shape {array.shape}, expected {expected} "
                f"= {layout.shape_text(packed, p is not None)} with {sizes}"
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
    check_mapping(arrays, "arrays")
    check_optional_int(layer, "layer", 0)
    check_direction(direction)
    if forget_bias is not None and (
        isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real)
    ):
        raise ArgumentError(f"forget_bias must be a number or None, not {type_name(forget_bias)}")
    if forget_bias is not None and not math.isfinite(forget_bias):
        raise ParameterError(f"forget_bias must be finite, not {forget_bias}")
    if attributes is not None:
        check_mapping(attributes, "attributes")
    if not isinstance(biases, str) or biases not in ("sum", "exact"):
        raise UnknownNameError(f"unknown biases option {biases!r}; known: sum, exact")
    if attributes is not None and layout.attributes is None:
        raise ParameterError(f"{layout.name} arrays have no node attributes")
    if forget_bias is None:
        forget_bias = layout.forget_bias or 0.0
    elif forget_bias != 0 and layout.forget_bias is None:
        raise ParameterError(f"{layout.name} has no forget bias; fold it into b_f")
    chosen = _select(layout, arrays, layer, direction)
    names = {p: layout.array_name(p, layer, direction) for p in layout.arrays}
    projection = None
    if layout.projection is not None:
        name = layout.array_name(Packed(layout.projection, ("W",)), layer, direction)
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
                blocks.setdefault(f"{part}_{layout.canonical_letter(letter)}", []).append(block)
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
    check_mapping(params, "params")
    check_variant(variant, optional=True)
    check_optional_int(layer, "layer", 0)
    check_direction(direction)
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
    layout.check_unit(layer, direction)
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
                key = f"{part}_{layout.canonical_letter(letter)}"
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
        out[layout.array_name(packed, layer, direction)] = array
    if "W_hr" in checked:
        name = layout.array_name(Packed(layout.projection, ("W",)), layer, direction)
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
