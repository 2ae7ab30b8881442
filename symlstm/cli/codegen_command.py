"""``symlstm codegen``: generated NumPy or PyTorch code for the cell."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import emit
from symlstm.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm codegen`` and its options to the subcommands ``sub``."""
    cg = sub.add_parser("codegen", help="generate code for the cell's forward and backward pass")
    cg.add_argument(
        "target",
        choices=("numpy", "torch"),
        help="what to generate: numpy (forward and backward), torch (forward; vector cells)",
    )
    cg.add_argument("--kind", choices=("vector", "scalar", "tied"), default="vector")
    cg.add_argument("--variant", default="", help="e.g. peephole,coupled,forget-bias=1")
    cg.add_argument(
        "--projection",
        action="store_true",
        help="a vector cell with projections (PyTorch's proj_size): h = W_hr (o ⊙ tanh c)",
    )
    cg.add_argument("-o", "--output", help="write the module to this file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.cell import Variant

    if args.target == "torch" and args.kind != "vector":
        raise UsageError(
            f"symlstm codegen torch: the torch module is for vector cells (--kind vector), "
            f"not --kind {args.kind}"
        )
    if args.projection and args.kind != "vector":
        raise UsageError("symlstm codegen: --projection needs --kind vector")
    variant = Variant.parse(args.variant)
    if args.target == "torch":
        from symlstm.codegen.torch_code import generate_torch

        source = generate_torch(variant, projection=args.projection)
    else:
        from symlstm.codegen.numpy_code import generate_numpy

        source = generate_numpy(variant, kind=args.kind, projection=args.projection)
    return emit(source, args.output, "codegen")
