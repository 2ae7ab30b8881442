"""The tutorials of docs/validation.md run as shown, and a hand-written C kernel is validated.

The page shows scripts (``{code-block} python`` with a ``:caption:`` file name) and console
sessions (``$ command`` lines, each followed by what it printed). The tests run each
tutorial's commands in order in an empty folder: a script as the file it names, ``symlstm``
through :func:`symlstm.cli.main`, ``cc`` and the kernel as programs. Every line a command
prints must match the page's line, except the measured errors of correct arithmetic (the
error columns of the report, ``N ULPs``, the JSON's error fields), which may differ in the
last digits with another BLAS or C library. Verdicts, tolerances, sizes, problems and
diagnoses must match exactly.

``tests/test_tutorials.py`` also builds ``docs/examples/lstm_kernel.c`` with each planted
bug and checks that ``symlstm validate`` fails it with the right diagnosis. Needs a C
compiler (``cc``, ``gcc`` or ``clang``); those tests are skipped, saying so, without one.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from symlstm.cli import main
from symlstm.frameworks.layouts import get_layout
from symlstm.validation import tolerance_ulps

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "validation.md"
KERNEL = DOCS / "examples" / "lstm_kernel.c"
TORCH_TUTORIAL = "Tutorial: validating a PyTorch LSTM"
C_TUTORIAL = "Tutorial: validating a hand-written C kernel"
CC = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
needs_cc = pytest.mark.skipif(
    CC is None, reason="no C compiler (cc, gcc or clang); .ci/run installs gcc with apt-get"
)
#: The planted bugs of lstm_kernel.c and the first line of the diagnosis each must get.
BUGS = {
    "BUG_GATE_ORDER": "gate blocks read in the order i, g, f, o "
    "(the torch layout packs i, f, g, o)",
    "BUG_TRANSPOSED_U": "each gate's recurrent matrix U_k transposed",
    "BUG_FORGET_BIAS": "a forget bias of 1 added inside σ(f)",
}


# -- reading the page ---------------------------------------------------------------------------


def _sections(text: str) -> dict[str, str]:
    """The page's ``## `` sections by heading."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _blocks(section: str) -> list[tuple[str, str, str]]:
    """The fenced blocks of a section: (kind, caption, body), kind 'script' or 'console'."""
    out = []
    for info, body in re.findall(r"^```([^\n]*)\n(.*?)^```$", section, flags=re.M | re.S):
        if info.strip() == "{code-block} python":
            caption = re.match(r":caption: (\S+)\n\n", body)
            assert caption, f"a script on the page needs a :caption: file name:\n{body}"
            out.append(("script", caption.group(1), body[caption.end() :]))
        elif info.strip() == "console":
            out.append(("console", "", body))
    return out


def _session(body: str) -> list[tuple[str, str]]:
    """A console block as (command, the output shown after it)."""
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command:\n{body}"
            steps[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in steps]


# -- running it ---------------------------------------------------------------------------------


def _capture(run) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run()
    return status, out.getvalue() + err.getvalue()


def _script(path: str) -> int:
    runpy.run_path(path, run_name="__main__")
    return 0


def _program(argv: list[str], folder: Path) -> tuple[int, str]:
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def _run(command: str, folder: Path, last_status: int) -> tuple[int, str]:
    """Run one command of the page in ``folder`` (the current directory)."""
    argv = shlex.split(command)
    if argv == ["echo", "$?"]:
        return 0, f"{last_status}\n"
    if argv[0] == "symlstm":
        return _capture(lambda: main(argv[1:]))
    if argv[0] == "python" and len(argv) == 2:
        return _capture(lambda: _script(argv[1]))
    if argv[0] == "cc":
        return _program([CC, *argv[1:]], folder)
    if argv[0].startswith("./"):
        return _program([str(folder / argv[0]), *argv[1:]], folder)
    raise AssertionError(f"the page runs a command the test does not know: {command}")


def run_tutorial(heading: str, folder: Path) -> list[tuple[str, str, str, int]]:
    """Run a tutorial's scripts and commands in ``folder``, which must be the current
    directory: (command, output shown, output printed, exit status) for each command."""
    results, status = [], 0
    for kind, caption, body in _blocks(_sections(PAGE.read_text(encoding="utf-8"))[heading]):
        if kind == "script":
            (folder / caption).write_text(body, encoding="utf-8")
            continue
        for command, shown in _session(body):
            status, printed = _run(command, folder, status)
            results.append((command, shown, printed, status))
    return results


