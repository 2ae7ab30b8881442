"""An ONNX model's LSTM node read from the file: its weights, attributes and tensor names.

:func:`read_lstm_node` finds the model's LSTM node (or the one named) and returns what
:func:`symlstm.validation.validate` needs from the model itself, so that nobody extracts
arrays by hand: the weights ``W``, ``R``, ``B``, ``P`` stored in the model (initializers
or ``Constant`` nodes) by the names of the ``onnx`` layout, the node's attributes, and
the graph names of its inputs and outputs. Inputs that the model does not store (``X``,
often ``initial_h`` and ``initial_c``, sometimes the weights) are given by their graph
names; :meth:`LSTMNode.arrays` gathers everything under :func:`validate`'s names.

The file comes from outside and is checked before anything is computed: a path that is
not a file, a file over :data:`~symlstm.limits.MAX_ONNX_BYTES`, bytes that are not an
ONNX model, a model without an LSTM node or without the node named, several LSTM nodes
and none named, and tensors kept in external data files (never opened) are each a
:class:`~symlstm.errors.SymLSTMError` naming the file, in one line.

>>> import os, tempfile
>>> import numpy as np
>>> import onnx
>>> from onnx import TensorProto, helper, numpy_helper
>>> n, m = 2, 3
>>> W = np.full((1, 4 * n, m), 0.1, np.float32)
>>> R = np.full((1, 4 * n, n), 0.2, np.float32)
>>> node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=n, name="lstm")
>>> graph = helper.make_graph(
...     [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 1, m])],
...     [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
...     initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R")])
>>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
>>> onnx.save(helper.make_model(graph), path)
>>> found = read_lstm_node(path)
>>> found.name, sorted(found.weights), found.attributes, found.inputs, found.outputs
('lstm', ['R', 'W'], {'hidden_size': 2}, {'X': 'X', 'W': 'W', 'R': 'R'}, {'Y': 'Y'})
>>> found.missing()
('X',)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from symlstm.errors import (
    ArgumentError,
    DataFileError,
    MissingDependencyError,
    UnknownNameError,
)
from symlstm.frameworks import read_onnx_attributes
from symlstm.limits import MAX_ONNX_BYTES

__all__ = [
    "LSTM_INPUTS",
    "LSTM_OUTPUTS",
    "LSTMNode",
    "load_model",
    "read_lstm_node",
]

#: An ONNX LSTM node's inputs, in order (all but X, W and R are optional).
LSTM_INPUTS: tuple[str, ...] = (
    "X",
    "W",
    "R",
    "B",
    "sequence_lens",
    "initial_h",
    "initial_c",
    "P",
)
#: An ONNX LSTM node's outputs, in order (each optional).
LSTM_OUTPUTS: tuple[str, ...] = ("Y", "Y_h", "Y_c")
#: The inputs that are weights (the ``onnx`` layout's arrays).
_WEIGHTS = ("W", "R", "B", "P")
#: The node's inputs and outputs under the names :func:`symlstm.validation.validate` reads.
_VALIDATE_NAMES = {
    "X": "x",
    "initial_h": "h0",
    "initial_c": "c0",
    "sequence_lens": "sequence_lens",
    "Y": "y",
    "Y_h": "h_T",
    "Y_c": "c_T",
}


class LSTMNode(NamedTuple):
    """One LSTM node of an ONNX model, as :func:`read_lstm_node` reads it.

    Its fields: ``name``, the node's name (``""`` where the model leaves it unnamed);
    ``weights``, the weights the model stores (initializers or ``Constant`` nodes) by the
    ``onnx`` layout's names ``W``, ``R``, ``B``, ``P``; ``attributes``, the node's
    attributes as plain values (:func:`symlstm.frameworks.layouts.read_onnx_attributes`);
    ``inputs``, each input the node has (``X``, ``W``, …, ``P``) → its name in the graph;
    ``outputs``, each output the node has (``Y``, ``Y_h``, ``Y_c``) → its name in the
    graph; ``constants``, ``sequence_lens``, ``initial_h`` and ``initial_c`` where the
    model stores them.
    """

    name: str
    weights: dict[str, np.ndarray]
    attributes: dict[str, Any]
    inputs: dict[str, str]
    outputs: dict[str, str]
    constants: dict[str, np.ndarray]

    def missing(self) -> tuple[str, ...]:
        """The node's inputs that the model does not store: they must be given, by their
        graph names (``self.inputs[role]``)."""
        stored = {*self.weights, *self.constants}
        return tuple(role for role in self.inputs if role not in stored)

    def arrays(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The weights, inputs and outputs under :func:`symlstm.validation.validate`'s names.

        Parameters
        ----------
        inputs
            The arrays the model does not store (:meth:`missing`), by their graph names.
        outputs
            The node's outputs, by their graph names (any of them).

        Returns
        -------
        tuple of dict
            ``weights`` (``W``, ``R``, ``B``, ``P``), ``inputs`` (``x``, ``h0``, ``c0``,
            ``sequence_lens``) and ``outputs`` (``y``, ``h_T``, ``c_T``).

        Raises
        ------
        DataFileError
            If an input the model does not store is not given, or an array is given
            that is not one of the node's inputs or outputs.
        """
        for what, given in (("inputs", inputs), ("outputs", outputs)):
            if not isinstance(given, Mapping):
                raise ArgumentError(
                    f"{what} must be a mapping of graph name → array, not {type(given).__name__}"
                )
        known_inputs = {self.inputs[role]: role for role in self.missing()}
        known_outputs = {name: role for role, name in self.outputs.items()}
        for what, given, known in (
            ("inputs", inputs, known_inputs),
            ("outputs", outputs, known_outputs),
        ):
            unknown = [str(k) for k in given if k not in known]
            if unknown:
                expected = ", ".join(f"{k!r} ({role})" for k, role in known.items()) or "none"
                raise DataFileError(
                    f"{what}: {', '.join(map(repr, unknown))} is not an "
                    f"{'input' if what == 'inputs' else 'output'} of the LSTM node "
                    f"{self.label()} that the model leaves to be given; expected: {expected}"
                )
        absent = [f"{name!r} ({role})" for name, role in known_inputs.items() if name not in inputs]
        if absent:
            raise DataFileError(
                f"inputs: missing {', '.join(absent)}: the LSTM node {self.label()} reads "
                "it and the model does not store it"
            )
        weights: dict[str, Any] = dict(self.weights)
        ins: dict[str, Any] = {_VALIDATE_NAMES[k]: v for k, v in self.constants.items()}
        for name, role in known_inputs.items():
            if role in _WEIGHTS:
                weights[role] = inputs[name]
            else:
                ins[_VALIDATE_NAMES[role]] = inputs[name]
        outs = {_VALIDATE_NAMES[known_outputs[name]]: value for name, value in outputs.items()}
        return weights, ins, outs

    def label(self) -> str:
        """The node's name, or the name of its first output for an unnamed node."""
        if self.name:
            return repr(self.name)
        first = next(iter(self.outputs.values()), "")
        return f"(unnamed, output {first!r})" if first else "(unnamed)"


