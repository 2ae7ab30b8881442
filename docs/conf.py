"""Sphinx configuration for the symlstm documentation.

Build (both must pass with warnings as errors; ``tests/test_docs.py`` runs them):

    sphinx-build -W -b doctest docs docs/_build/doctest
    sphinx-build -W -b html docs docs/_build/html

The machine that builds these docs is offline: no intersphinx.
"""

from __future__ import annotations

import doctest
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Document (and doctest) the source tree beside these docs, installed or not.
sys.path.insert(0, str(ROOT))

with (ROOT / "pyproject.toml").open("rb") as f:
    _project = tomllib.load(f)["project"]

project = "symlstm"
author = "symlstm developers"
copyright = "symlstm developers"
release = _project["version"]
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # MathJax from the package, copied into _static/mathjax (its module name has
    # hyphens): the built pages load no script from a CDN and render math offline.
    "sphinx-mathjax-offline",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# examples/: files the pages include (literalinclude), not pages of their own.
exclude_patterns = ["_build", "_generated", "examples", "Thumbs.db", ".DS_Store"]

# -- MyST -------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon (numpydoc-style docstrings) ----------------------------
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# Type hints name SymPy and mpmath types that no inventory can resolve offline.
nitpicky = False
nitpick_ignore_regex = [
    (r"py:.*", r"(sympy|mpmath|numpy|np)(\..*)?"),
    (r"py:.*", r"(Any|Callable|Mapping|Sequence|T|ExactValue|Path)"),
]

# -- doctest -------------------------------------------------------------------
# Only the {doctest} blocks of the pages are run here. The ``>>>`` examples in the
# docstrings that autodoc pulls into the API page are run by pytest
# (--doctest-modules, with each module's globals); running them here too would run
# them without those globals.
doctest_test_doctest_blocks = ""
doctest_default_flags = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
)
# Each page's examples start from a clean numeric state.
doctest_global_setup = """
import mpmath
mpmath.mp.dps = 15
"""

# -- HTML ----------------------------------------------------------------------
html_theme = "furo"
html_title = f"symlstm {release}"


# -- docstrings ------------------------------------------------------------------
# numpydoc sections run to the next section header, so a ``>>>`` example written
# after a "Parameters" or "Raises" section (the package's docstrings often end with
# one) would be read by napoleon as more parameters. Give such an example its own
# "Examples" header before napoleon sees the docstring.
_NUMPY_SECTIONS = {
    "Parameters", "Other Parameters", "Keyword Arguments", "Returns", "Yields",
    "Receives", "Raises", "Warns", "Warnings", "Attributes", "Methods", "See Also",
    "Notes", "References",
}  # fmt: skip


def _examples_header(app, what, name, obj, options, lines):
    in_section = False
    for k, line in enumerate(lines):
        underline = lines[k + 1].strip() if k + 1 < len(lines) else ""
        if underline and set(underline) == {"-"}:
            if line.strip() == "Examples":
                return
            in_section = line.strip() in _NUMPY_SECTIONS
        elif in_section and line.startswith(">>>"):
            head = ["Examples", "--------"]
            lines[k:k] = head if k > 0 and not lines[k - 1].strip() else ["", *head]
            return


# napoleon reads the first line of an attribute's or property's docstring as
# "type: description", so "Gates that have their own weights: i, g, o …" would show
# "Gates that have their own weights" as a type. Those docstrings are plain prose
# here: keep them as written.
_plain: dict[str, list[str]] = {}


def _save_plain(app, what, name, obj, options, lines):
    if what in ("attribute", "data", "property"):
        _plain[name] = list(lines)


def _restore_plain(app, what, name, obj, options, lines):
    if name in _plain:
        lines[:] = _plain.pop(name)


def setup(app):
    _setup_worked(app)
    # Before napoleon (priority 500) turns the sections into fields …
    app.connect("autodoc-process-docstring", _examples_header, priority=400)
    app.connect("autodoc-process-docstring", _save_plain, priority=400)
    # … and after it, for attribute and property docstrings.
    app.connect("autodoc-process-docstring", _restore_plain, priority=600)


# -- worked examples rendered at build time -------------------------------------------
# The package renders the built-in examples as Markdown into _generated/; the pages
# {include} them, so MyST (a real Markdown + math renderer) checks what users get.
GENERATED = Path(__file__).resolve().parent / "_generated"


