"""``symlstm claims draft``: a claims file drafted from a document."""

from __future__ import annotations

import argparse
import contextlib
import os

from symlstm.cli.arguments import EXIT_OK, Parser, report
from symlstm.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``symlstm claims`` and its options to the subcommands ``sub``."""
    cl = sub.add_parser("claims", help="claims files: draft one from a document")
    cl_sub = cl.add_subparsers(dest="claims_command", parser_class=Parser)
    dr = cl_sub.add_parser(
        "draft",
        help="draft a claims file: match a document's numbers against examples",
        description="Exit status: 0 drafted, 2 bad input (nothing written).",
    )
    dr.add_argument("document", help="a text, Markdown or LaTeX document")
    dr.add_argument(
        "--example",
        action="append",
        required=True,
        help="built-in name or .toml/.json file; repeat for several",
    )
    dr.add_argument("-o", "--output", help="write the claims file here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Run the command with the parsed ``args``; return its exit status."""
    import tempfile

    from symlstm.claims.draft import draft_claims

    if args.claims_command is None:
        raise UsageError("symlstm claims: give a subcommand: draft")
    out = args.output
    same = out is not None and os.path.exists(out) and os.path.exists(args.document)
    if same and os.path.samefile(out, args.document):
        raise UsageError(f"symlstm claims draft: -o {out} would overwrite the document")
    base = os.path.dirname(os.path.abspath(out)) if out is not None else os.getcwd()
    draft = draft_claims(args.document, args.example, base_dir=base)
    text = draft.toml()
    if out is None:
        print(text, end="")
        return EXIT_OK
    try:  # written whole or not at all: a temporary file beside it, then renamed
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=base, prefix=".claims-", suffix=".tmp", delete=False
        ) as file:
            file.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(file.name, 0o666 & ~umask)  # as open() would make it, not the temp's 0o600
        os.replace(file.name, out)
    except OSError as err:
        with contextlib.suppress(NameError, OSError):
            os.unlink(file.name)
        raise UsageError(f"symlstm claims draft: cannot write {out}: {err.strerror}") from None
    report(f"{out}: {draft.summary()}")
    return EXIT_OK