# -- the file -------------------------------------------------------------------------------------


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - the onnx extra is installed in CI
        raise MissingDependencyError(
            "reading an ONNX model needs the onnx package: pip install 'symlstm[onnx]'"
        ) from None
    return onnx


def _check_path(path: Any) -> Path:
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike):
        raise ArgumentError(f"path must be a file path, not {type(path).__name__}")
    try:
        p = Path(path)
        exists, is_file = p.exists(), p.is_file()
        size = p.stat().st_size if is_file else 0
    except (OSError, ValueError) as err:  # a name too long, a NUL byte …
        raise DataFileError(f"{path}: cannot be read ({err})") from None
    if not exists:
        raise DataFileError(f"{path}: no such file")
    if not is_file:
        raise DataFileError(f"{path}: not a file")
    if size > MAX_ONNX_BYTES:
        raise DataFileError(
            f"{path}: {size:,} bytes, over the {MAX_ONNX_BYTES:,} bytes an ONNX model may have "
            "(MAX_ONNX_BYTES in symlstm.limits)"
        )
    return p


def load_model(path: str | os.PathLike) -> Any:
    """Read an ONNX model file, checked: an ``onnx.ModelProto`` (external data not loaded).

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    DataFileError
        If the path is not a file, the file is larger than
        :data:`~symlstm.limits.MAX_ONNX_BYTES`, or it is not an ONNX model (bytes that do not
        parse, or a model without a graph).
    MissingDependencyError
        Without the onnx package (the ``onnx`` extra).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.onnx")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"\\x00 not a model")
    >>> load_model(path)
    Traceback (most recent call last):
    ...
    symlstm.errors.DataFileError: .../bad.onnx: not an ONNX model (its bytes do not parse: ...)
    """
    p = _check_path(path)
    onnx = _import_onnx()
    try:
        data = p.read_bytes()
    except OSError as err:
        raise DataFileError(f"{path}: cannot be read ({err})") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as err:  # protobuf's DecodeError, a RecursionError on deep nesting …
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise DataFileError(
            f"{path}: not an ONNX model (its bytes do not parse: {reason})"
        ) from None
    if not model.HasField("graph") or not model.graph.node:
        raise DataFileError(f"{path}: not an ONNX model (it has no graph of nodes)")
    return model


def _is_lstm(node: Any) -> bool:
    return node.op_type == "LSTM" and node.domain in ("", "ai.onnx")


def _label(node: Any) -> str:
    if node.name:
        return repr(node.name)
    first = next((o for o in node.output if o), "")
    return f"(unnamed, output {first!r})" if first else "(unnamed)"


