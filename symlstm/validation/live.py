"""Live implementations checked in one call: a PyTorch module, a Keras layer, an ONNX model.

:func:`check_torch`, :func:`check_keras` and :func:`check_onnx` run the implementation
themselves on the input given, read its weights and the numbers it produced, and return
the :class:`~symlstm.validation.report.ValidationReport` that
:func:`~symlstm.validation.run.validate` returns for them: nothing is extracted or laid out
by hand. :func:`check_torch` also runs autograd with a random upstream gradient and
compares the module's gradients with the certified ones. :func:`validate_onnx_model`
validates numbers that an ONNX model produced elsewhere, taking the weights and
attributes from the model's LSTM node (``symlstm validate --model``).

Each framework is an optional extra (``pip install 'symlstm[torch]'``, ``[keras]``,
``[onnx]``); without it the call raises :class:`~symlstm.errors.MissingDependencyError`
naming the extra.

What is judged: the whole network the implementation holds, where
:func:`~symlstm.validation.run.validate` judges whole networks (several layers, both
directions), or one direction of a one-layer network with ``direction="forward"`` or
``"reverse"`` (its own part of the outputs is compared). Gradients are compared the
same way: for the whole network by backpropagation through the stack on the certified
reference, or for one direction. Where the installed validate judges one unit per report,
a stack of several layers or a bidirectional network without ``direction`` is a
:class:`~symlstm.errors.ParameterError` saying so.

>>> import torch
>>> lstm = torch.nn.LSTM(3, 4)
>>> x = torch.randn(5, 2, 3)
>>> check_torch(lstm, x).verdict
'pass'
"""

from __future__ import annotations

import importlib
import inspect
import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from symlstm.errors import (
    ArgumentError,
    DataFileError,
    MissingDependencyError,
    ParameterError,
)
from symlstm.frameworks.onnx_model import LSTM_OUTPUTS, LSTMNode, load_model, read_lstm_node
from symlstm.validation.npz import load_npz
from symlstm.validation.report import ValidationReport
from symlstm.validation.run import validate

__all__ = ["check_keras", "check_onnx", "check_torch", "validate_onnx_model"]

_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


# -- arguments ------------------------------------------------------------------------------------


def _framework(module: str, extra: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs the {module} package: pip install 'symlstm[{extra}]'"
        ) from None


def _check_options(
    direction: Any, tolerance: Any, diagnosis: Any, progress: Any, what: str
) -> None:
    if direction is not None and direction not in ("forward", "reverse"):
        raise ArgumentError(
            f"{what}: direction must be 'forward', 'reverse' or None, not {direction!r}"
        )
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not tolerance >= 0
    ):
        raise ArgumentError(f"{what}: tolerance must be a number of ULPs >= 0, not {tolerance!r}")
    for name, value in (("diagnosis", diagnosis), ("progress", progress)):
        if value is not None and not isinstance(value, bool):
            raise ArgumentError(f"{what}: {name} must be True, False or None, not {value!r}")


