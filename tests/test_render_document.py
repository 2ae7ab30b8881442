"""Complete LaTeX documents, compiled for real with pdflatex and looked at with poppler.

The tests that compile need Debian's ``texlive-latex-base``, ``latexmk`` and
``poppler-utils``; they skip, saying so, only where those programs are not installed.
Where the environment variable ``CI`` is set, :func:`test_ci_has_tex_tools` fails instead,
so that CI cannot skip them silently.

Page images are read without any imaging library: pdftoppm's PNG is decoded here
(zlib and the five PNG row filters).
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from symlstm.errors import (
    ParameterError,
    PdftoppmNotFoundError,
    SymLSTMError,
    TexError,
    TexNotFoundError,
)
from symlstm.examples import load_example
from symlstm.render import document
from symlstm.render.document import (
    compile_pdf,
    escape_latex,
    first_page_png,
    pdftoppm_available,
    standalone,
    tex_available,
)
from symlstm.render.summary import summary

SKIP_REASON = "TeX engine not installed: apt-get install texlive-latex-base latexmk poppler-utils"
TOOLS = ("pdflatex", "latexmk", "pdftoppm", "pdftotext")

needs_tex = pytest.mark.skipif(not tex_available(), reason=SKIP_REASON)
needs_png = pytest.mark.skipif(not (tex_available() and pdftoppm_available()), reason=SKIP_REASON)
needs_text = pytest.mark.skipif(
    not (tex_available() and shutil.which("pdftotext")), reason=SKIP_REASON
)

# Every character that escape_latex treats specially, in a title.
SPECIALS = r"\ & % $ # _ { } ~ ^ < > |"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def test_ci_has_tex_tools() -> None:
    """In CI the TeX tests must run: fail (not skip) when a program is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    if _in_ci():
        pytest.fail(
            f"CI is set but {', '.join(missing)} not on PATH, so the TeX tests would skip: "
            "apt-get install --no-install-recommends texlive-latex-base latexmk poppler-utils",
            pytrace=False,
        )
    pytest.skip(SKIP_REASON)


# -- reading pdftoppm's PNG --------------------------------------------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    """Undo one PNG row filter (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytes((x + b) & 0xFF for x, b in zip(line, prev, strict=True))
    out = bytearray(len(line))
    for k, x in enumerate(line):
        a = out[k - bpp] if k >= bpp else 0
        b = prev[k]
        c = prev[k - bpp] if k >= bpp else 0
        if kind == 1:
            out[k] = (x + a) & 0xFF
        elif kind == 3:
            out[k] = (x + (a + b) // 2) & 0xFF
        elif kind == 4:
            out[k] = (x + _paeth(a, b, c)) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter type {kind}")
    return bytes(out)


def read_png_gray(path: Path) -> np.ndarray:
    """An 8-bit, non-interlaced PNG (gray, RGB, with or without alpha) as gray levels 0..255."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR chunk"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0, f"unsupported PNG: depth {depth}, interlace {interlace}"
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    stride = width * channels
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1)
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], prev, channels)
        rows.append(prev)
    pixels = np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, channels)
    color_channels = pixels[..., : 3 if channels >= 3 else 1]
    return color_channels.mean(axis=2)


def test_png_filters_round_trip() -> None:
    """The decoder's filters, against rows filtered here with each of the five types."""
    rng = np.random.default_rng(5)
    bpp, prev = 3, bytes(rng.integers(0, 256, 12, dtype=np.uint8))
    row = bytes(rng.integers(0, 256, 12, dtype=np.uint8))
    for kind in range(5):
        filtered = bytearray(len(row))
        for k, x in enumerate(row):
            a = row[k - bpp] if k >= bpp else 0
            b, c = prev[k], (prev[k - bpp] if k >= bpp else 0)
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            filtered[k] = (x - pred) & 0xFF
        assert _unfilter(kind, bytes(filtered), prev, bpp) == row


def dark_fraction(png: Path) -> float:
    """The fraction of the page's pixels darker than mid-gray."""
    gray = read_png_gray(png)
    return float(np.mean(gray < 128))


# -- escape_latex ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "tex"),
    [
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
        ("<", r"\textless{}"),
        (">", r"\textgreater{}"),
        ("|", r"\textbar{}"),
    ],
)
def test_escape_latex_specials(char: str, tex: str) -> None:
    assert escape_latex(char) == tex
    assert escape_latex(f"a{char}b") == f"a{tex}b"


def test_escape_latex_keeps_plain_text() -> None:
    text = "One step of the spec's LSTM cell (section 5): h = 0.276, [t = 1]!"
    assert escape_latex(text) == text
    assert escape_latex("") == ""