def _select_node(model: Any, node: str | None, where: str) -> Any:
    lstms = [n for n in model.graph.node if _is_lstm(n)]
    if not lstms:
        kinds = sorted({n.op_type for n in model.graph.node})
        shown = ", ".join(kinds[:20]) + (", …" if len(kinds) > 20 else "")
        raise DataFileError(f"{where}: the model has no LSTM node (its nodes: {shown})")
    names = ", ".join(_label(n) for n in lstms[:50]) + (", …" if len(lstms) > 50 else "")
    if node is None:
        if len(lstms) > 1:
            raise DataFileError(
                f"{where}: the model has {len(lstms)} LSTM nodes ({names}); name one with "
                "--node NAME (Python: node=NAME)"
            )
        return lstms[0]
    found = [n for n in lstms if node and n.name == node]
    found = found or [n for n in lstms if node and node in n.output]
    if len(found) != 1:
        raise UnknownNameError(f"{where}: no LSTM node named {node!r}; its LSTM nodes: {names}")
    return found[0]


def _tensor_array(tensor: Any, name: str, where: str) -> np.ndarray:
    onnx = _import_onnx()
    if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
        raise DataFileError(
            f"{where}: the tensor {name!r} is kept in an external data file, which symlstm does "
            "not open; save the model with its data inside "
            "(onnx.save(model, path, save_as_external_data=False))"
        )
    dims = list(tensor.dims)
    if any(d < 0 for d in dims) or math.prod(dims) > tensor.ByteSize():
        raise DataFileError(
            f"{where}: the tensor {name!r} declares shape {tuple(dims)} but holds "
            f"{tensor.ByteSize()} bytes"
        )
    try:
        from onnx import numpy_helper

        array = numpy_helper.to_array(tensor)
    except Exception as err:  # a data type numpy cannot hold, data that does not fit …
        raise DataFileError(f"{where}: the tensor {name!r} cannot be read ({err})") from None
    return np.array(array)  # writable, native byte order


def _stored(model: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The graph's initializers and its Constant nodes' tensors, by name (TensorProtos)."""
    initializers = {t.name: t for t in model.graph.initializer}
    constants = {}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and len(n.output) == 1:
            for a in n.attribute:
                if a.name == "value" and a.HasField("t"):
                    constants[n.output[0]] = a.t
    return initializers, constants


def read_lstm_node(path: str | os.PathLike | Any, node: str | None = None) -> LSTMNode:
    """An ONNX model's LSTM node: the weights it stores, its attributes, its tensor names.

    Parameters
    ----------
    path
        The ``.onnx`` file (read with :func:`load_model`), or an ``onnx.ModelProto``.
    node
        Which LSTM node, by its name (or the name of one of its outputs); None where the
        model has one LSTM node.

    Returns
    -------
    LSTMNode

    Raises
    ------
    DataFileError
        For a file that is not an ONNX model (:func:`load_model`), a model without an
        LSTM node or with several and ``node`` None (the message lists their names), a
        stored tensor in external data or that does not read.
    UnknownNameError
        If no LSTM node has the name ``node`` (the message lists their names).
    ArgumentError
        For ``path`` or ``node`` of the wrong type.

    >>> read_lstm_node("no-such-file.onnx")
    Traceback (most recent call last):
    ...
    symlstm.errors.DataFileError: no-such-file.onnx: no such file
    """
    if node is not None and not isinstance(node, str):
        raise ArgumentError(f"node must be a node name (str) or None, not {type(node).__name__}")
    onnx = _import_onnx()
    if isinstance(path, onnx.ModelProto):
        model, where = path, "the model"
        if not model.HasField("graph"):
            raise DataFileError("the model has no graph")
    else:
        model, where = load_model(path), str(path)
    found = _select_node(model, node, where)
    label = _label(found)
    if len(found.input) > len(LSTM_INPUTS) or len(found.output) > len(LSTM_OUTPUTS):
        raise DataFileError(
            f"{where}: the LSTM node {label} has {len(found.input)} inputs and "
            f"{len(found.output)} outputs; an LSTM has at most 8 and 3"
        )
    inputs = {role: name for role, name in zip(LSTM_INPUTS, found.input, strict=False) if name}
    outputs = {role: name for role, name in zip(LSTM_OUTPUTS, found.output, strict=False) if name}
    for role in ("X", "W", "R"):
        if role not in inputs:
            raise DataFileError(f"{where}: the LSTM node {label} has no input {role}")
    initializers, constant_nodes = _stored(model, where)
    weights, constants = {}, {}
    for role, name in inputs.items():
        tensor = initializers.get(name, constant_nodes.get(name))
        if tensor is None or role == "X":
            continue
        array = _tensor_array(tensor, name, where)
        (weights if role in _WEIGHTS else constants)[role] = array
    try:
        attributes = read_onnx_attributes(found)
    except Exception as err:  # an attribute onnx cannot decode
        raise DataFileError(f"{where}: the LSTM node {label}'s attributes: {err}") from None
    return LSTMNode(
        name=found.name,
        weights=weights,
        attributes=attributes,
        inputs=inputs,
        outputs=outputs,
        constants=constants,
    )