# -- comparing what it printed with the page ----------------------------------------------------

_ULPS = re.compile(r"(?:[-+]?\d[\d.e+-]*|inf) ULPs")
#: The reference's working precision is its own affair; what it certifies is not.
_WORKING = re.compile(r"working precision \d+ bits")
#: JSON fields that hold measured errors: their values may differ in the last digits.
_MEASURED = {
    "max_abs",
    "max_rel",
    "max_ulp",
    "normwise_ulp",
    "max_ulp_after",
    "worst_index",
    "working_precision",
}


def _text_lines(text: str) -> list[str]:
    """The lines with measured errors masked: a report's error columns and every 'N ULPs'."""
    lines, in_table = [], False
    for line in text.strip("\n").splitlines():
        columns = re.split(r"\s{2,}", line.strip())
        if line.startswith("tensor ") and "tolerance" in line:
            in_table = True
        elif line.startswith("(ULPs of"):
            in_table = False
        elif in_table:  # name, 4 measured errors, tolerance, worst element
            assert len(columns) == 7, line
            columns = [columns[0], *["#"] * 4, columns[5], "#"]
        line = _WORKING.sub("working precision # bits", " ".join(" ".join(columns).split()))
        lines.append(_ULPS.sub("# ULPs", line))
    return lines


def _json_shape(value, key: str = ""):
    """The JSON with measured errors reduced to their kind (a number, null, a list's length)."""
    if isinstance(value, dict):
        return {k: _json_shape(v, k) for k, v in value.items()}
    if key in _MEASURED:
        return f"list of {len(value)}" if isinstance(value, list) else type(value).__name__
    if isinstance(value, list):
        return [_json_shape(v, key) for v in value]
    if isinstance(value, str):
        return _ULPS.sub("# ULPs", value)
    return value


def assert_same(command: str, shown: str, printed: str) -> None:
    if shown.lstrip().startswith("{"):
        assert _json_shape(json.loads(printed)) == _json_shape(json.loads(shown)), command
    else:
        assert _text_lines(printed) == _text_lines(shown), f"$ {command}\n{printed}"


# -- the tutorials, as the page shows them ------------------------------------------------------


