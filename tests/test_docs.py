"""The documentation builds with warnings as errors, and its examples run.

Both Sphinx builders run in a temporary folder, as ``-W`` builds:

* ``doctest`` runs every ``{doctest}`` block of the pages in ``docs/`` (the
  docstrings' own examples are run by pytest's ``--doctest-modules``);
* ``html`` builds the pages and the API reference (autodoc of every module), once for
  the tests below: one checks the build, one opens pages with math in chromium with the
  network blocked (MathJax comes from the build's ``_static``, not from a CDN).

Slow for a test: a few seconds to half a minute for the two builds. Needs the ``docs`` extra
(``pip install '.[docs]'``); skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
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


@pytest.fixture(scope="module")
def html_docs(tmp_path_factory) -> Path:
    """The HTML pages, built once for this module's tests."""
    tmp_path = tmp_path_factory.mktemp("docs")
    _build("html", tmp_path)
    return tmp_path / "html"


def test_docs_html_builds(html_docs: Path) -> None:
    """``sphinx-build -W -b html``: no warning anywhere, API reference included."""
    latex_page = (html_docs / "latex.html").read_text(encoding="utf-8")
    if shutil.which("pdflatex") and shutil.which("pdftoppm"):
        # The LaTeX page shows the seed example compiled at build time, as a real PNG.
        assert 'src="_images/seed-step-page.png"' in latex_page
        png = (html_docs / "_images" / "seed-step-page.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_docs_pictures_are_the_packages_own_output(html_docs: Path) -> None:
    """Issue 17: the index opens with the spec's step drawn, worked.md frames the HTML page,
    validation.md shows a real run's error plot; all made when the docs were built."""
    import xml.etree.ElementTree as ET

    index = (html_docs / "index.html").read_text(encoding="utf-8")
    assert 'src="_images/seed-step-diagram.svg"' in index
    svg = (html_docs / "_images" / "seed-step-diagram.svg").read_text(encoding="utf-8")
    texts = "".join(ET.fromstring(svg).itertext())
    for value in ("0.62", "0.603", "0.336", "0.451", "0.652", "0.276"):  # section 5's six
        assert value in texts
    worked = (html_docs / "worked.html").read_text(encoding="utf-8")
    assert '<iframe src="_generated/seed-step-page.html"' in worked
    page = (html_docs / "_generated" / "seed-step-page.html").read_text(encoding="utf-8")
    assert "<math" in page and "<svg" in page and "<script" not in page
    validation = (html_docs / "validation.html").read_text(encoding="utf-8")
    if importlib.util.find_spec("torch") is not None:
        assert 'src="_images/validation-plot.svg"' in validation
        plot = ET.parse(html_docs / "_images" / "validation-plot.svg").getroot()
        assert len([e for e in plot.iter() if e.get("class") == "point"]) >= 30


def _notebook_outputs(page: str) -> dict[str, str]:
    """The Out blocks of the notebook page: the object's class name → its HTML."""
    outputs = {}
    for block in page.split('<div class="notebook-out" data-object="')[1:]:
        kind, _, html = block.partition('"')
        outputs[kind] = html
    return outputs


def test_docs_notebook_page_shows_the_objects_rendered_at_build_time(html_docs: Path) -> None:
    """Issue 17: the notebook page runs its cells when the docs are built and shows each
    object's ``_repr_html_``: the worked example's MathML and drawn cell, the
    derivation's MathML, the audit's coloured table, the validation's table and plot."""
    import xml.etree.ElementTree as ET

    index = (html_docs / "index.html").read_text(encoding="utf-8")
    assert 'href="notebook.html"' in index  # in the toctree
    page = (html_docs / "notebook.html").read_text(encoding="utf-8")
    for n in (1, 2, 3):
        assert f"In [{n}]" in page and f"Out[{n}]" in page
    out = _notebook_outputs(page)
    worked = out["WorkedExample"]
    assert worked.count("<math") > 5 and "<mfrac" in worked  # MathML, typeset by the browser
    svg = re.search(r'<svg [^>]*class="lstm-diagram".*?</svg>', worked, re.S)
    assert svg is not None, "no diagram in the worked example's output"
    root = ET.fromstring(svg.group(0))
    values = {
        g.get("data-quantity"): [t.text for t in g.iter() if t.get("class") == "value"]
        for g in root.iter()
        if g.get("class") == "label"
    }
    spec = {"f": "0.62", "i": "0.603", "g": "0.336", "c": "0.451", "o": "0.652", "h": "0.276"}
    for q, value in {**spec, "fc": "0.248", "ig": "0.203"}.items():
        assert values[q] == [value], q
    assert "<math" in out["Derivation"] and "δ" in out["Derivation"]
    audit = out["AuditReport"]
    table = re.search(r"<table>.*?</table>", audit, re.S)
    assert table is not None, "no audit table"
    rows = re.findall(r'<tr class="(holds|wrong)">', table.group(0))
    assert len(rows) > 30 and "wrong" in rows and "holds" in rows  # the spec: one wrong
    assert '<p class="legend">' in audit
    assert ".symlstm .wrong" in page  # its colours: the package's style sheet, scoped
    if importlib.util.find_spec("torch") is not None:
        validation = out["ValidationReport"]
        assert "<table>" in validation and 'class="ulp-plot"' in validation
    else:
        assert "PyTorch was not installed" in page


# -- math rendered offline -------------------------------------------------------------
# Pages with display math (aligned, \sigma, fractions): seed-sequence and worked are
# rendered by the package at build time.
MATH_PAGES = ("evaluation", "seed-sequence", "worked")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_MISSING = "chromium or playwright missing: apt-get install chromium; pip install playwright"

# After MathJax has typeset the page: its formulas' boxes and the text a person sees.
_TYPESET = r"""async () => {
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return null;
  await MathJax.startup.promise;
  const text = document.body.innerText;
  return {
    math: document.querySelectorAll('.math').length,
    boxes: [...document.querySelectorAll('mjx-container')].map(e => {
      const r = e.getBoundingClientRect(); return [r.width, r.height]; }),
    raw: text.match(/\\begin\{|\\sigma|\$\$/g) || [],
  };
}"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def test_docs_math_renders_offline(html_docs: Path) -> None:
    """Pages with math, opened in chromium with every non-``file://`` request blocked:
    MathJax (from ``_static/mathjax``) typesets every formula; no raw TeX is left."""
    for name in MATH_PAGES:
        source = (html_docs / f"{name}.html").read_text(encoding="utf-8")
        assert 'src="_static/mathjax/tex-chtml.js"' in source, name
        scripts = re.findall(r'<script[^>]*\ssrc="([^"]*)"', source)
        assert not [src for src in scripts if "//" in src], (name, scripts)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM is None or sync_playwright is None:
        if _in_ci():
            pytest.fail(f"CI is set but {BROWSER_MISSING}", pytrace=False)
        pytest.skip(BROWSER_MISSING)
    blocked: list[str] = []

    def offline(route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name in MATH_PAGES:
                page = browser.new_page()
                page.route("**/*", offline)
                page.goto((html_docs / f"{name}.html").as_uri())
                found = page.evaluate(_TYPESET)
                page.close()
                assert found is not None, f"{name}: MathJax did not load"
                assert found["math"] > 0 and len(found["boxes"]) == found["math"], (name, found)
                assert all(w > 0 and h > 0 for w, h in found["boxes"]), (name, found["boxes"])
                assert found["raw"] == [], (name, found["raw"])
        finally:
            browser.close()
    assert blocked == []  # nothing on the pages asked for the network
