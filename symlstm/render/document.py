r"""Complete LaTeX documents, compiled to PDF with a real TeX engine.

The renderers print LaTeX fragments (an ``align*``, a ``tabular``);
:func:`standalone` wraps one in a document that plain ``pdflatex`` from Debian's
``texlive-latex-base`` compiles (``article``, ``amsmath``, ``amssymb``,
``geometry``: nothing else), and :func:`compile_pdf` compiles it with
``latexmk`` (or ``pdflatex`` twice). :func:`first_page_png` renders page 1 to a
PNG with ``pdftoppm`` (``poppler-utils``). TeX and poppler are programs, not
Python packages: on Debian or Ubuntu,
``apt-get install --no-install-recommends texlive-latex-base latexmk poppler-utils``.

User text (titles, names) goes through :func:`escape_latex` first, so that no
character in it can break the document.

>>> doc = standalone(r"\[ h_t = o_t \odot \tanh(c_t) \]", title="50% of h_t")
>>> print(doc.splitlines()[-3])
\noindent{\Large\bfseries 50\% of h\_t\par}\bigskip
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from symlstm.errors import (
    ArgumentError,
    ParameterError,
    PdftoppmNotFoundError,
    TexError,
    TexNotFoundError,
)

__all__ = [
    "compile_pdf",
    "escape_latex",
    "first_page_png",
    "pdftoppm_available",
    "standalone",
    "tex_available",
]

#: The Debian packages that provide everything this module runs.
DEBIAN_PACKAGES = "texlive-latex-base latexmk poppler-utils"

#: Seconds a compilation (or a page rendering) may take before it is killed.
TIMEOUT = 60.0


# -- escaping --------------------------------------------------------------------------------

_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # In the default OT1 encoding "<", ">" and "|" print as "¡", "¿" and "—".
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

# Letters beyond ASCII that pdflatex prints with the fonts of texlive-latex-base (OT1,
# Computer Modern), each checked by compiling it. Other Latin-1 characters map to
# TS1 symbols that need fonts from texlive-fonts-recommended.
_OT1_TEXT = (
    "\u00a0¡\u00ad¸¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ"
    "ĀāĂăĆćĈĉĊċČčĎďĒēĔĕĖėĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭİıĲĳĴĵĶķĹĺĻļĽľŁłŃńŅņŇňŌōŎŏŐőŒœŔŕŖŗŘřŚśŜŝŞş"
    "ŠšŢţŤťŨũŪūŬŭŮůŰűŴŵŶŷŸŹźŻżŽž–—‘’“”…"
)

# Characters that have no text glyph in those fonts, written with math symbols.
_GREEK = (
    "αβγδεζηθικλμνξπρςστυφχψωΓΔΘΛΞΠΣΥΦΨΩϵϑϕϱϖ",
    "alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
    "varsigma sigma tau upsilon varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega "
    "epsilon vartheta phi varrho varpi",
)
_MATH_CHARS: dict[str, str] = {
    **{ch: "\\" + name for ch, name in zip(_GREEK[0], _GREEK[1].split(), strict=True)},
    # capitals that look like Latin ones, and omicron, have no macros
    **{
        ch: rf"\mathrm{{{latin}}}"
        for ch, latin in zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧ", "ABEZHIKMNOPTX", strict=True)
    },
    "ο": "o",
    "µ": r"\mu",
    "·": r"\cdot",
    "×": r"\times",
    "÷": r"\div",
    "±": r"\pm",
    "°": r"^{\circ}",
    "¹": r"^{1}",
    "²": r"^{2}",
    "³": r"^{3}",
    "−": "-",
    "′": "'",
    "″": "''",
    "•": r"\bullet",
    "†": r"\dagger",
    "‡": r"\ddagger",
    "∞": r"\infty",
    "≈": r"\approx",
    "≠": r"\neq",
    "≤": r"\leq",
    "≥": r"\geq",
    "→": r"\to",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "⊙": r"\odot",
    "⊗": r"\otimes",
    "⊕": r"\oplus",
    "∑": r"\sum",
    "∏": r"\prod",
    "√": r"\surd",
    "∂": r"\partial",
    "∇": r"\nabla",
    "∈": r"\in",
}

_ESCAPES: dict[str, str] = {
    **_SPECIALS,
    **{ch: rf"\ensuremath{{{tex}}}" for ch, tex in _MATH_CHARS.items()},
}


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if " " <= ch <= "~" or ch in _OT1_TEXT:
        return ch
    if ch.isspace() or ch < " " or ch == "\x7f":
        return " "  # a newline would end the title's paragraph (or its macro argument)
    return "?"


def escape_latex(text: str) -> str:
    r"""User text as LaTeX text that prints it and cannot break the document.

    The special characters ``\ & % $ # _ { } ~ ^`` and ``< > |`` (which the
    default OT1 font encoding prints as other glyphs) are escaped; ``--``, and
    ``!`` or ``?`` before a backquote, are kept from turning into ligatures
    (–, ¡, ¿). Letters
    with accents that pdflatex's base fonts have pass through; Greek letters and
    common symbols (σ, ⊙, ·, ×, −, ≤ …) become math symbols; line breaks and
    other control characters become spaces, and any other character becomes
    ``?``.

    Parameters
    ----------
    text
        Plain text, for example a title or a quantity's name.

    Returns
    -------
    str
        LaTeX for a text-mode context (a title, a table cell, a paragraph).

    Examples
    --------
    >>> print(escape_latex("h_t & c_t: 100% of $5 #1 {x}"))
    h\_t \& c\_t: 100\% of \$5 \#1 \{x\}
    >>> print(escape_latex(r"C:\temp ~x^2"))
    C:\textbackslash{}temp \textasciitilde{}x\textasciicircum{}2
    >>> print(escape_latex("<a|b>"))
    \textless{}a\textbar{}b\textgreater{}
    >>> print(escape_latex("σ(z) ⊙ h, café, a--b, x\ny"))
    \ensuremath{\sigma}(z) \ensuremath{\odot} h, café, a-{}-b, x y
    >>> escape_latex("snow ☃")
    'snow ?'

    Raises
    ------
    ArgumentError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a string, not {type(text).__name__}")
    out = "".join(_escape_char(ch) for ch in text)
    # OT1 ligatures: -- and --- are dashes, !` and ?` are inverted marks.
    out = re.sub(r"-(?=-)", "-{}", out)
    return re.sub(r"([!?])(?=`)", r"\1{}", out)