def _array(value: Any, name: str, dtype: np.dtype, what: str, ndim: int) -> np.ndarray:
    """A tensor or array-like as a NumPy array of ``dtype`` (rounded to it, as the
    implementation reads it), of ``ndim`` axes."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a Keras/TF tensor
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as err:  # ragged lists …
        raise ArgumentError(f"{what}: {name} is not an array of numbers ({err})") from None
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise ArgumentError(f"{what}: {name} must hold real numbers, not {array.dtype}")
    if array.ndim != ndim or 0 in array.shape:
        raise ParameterError(f"{what}: {name} has shape {array.shape}; expected {ndim} axes")
    return np.ascontiguousarray(array.astype(dtype))


def _numpy_dtype(dtype: Any, what: str) -> np.dtype:
    try:
        np_dtype = np.dtype(str(dtype).removeprefix("torch."))
    except TypeError:
        np_dtype = None
    if np_dtype not in _DTYPES:
        raise ParameterError(
            f"{what}: the weights are {dtype}; validate compares float16, float32 or float64"
        )
    return np_dtype


def _whole_networks() -> tuple[bool, frozenset[str]]:
    """Whether validate judges a whole network by default (layer=None), and the names of
    its parameters: live calls use what the installed validate offers."""
    parameters = inspect.signature(validate).parameters
    return parameters["layer"].default is None, frozenset(parameters)


def _units(
    layers: int, directions: int, direction: str | None, grads: bool, what: str
) -> dict[str, Any]:
    """validate's ``layer`` and ``direction`` arguments: one unit where ``direction`` is
    given, else the whole network (where validate judges whole networks)."""
    whole, _ = _whole_networks()
    if direction is not None:
        if layers > 1:
            raise ParameterError(
                f"{what}: direction= judges one unit of a one-layer network; this one has "
                f"{layers} layers, whose inner outputs the framework does not return: "
                "leave direction out to judge the whole network"
            )
        if directions == 1 and direction != "forward":
            raise ParameterError(f"{what}: the network has one direction, forward")
        return {"layer": 0, "direction": direction}
    if layers == 1 and directions == 1:
        return {}
    if not whole:
        if layers > 1:
            raise ParameterError(
                f"{what}: a {layers}-layer network: this validate judges one layer on its "
                "own input, and the framework does not return the inner layers' outputs"
            )
        raise ParameterError(
            f"{what}: a bidirectional network is judged one direction per report: "
            "pass direction='forward' or direction='reverse'"
        )
    return {"layer": None, "direction": None}


def _unit_part(array: np.ndarray, unit: dict[str, Any], directions: int) -> np.ndarray:
    """A (T, B, D·n) output's part of the unit judged (all of it for a whole network)."""
    if unit.get("direction") is None or directions == 1:
        return array
    width = array.shape[-1] // 2
    slot = 1 if unit["direction"] == "reverse" else 0
    return array[..., slot * width : (slot + 1) * width]


# -- PyTorch --------------------------------------------------------------------------------------


