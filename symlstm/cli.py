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
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from symlstm.errors import OutputError, SymLSTMError, UsageError
from symlstm.limits import MAX_DPS, MAX_SHOWN_DIGITS

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors exit 2 through one path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


#: Most decimal places (``example --digits``) or significant digits (``grad --digits``)
#: shown: the built-in examples are certified and worked at 1000 in about a second.
MAX_DIGITS = MAX_SHOWN_DIGITS  # one table: symlstm.limits
#: Most significant digits of ``--dps``: 500 take a few seconds for the built-in examples
#: (beyond about 600 the working precision doubles again and the time about quadruples).


def _integer(
    low: int, high: int | None = None, *, too_low: str = "", too_high: str = ""
) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high`` (no upper end if None).

    Only ASCII digits are read (not ``"٣"``), and a long number is refused on its length
    before it is converted. ``too_low`` and ``too_high`` say why a value is refused.

    >>> _integer(1, 9)("3")
    3
    >>> _integer(1, 9, too_high="more than anyone reads")("10")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be 1..9, not 10: more than anyone reads
    """

    def refuse(value: object, why: str) -> NoReturn:
        wanted = f"{low}..{high}" if high is not None else f"{low} or more"
        raise argparse.ArgumentTypeError(f"must be {wanted}, not {value}" + (why and f": {why}"))

    def parse(text: str) -> int:
        number = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", number, flags=re.ASCII):
            shown = text if len(text) <= 20 else f"{text[:10]}…({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"{shown!r} is not an integer")
        magnitude = number.lstrip("+-").lstrip("0")
        if len(magnitude) > 18:  # beyond any limit: refused without converting it
            negative = number.startswith("-")
            shown = f"{'-' if negative else ''}{magnitude[:6]}…({len(magnitude)} digits)"
            refuse(shown, too_low if negative else too_high)
        value = int(number)
        if value < low:
            refuse(value, too_low)
        if high is not None and value > high:
            refuse(value, too_high)
        return value

    return parse


_nonnegative = _integer(0)
#: ``example --digits``: decimal places.
_places = _integer(
    1,
    MAX_DIGITS,
    too_low="with no decimal places a worked example rounds its operands to whole numbers "
    "and its equations stop being checkable",
    too_high="more places than symlstm certifies in seconds",
)
#: ``grad --digits``: significant digits of the worked derivation.
_significant = _integer(
    1,
    MAX_DIGITS,
    too_low="a worked derivation shows at least one significant digit",
    too_high="more digits than symlstm certifies in seconds",
)
#: ``--dps``: significant digits of certified values.
_dps = _integer(
    1,
    MAX_DPS,
    too_low="a value has at least one significant digit",
    too_high="more significant digits than symlstm certifies in seconds",
)


def _ulps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of ULPs >= 0, not {text}")
    return value


def _json_object(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of attribute name → value")
    return value


def _allow_large(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="run work estimated over the work budget (see docs/limits.md); it may take "
        "minutes or hours, with progress on a terminal",
    )


def build_parser() -> argparse.ArgumentParser:
    from symlstm.cell import KINDS
    from symlstm.frameworks.layouts import LAYOUTS
    from symlstm.render.summary import FORMATS
    from symlstm.symbols import NOTATIONS

    parser = _Parser(prog="symlstm", description="Verified LSTM math.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

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
        type=_places,
        help=f"decimal places for every quantity, 1 to {MAX_DIGITS}",
    )
    ex.add_argument(
        "--dps",
        type=_dps,
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
    _allow_large(ex)

    au = sub.add_parser("audit", help="check a document's claimed numbers")
    au.add_argument("claims", nargs="?", help="claims file (.toml/.json); default: the spec's")
    au.add_argument("--format", choices=("text", "json", "html"), default="text")

    cl = sub.add_parser("claims", help="claims files: draft one from a document")
    cl_sub = cl.add_subparsers(dest="claims_command", parser_class=_Parser)
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
    au.add_argument(
        "--no-explain",
        action="store_true",
        help="do not search for possible explanations of wrong claims",
    )
    _allow_large(au)

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
        "--dps", type=_dps, default=30, help=f"significant digits, 1 to {MAX_DPS} (default 30)"
    )
    gr.add_argument(
        "--digits",
        type=_significant,
        default=4,
        help=f"significant digits in the worked derivation, 1 to {MAX_DIGITS} (default 4)",
    )
    gr.add_argument("--standalone", action="store_true", help="with latex: a whole document")
    gr.add_argument("--no-narration", action="store_true", help="no 'Step 1 – …' headings")
    _allow_large(gr)

    de = sub.add_parser("derive", help="the backprop-through-time formulas of a cell")
    de.add_argument("--kind", choices=KINDS, default="vector")
    de.add_argument("--variant", default="", help="e.g. peephole,coupled,forget-bias=1")
    de.add_argument("--notation", choices=tuple(NOTATIONS), default=None)
    de.add_argument("--format", choices=("text", "markdown", "latex", "html"), default="text")
    de.add_argument("--standalone", action="store_true", help="with latex: a whole document")

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

    va = sub.add_parser(
        "validate",
        help="check another implementation's numbers against the certified reference",
        description="Exit status: 0 the numbers pass, 1 they fail, 2 bad input.",
    )
    va.add_argument("--layout", required=True, help=", ".join(LAYOUTS))
    va.add_argument("--weights", required=True, help=".npz of the weights, by the layout's names")
    va.add_argument("--inputs", required=True, help=".npz with x (T, B, input), optional h0, c0")
    va.add_argument(
        "--outputs", required=True, help=".npz with y (T, B, hidden), optional h_T, c_T"
    )
    va.add_argument("--grads", help=".npz with dy and the implementation's gradients")
    va.add_argument("--layer", type=_nonnegative, default=0, help="which layer (default 0)")
    va.add_argument("--direction", choices=("forward", "reverse"), default="forward")
    va.add_argument("--forget-bias", type=float, help="TF1's forget_bias (default: the layout's)")
    va.add_argument(
        "--attributes",
        type=_json_object,
        help='an ONNX node\'s attributes as JSON, e.g. \'{"clip": 3, "layout": 1}\'',
    )
    va.add_argument("--tolerance", type=_ulps, help="normwise tolerance in ULPs (default: derived)")
    va.add_argument(
        "--diagnose",
        choices=("auto", "always", "never"),
        default="auto",
        help="search the usual convention mistakes: when the outputs fail (auto), always, never",
    )
    va.add_argument("--format", choices=("text", "json"), default="text")
    va.add_argument(
        "--plot", metavar="FILE.svg", help="also write the error in ULPs along t as SVG"
    )
    _allow_large(va)

    dg = sub.add_parser("diagram", help="the cell drawn, with one step's numbers on its wires")
    dg.add_argument("example", nargs="?", default="seed-step", help="built-in name or file")
    dg.add_argument("--step", type=_integer(1), default=1, help="which step's values (default 1)")
    dg.add_argument(
        "--variant",
        help="draw this variant of the example's cell kind, with symbols only (no values)",
    )
    dg.add_argument("--hand", action="store_true", help="values by hand calculation")
    dg.add_argument("--notation", choices=tuple(NOTATIONS), help="default: the example's")
    dg.add_argument("--format", choices=("svg", "tikz"), default="svg")
    dg.add_argument("-o", "--output", help="write the drawing to this file (default: stdout)")

    eq = sub.add_parser("equations", help="the cell's equations")
    eq.add_argument("--kind", choices=KINDS, default="tied")
    eq.add_argument("--variant", default="", help="e.g. peephole,coupled,forget-bias=1")
    eq.add_argument("--notation", choices=tuple(NOTATIONS), default=None)
    eq.add_argument("--format", choices=("text", "markdown", "latex"), default="text")
    return parser


def _example(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from symlstm.claims.audit import load_claims
    from symlstm.examples import builtin_examples, load_example
    from symlstm.render.summary import render_summary
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
    if args.format == "json" or args.compact:
        if args.format == "json":
            trace = example.certify(hand=args.hand, significant=args.dps or 30)
        else:
            trace = example.certify(hand=args.hand)
        print(render_summary(example, trace, args.format))
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
    if args.format == "latex":
        print(worked.latex(standalone=args.standalone, diagram=args.diagram))
    elif args.format == "html":
        print(worked.html(diagram=not args.no_diagram), end="")
    elif args.format == "markdown":
        print(worked.markdown(), end="")
    else:
        print(worked.text(), end="")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from symlstm.claims.audit import audit

    report = audit(args.claims, explain=not args.no_explain)
    if args.format == "html":
        print(report.html(), end="")
    else:
        print(report.to_json() if args.format == "json" else report.to_text())
    return EXIT_OK if report.all_hold else EXIT_FAIL


def _claims(args: argparse.Namespace) -> int:
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
    text = draft.to_toml()
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
    _report(f"{out}: {draft.summary()}")
    return EXIT_OK


def _grad(args: argparse.Namespace) -> int:
    from symlstm.derive.calculus import certify_gradients
    from symlstm.examples import load_example
    from symlstm.render.gradients import render_gradients, worked_gradient

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
    if args.format == "html":
        from symlstm.render.derivation import gradient_html

        worked = None
        if not example.cell.is_vector:
            worked = worked_gradient(example, loss=args.loss, targets=targets, digits=args.digits)
        print(gradient_html(example, grads, worked), end="")
        return EXIT_OK
    values = render_gradients(example, grads, args.format)
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


def _derive(args: argparse.Namespace) -> int:
    from symlstm.cell import Cell, Variant
    from symlstm.render.document import standalone
    from symlstm.render.gradients import render_backward

    if args.standalone and args.format != "latex":
        raise UsageError("symlstm derive: --standalone needs --format latex")
    cell = Cell(args.kind, Variant.parse(args.variant))
    note = args.notation or ("spec" if args.kind == "tied" else "canonical")
    if args.format == "html":
        from symlstm.render.derivation import derivation

        print(derivation(cell, notation=note).html(), end="")
        return EXIT_OK
    out = render_backward(cell, notation=note, fmt=args.format)
    if args.standalone:
        out = standalone(
            out, title=f"Backprop through time: {args.kind} cell, {cell.variant.label()}"
        )
    print(out)
    return EXIT_OK


def _codegen(args: argparse.Namespace) -> int:
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
    return _emit(source, args.output, "codegen")


def _emit(source: str, output: str | None, command: str) -> int:
    """Print ``source``, or write it to the file ``output`` (a write error is exit 2)."""
    if output is None:
        print(source, end="")
        return EXIT_OK
    try:
        with open(output, "w", encoding="utf-8") as file:
            file.write(source)
    except OSError as err:
        raise UsageError(f"symlstm {command}: cannot write {output}: {err.strerror}") from None
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from symlstm.validation import load_npz, validate

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
        forget_bias=args.forget_bias,
        attributes=args.attributes,
        tolerance=args.tolerance,
        diagnosis={"auto": None, "always": True, "never": False}[args.diagnose],
    )
    if args.plot is not None:
        from symlstm.render.plots import error_plot

        _emit(error_plot(report) + "\n", args.plot, "validate")
    print(report.to_json() if args.format == "json" else report.to_text())
    return EXIT_OK if report.passed else EXIT_FAIL


def _diagram(args: argparse.Namespace) -> int:
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
    return _emit(drawing.render(args.format) + "\n", args.output, "diagram")


def _equations(args: argparse.Namespace) -> int:
    from symlstm.cell import Cell, Variant
    from symlstm.render.summary import render_equations

    cell = Cell(args.kind, Variant.parse(args.variant))
    note = args.notation or ("spec" if args.kind == "tied" else "canonical")
    print(render_equations(cell, notation=note, fmt=args.format))
    return EXIT_OK


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


def _report(message: object) -> None:
    """One line on stderr; nothing if stderr itself is gone (``2>&1 | head``)."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(version("symlstm"))
        return EXIT_OK
    command = {
        "example": _example,
        "audit": _audit,
        "equations": _equations,
        "grad": _grad,
        "derive": _derive,
        "codegen": _codegen,
        "validate": _validate,
        "claims": _claims,
        "diagram": _diagram,
    }
    if args.command is None:
        args = build_parser().parse_args(["example"])
    from symlstm.budget import allowing

    with allowing(getattr(args, "allow_large", False)):
        return command[args.command](args)


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
        _report(err)
        return EXIT_BAD_INPUT
    except SymLSTMError as err:
        _report(f"symlstm: error: {err}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
