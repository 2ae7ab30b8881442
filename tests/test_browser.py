"""The web pages in a real browser: Debian's chromium, driven by Playwright (no browser
download: ``executable_path`` points at the system's), at a phone's 390-pixel width.

They skip where chromium or Playwright is missing, and fail instead in CI (``CI`` set),
so that CI cannot skip them silently; .ci/run installs chromium.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from symlstm.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 390
SKIP_REASON = "chromium or playwright missing: apt-get install chromium; pip install playwright"

PAGES = {
    "seed-step": ("example", "seed-step", "--format", "html"),
    "seed-sequence": ("example", "seed-sequence", "--format", "html"),
    "vector-demo": ("example", "vector-demo", "--format", "html"),
    "derive": ("derive", "--format", "html"),
    "grad": ("grad", "--format", "html"),
    "audit": ("audit", "--format", "html"),
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


def _require_browser():
    sync_playwright = _playwright()
    if CHROMIUM is None or sync_playwright is None:
        if _in_ci():
            pytest.fail(f"CI is set but {SKIP_REASON}", pytrace=False)
        pytest.skip(SKIP_REASON)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    paths = {}
    for name, argv in PAGES.items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(list(argv)) in (0, 1)
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(out.getvalue(), encoding="utf-8")
    return paths


# Measured in the page: what a person sees.
_MEASURE = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom, r.width, r.height]; };
  const maths = [...document.querySelectorAll('math')].map(m => box(m));
  const rawTex = /\\\\(begin|frac|sigma)|\\$\\$/.test(document.body.innerText);
  const svgs = [...document.querySelectorAll('svg.lstm-diagram')].map(svg => ({
    box: box(svg),
    labels: [...svg.querySelectorAll('g.label')].map(g => ({
      quantity: g.dataset.quantity, box: box(g),
      values: [...g.querySelectorAll('text.value')].map(t => t.textContent)})),
    visible: getComputedStyle(svg).visibility === 'visible'
             && svg.getBoundingClientRect().width > 0,
  }));
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    textLength: document.body.innerText.trim().length,
    maths, rawTex, svgs,
    mathDisplay: maths.length ? getComputedStyle(document.querySelector('math')).display : null,
  };
}"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def test_ci_has_a_browser():
    """In CI the browser tests must run: fail (not skip) when chromium is missing."""
    _require_browser()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_at_phone_width(browser, pages, name, tmp_path):
    page = browser.new_page(viewport={"width": WIDTH, "height": 844})
    page.goto(pages[name].as_uri())
    found = page.evaluate(_MEASURE)
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    page.close()
    assert found["textLength"] > 200  # not blank
    assert found["scrollWidth"] <= WIDTH  # nothing forces horizontal scrolling
    if name != "audit":
        assert found["maths"], "no MathML"
        assert found["mathDisplay"] is not None and "math" in found["mathDisplay"]
        assert all(w > 0 and h > 0 for *_, w, h in found["maths"])  # rendered, not empty
        assert not found["rawTex"]
    expected_svgs = {"seed-step": 1, "seed-sequence": 3, "vector-demo": 2}.get(name, 0)
    assert len(found["svgs"]) == expected_svgs
    for svg in found["svgs"]:
        assert svg["visible"]
        x0, y0, x1, y1, w, h = svg["box"]
        assert 300 < w <= WIDTH and h > 200
        labels = svg["labels"]
        assert len(labels) >= 11
        for label in labels:
            lx0, ly0, lx1, ly1, lw, lh = label["box"]
            assert lw > 0 and lh > 0
            assert x0 - 0.5 <= lx0 and lx1 <= x1 + 0.5 and y0 - 0.5 <= ly0 and ly1 <= y1 + 0.5
        for k, a in enumerate(labels):
            for b in labels[k + 1 :]:
                assert not _overlap(a["box"], b["box"]), (a["quantity"], b["quantity"])
    if name == "seed-step":
        values = {lab["quantity"]: lab["values"] for lab in found["svgs"][0]["labels"]}
        assert values["f"] == ["0.62"] and values["c"] == ["0.451"] and values["h"] == ["0.276"]
        # the products out of the cell line's two ⊙ nodes (spec section 5: 0.248 + 0.203)
        assert values["fc"] == ["0.248"] and values["ig"] == ["0.203"]
    if name == "vector-demo":  # columns of two entries, products computed entry by entry
        values = {lab["quantity"]: lab["values"] for lab in found["svgs"][0]["labels"]}
        assert values["fc"] == ["0.155", "0.000"] and values["ig"] == ["0.117", "0.377"]
        assert values["c"] == ["0.272", "0.377"]


def test_math_is_laid_out_not_raw_text(browser, pages):
    """A fraction is typeset: its numerator sits above its denominator."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 844})
    page.goto(pages["seed-step"].as_uri())
    above = page.evaluate(
        """() => { const f = document.querySelector('mfrac');
                   const [num, den] = f.children;
                   return num.getBoundingClientRect().bottom <= den.getBoundingClientRect().top
                          + 1; }"""
    )
    page.close()
    assert above