def test_escape_latex_does_not_double_escape() -> None:
    assert escape_latex(r"\&") == r"\textbackslash{}\&"
    assert escape_latex("{}") == r"\{\}"


def test_escape_latex_ligatures_and_whitespace() -> None:
    assert escape_latex("a--b---c") == "a-{}-b-{}-{}-c"
    assert escape_latex("!`?`") == "!{}`?{}`"
    assert escape_latex("line one\nline two\r\tend") == "line one line two  end"


def test_escape_latex_non_ascii() -> None:
    assert escape_latex("Müller, café, Łódź") == "Müller, café, Łódź"
    assert escape_latex("σ") == r"\ensuremath{\sigma}"
    assert (
        escape_latex("Σ·×−")
        == r"\ensuremath{\Sigma}\ensuremath{\cdot}\ensuremath{\times}\ensuremath{-}"
    )
    assert escape_latex("snow ☃, €") == "snow ?, ?"


def test_standalone_structure() -> None:
    body = "\\begin{align*}\nx &= 1\n\\end{align*}"
    doc = standalone(body, title="50% & h_t")
    assert doc.startswith("\\documentclass{article}\n")
    for line in (
        "\\usepackage{amsmath}",
        "\\usepackage{amssymb}",
        "\\usepackage[margin=2cm]{geometry}",
    ):
        assert line in doc.splitlines()
    assert body in doc  # pasted as is
    assert r"50\% \& h\_t" in doc
    assert doc.index("\\begin{document}") < doc.index(body) < doc.index("\\end{document}")
    assert doc.endswith("\\end{document}\n")
    assert "bfseries" not in standalone(body)


def test_standalone_uses_only_base_packages() -> None:
    """Only packages from texlive-latex-base (and texlive-base, which it depends on)."""
    import re

    doc = standalone("x", title="t")
    assert re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", doc) == [
        "amsmath",
        "amssymb",
        "geometry",
    ]
    if shutil.which("kpsewhich"):
        for name in ("article.cls", "amsmath.sty", "amssymb.sty", "geometry.sty"):
            found = subprocess.run(["kpsewhich", name], capture_output=True, text=True)
            assert found.stdout.strip(), f"kpsewhich cannot find {name}"


# -- missing programs (no TeX needed) --------------------------------------------------------


def test_no_engine_names_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(document.shutil, "which", lambda name: None)
    assert not tex_available() and not pdftoppm_available()
    with pytest.raises(TexNotFoundError, match="texlive-latex-base latexmk") as err:
        compile_pdf(standalone("x"), tmp_path)
    assert isinstance(err.value, SymLSTMError) and isinstance(err.value, RuntimeError)
    assert not (tmp_path / "worked.pdf").exists()


def test_no_pdftoppm_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pdf = tmp_path / "worked.pdf"
    pdf.write_bytes(b"%PDF-1.5\n")
    monkeypatch.setattr(document.shutil, "which", lambda name: None)
    with pytest.raises(PdftoppmNotFoundError, match="poppler-utils") as err:
        first_page_png(pdf)
    assert isinstance(err.value, TexNotFoundError)


def test_bad_arguments(tmp_path: Path) -> None:
    for jobname in ("", "../x", "a b", "-x"):
        with pytest.raises(ParameterError, match="jobname"):
            compile_pdf("x", tmp_path, jobname=jobname)
    with pytest.raises(ParameterError, match="dpi"):
        first_page_png(tmp_path / "worked.pdf", dpi=0)


def test_tex_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(TexError("boom", log_excerpt="! x")))
    assert str(err) == "boom" and isinstance(err, TexError)


# -- compiling for real ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blank_fraction(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The control: an empty body gives one blank page (its page number aside)."""
    if not (tex_available() and pdftoppm_available()):
        pytest.skip(SKIP_REASON)
    pdf = compile_pdf(standalone(""), tmp_path_factory.mktemp("blank"))
    return dark_fraction(first_page_png(pdf))


@needs_png
def test_blank_page_is_blank(blank_fraction: float) -> None:
    assert blank_fraction < 0.0002