def check_torch(
    module: Any,
    x: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    grads: bool = False,
    direction: str | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    progress: bool | None = None,
) -> ValidationReport:
    """Run a ``torch.nn.LSTM`` or ``torch.nn.LSTMCell`` on ``x`` and validate what it returns.

    The module's parameters are the weights (their dtype is the claimed dtype), its
    output ``y`` and final state ``(h_n, c_n)`` the claimed numbers. An ``LSTMCell`` is
    run step by step over ``x``'s time axis. A subclass of either (one that changes
    ``forward``) is run through its own ``forward``.

    Parameters
    ----------
    module
        A ``torch.nn.LSTM`` (its layers, directions, ``proj_size`` and ``batch_first``
        are read from it) or a ``torch.nn.LSTMCell``.
    x
        The input as the module takes it: (T, B, input), or (B, T, input) with
        ``batch_first``; (T, B, input) for an ``LSTMCell``. A tensor or an array; it is
        rounded to the module's dtype.
    h0, c0
        The initial state as the module takes it ((L·D, B, H) for ``nn.LSTM``, (B, H)
        for the cell), both or neither (zeros).
    grads
        Also run autograd with a random ∂L/∂y, ∂L/∂h_n and ∂L/∂c_n (from ``seed``) and
        compare the module's parameter gradients (every layer's and direction's) and
        those of ``x``, ``h0`` and ``c0`` with the certified gradients, which
        backpropagate through the stack on the certified reference. The module's
        ``.grad`` fields are not touched.
    direction
        Judge one direction of a one-layer bidirectional module alone (``"forward"`` or
        ``"reverse"``); None for the whole network.
    seed
        Seed of the random upstream gradients.
    tolerance, diagnosis, progress
        As for :func:`~symlstm.validation.run.validate`.

    Returns
    -------
    ValidationReport

    Raises
    ------
    MissingDependencyError
        Without PyTorch (``pip install 'symlstm[torch]'``).
    ArgumentError
        If ``module`` is not an ``nn.LSTM`` or ``nn.LSTMCell``, or an argument has the
        wrong type.
    ParameterError
        For ``direction`` on a stack of several layers, inputs of the wrong shape, or a
        module that raises.

    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> report = check_torch(torch.nn.LSTM(3, 4, dtype=torch.float64), torch.randn(4, 2, 3),
    ...                      grads=True)
    >>> report.verdict, [name for name in sorted(report.tensors) if name.startswith("grad")]
    ('pass', ['grad bias_hh_l0', 'grad bias_ih_l0', 'grad weight_hh_l0', 'grad weight_ih_l0', \
'grad x'])
    """
    what = "check_torch"
    _check_options(direction, tolerance, diagnosis, progress, what)
    if not isinstance(grads, bool):
        raise ArgumentError(f"{what}: grads must be True or False, not {grads!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ArgumentError(f"{what}: seed must be an integer >= 0, not {seed!r}")
    torch = _framework("torch", "torch", what)
    is_cell = isinstance(module, torch.nn.LSTMCell)
    if not (is_cell or isinstance(module, torch.nn.LSTM)):
        raise ArgumentError(
            f"{what}: module must be a torch.nn.LSTM or torch.nn.LSTMCell, "
            f"not {type(module).__name__}"
        )
    if (h0 is None) != (c0 is None):
        raise ParameterError(f"{what}: give both h0 and c0, or neither (zeros)")
    params = dict(module.named_parameters())
    dtypes = {p.dtype for p in params.values()}
    if len(dtypes) != 1:
        raise ParameterError(
            f"{what}: the module's parameters mix dtypes {sorted(map(str, dtypes))}"
        )
    dtype = _numpy_dtype(dtypes.pop(), what)
    device = next(iter(params.values())).device
    layers = 1 if is_cell else module.num_layers
    directions = 2 if not is_cell and module.bidirectional else 1
    batch_first = not is_cell and module.batch_first
    unit = _units(layers, directions, direction, grads, what)
    x_np = _array(x, "x", dtype, what, 3)
    if x_np.shape[-1] != module.input_size:
        raise ParameterError(
            f"{what}: x has shape {x_np.shape}; the module's input_size is {module.input_size}"
        )
    states = None
    if h0 is not None:
        ndim = 2 if is_cell else 3
        states = [_array(s, n, dtype, what, ndim) for s, n in ((h0, "h0"), (c0, "c0"))]

    def tensor(array: np.ndarray) -> Any:
        return torch.from_numpy(array.copy()).to(device).requires_grad_(grads)

    xt = tensor(x_np)
    state = tuple(tensor(s) for s in states) if states is not None else None
    with torch.enable_grad() if grads else torch.no_grad():
        try:
            if is_cell:
                h_c = state
                ys = []
                for t in range(xt.shape[0]):
                    h_c = module(xt[t], h_c)
                    ys.append(h_c[0])
                y, (h_n, c_n) = torch.stack(ys), h_c
            else:
                y, (h_n, c_n) = module(xt, state)
        except Exception as err:  # a shape the module refuses, a wrapper's own error
            raise ParameterError(f"{what}: the module raised {type(err).__name__}: {err}") from err

    def numpy(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy()

    def time_major(array: np.ndarray) -> np.ndarray:
        return array.swapaxes(0, 1) if batch_first else array

    weights = {k: numpy(p) for k, p in params.items()}
    inputs = {"x": time_major(x_np)}
    if states is not None:
        inputs |= {"h0": states[0], "c0": states[1]}
    y_np = _unit_part(time_major(numpy(y)), unit, directions)
    outputs = {"y": y_np, "h_T": numpy(h_n), "c_T": numpy(c_n)}
    found = None
    if grads:
        found = _torch_grads(
            torch, params, xt, state, (y, h_n, c_n), unit.get("direction"), directions, seed
        )
        found = {k: time_major(v) if k in ("dy", "x") else v for k, v in found.items()}
        found["dy"] = _unit_part(found["dy"], unit, directions)
    _, known = _whole_networks()
    options = {"batch_first": False} if "batch_first" in known else {}
    return validate(
        "torch_cell" if is_cell else "torch",
        weights,
        inputs,
        outputs,
        found,
        **unit,
        **options,
        tolerance=tolerance,
        diagnosis=diagnosis,
        progress=progress,
    )


def _torch_grads(
    torch: Any,
    params: dict[str, Any],
    xt: Any,
    state: tuple | None,
    results: tuple,
    direction: str | None,
    directions: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Autograd of L = Σ y·dy + Σ h_n·dhT + Σ c_n·dcT with random seeds. For one
    direction of a bidirectional module (``direction`` given) the other direction's seeds
    are zero, so that x's gradient is this direction's alone; for the whole network
    (None) every parameter's gradient is taken."""
    rng = np.random.default_rng(seed)
    seeds = []
    for t in results:
        array = rng.standard_normal(tuple(t.shape)).astype(_numpy_dtype(t.dtype, "check_torch"))
        if directions == 2 and direction is not None:
            other = 0 if direction == "reverse" else 1
            if t is results[0]:  # y: (…, 2·H_out), the forward direction's first
                width = array.shape[-1] // 2
                array[..., other * width : (other + 1) * width] = 0
            else:  # h_n, c_n: (2, B, ·)
                array[other] = 0
        seeds.append(array)
    loss = sum(
        (t * torch.from_numpy(s).to(t.device)).sum() for t, s in zip(results, seeds, strict=True)
    )
    suffix = "_reverse" if direction == "reverse" else ""
    names = [
        k for k in params if direction is None or "_l" not in k or k.endswith(f"_l0{suffix}")
    ]  # LSTMCell's names have no _l0
    targets = [params[k] for k in names] + [xt] + list(state or ())
    found = torch.autograd.grad(loss, targets, allow_unused=True)
    out = {"dy": seeds[0], "dhT": seeds[1], "dcT": seeds[2]}
    for name, target, g in zip([*names, "x", "h0", "c0"], targets, found, strict=False):
        g = torch.zeros_like(target) if g is None else g
        out[name] = g.detach().cpu().numpy()
    return out


# -- Keras ----------------------------------------------------------------------------------------


def check_keras(
    layer: Any,
    x: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    direction: str | None = None,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    progress: bool | None = None,
) -> ValidationReport:
    """Run a Keras 3 ``LSTM`` (or ``Bidirectional(LSTM)``) layer on ``x`` and validate it.

    The layer is called as it is configured (``training=False``); it must return every
    h_t (``return_sequences=True``); with ``return_state=True`` its final h and c are
    compared too. ``go_backwards`` is read (the layer reads x time-reversed and returns
    its outputs in the order it computed them). A ``Bidirectional`` wrapper with
    ``merge_mode="concat"`` or None is judged one direction per report.

    Parameters
    ----------
    layer
        A ``keras.layers.LSTM`` with the textbook activations (tanh, sigmoid), or a
        ``keras.layers.Bidirectional`` of one.
    x
        The input as Keras takes it: batch-major (B, T, input); rounded to the layer's
        dtype.
    h0, c0
        The initial state (B, H), both or neither; for ``Bidirectional`` (2, B, H),
        the forward layer's then the backward layer's.
    direction
        Which direction of a ``Bidirectional`` layer; None for an ``LSTM``.
    tolerance, diagnosis, progress
        As for :func:`~symlstm.validation.run.validate`.

    Returns
    -------
    ValidationReport

    Raises
    ------
    MissingDependencyError
        Without Keras (``pip install 'symlstm[keras]'``).
    ArgumentError
        If ``layer`` is not an LSTM layer, or an argument has the wrong type.
    ParameterError
        For what validate cannot judge yet: other activations, a stateful layer, mixed
        precision, ``return_sequences=False``, merge modes sum, ave, mul.

    >>> import os
    >>> _ = os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
    >>> import keras, numpy as np
    >>> layer = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3))  # (B, T, input)
    >>> check_keras(layer, x).verdict
    'pass'
    """
    what = "check_keras"
    _check_options(direction, tolerance, diagnosis, progress, what)
    keras = _framework("keras", "keras", what)
    if (h0 is None) != (c0 is None):
        raise ParameterError(f"{what}: give both h0 and c0, or neither (zeros)")
    bidirectional = isinstance(layer, keras.layers.Bidirectional)
    inner = layer.forward_layer if bidirectional else layer
    if not isinstance(inner, keras.layers.LSTM):
        raise ArgumentError(
            f"{what}: layer must be a keras.layers.LSTM or a Bidirectional of one, "
            f"not {type(layer).__name__}"
        )
    config = inner.get_config()
    for key, textbook in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        if config.get(key) != textbook:
            raise ParameterError(
                f"{what}: the layer's {key} is {config.get(key)!r}; validate computes the "
                f"Keras LSTM with {textbook}"
            )
    if config.get("stateful"):
        raise ParameterError(f"{what}: a stateful layer carries its state between calls")
    if not config.get("return_sequences"):
        raise ParameterError(
            f"{what}: the layer returns only its last h (return_sequences=False); validate "
            "compares every h_t: build it with return_sequences=True"
        )
    policy = inner.dtype_policy
    if policy.compute_dtype != policy.variable_dtype:
        raise ParameterError(
            f"{what}: mixed precision ({policy.name}): the weights are "
            f"{policy.variable_dtype}, the computation {policy.compute_dtype}"
        )
    dtype = _numpy_dtype(policy.compute_dtype, what)
    directions = 2 if bidirectional else 1
    unit = _units(1, directions, direction, False, what)
    _, known = _whole_networks()
    merge = layer.merge_mode if bidirectional else None
    merged = merge not in ("concat", None)
    if merged and (unit.get("direction") is not None or "merge_mode" not in known):
        raise ParameterError(
            f"{what}: merge_mode {merge!r} mixes the two directions' outputs: they are "
            + (
                "judged together (leave direction out)"
                if "merge_mode" in known
                else "judged one direction at a time, so only 'concat' and None are supported"
            )
        )
    x_np = _array(x, "x", dtype, what, 3)
    kwargs: dict[str, Any] = {"training": False}
    states = None
    if h0 is not None:
        ndim = 3 if bidirectional else 2
        states = [_array(s, n, dtype, what, ndim) for s, n in ((h0, "h0"), (c0, "c0"))]
        pairs = [(states[0][d], states[1][d]) for d in range(2)] if bidirectional else [states]
        kwargs["initial_state"] = [s for pair in pairs for s in pair]
    try:
        result = layer(x_np, **kwargs)
    except Exception as err:
        raise ParameterError(f"{what}: the layer raised {type(err).__name__}: {err}") from err
    got = [
        keras.ops.convert_to_numpy(r)
        for r in (result if isinstance(result, list | tuple) else [result])
    ]
    return_state = config.get("return_state")
    if bidirectional and merge is None:  # [y_forward, y_backward, states…]
        got = [np.concatenate(got[:2], axis=-1), *got[2:]]
    y = got[0].swapaxes(0, 1)  # time-major
    outputs = {"y": y if merged else _unit_part(y, unit, directions)}
    if return_state:
        hs, cs = (got[1::2], got[2::2])
        if bidirectional:
            outputs |= {"h_T": np.stack(hs), "c_T": np.stack(cs)}
        else:
            outputs |= {"h_T": hs[0], "c_T": cs[0]}
    x_tm = x_np.swapaxes(0, 1)
    if config.get("go_backwards") and not bidirectional:
        x_tm = x_tm[::-1]  # the layer reads x reversed and returns y in that order
    if bidirectional:
        weights = {
            f"{side}/{w.name}": keras.ops.convert_to_numpy(w.value)
            for side in ("forward_layer", "backward_layer")
            for w in getattr(layer, side).weights
        }
    else:
        weights = {w.name: keras.ops.convert_to_numpy(w.value) for w in layer.weights}
    inputs = {"x": np.ascontiguousarray(x_tm)}
    if states is not None:
        inputs |= {"h0": states[0], "c0": states[1]}
    options: dict[str, Any] = {"batch_first": False} if "batch_first" in known else {}
    if bidirectional and "merge_mode" in known:
        options["merge_mode"] = merge if merged else "concat"
    return validate(
        "keras_bidirectional" if bidirectional else "keras",
        weights,
        inputs,
        outputs,
        **unit,
        **options,
        tolerance=tolerance,
        diagnosis=diagnosis,
        progress=progress,
    )


# -- ONNX -----------------------------------------------------------------------------------------


def _arrays_argument(value: Any, what: str, role: str) -> dict[str, Any]:
    """A mapping of name → array, or the path of an .npz file of them."""
    if isinstance(value, str | os.PathLike) and not isinstance(value, bool):
        return load_npz(value, role)
    if not isinstance(value, Mapping):
        raise ArgumentError(
            f"{what}: {role} must be a mapping of graph name → array or an .npz path, "
            f"not {type(value).__name__}"
        )
    return {str(k): v for k, v in value.items()}


def _validate_node(
    found: LSTMNode,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    grads: Mapping[str, Any] | None,
    direction: str | None,
    options: dict[str, Any],
    what: str,
) -> ValidationReport:
    weights, ins, outs = found.arrays(inputs, outputs)
    node_direction = found.attributes.get("direction", "forward")
    batch_major = found.attributes.get("layout", 0) == 1
    whole, _ = _whole_networks()
    if node_direction == "bidirectional":
        unit = _units(1, 2, direction, grads is not None, what)
        y = np.asarray(outs["y"]) if "y" in outs else None
        if unit.get("direction") is not None and y is not None and y.ndim == 4:
            slot = 1 if unit["direction"] == "reverse" else 0  # Y: (T, D, B, n) or (B, T, D, n)
            outs["y"] = y[:, :, slot] if batch_major else y[:, slot]
    elif direction not in (None, node_direction):
        raise ParameterError(f"{what}: the node's direction is {node_direction}, not {direction}")
    elif direction is not None:
        unit = {"layer": 0, "direction": direction}
    else:
        unit = {} if whole else {"direction": node_direction}
    lengths = ins.get("sequence_lens")
    if lengths is not None and "x" in ins:
        x = np.asarray(ins["x"])
        steps = x.shape[1] if found.attributes.get("layout", 0) == 1 else x.shape[0]
        if x.ndim == 3 and np.all(np.asarray(lengths) == steps):
            del ins["sequence_lens"]  # every row runs all T steps: the same computation
    return validate(
        "onnx",
        weights,
        ins,
        outs,
        grads,
        **unit,
        attributes=found.attributes,
        **options,
    )


def validate_onnx_model(
    path: str | os.PathLike,
    inputs: Mapping[str, Any] | str | os.PathLike,
    outputs: Mapping[str, Any] | str | os.PathLike,
    grads: Mapping[str, Any] | None = None,
    *,
    node: str | None = None,
    direction: str | None = None,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    rows: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    workers: int | None = None,
) -> ValidationReport:
    """Validate an ONNX model's LSTM outputs, the weights and attributes read from the model.

    What ``symlstm validate --model`` runs: :func:`~symlstm.frameworks.onnx_model.read_lstm_node`
    reads the node's weights (initializers or ``Constant`` nodes) and attributes; the
    arrays the model does not store (``X``, and ``W``, ``initial_h`` … where they are graph
    inputs) are given by their graph names, as are the outputs (``Y``, ``Y_h``, ``Y_c``).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    inputs, outputs
        Arrays by their graph names, or the paths of ``.npz`` files of them.
    grads
        As for :func:`~symlstm.validation.run.validate` (``W``, ``R``, ``B`` … and ``x``).
    node
        Which LSTM node, where the model has several.
    direction
        Which direction of a bidirectional node; None for the node's own direction.
    tolerance, diagnosis, rows, seed, progress, workers
        As for :func:`~symlstm.validation.run.validate` (``rows`` where it draws rows).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DataFileError, UnknownNameError
        For a model that cannot be read or has no such node
        (:func:`~symlstm.frameworks.onnx_model.read_lstm_node`), arrays missing or unknown.
    """
    what = "validate_onnx_model"
    _check_options(direction, tolerance, diagnosis, progress, what)
    found = read_lstm_node(path, node)
    given_in = _arrays_argument(inputs, what, "inputs")
    given_out = _arrays_argument(outputs, what, "outputs")
    options = {"tolerance": tolerance, "diagnosis": diagnosis, "progress": progress}
    if rows is not None or seed != 0:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArgumentError(f"{what}: seed must be an integer >= 0, not {seed!r}")
        if "rows" not in _whole_networks()[1]:
            raise ParameterError(f"{what}: this validate does not draw rows")
        options |= {"rows": rows, "seed": seed}
    if workers is not None:
        options["workers"] = workers  # validate checks it
    return _validate_node(found, given_in, given_out, grads, direction, options, what)


def check_onnx(
    path: str | os.PathLike,
    inputs: Mapping[str, Any] | str | os.PathLike,
    *,
    node: str | None = None,
    direction: str | None = None,
    tolerance: float | None = None,
    diagnosis: bool | None = None,
    progress: bool | None = None,
) -> ValidationReport:
    """Run an ONNX model in ONNX Runtime and validate its LSTM node's outputs.

    The model is run (CPU) with its LSTM node's input ``X`` and all three outputs (Y,
    Y_h, Y_c) fetched as well, wherever the node sits in the graph; the weights and
    attributes are read from the node (:func:`~symlstm.frameworks.onnx_model.read_lstm_node`).

    Parameters
    ----------
    path
        The ``.onnx`` file. Tensors in external data files are refused.
    inputs
        The model's graph inputs by name (a mapping, or the path of an ``.npz``).
    node
        Which LSTM node, where the model has several.
    direction
        Which direction of a bidirectional node; None for the node's own direction.
    tolerance, diagnosis, progress
        As for :func:`~symlstm.validation.run.validate`.

    Returns
    -------
    ValidationReport

    Raises
    ------
    MissingDependencyError
        Without onnx and ONNX Runtime (``pip install 'symlstm[onnx]'``).
    DataFileError, UnknownNameError
        For a model that cannot be read or has no such node, inputs missing or unknown,
        or a model ONNX Runtime refuses.

    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnx
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> rng = np.random.default_rng(0)
    >>> n, m = 4, 3
    >>> stored = {"W": rng.normal(size=(1, 4 * n, m)), "R": rng.normal(size=(1, 4 * n, n))}
    >>> lstm = helper.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=n)
    >>> graph = helper.make_graph(
    ...     [lstm], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 2, m])],
    ...     [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)],
    ...     initializer=[numpy_helper.from_array(v.astype(np.float32), k)
    ...                  for k, v in stored.items()])
    >>> path = os.path.join(tempfile.mkdtemp(), "lstm.onnx")
    >>> onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    >>> report = check_onnx(path, {"X": rng.normal(size=(5, 2, m)).astype(np.float32)})
    >>> report.verdict, sorted(report.tensors)
    ('pass', ['c_T', 'h_T', 'y'])
    """
    what = "check_onnx"
    _check_options(direction, tolerance, diagnosis, progress, what)
    model = load_model(path)
    found = read_lstm_node(model, node)
    given = _arrays_argument(inputs, what, "inputs")
    onnx = _framework("onnx", "onnx", what)
    ort = _framework("onnxruntime", "onnx", what)
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise DataFileError(
                f"{path}: the tensor {tensor.name!r} is kept in an external data file, which "
                "symlstm does not open; save the model with its data inside"
            )
    run = onnx.ModelProto()
    run.CopyFrom(model)
    index = _node_index(model, found)
    lstm = run.graph.node[index]
    while len(lstm.output) < len(LSTM_OUTPUTS):
        lstm.output.append("")
    taken = {o for n in run.graph.node for o in n.output} | {i.name for i in run.graph.input}
    outputs = {}
    for i, role in enumerate(LSTM_OUTPUTS):
        if not lstm.output[i]:  # an output the model leaves out: named here to fetch it
            name = f"symlstm_{role}"
            while name in taken:
                name += "_"
            lstm.output[i] = name
        outputs[role] = lstm.output[i]
    found = found._replace(outputs=outputs)
    graph_inputs = {i.name for i in run.graph.input} - {t.name for t in run.graph.initializer}
    wanted = [found.inputs[role] for role in found.missing()]
    fetch = [name for name in [*wanted, *outputs.values()] if name not in graph_inputs]
    present = {o.name for o in run.graph.output}
    for name in fetch:
        if name not in present:
            run.graph.output.append(onnx.ValueInfoProto(name=name))
    unknown = sorted(set(given) - graph_inputs)
    absent = sorted(graph_inputs - set(given))
    if unknown or absent:
        raise DataFileError(
            f"{what}: inputs: the model's graph inputs are {', '.join(sorted(graph_inputs))}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(absent)}" if absent else "")
        )
    feeds = {k: np.asarray(v) for k, v in given.items()}
    try:
        session = ort.InferenceSession(run.SerializeToString(), providers=["CPUExecutionProvider"])
        values = dict(zip(fetch, session.run(fetch, feeds), strict=True))
    except Exception as err:  # ONNX Runtime's own errors: a model or inputs it refuses
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise DataFileError(f"{path}: ONNX Runtime: {first}") from None
    values |= {k: np.asarray(v) for k, v in given.items()}
    ins = {name: values[name] for name in wanted}
    outs = {name: values[name] for name in outputs.values()}
    options = {"tolerance": tolerance, "diagnosis": diagnosis, "progress": progress}
    return _validate_node(found, ins, outs, None, direction, options, what)


def _node_index(model: Any, found: LSTMNode) -> int:
    """Where the node ``found`` is in the model's graph (its name and outputs name it)."""
    for i, n in enumerate(model.graph.node):
        outputs = {role: name for role, name in zip(LSTM_OUTPUTS, n.output, strict=False) if name}
        if n.op_type == "LSTM" and n.name == found.name and outputs == found.outputs:
            return i
    raise DataFileError("the LSTM node is not in the model")  # pragma: no cover