def _render_worked_examples(app):
    from symlstm.examples import load_example
    from symlstm.render.worked import worked_example

    GENERATED.mkdir(exist_ok=True)
    for name, options in (
        ("seed-step", {}),
        ("seed-sequence", {}),
        ("seed-sequence", {"mode": "hand"}),
        ("vector-demo", {}),
    ):
        suffix = "-hand" if options.get("mode") == "hand" else ""
        markdown = worked_example(load_example(name), **options).markdown()
        # The pages give their own headings: drop the example's title line.
        body = markdown.split("\n", 1)[1]
        _write_generated(f"{name}{suffix}.md", body)
    _render_backprop()


def _write_generated(name, body):
    target = GENERATED / name
    if not target.exists() or target.read_text(encoding="utf-8") != body:
        target.write_text(body, encoding="utf-8")


def _render_backprop():
    from symlstm.cell import Cell
    from symlstm.examples import load_example
    from symlstm.render.derivation import derivation
    from symlstm.render.gradients import worked_gradient

    _write_generated("backward-vector.md", derivation(Cell("vector")).markdown())
    _write_generated(
        "backward-peephole-coupled.md",
        derivation(Cell("vector", peephole=True, forget_gate="coupled")).markdown(),
    )
    worked = worked_gradient(load_example("seed-step"), loss="h_T")
    _write_generated("grad-seed-step.md", worked.markdown().split("\n", 1)[1])
    _render_generated_code()
    _render_latex_page()
    _render_pictures()


def _render_pictures():
    """The pictures of the pages, drawn by the package when the docs are built: the cell
    with the spec's step on it (index), a worked example as a web page (worked), and the
    errors of a real PyTorch run along the sequence (validation)."""
    from symlstm.examples import load_example
    from symlstm.render.diagram import worked_diagram
    from symlstm.render.html import worked_html
    from symlstm.render.worked import worked_example

    worked = worked_example(load_example("seed-step"))
    _write_generated("seed-step-diagram.svg", worked_diagram(worked, 1).render("svg") + "\n")
    _write_generated("seed-step-page.html", worked_html(worked, standalone=True))
    _write_generated("validation-plot.md", _validation_plot())


def _validation_plot():
    """Markdown showing the error plot of a float32 torch.nn.LSTM's run, or saying why not."""
    try:
        import torch
    except ImportError:
        return "*(PyTorch was not installed where these pages were built: no plot.)*\n"
    import numpy as np

    from symlstm.render.plots import error_plot
    from symlstm.validation import validate

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2, 4)).astype(np.float32)
    y, (h_T, c_T) = lstm(torch.from_numpy(x))
    weights = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    outputs = {"y": y.detach().numpy(), "h_T": h_T.detach().numpy(), "c_T": c_T.detach().numpy()}
    report = validate("torch", weights, {"x": x}, outputs, diagnosis=False)
    _write_generated("validation-plot.svg", error_plot(report) + "\n")
    return (
        f"![The error of torch.nn.LSTM(4, 3) in float32 over 30 steps, in ULPs, with the "
        f"tolerance line: {report.verdict}](_generated/validation-plot.svg)\n"
    )


def _render_latex_page():
    """The spec's worked example compiled by pdflatex and drawn by pdftoppm, for the LaTeX
    page: the package's own output today, not a screenshot kept in the repository."""
    import shutil
    import tempfile

    from symlstm.examples import load_example
    from symlstm.render.document import compile_pdf, first_page_png, pdftoppm_available
    from symlstm.render.document import tex_available as have_tex
    from symlstm.render.worked import worked_example

    if not (have_tex() and pdftoppm_available()):
        _write_generated(
            "latex-page.md",
            "*(TeX or poppler was not installed where these pages were built, so the "
            "compiled page is not shown: see {doc}`installation`.)*\n",
        )
        return
    source = worked_example(load_example("seed-step")).latex(standalone=True)
    with tempfile.TemporaryDirectory() as work:
        png = first_page_png(compile_pdf(source, work, jobname="seed-step"), dpi=80)
        shutil.copyfile(png, GENERATED / "seed-step-page.png")
    _write_generated(
        "latex-page.md",
        "![The first page of `symlstm example seed-step --format latex --standalone`, "
        "compiled by pdflatex](_generated/seed-step-page.png)\n",
    )


def _render_generated_code():
    from symlstm.codegen.numpy_code import generate_numpy
    from symlstm.codegen.torch_code import generate_torch

    _write_generated("lstm_textbook.py", generate_numpy())
    _write_generated("lstm_peephole.py", generate_numpy("peephole"))
    _write_generated("lstm_torch_peephole.py", generate_torch("peephole"))


