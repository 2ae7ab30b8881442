"""``symlstm derive``: the backprop-through-time formulas of a cell."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import EXIT_OK
from symlstm.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm derive`` and its options to the subcommands ``sub``."""
    from symlstm.cell import KINDS
    from symlstm.symbols import NOTATIONS

    de = sub.add_parser("derive", help="the backprop-through-time formulas of a cell")
    de.add_argument("--kind", choices=KINDS, default="vector")
    de.add_argument("--variant", default="", help="e.g. peephole,coupled,forget-bias=1")
    de.add_argument("--notation", choices=tuple(NOTATIONS), default=None)
    de.add_argument("--format", choices=("text", "markdown", "latex", "html"), default="text")
    de.add_argument("--standalone", action="store_true", help="with latex: a whole document")


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.cell import Cell, Variant
    from symlstm.render.derivation import derivation
    from symlstm.render.document import standalone

    if args.standalone and args.format != "latex":
        raise UsageError("symlstm derive: --standalone needs --format latex")
    cell = Cell(args.kind, Variant.parse(args.variant))
    note = args.notation or ("spec" if args.kind == "tied" else "canonical")
    formulas = derivation(cell, notation=note)
    if args.format == "html":
        print(formulas.html(), end="")
        return EXIT_OK
    out = getattr(formulas, args.format)()
    if args.standalone:
        out = standalone(
            out, title=f"Backprop through time: {args.kind} cell, {cell.variant.label()}"
        )
    print(out)
    return EXIT_OK