@needs_png
@pytest.mark.parametrize("name", ["seed-step", "seed-sequence"])
def test_summary_compiles_and_shows(name: str, tmp_path: Path, blank_fraction: float) -> None:
    ex = load_example(name)
    body = summary(ex, ex.certify()).latex()
    pdf = compile_pdf(standalone(body, title=ex.title), tmp_path)
    assert pdf == tmp_path / "worked.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    png = first_page_png(pdf)
    assert png == tmp_path / "worked.png"
    gray = read_png_gray(png)
    assert gray.shape == (660, 510)  # US letter at 60 dpi
    dark = gray < 128
    # At 60 dpi most of a glyph's pixels are gray (anti-aliased): the seed examples give
    # 0.3-0.4 % of the pixels below 128, on some 110 rows of pixels (title, six equations,
    # a table of twelve rows); the blank control gives one pixel (its page number).
    assert dark.mean() > 0.002, f"page 1 is nearly blank: {dark.mean():.4%} dark pixels"
    assert dark.mean() > 100 * blank_fraction
    assert dark.any(axis=1).sum() > 60, "too few lines of text on page 1"


@needs_png
def test_dpi_sets_the_size(tmp_path: Path) -> None:
    png = first_page_png(compile_pdf(standalone("x"), tmp_path), dpi=30)
    assert read_png_gray(png).shape == (330, 255)


@needs_text
def test_title_with_every_special_character(tmp_path: Path) -> None:
    title = f"T: {SPECIALS} end"
    pdf = compile_pdf(standalone("", title=title), tmp_path)
    found = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # OT1's \textasciitilde and \textasciicircum are the accents ˜ and ˆ; its \_ is a drawn
    # rule, not a glyph, so text extraction cannot see it (the page shows it).
    found = found.replace("˜", "~").replace("ˆ", "^")
    visible = [ch for ch in title if not ch.isspace() and ch != "_"]
    for ch in visible:
        assert ch in found, f"{ch!r} missing from the extracted text {found!r}"
    assert "T: \\ & % $ #" in found and "{ } ~ ^ < > | end" in found
    assert "textbackslash" not in found


@needs_tex
def test_title_with_non_ascii_compiles(tmp_path: Path) -> None:
    title = document._OT1_TEXT + "".join(document._MATH_CHARS) + " ☃ \x01"
    pdf = compile_pdf(standalone("x", title=title), tmp_path)
    if shutil.which("pdffonts"):  # no bitmap (Type 3) fonts made on the fly
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
        assert "Type 3" not in fonts


@needs_tex
def test_broken_body_quotes_the_error(tmp_path: Path) -> None:
    with pytest.raises(TexError) as err:
        compile_pdf(standalone("\\begin{align*} x \\end{alig}"), tmp_path)
    message = str(err.value)
    assert "! LaTeX Error: \\begin{align*} on input line" in message
    assert "ended by \\end{alig}." in message
    assert "\\end{alig}" in err.value.log_excerpt and "l." in err.value.log_excerpt
    assert err.value.log_path == tmp_path / "worked.log"
    assert not (tmp_path / "worked.pdf").exists()


@needs_tex
def test_undefined_command(tmp_path: Path) -> None:
    with pytest.raises(TexError, match=r"! Undefined control sequence"):
        compile_pdf(standalone("$\\nosuchmacro$"), tmp_path, jobname="bad")


@needs_tex
def test_recompiling_a_fixed_document(tmp_path: Path) -> None:
    with pytest.raises(TexError):
        compile_pdf(standalone("\\begin{align*} x \\end{alig}"), tmp_path)
    pdf = compile_pdf(standalone("\\begin{align*} x \\end{align*}"), tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")


@needs_tex
def test_without_latexmk_runs_pdflatex(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = shutil.which
    monkeypatch.setattr(document.shutil, "which", lambda n: None if n == "latexmk" else real(n))
    pdf = compile_pdf(standalone("\\[ x \\ref{nothing} \\]"), tmp_path, jobname="plain")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert not (tmp_path / "plain.fdb_latexmk").exists()
    with pytest.raises(TexError, match="! LaTeX Error"):
        compile_pdf(standalone("\\begin{align*} x \\end{alig}"), tmp_path, jobname="plain")


@needs_tex
def test_no_pages_is_an_error(tmp_path: Path) -> None:
    empty = "\\documentclass{article}\n\\begin{document}\n\\end{document}\n"
    with pytest.raises(TexError, match="No pages of output"):
        compile_pdf(empty, tmp_path)


@needs_tex
def test_endless_loop_times_out(tmp_path: Path) -> None:
    with pytest.raises(TexError, match="did not finish"):
        compile_pdf(standalone("\\def\\loop{\\loop}\\loop"), tmp_path, timeout=2)


@needs_tex
def test_shell_escape_is_off(tmp_path: Path) -> None:
    compile_pdf(standalone("\\immediate\\write18{touch pwned}x"), tmp_path)
    assert not (tmp_path / "pwned").exists()
    assert "runsystem(touch pwned)...disabled" in (tmp_path / "worked.log").read_text()
