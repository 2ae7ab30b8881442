"""The ``symlstm`` command.

``symlstm example [NAME|FILE]``
    An example worked step by step, every digit certified (default: the spec's section 5).
``symlstm audit [FILE]``
    A document's claimed numbers against certified recomputation (default: the spec's).
``symlstm claims draft DOCUMENT --example NAME|FILE [--example …] [-o FILE]``
    A claims file drafted from a document: its numbers matched against the examples.
``symlstm diagram [NAME|FILE] [--step T] [--variant V] [--format svg|tikz] [-o FILE]``
    The cell drawn (SVG or TikZ), its wires labelled with one step's certified values.
``symlstm equations``
    The cell's equations for a kind, variant and notation.
``symlstm codegen numpy [--variant V] [--kind K] [--projection] [-o FILE]``
    A self-contained NumPy module (forward and backward) printed from the equations.
``symlstm codegen torch [--variant V] [--projection] [-o FILE]``
    A self-contained PyTorch module (forward; gradients by autograd), vector cells.
``symlstm validate --layout L --weights W.npz --inputs X.npz --outputs Y.npz [--grads G.npz]``
    Another implementation's numbers against the certified reference, with a diagnosis;
    exits 0 when they pass, 1 when they fail. ``--plot FILE.svg`` also draws the error
    in ULPs along the sequence.

Errors in the input print one line on stderr and exit with status 2, and so does an
error writing the output (a full disk: ``symlstm example > /dev/full``). A closed pipe
(``symlstm audit | head -2``) ends the output quietly: the command still finishes, and
the exit status is its own (audit's 1 still means that a claim is wrong).

>>> main(["example", "seed-step", "--format", "json", "--dps", "20"])  # doctest: +ELLIPSIS
{
  "example": "seed-step",
...
0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from symlstm.cli import (
    audit_command,
    claims_command,
    codegen_command,
    derive_command,
    diagram_command,
    equations_command,
    example_command,
    grad_command,
    validate_command,
)
from symlstm.cli.arguments import EXIT_BAD_INPUT, EXIT_OK, Parser, report
from symlstm.errors import OutputError, SymLSTMError, UsageError

__all__ = ["build_parser", "main"]

#: The subcommands, in the order ``symlstm --help`` lists them: name → its module
#: (``add_parser(sub)`` adds its options, ``run(args)`` runs it).
COMMANDS = {
    "example": example_command,
    "audit": audit_command,
    "claims": claims_command,
    "grad": grad_command,
    "derive": derive_command,
    "codegen": codegen_command,
    "validate": validate_command,
    "diagram": diagram_command,
    "equations": equations_command,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``symlstm`` argument parser, with every subcommand."""
    parser = Parser(prog="symlstm", description="Verified LSTM math.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def _to_devnull(stream: TextIO) -> None:
    """Point the process's own stdout at the null device, so that what is still buffered
    for a closed pipe or a full disk cannot fail again when the interpreter exits."""
    if stream is not sys.__stdout__:
        return  # a caller's stream (main() called from Python): theirs to handle
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class _Output:
    """``sys.stdout`` while a command runs: a closed pipe drops the rest of the output
    (the command finishes and returns its own status); any other write error raises
    :class:`OutputError`, once."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self._dropping = stream is None  # stdout closed before the start (>&-): print nothing

    def _guarded(self, operation: str, *args: Any) -> None:
        if self._dropping:
            return
        try:
            getattr(self.stream, operation)(*args)
        except BrokenPipeError:
            self._dropping = True
            _to_devnull(self.stream)
        except OSError as err:
            self._dropping = True
            _to_devnull(self.stream)
            reason = err.strerror or str(err)
            raise OutputError(f"cannot write the output: {reason}") from None

    def write(self, text: str) -> int:
        self._guarded("write", text)
        return len(text)

    def flush(self) -> None:
        self._guarded("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)  # encoding, isatty(), fileno(), …


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(version("symlstm"))
        return EXIT_OK
    if args.command is None:
        args = build_parser().parse_args(["example"])
    from symlstm.budget import allowing

    with allowing(getattr(args, "allow_large", False)):
        return COMMANDS[args.command].run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a check failed, 2 bad input).

    Parameters
    ----------
    argv
        The arguments after ``symlstm`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 a check failed (an audited claim is wrong, validated numbers fail),
        2 bad input or the output could not be written, 130 interrupted. A closed pipe
        on stdout is not an error: the status is the command's own.
    """
    try:
        with contextlib.redirect_stdout(_Output(sys.stdout)) as out:
            status = _run(argv)
            out.flush()
        return status
    except UsageError as err:
        report(err)
        return EXIT_BAD_INPUT
    except SymLSTMError as err:
        report(f"symlstm: error: {err}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
