"""``symlstm equations``: the cell's equations for a kind, variant and notation."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm equations`` and its options to the subcommands ``sub``."""
    from symlstm.cell import KINDS
    from symlstm.symbols import NOTATIONS

    eq = sub.add_parser("equations", help="the cell's equations")
    eq.add_argument("--kind", choices=KINDS, default="tied")
    eq.add_argument("--variant", default="", help="e.g. peephole,coupled,forget-bias=1")
    eq.add_argument("--notation", choices=tuple(NOTATIONS), default=None)
    eq.add_argument("--format", choices=("text", "markdown", "latex"), default="text")


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.cell import Cell, Variant
    from symlstm.render.summary import equation_block

    cell = Cell(args.kind, Variant.parse(args.variant))
    note = args.notation or ("spec" if args.kind == "tied" else "canonical")
    print(getattr(equation_block(cell, notation=note), args.format)())
    return EXIT_OK
