"""``symlstm example``: an example worked step by step, every digit certified.

``--plot FILE.svg`` also writes the example's values along t (the gates, C_t and h_t as
the summary table shows them: :func:`symlstm.render.plots.sequence_plot`), whatever the
format. A one-step example gets the same plot with one point a quantity: a picture of
that step's values at a glance, the same file a longer example gives. A vector cell
has no such plot (several numbers a step): exit 2, as is a file that cannot be written,
both before anything is printed.
"""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import (
    EXIT_OK,
    MAX_DIGITS,
    allow_large,
    dps_type,
    emit,
    places_type,
)
from symlstm.errors import UsageError
from symlstm.limits import MAX_DPS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm example`` and its options to the subcommands ``sub``."""
    from symlstm.render.summary import FORMATS
    from symlstm.symbols import NOTATIONS

    ex = sub.add_parser("example", help="an example worked step by step, every digit certified")
    ex.add_argument(
        "example",
        nargs="?",
        default="seed-step",
        help="built-in name (see --list) or a .toml/.json file; default seed-step",
    )
    ex.add_argument("--format", choices=(*FORMATS, "html"), default="text")
    ex.add_argument(
        "--digits",
        type=places_type,
        help=f"decimal places for every quantity, 1 to {MAX_DIGITS}",
    )
    ex.add_argument(
        "--dps",
        type=dps_type,
        help=f"significant digits of the JSON values, 1 to {MAX_DPS} (default: 30)",
    )
    ex.add_argument(
        "--hand",
        action="store_true",
        help="hand-calculation mode: round each quantity before later steps use it",
    )
    ex.add_argument("--standalone", action="store_true", help="with latex: a whole document")
    ex.add_argument(
        "--diagram", action="store_true", help="with latex: draw the cell at each step (TikZ)"
    )
    ex.add_argument("--no-diagram", action="store_true", help="with html: no drawing of the cell")
    ex.add_argument("--no-narration", action="store_true", help="no 'Step 1 – Forget Gate' lines")
    ex.add_argument("--notation", choices=tuple(NOTATIONS), help="default: the example's")
    ex.add_argument("--claims", help="mark the summary entries this claims file gets wrong")
    ex.add_argument("--compact", action="store_true", help="equations and a table of values only")
    ex.add_argument("--list", action="store_true", help="list the built-in examples")
    ex.add_argument(
        "--plot",
        metavar="FILE.svg",
        help="also write the gates, C_t and h_t along t as SVG (scalar cells; one step: "
        "one point each)",
    )
    allow_large(ex)


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from dataclasses import replace

    from symlstm.claims.audit import load_claims
    from symlstm.examples import builtin_examples, load_example
    from symlstm.render.summary import summary
    from symlstm.render.worked import worked_example

    if args.list:
        for name, title in builtin_examples().items():
            print(f"{name:<16} {title}")
        return EXIT_OK
    if args.standalone and args.format != "latex":
        raise UsageError("symlstm example: --standalone needs --format latex")
    if args.diagram and args.format != "latex":
        raise UsageError("symlstm example: --diagram needs --format latex (html draws it anyway)")
    if args.compact and args.format == "html":
        raise UsageError("symlstm example: --compact is for text, markdown and latex")
    if args.dps is not None and args.format != "json":
        raise UsageError("symlstm example: --dps sets the JSON digits; use --digits otherwise")
    example = load_example(args.example)
    if args.digits is not None:
        example = replace(example, digits={"default": args.digits})
    if args.plot is not None and example.cell.is_vector:
        raise UsageError(
            f"symlstm example: --plot draws one number a step; {example.name} is a vector "
            "cell (its values are in the table)"
        )
    if args.format == "json" or args.compact:
        if args.plot is not None:
            _write_plot(worked_example(example, mode="hand" if args.hand else "exact"), args)
        if args.format == "json":
            trace = example.certify(hand=args.hand, significant=args.dps or 30)
        else:
            trace = example.certify(hand=args.hand)
        print(getattr(summary(example, trace), args.format)())
        return EXIT_OK
    claims = args.claims
    if claims is None and args.example in builtin_examples():
        claims = load_claims()  # the spec's own claims: mark any the audit finds wrong
    worked = worked_example(
        example,
        mode="hand" if args.hand else "exact",
        notation=args.notation,
        narration=not args.no_narration,
        claims=claims,
    )
    if args.plot is not None:
        _write_plot(worked, args)
    if args.format == "latex":
        print(worked.latex(standalone=args.standalone, diagram=args.diagram))
    elif args.format == "html":
        print(worked.html(diagram=not args.no_diagram), end="")
    elif args.format == "markdown":
        print(worked.markdown(), end="")
    else:
        print(worked.text(), end="")
    return EXIT_OK


def _write_plot(worked: object, args: argparse.Namespace) -> None:
    """Write the worked example's sequence plot to ``args.plot`` (exit 2 if it cannot)."""
    from symlstm.render.plots import sequence_plot

    emit(sequence_plot(worked) + "\n", args.plot, "example")
