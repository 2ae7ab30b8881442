"""``symlstm grad``: certified gradients of a loss by backprop through time."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import EXIT_OK, MAX_DIGITS, allow_large, dps_type, significant_type
from symlstm.errors import UsageError
from symlstm.limits import MAX_DPS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm grad`` and its options to the subcommands ``sub``."""
    from symlstm.render.summary import FORMATS

    gr = sub.add_parser("grad", help="certified gradients of a loss by backprop through time")
    gr.add_argument("example", nargs="?", default="seed-step", help="built-in name or file")
    gr.add_argument(
        "--loss",
        default="sum_h",
        help="sum_h (default), h_T, mse (targets from --targets or the file's [targets]), "
        "or an expression of h_1 … h_T such as 'h_3**2'",
    )
    gr.add_argument("--targets", help="mse targets, comma-separated (scalar cells)")
    gr.add_argument("--format", choices=(*FORMATS, "html"), default="text")
    gr.add_argument(
        "--dps", type=dps_type, default=30, help=f"significant digits, 1 to {MAX_DPS} (default 30)"
    )
    gr.add_argument(
        "--digits",
        type=significant_type,
        default=4,
        help=f"significant digits in the worked derivation, 1 to {MAX_DIGITS} (default 4)",
    )
    gr.add_argument("--standalone", action="store_true", help="with latex: a whole document")
    gr.add_argument("--no-narration", action="store_true", help="no 'Step 1 – …' headings")
    allow_large(gr)


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.derive.gradients import certify_gradients
    from symlstm.examples import load_example
    from symlstm.render.gradients import gradient_table, worked_gradient

    example = load_example(args.example)
    targets = example.targets
    if args.targets is not None:
        targets = [t.strip() for t in args.targets.split(",")]
    if args.loss != "mse":
        targets = None if args.targets is None else targets
    if args.standalone and args.format != "latex":
        raise UsageError("symlstm grad: --standalone needs --format latex")
    grads = certify_gradients(
        example.cell,
        example.parameters,
        example.inputs,
        example.h0,
        example.c0,
        significant=args.dps,
        loss=args.loss,
        targets=targets,
    )
    table = gradient_table(example, grads)
    if args.format == "html":
        worked = None
        if not example.cell.is_vector:
            worked = worked_gradient(example, loss=args.loss, targets=targets, digits=args.digits)
        print(table.html(worked), end="")
        return EXIT_OK
    values = getattr(table, args.format)()
    if args.format == "json" or example.cell.is_vector:
        print(values)  # vector cells: the values (the worked derivation is for scalar cells)
        return EXIT_OK
    worked = worked_gradient(
        example,
        loss=args.loss,
        targets=targets,
        digits=args.digits,
        narration=not args.no_narration,
    )
    if args.format == "text":
        print(worked.text(), values, sep="\n")
    elif args.format == "markdown":
        print(worked.markdown(), values, sep="\n")
    else:
        body = worked.latex() + "\n" + values
        if args.standalone:
            from symlstm.render.document import standalone

            body = standalone(body, title=worked.title)
        print(body)
    return EXIT_OK
