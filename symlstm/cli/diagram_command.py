"""``symlstm diagram``: the cell drawn, with one step's numbers on its wires."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import emit, integer_type


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm diagram`` and its options to the subcommands ``sub``."""
    from symlstm.symbols import NOTATIONS

    dg = sub.add_parser("diagram", help="the cell drawn, with one step's numbers on its wires")
    dg.add_argument("example", nargs="?", default="seed-step", help="built-in name or file")
    dg.add_argument(
        "--step", type=integer_type(1), default=1, help="which step's values (default 1)"
    )
    dg.add_argument(
        "--variant",
        help="draw this variant of the example's cell kind, with symbols only (no values)",
    )
    dg.add_argument("--hand", action="store_true", help="values by hand calculation")
    dg.add_argument("--notation", choices=tuple(NOTATIONS), help="default: the example's")
    dg.add_argument("--format", choices=("svg", "tikz"), default="svg")
    dg.add_argument("-o", "--output", help="write the drawing to this file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.cell import Cell, Variant
    from symlstm.examples import load_example
    from symlstm.render.diagram import cell_diagram, worked_diagram
    from symlstm.render.worked import worked_example

    example = load_example(args.example)
    if args.variant is not None:
        drawn = Cell(example.cell.kind, Variant.parse(args.variant))
        note = args.notation or example.notation_with_names()
        drawing = cell_diagram(drawn, notation=note)
    else:
        worked = worked_example(
            example, mode="hand" if args.hand else "exact", notation=args.notation
        )
        drawing = worked_diagram(worked, args.step)
    return emit(drawing.render(args.format) + "\n", args.output, "diagram")