def _setup_worked(app):
    app.connect("builder-inited", _render_worked_examples)
    app.connect("builder-inited", _render_notebook)
    app.connect("build-finished", _copy_web_page)


def _copy_web_page(app, exception):
    """The generated web page of a worked example, beside the page that frames it."""
    import shutil

    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_generated"
        target.mkdir(exist_ok=True)
        shutil.copyfile(GENERATED / "seed-step-page.html", target / "seed-step-page.html")


# -- the notebook page, executed at build time ------------------------------------------------
# docs/notebook.md shows what Jupyter shows for the objects a user holds. No Jupyter
# kernel runs: each cell below is executed here, in one namespace as a notebook would,
# and its last expression's _repr_html_() is what the page shows under it (the same
# HTML a notebook displays). A cell that needs something missing (PyTorch) says so.
NOTEBOOK_CELLS = {
    "worked": """\
import symlstm

worked = symlstm.worked_example(symlstm.load_example("seed-step"))
worked""",
    "derivation": """\
symlstm.derivation(symlstm.Cell("tied"), notation="spec")""",
    "audit": """\
report = symlstm.audit()  # the spec's own claims
report""",
    "validation": """\
import numpy as np
import torch

torch.manual_seed(0)
lstm = torch.nn.LSTM(input_size=3, hidden_size=2)
weights = {name: p.detach().numpy() for name, p in lstm.named_parameters()}
x = np.random.default_rng(0).normal(size=(12, 1, 3)).astype(np.float32)
with torch.no_grad():
    y, (h_T, c_T) = lstm(torch.from_numpy(x))
outputs = {"y": y.numpy(), "h_T": h_T.numpy(), "c_T": c_T.numpy()}
symlstm.validate("torch", weights, {"x": x}, outputs, diagnosis=False)""",
}


def _notebook_css():
    """The package's page style, only its rules for its own blocks (``.symlstm …``), so
    that the docs' theme keeps the rest of the page; and the cells' frames."""
    import re

    from symlstm.render.html import CSS

    rules = [r.strip() + "}" for r in CSS.split("}") if r.strip()]
    own = [
        r
        for r in rules
        if all(sel.strip().startswith(".symlstm") for sel in r.split("{")[0].split(","))
    ]
    frames = (
        ".notebook-out { border-left: 3px solid #d0d7de; padding: 0 0 0 0.8em; "
        "margin: 0 0 2em; overflow-x: auto; }\n"
        ".notebook-out > .prompt { color: #b3541e; font-family: monospace; font-size: 0.85em; }\n"
        ".notebook-out .symlstm { margin: 0; padding: 0; max-width: none; }\n"
        ".notebook-out .symlstm h1 { font-size: 1.2em; margin-top: 0.3em; }"
    )
    return re.sub(r"\n\s*", " ", "\n".join(own)) + "\n" + frames


def _run_cell(code, namespace):
    """Run a cell; return its last expression's value (a notebook's Out[n])."""
    import ast

    tree = ast.parse(code)
    last = tree.body.pop()
    exec(compile(tree, "<notebook>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<notebook>", "eval"), namespace)


def _render_notebook(app):
    """Execute :data:`NOTEBOOK_CELLS`; write each as the code (In) and its HTML (Out)."""
    import importlib.util

    GENERATED.mkdir(exist_ok=True)
    namespace = {}
    _write_generated(
        "notebook-style.md", f"```{{raw}} html\n<style>\n{_notebook_css()}\n</style>\n```\n"
    )
    for n, (name, code) in enumerate(NOTEBOOK_CELLS.items(), start=1):
        cell = f"```{{code-block}} python\n:caption: In [{n}]\n\n{code}\n```\n\n"
        if name == "validation" and importlib.util.find_spec("torch") is None:
            out = "*(PyTorch was not installed where these pages were built: no output.)*\n"
            _write_generated(f"notebook-{name}.md", cell + out)
            continue
        value = _run_cell(code, namespace)
        html = value._repr_html_()
        kind = type(value).__name__
        out = (
            f'````{{raw}} html\n<div class="notebook-out" data-object="{kind}">'
            f'<div class="prompt">Out[{n}]: {kind}</div>\n{html}\n</div>\n````\n'
        )
        _write_generated(f"notebook-{name}.md", cell + out)
