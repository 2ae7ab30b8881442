"""``symlstm validate``: another implementation's numbers against the certified reference."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import (
    EXIT_FAIL,
    EXIT_OK,
    allow_large,
    emit,
    integer_type,
    json_object_type,
    nonnegative_type,
    ulps_type,
)
from symlstm.errors import UsageError
from symlstm.limits import MAX_WORKERS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm validate`` and its options to the subcommands ``sub``."""
    from symlstm.frameworks.layouts import LAYOUTS

    va = sub.add_parser(
        "validate",
        help="check another implementation's numbers against the certified reference",
        description="Exit status: 0 the numbers pass, 1 they fail, 2 bad input. On a "
        "terminal, a progress bar on stderr.",
    )
    va.add_argument("--layout", help=", ".join(LAYOUTS) + " (required without --model)")
    va.add_argument(
        "--weights", help=".npz of the weights, by the layout's names (required without --model)"
    )
    va.add_argument(
        "--model",
        metavar="MODEL.onnx",
        help="an ONNX model: its LSTM node's weights and attributes, instead of --layout, "
        "--weights and --attributes; --inputs and --outputs by their names in the graph",
    )
    va.add_argument("--node", help="which LSTM node of --model, where it has several")
    va.add_argument(
        "--inputs",
        required=True,
        help=".npz with x, optional h0, c0 (ONNX: X, initial_h, initial_c, sequence_lens)",
    )
    va.add_argument(
        "--outputs",
        required=True,
        help=".npz with any of y, h_T, c_T as the framework returns them (ONNX: Y, Y_h, Y_c)",
    )
    va.add_argument(
        "--grads",
        help=".npz with dy (like y), optional dhT, dcT, and the implementation's gradients "
        "(every layer's and direction's arrays, x, h0, c0)",
    )
    va.add_argument(
        "--layer",
        type=nonnegative_type,
        help="judge this layer's unit alone (default: the whole network)",
    )
    va.add_argument(
        "--direction",
        choices=("forward", "reverse"),
        help="judge this direction's unit alone (default: the whole network)",
    )
    order = va.add_mutually_exclusive_group()
    order.add_argument(
        "--batch-first",
        dest="batch_first",
        action="store_const",
        const=True,
        help="x and y are batch-major (default for keras; ONNX: the layout attribute)",
    )
    order.add_argument(
        "--time-major",
        dest="batch_first",
        action="store_const",
        const=False,
        help="x and y are time-major (default for torch, onnx with layout 0, others)",
    )
    va.add_argument(
        "--merge-mode",
        choices=("concat", "sum", "ave", "mul"),
        default="concat",
        help="how Keras' Bidirectional merges its directions' outputs (default concat)",
    )
    va.add_argument(
        "--rows",
        type=integer_type(1),
        help="validate K batch rows drawn at random (stated in the report)",
    )
    va.add_argument("--seed", type=nonnegative_type, default=0, help="for --rows (default 0)")
    va.add_argument(
        "--workers",
        type=integer_type(1, MAX_WORKERS, too_high="more processes than any machine's cores"),
        help="processes for the reference's forward pass over the batch rows (default: "
        "every core for a run estimated over 10 s without gradients, else 1)",
    )
    va.add_argument("--forget-bias", type=float, help="TF1's forget_bias (default: the layout's)")
    va.add_argument(
        "--attributes",
        type=json_object_type,
        help='an ONNX node\'s attributes as JSON, e.g. \'{"clip": 3, "direction": "reverse"}\'',
    )
    va.add_argument(
        "--tolerance", type=ulps_type, help="normwise tolerance in ULPs (default: derived)"
    )
    va.add_argument(
        "--diagnose",
        choices=("auto", "always", "never"),
        default="auto",
        help="search the usual convention mistakes: when the outputs fail (auto), always, never",
    )
    va.add_argument("--format", choices=("text", "json"), default="text")
    va.add_argument(
        "--plot",
        metavar="FILE.svg",
        help="also write the error in ULPs along t as SVG (a panel per direction of the output)",
    )
    allow_large(va)


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.validation import load_npz, validate

    if args.model is not None or args.node is not None:
        return _run_model(args)
    if args.layout is None or args.weights is None:
        raise UsageError("symlstm validate: give --layout and --weights, or --model")
    files = {
        role: load_npz(path, role) if path else None
        for role, path in (
            ("weights", args.weights),
            ("inputs", args.inputs),
            ("outputs", args.outputs),
            ("grads", args.grads),
        )
    }
    report = validate(
        args.layout,
        files["weights"],
        files["inputs"],
        files["outputs"],
        files["grads"],
        layer=args.layer,
        direction=args.direction,
        batch_first=args.batch_first,
        merge_mode=args.merge_mode,
        rows=args.rows,
        seed=args.seed,
        workers=args.workers,
        forget_bias=args.forget_bias,
        attributes=args.attributes,
        tolerance=args.tolerance,
        diagnosis={"auto": None, "always": True, "never": False}[args.diagnose],
    )
    if args.plot is not None:
        from symlstm.render.plots import error_plot

        emit(error_plot(report) + "\n", args.plot, "validate")
    print(report.json() if args.format == "json" else report.text())
    return EXIT_OK if report.passed else EXIT_FAIL


def _run_model(args: argparse.Namespace) -> int:
    """``--model``: the weights and attributes read from the ONNX model's LSTM node."""
    from symlstm.validation import load_npz
    from symlstm.validation.live import validate_onnx_model

    if args.model is None:
        raise UsageError("symlstm validate: --node names a node of --model")
    given = [f"--{k.replace('_', '-')}" for k in ("layout", "weights", "attributes",
             "forget_bias", "batch_first") if getattr(args, k) is not None]  # fmt: skip
    if given or args.layer not in (None, 0) or args.merge_mode != "concat":
        shown = ", ".join(given) or ("--layer" if args.layer else "--merge-mode")
        raise UsageError(f"symlstm validate: --model reads the node itself; leave out {shown}")
    report = validate_onnx_model(
        args.model,
        load_npz(args.inputs, "inputs"),
        load_npz(args.outputs, "outputs"),
        load_npz(args.grads, "grads") if args.grads else None,
        node=args.node,
        direction=args.direction,
        tolerance=args.tolerance,
        diagnosis={"auto": None, "always": True, "never": False}[args.diagnose],
        rows=args.rows,
        seed=args.seed,
        workers=args.workers,
    )
    if args.plot is not None:
        from symlstm.render.plots import error_plot

        emit(error_plot(report) + "\n", args.plot, "validate")
    print(report.json() if args.format == "json" else report.text())
    return EXIT_OK if report.passed else EXIT_FAIL