def test_the_torch_tutorial_prints_what_the_page_shows(tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    monkeypatch.chdir(tmp_path)
    results = run_tutorial(TORCH_TUTORIAL, tmp_path)
    assert [status for *_, status in results] == [0, 0, 0, 0, 1, 0, 1, 0]
    for command, shown, printed, _ in results:
        assert_same(command, shown, printed)
    wrong = results[4][2]
    assert "verdict: FAIL" in wrong
    assert wrong.splitlines()[-1] == f"  - {BUGS['BUG_GATE_ORDER']} ({_ulps(wrong)} ULPs)"


@needs_cc
def test_the_c_tutorial_prints_what_the_page_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(KERNEL, tmp_path)
    results = run_tutorial(C_TUTORIAL, tmp_path)
    assert [status for *_, status in results] == [0] * 5 + [0, 0, 0, 1] * 2
    for command, shown, printed, _ in results:
        assert_same(command, shown, printed)
    for bug, (*_, printed, _) in zip(BUGS, results[8::4], strict=False):
        assert f"  - {BUGS[bug]} (" in printed.splitlines()[-1]


def _ulps(report: str) -> str:
    return re.search(r"\(([^ ]+) ULPs\)$", report).group(1)


def test_the_tolerance_table_and_the_file_contract_match_the_package():
    text = PAGE.read_text(encoding="utf-8")
    assert tolerance_ulps(50, 64 + 64 + 1) == 218 and "the\ntolerance is 218 ULPs" in text
    assert tolerance_ulps(8, 4 + 6 + 1) == 42
    row = r"^\| .+? \| (float\d\d) +\| +([\d.]+), ([\d.]+) \| +([\d.]+)× \|$"
    rows = re.findall(row, text, flags=re.M)
    assert len(rows) == 6
    for _, y, c_T, below in rows:
        assert abs(218 / max(float(y), float(c_T)) / float(below) - 1) < 0.02, below
    for layout in ("torch", "torch_cell", "keras", "tf1", "onnx"):
        row = re.search(rf"^  \| `{layout}` +\|(.+)$", text, flags=re.M).group(1)
        for name in get_layout(layout).names():
            assert f"`{name}`" in row, (layout, name)


# -- the C kernel and its planted bugs ----------------------------------------------------------

T, BATCH, INPUT, HIDDEN = 8, 2, 4, 6


def _kernel_files(folder: Path, rng: np.random.Generator) -> list[str]:
    """Random float32 weights and inputs, raw for the kernel and as .npz for symlstm."""
    n, m, bound = HIDDEN, INPUT, 1 / np.sqrt(HIDDEN)
    shapes = {
        "weight_ih_l0": (4 * n, m),
        "weight_hh_l0": (4 * n, n),
        "bias_ih_l0": (4 * n,),
        "bias_hh_l0": (4 * n,),
    }
    weights = {k: rng.uniform(-bound, bound, s).astype(np.float32) for k, s in shapes.items()}
    shapes = {"x": (T, BATCH, m), "h0": (BATCH, n), "c0": (BATCH, n)}
    inputs = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    np.concatenate([w.ravel() for w in weights.values()]).tofile(folder / "weights.bin")
    for name, array in inputs.items():
        array.tofile(folder / f"{name}.bin")
    np.savez(folder / "W.npz", **weights)
    np.savez(folder / "X.npz", **inputs)
    return [
        "validate",
        "--layout",
        "torch",
        "--weights",
        str(folder / "W.npz"),
        "--inputs",
        str(folder / "X.npz"),
        "--outputs",
        str(folder / "Y.npz"),
    ]


def _run_kernel(folder: Path, *defines: str) -> None:
    exe = folder / "lstm_kernel"
    flags = [f"-D{d}" for d in defines]
    build = [CC, "-O2", "-std=c99", *flags, "-o", str(exe), str(KERNEL), "-lm"]
    status, printed = _program(build, folder)
    assert status == 0 and not printed, printed
    status, printed = _program([str(exe), str(T), str(BATCH), str(INPUT), str(HIDDEN)], folder)
    assert status == 0, printed
    out = {k: np.fromfile(folder / f"{k}.bin", dtype="<f4") for k in ("y", "h_T", "c_T")}
    shapes = {"y": (T, BATCH, HIDDEN), "h_T": (BATCH, HIDDEN), "c_T": (BATCH, HIDDEN)}
    np.savez(folder / "Y.npz", **{k: out[k].reshape(s) for k, s in shapes.items()})


@needs_cc
def test_the_c_kernel_passes(tmp_path, capsys):
    argv = _kernel_files(tmp_path, np.random.default_rng(7))
    _run_kernel(tmp_path)
    status = main([*argv, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["verdict"] == "pass" and report["dtype"] == "float32"
    assert set(report["tensors"]) == {"y", "h_T", "c_T"}
    assert all(t["normwise_ulp"] <= 8 for t in report["tensors"].values()), report


@needs_cc
@pytest.mark.parametrize("bug", BUGS)
def test_a_planted_bug_fails_with_its_diagnosis(tmp_path, capsys, bug):
    argv = _kernel_files(tmp_path, np.random.default_rng(11))
    _run_kernel(tmp_path, bug)
    status = main(argv)
    out = capsys.readouterr().out.splitlines()
    assert status == 1 and "verdict: FAIL" in out
    first = out.index("diagnosis: the numbers agree with the reference if") + 1
    assert out[first].startswith(f"  - {BUGS[bug]} ("), out[first:]


@needs_cc
def test_the_kernel_refuses_short_input_files(tmp_path):
    _kernel_files(tmp_path, np.random.default_rng(3))
    _run_kernel(tmp_path)
    (tmp_path / "x.bin").write_bytes(b"\0" * 12)
    status, printed = _program([str(tmp_path / "lstm_kernel"), "8", "2", "4", "6"], tmp_path)
    assert status == 2 and "cannot read 64 floats from x.bin" in printed
