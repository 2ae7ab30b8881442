"""The benchmark scripts run, at tiny sizes, and what they check holds.

Timings are not asserted (they belong to the scripts' own output); the numbers that are
asserted are the scripts' comparisons with independent values: torch autograd, the
hand-written NumPy code and the certified reference.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--hidden", "3", "--input", "2", "--steps", "3", "--batch", "2"]
BOUND = 64  # the normwise ULP bound the tests enforce (docs/codegen.md, docs/validation.md)

pytestmark = pytest.mark.slow  # each runs a benchmark script in a subprocess


def _run(script: str, *args: str, timeout: int = 300) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_backward_checks_pass_and_the_table_has_every_row(dtype):
    out = _run(
        "lstm_forward_backward.py", "--quick", "--check", "--no-torch-memory", "--dtype", dtype
    )
    # --check exits 1 when a difference is above its tolerance; both checks ran and passed.
    assert "Check: hand-written NumPy against torch autograd" in out
    assert "Check: generated against hand-written" in out
    assert len(re.findall(r"^  largest .*: OK", out, re.MULTILINE)) == 2
    for row in (
        "GEMM-only",
        "hand-written NumPy",
        "generated (symlstm.codegen)",
        "torch.nn.LSTM",
    ):
        assert re.search(rf"^\| {re.escape(row)}", out, re.MULTILINE), row
    assert re.search(r"^Goal \(generated module\): time ≤ hand-written: (yes|NO)", out, re.M)


def test_codegen_accuracy_is_within_the_bound_for_every_variant():
    from lstm_reference import VARIANTS

    out = _run("codegen_accuracy.py", *TINY)
    rows = re.findall(
        r"^(\S+)\s+(float64|float32)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+) \|", out, re.M
    )
    assert {(name, dtype) for name, dtype, *_ in rows} == {
        (name, dtype) for name in VARIANTS for dtype in ("float64", "float32")
    }
    for name, dtype, *figures in rows:
        assert max(map(float, figures)) <= BOUND, (name, dtype, figures)


def test_framework_ulps_are_within_the_bound():
    out = _run("framework_ulps.py", *TINY)
    rows = [line for line in out.splitlines() if re.match(r"(torch|onnxruntime|keras)\s", line)]
    assert {line.split()[0] for line in rows} == {"torch", "onnxruntime", "keras"}
    figures = [
        float(value)
        for line in rows
        if "|" in line
        for value in re.findall(
            r"\b(?:y|c_T|dW|dU|db_ih|db_hh|dx|dh0|dc0) ([\d.]+)", line.split("|")[0]
        )
    ]
    assert len(figures) >= 30 and max(figures) <= BOUND


def test_reference_speed_certifies_what_it_times():
    out = _run(
        "reference_speed.py",
        *TINY[:6],
        "--rounds",
        "2",
        "--iv-hidden",
        "2",
        "--iv-input",
        "2",
        "--iv-steps",
        "2",
    )
    accuracies = [int(bits) for bits in re.findall(r"least certified accuracy (\d+) bits", out)]
    assert len(accuracies) == 2 and min(accuracies) >= 100  # arb and the mpmath.iv fallback
    assert re.search(r"goal, at most 50x \(CPU\): (met|NOT met)", out)
    # the floor of the design: the per-step python-flint calls alone, at the run's precision
    assert re.search(r"floor of this design at \d+ bits .*: [\d.]+ ms CPU, \d+x \(products", out)


def test_bptt_expression_size_finds_the_structured_form_linear():
    out = _run("bptt_expression_size.py", "--max-steps", "3")
    assert "Verdict: structured: linear" in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_validate_real_size_runs_and_passes_a_torch_lstm(workers):
    pytest.importorskip("torch")
    out = _run("validate_real_size.py", "--quick", "--workers", workers)
    assert re.search(rf"reference \({workers} process(es)?\) \+ comparison: +[\d.]+ s", out)
    assert re.search(r"float64 NumPy forward .*: +[\d.]+ ms", out)
    assert re.search(r"^  ratio: \d+x", out, re.M)
    figures = [float(f) for f in re.findall(r"normwise ULPs: \w+ ([\d.]+)", out)]
    assert len(figures) == 3 and max(figures) <= BOUND
    assert "Verdict: pass" in out
