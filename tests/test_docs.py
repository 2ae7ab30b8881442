"""The documentation builds with warnings as errors, and its examples run.

Both Sphinx builders run in a temporary folder, as ``-W`` builds:

* ``doctest`` runs every ``{doctest}`` block of the pages in ``docs/`` (the
  docstrings' own examples are run by pytest's ``--doctest-modules``);
* ``html`` builds the pages and the API reference (autodoc of every module).

Slow for a test: a few seconds to half a minute for the two builds. Needs the ``docs`` extra
(``pip install '.[docs]'``); skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_MISSING = [m for m in ("sphinx", "myst_parser", "furo") if importlib.util.find_spec(m) is None]

pytestmark = [
    pytest.mark.slow,  # two Sphinx builds, about 30 s
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"{', '.join(_MISSING)} not installed: pip install '.[docs]' to build the docs",
    ),
]


def _build(builder: str, tmp_path: Path) -> None:
    out, doctrees = tmp_path / builder, tmp_path / "doctrees"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", builder,
           "-d", str(doctrees), str(DOCS), str(out)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        report = out / "output.txt"  # the doctest builder's summary of failures
        details = report.read_text(encoding="utf-8") if report.exists() else ""
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}\n{details}",
            pytrace=False,
        )


def test_docs_examples_pass(tmp_path: Path) -> None:
    """``sphinx-build -W -b doctest``: every example on the pages gives its shown output."""
    _build("doctest", tmp_path)


def test_docs_html_builds(tmp_path: Path) -> None:
    """``sphinx-build -W -b html``: no warning anywhere, API reference included."""
    _build("html", tmp_path)
    latex_page = (tmp_path / "html" / "latex.html").read_text(encoding="utf-8")
    if shutil.which("pdflatex") and shutil.which("pdftoppm"):
        # The LaTeX page shows the seed example compiled at build time, as a real PNG.
        assert 'src="_images/seed-step-page.png"' in latex_page
        png = (tmp_path / "html" / "_images" / "seed-step-page.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
