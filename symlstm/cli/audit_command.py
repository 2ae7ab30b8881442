"""``symlstm audit``: a document's claimed numbers against certified recomputation."""

from __future__ import annotations

import argparse

from symlstm.cli.arguments import EXIT_FAIL, EXIT_OK, allow_large


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm audit`` and its options to the subcommands ``sub``."""
    au = sub.add_parser("audit", help="check a document's claimed numbers")
    au.add_argument("claims", nargs="?", help="claims file (.toml/.json); default: the spec's")
    au.add_argument("--format", choices=("text", "json", "html"), default="text")
    au.add_argument(
        "--no-explain",
        action="store_true",
        help="do not search for possible explanations of wrong claims",
    )
    allow_large(au)


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    from symlstm.claims.audit import audit

    report = audit(args.claims, explain=not args.no_explain)
    if args.format == "html":
        print(report.html(), end="")
    else:
        print(report.json() if args.format == "json" else report.text())
    return EXIT_OK if report.all_hold else EXIT_FAIL