# -- documents -------------------------------------------------------------------------------

_PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage[margin=2cm]{geometry}
% pdfTeX: text copied from the PDF keeps the math fonts' symbols (sigma, odot, ...).
\ifdefined\pdfgentounicode
  \IfFileExists{glyphtounicode.tex}{\input{glyphtounicode}\pdfgentounicode=1}{}
\fi
\allowdisplaybreaks
"""


def standalone(body: str, *, title: str | None = None, packages: tuple[str, ...] = ()) -> str:
    r"""A complete LaTeX document around ``body``, for plain pdflatex.

    The document uses ``article`` with ``amsmath``, ``amssymb`` and
    ``geometry`` (2 cm margins), all in Debian's ``texlive-latex-base``; long
    ``align*`` environments may break across pages.

    Parameters
    ----------
    body
        LaTeX pasted into the document as it is (``align*``, ``tabular``,
        ``bmatrix``, ...). It is not escaped: escape any user text in it with
        :func:`escape_latex`. An empty body gives one blank page.
    title
        Plain text shown in large bold type above the body; escaped with
        :func:`escape_latex`.
    packages
        More packages to load (``("tikz",)`` for a worked example's cell diagrams:
        Debian's ``texlive-pictures``).

    Returns
    -------
    str
        The document's source, ending with a newline.

    Examples
    --------
    >>> print(standalone(r"$\sigma(z)$", title="Step #1"))
    \documentclass{article}
    \usepackage{amsmath}
    \usepackage{amssymb}
    \usepackage[margin=2cm]{geometry}
    % pdfTeX: text copied from the PDF keeps the math fonts' symbols (sigma, odot, ...).
    \ifdefined\pdfgentounicode
      \IfFileExists{glyphtounicode.tex}{\input{glyphtounicode}\pdfgentounicode=1}{}
    \fi
    \allowdisplaybreaks
    \begin{document}
    \noindent{\Large\bfseries Step \#1\par}\bigskip
    $\sigma(z)$
    \end{document}

    Raises
    ------
    ArgumentError
        If ``body`` is not a string, or ``title`` neither a string nor None.
    """
    if not isinstance(body, str):
        raise ArgumentError(f"body must be a string of LaTeX, not {type(body).__name__}")
    if title is not None and not isinstance(title, str):
        raise ArgumentError(f"title must be a string or None, not {type(title).__name__}")
    extra = "".join(f"\\usepackage{{{name}}}\n" for name in packages)
    parts = [_PREAMBLE, extra, "\\begin{document}\n"]
    if title is not None:
        parts.append(f"\\noindent{{\\Large\\bfseries {escape_latex(title)}\\par}}\\bigskip\n")
    if body.strip() or title is not None:
        parts.append(body if body.endswith("\n") else body + "\n")
    else:
        parts.append("\\null % an empty document would give no page (and no PDF) at all\n")
    parts.append("\\end{document}\n")
    return "".join(parts)


# -- running TeX and poppler -----------------------------------------------------------------


def tex_available() -> bool:
    """Whether ``pdflatex`` is on ``PATH`` (Debian: ``texlive-latex-base``).

    >>> isinstance(tex_available(), bool)
    True
    """
    return shutil.which("pdflatex") is not None


def pdftoppm_available() -> bool:
    """Whether ``pdftoppm`` is on ``PATH`` (Debian: ``poppler-utils``).

    >>> isinstance(pdftoppm_available(), bool)
    True
    """
    return shutil.which("pdftoppm") is not None


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    """Run ``cmd``; return its exit status and output; kill its whole process group on timeout."""
    env = {**os.environ, "max_print_line": "1000"}  # unwrapped lines in the .log
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # latexmk's pdflatex children are killed with it
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # it ended just now
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, out.decode("utf-8", errors="replace")


def _log_excerpt(log: str, after: int = 6) -> str:
    """The lines of a TeX log that start with ``!``, each with a few after (to ``l.<n>``)."""
    lines = log.splitlines()
    picked: list[str] = []
    for k, line in enumerate(lines):
        if not line.startswith("!"):
            continue
        picked.append(line.rstrip())
        for follow in lines[k + 1 : k + 1 + after]:
            if follow.startswith("!"):
                break
            if follow.strip():
                picked.append(follow.rstrip())
            if re.match(r"l\.\d+", follow):
                break
    return "\n".join(picked)


def compile_pdf(
    source: str,
    workdir: str | os.PathLike[str],
    *,
    jobname: str = "worked",
    timeout: float = TIMEOUT,
) -> Path:
    r"""Compile a LaTeX document to PDF; return the PDF's path.

    Writes ``<workdir>/<jobname>.tex`` and runs ``latexmk -pdf
    -interaction=nonstopmode -halt-on-error`` in ``workdir`` (without shell
    escape, and without reading latexmk's rc files), or ``pdflatex`` twice where
    latexmk is not installed.

    Parameters
    ----------
    source
        A complete document, for example from :func:`standalone`.
    workdir
        Folder for the source, the log, the auxiliary files and the PDF; made if missing.
    jobname
        Base name of the files: letters, digits, ``.``, ``_`` and ``-``.
    timeout
        Seconds the whole compilation may take (60 by default).

    Returns
    -------
    Path
        ``<workdir>/<jobname>.pdf``.

    Raises
    ------
    TexNotFoundError
        ``pdflatex`` is not on ``PATH``.
    TexError
        The document did not compile, gave no page, or took longer than ``timeout``.
        The message quotes the log's error lines.
    ParameterError
        ``jobname`` is not a plain file name.

    Examples
    --------
    Where pdflatex is installed (``tests/test_render_document.py`` says so when it is not):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     if tex_available():
    ...         pdf = compile_pdf(standalone(r"$\sigma(x)$"), tmp)
    ...         assert pdf.name == "worked.pdf" and pdf.read_bytes()[:4] == b"%PDF"
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", jobname):
        raise ParameterError(f"jobname must be a plain file name, not {jobname!r}")
    pdflatex, latexmk = shutil.which("pdflatex"), shutil.which("latexmk")
    if pdflatex is None:
        raise TexNotFoundError(
            "no TeX engine: pdflatex is not on PATH. On Debian or Ubuntu: "
            f"apt-get install --no-install-recommends {DEBIAN_PACKAGES}"
        )
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    tex, pdf, log = (work / f"{jobname}{ext}" for ext in (".tex", ".pdf", ".log"))
    tex.write_text(source, encoding="utf-8")
    pdf.unlink(missing_ok=True)  # never return a stale PDF from an earlier run
    flags = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]
    if latexmk is not None:
        runs = [[latexmk, "-norc", "-pdf", *flags, tex.name]]
    else:
        runs = [[pdflatex, *flags, tex.name]] * 2  # twice: references settle
    deadline = time.monotonic() + timeout
    status, output = 0, ""
    for cmd in runs:
        try:
            status, output = _run(cmd, work, max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise TexError(
                f"LaTeX did not finish {tex} within {timeout:g} s (killed); "
                "a macro that loops forever?",
                log_path=log if log.exists() else None,
            ) from None
        if status != 0:
            break
    log_text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    excerpt = _log_excerpt(log_text)
    if status != 0 or not pdf.exists():
        if excerpt:
            detail = excerpt
        elif "No pages of output" in log_text:
            detail = "No pages of output: the document printed nothing."
        else:
            detail = "\n".join(output.splitlines()[-20:])
        where = f"\nfull log: {log}" if log.exists() else ""
        raise TexError(
            f"LaTeX failed on {tex} ({Path(runs[0][0]).name} exit status {status}):\n"
            f"{detail}{where}",
            log_excerpt=excerpt,
            log_path=log if log.exists() else None,
        )
    return pdf


def first_page_png(pdf: str | os.PathLike[str], *, dpi: int = 60) -> Path:
    """Render page 1 of a PDF to a PNG beside it, with ``pdftoppm``.

    Parameters
    ----------
    pdf
        The PDF, for example from :func:`compile_pdf`.
    dpi
        Resolution in pixels per inch (60: the US-letter page of :func:`standalone` is
        510 × 660 pixels).

    Returns
    -------
    Path
        The PNG: the PDF's path with the suffix ``.png`` (8-bit RGB).

    Raises
    ------
    PdftoppmNotFoundError
        ``pdftoppm`` is not on ``PATH`` (Debian: ``poppler-utils``).
    FileNotFoundError
        ``pdf`` does not exist.
    TexError
        pdftoppm failed (not a PDF?) or took longer than 60 s.

    Examples
    --------
    Where pdflatex and pdftoppm are installed:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     if tex_available() and pdftoppm_available():
    ...         png = first_page_png(compile_pdf(standalone("$x$"), tmp), dpi=30)
    ...         assert png.name == "worked.png" and png.read_bytes()[:4] == b"\\x89PNG"
    """
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi <= 0:
        raise ParameterError(f"dpi must be a positive integer, not {dpi!r}")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise PdftoppmNotFoundError(
            "pdftoppm is not on PATH. On Debian or Ubuntu: "
            "apt-get install --no-install-recommends poppler-utils"
        )
    path = Path(pdf)
    if not path.is_file():
        raise FileNotFoundError(f"no such PDF: {path}")
    png = path.with_suffix(".png")
    png.unlink(missing_ok=True)
    cmd = [pdftoppm, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile"]
    try:
        status, output = _run([*cmd, path.name, png.stem], path.parent, TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TexError(f"pdftoppm did not finish {path} within {TIMEOUT:g} s") from None
    if status != 0 or not png.exists():
        raise TexError(f"pdftoppm failed on {path} (exit status {status}):\n{output.strip()}")
    return png
