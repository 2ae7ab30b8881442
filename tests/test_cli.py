"""The symlstm command: outputs, the JSON contract, exit statuses and error messages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import mpmath
import pytest

from symlstm.cli import main

from lstm_reference import SEED_SEQUENCE, SEED_STEP, rounded, scalar_trace, significant

QUANTITIES = ("z_f", "f", "z_i", "i", "z_g", "g", "c", "z_o", "o", "s", "h")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_default_prints_the_spec_worked_example(capsys):
    status, out, _ = run(capsys)
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    assert status == 0
    assert out.startswith("One step of the spec's LSTM cell (section 5)")
    # the results of the spec's six steps, in order, as the reference rounds them
    expected = [rounded(ref[q], 2 if q == "f" else 3) for q in ("f", "i", "g", "c", "o", "h")]
    lines = [
        line
        for line in out.splitlines()
        if line.startswith(("f_t", "i_t", "C̃_t", "tanh", "C_t", "o_t", "h_t"))
    ]
    results = [line.rsplit(" = ", 1)[1] for line in lines if " = " in line]
    assert [r for r in results if r in expected] == expected
    assert "Step 1 – Forget Gate" in out and "σ(0.7 × 0.2 + 0.7 × 0.5) = σ(0.49)" in out


def test_json_at_50_digits_matches_an_independent_computation(capsys):
    status, out, _ = run(capsys, "example", "seed-step", "--format", "json", "--dps", "50")
    assert status == 0
    data = json.loads(out)
    assert data["example"] == "seed-step" and data["steps"][0]["t"] == 1
    values = data["steps"][0]["values"]
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    for q in ("i", "f", "g", "c", "o", "h"):
        assert values[q] == significant(ref[q], 50), q
        with mpmath.workdps(80):
            # 50 correctly rounded digits: relative error below 1e-49, far beyond 45 digits
            assert abs(mpmath.mpf(values[q]) / ref[q] - 1) < mpmath.mpf(10) ** -49


def test_json_of_the_sequence_has_every_step(capsys):
    status, out, _ = run(capsys, "example", "seed-sequence", "--format", "json")
    assert status == 0
    ref = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"])
    data = json.loads(out)
    assert [s["t"] for s in data["steps"]] == [1, 2, 3]
    for step, r in zip(data["steps"], ref, strict=True):
        assert step["values"]["h"] == significant(r["h"], 30)  # JSON default: 30 digits


def test_digits_and_hand_mode(capsys):
    _, out, _ = run(capsys, "example", "seed-sequence", "--digits", "4")
    ref = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"])
    h3 = next(line for line in out.splitlines()[::-1] if line.startswith("h_t = "))
    assert h3.split("   (")[0].endswith(f"= {rounded(ref[2]['h'], 4)}")
    _, out, _ = run(capsys, "example", "seed-sequence", "--hand", "--format", "markdown")
    hand = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"], hand_places={"default": 2})
    rows = [line.split(" | ") for line in out.splitlines() if re.match(r"\| [123] \|", line)]
    assert [row[5] for row in rows] == [rounded(h["c"], 2) for h in hand]  # the C_t column
    assert "Hand calculation: each value" in out  # Markdown states its mode …
    assert r"\text{exact value: }0.21" in out  # … and marks where the exact value differs
    _, out, _ = run(capsys, "example", "seed-sequence", "--compact")
    assert "Step t = 3 (exact values, correctly rounded):" in out


@pytest.mark.parametrize(
    ("fmt", "row"),
    [
        ("text", "  h_t             =  (0.319, 0.023)"),
        ("markdown", "| $h_{t}$ | (0.150, 0.115) | (0.319, 0.023) |"),
        ("latex", r"$h_{t}$ & $(0.150, 0.115)$ & $(0.319, 0.023)$ \\"),
    ],
)
def test_compact_vector_example(capsys, fmt, row):
    status, out, err = run(capsys, "example", "vector-demo", "--compact", "--format", fmt)
    assert status == 0 and err == "" and row in out.splitlines()


def test_latex_and_equations(capsys):
    _, out, _ = run(capsys, "example", "--format", "latex")
    assert r"\begin{align*}" in out and r"\tilde{C}_{t} &= \tanh\left(" in out
    status, out, _ = run(capsys, "equations", "--kind", "vector", "--variant", "peephole")
    assert status == 0 and "p_i ⊙ c_{t-1}" in out and "p_o ⊙ c_t" in out


def test_list(capsys):
    _, out, _ = run(capsys, "example", "--list")
    assert out.split()[0::1][:1] == ["seed-sequence"] and "seed-step" in out


def _holding_spec_claims(folder):
    """The spec's claims without the wrong f_3, as a file: an audit that passes."""
    import tomllib

    from symlstm.examples import builtin_path

    data = tomllib.loads(builtin_path("seed-claims").read_text(encoding="utf-8"))
    kept = [c for c in data["claims"] if not (c.get("line") == 159 and c["quantity"] == "f")]
    lines = []
    for c in kept:
        lines.append("[[claims]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in c.items()]
    path = folder / "holding.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_audit_exit_statuses(capsys, tmp_path):
    # The spec's own claims: f_3 of section 8 is wrong under its stated weights.
    status, out, _ = run(capsys, "audit", "--format", "json")
    assert status == 1 and json.loads(out)["all_hold"] is False
    status, out, _ = run(capsys, "audit", str(_holding_spec_claims(tmp_path)))
    assert status == 0 and "38 hold, 0 wrong" in out
    claims = tmp_path / "c.toml"
    claims.write_text(
        '[[claims]]\nwhere = "wrong"\nexample = "seed-step"\nt = 1\nquantity = "f"\n'
        'claimed = "0.63"\n',
        encoding="utf-8",
    )
    status, out, _ = run(capsys, "audit", str(claims))
    assert status == 1 and "WRONG" in out and "1 wrong" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["example", "nope"], "unknown example 'nope'"),
        (["example", "--dps", "0"], "argument --dps: must be 1..500, not 0"),
        (["example", "--dps", "-3"], "argument --dps: must be 1..500, not -3"),
        (["example", "--format", "pdf"], "invalid choice"),
        (["example", "missing.toml"], "no such file"),
        (["equations", "--variant", "sideways"], "unknown variant 'sideways'"),
        (["audit", "missing.toml"], "no such file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["example", "--digits", "0"], "must be 1..1000, not 0: with no decimal places a worked "
         "example rounds its operands to whole numbers and its equations stop being checkable"),
        (["example", "--digits", "-2"], "must be 1..1000, not -2: with no decimal places"),
        (["example", "seed-sequence", "--hand", "--digits", "0"], "must be 1..1000, not 0"),
        (["example", "--compact", "--digits", "0"], "must be 1..1000, not 0"),
        (["example", "--digits", "1001"], "not 1001: more places than symlstm certifies in"),
        (["example", "--digits", "5000"], "must be 1..1000, not 5000"),
        (["example", "--digits", "9" * 5000], "not 999999…(5000 digits): more places"),
        (["example", "--digits", "-" + "9" * 50], "not -999999…(50 digits): with no decimal"),
        (["example", "--digits", "٣"], "'٣' is not an integer"),
        (["example", "--digits", "1e999999999"], "'1e999999999' is not an integer"),
        (["grad", "--digits", "0"], "must be 1..1000, not 0: a worked derivation shows at least"),
        (["grad", "--digits", "-1"], "must be 1..1000, not -1"),
        (["grad", "--digits", "5000"], "must be 1..1000, not 5000: more digits than"),
        (["example", "--format", "json", "--dps", "501"], "must be 1..500, not 501: more "),
        (["example", "--format", "json", "--dps", "2500"], "must be 1..500, not 2500"),
        (["grad", "--dps", "2500"], "must be 1..500, not 2500"),
        (["grad", "--dps", "1000000000"], "must be 1..500, not 1000000000"),
        (["grad", "--dps", "0"], "must be 1..500, not 0: a value has at least one"),
    ],
)  # fmt: skip
def test_digits_and_dps_out_of_range_exit_2_with_one_line(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    option = "--digits" if "--digits" in argv else "--dps"
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"symlstm {argv[0]}: argument {option}: ") and message in err
    assert len(err) < 250  # a 5000-digit value is not echoed back


@pytest.mark.parametrize(
    "argv",
    [
        ["example", "--digits", "1"],
        ["example", "vector-demo", "--compact", "--digits", "1000"],
        ["example", "--format", "json", "--dps", "500"],
        ["grad", "--dps", "500", "--format", "json"],
        ["grad", "--digits", "1000"],
    ],
    ids=" ".join,
)
def test_digits_and_dps_at_their_limits_work(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 0 and err == "" and out


def test_bad_example_files_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"cell": {"kind": "tied"}, "parameters": {"w_f": NaN}, "inputs": {"x": [1]}}',
        encoding="utf-8",
    )
    status, _, err = run(capsys, "example", str(bad))
    assert status == 2 and "NaN" in err


def test_the_installed_command_runs_without_a_traceback(tmp_path):
    command = shutil.which("symlstm")
    argv = [command] if command else [sys.executable, "-m", "symlstm"]
    done = subprocess.run([*argv, "example", "nope"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert (
        done.stderr.startswith("symlstm: error: unknown example") and "Traceback" not in done.stderr
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "0.276" in done.stdout


def _command() -> list[str]:
    """The installed ``symlstm`` command, or ``python -m symlstm``."""
    command = shutil.which("symlstm")
    return [command] if command else [sys.executable, "-m", "symlstm"]


def _with_closed_pipe(*argv: str) -> tuple[int, str]:
    """Run ``symlstm argv`` with its stdout a pipe whose reader has gone (``| head -0``).

    The read end is closed at once, long before the command (which takes a few tenths of
    a second to start) writes anything, so every write meets a closed pipe."""
    proc = subprocess.Popen(
        [*_command(), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize(
    "argv",
    [
        ["audit"],
        ["audit", "--format", "json"],
        ["derive"],
        ["example"],
        ["example", "--list"],
        ["example", "vector-demo", "--compact"],
        ["equations"],
        ["grad"],
        ["codegen", "numpy"],
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_the_output_quietly(argv):
    status, err = _with_closed_pipe(*argv)
    # The command's own status: audit's 1 says the spec's f_3 is wrong.
    assert (status, err) == (1 if argv[0] == "audit" else 0, "")


def test_a_closed_pipe_keeps_the_exit_status_of_audit(tmp_path):
    claims = tmp_path / "c.toml"
    claims.write_text(
        '[[claims]]\nwhere = "wrong"\nexample = "seed-step"\nt = 1\nquantity = "f"\n'
        'claimed = "0.63"\n',
        encoding="utf-8",
    )
    assert _with_closed_pipe("audit", str(claims)) == (1, "")  # 1: a claim is wrong


def test_a_closed_pipe_in_process_returns_the_status(monkeypatch):
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["audit"]) == 1 and main(["example", "--list"]) == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("argv", [["example"], ["audit"], ["example", "--list"]], ids=" ".join)
def test_a_full_disk_exits_2_with_one_line(argv):
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [*_command(), *argv], stdout=full, stderr=subprocess.PIPE, text=True, check=False
        )
    assert done.returncode == 2
    assert done.stderr == "symlstm: error: cannot write the output: No space left on device\n"


# -- symlstm validate: files written by a real framework ----------------------------------------


def _torch_files(tmp_path, *, break_forget_bias=False):
    """W, X, Y and G .npz files of a float32 torch.nn.LSTM; optionally a forget bias folded in."""
    torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")
    import numpy as np

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 5)
    np.savez(tmp_path / "W.npz", **{k: v.numpy() for k, v in lstm.state_dict().items()})
    if break_forget_bias:
        with torch.no_grad():
            lstm.bias_ih_l0[5:10] += 1
    x = torch.randn(7, 2, 4, requires_grad=True)
    h0, c0 = torch.randn(1, 2, 5), torch.randn(1, 2, 5)
    y, (h_T, c_T) = lstm(x, (h0, c0))
    dy = torch.randn(7, 2, 5)
    (y * dy).sum().backward()
    np.savez(tmp_path / "X.npz", x=x.detach().numpy(), h0=h0.numpy(), c0=c0.numpy())
    np.savez(tmp_path / "Y.npz", y=y.detach().numpy(), h_T=h_T.detach().numpy(),
             c_T=c_T.detach().numpy())  # fmt: skip
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    np.savez(tmp_path / "G.npz", dy=dy.numpy(), x=x.grad.numpy(), **grads)
    return [
        "validate", "--layout", "torch", "--weights", str(tmp_path / "W.npz"),
        "--inputs", str(tmp_path / "X.npz"), "--outputs", str(tmp_path / "Y.npz"),
    ]  # fmt: skip


def test_validate_passes_torch_files_with_gradients_as_json(capsys, tmp_path):
    argv = _torch_files(tmp_path)
    status, out, err = run(capsys, *argv, "--grads", str(tmp_path / "G.npz"), "--format", "json")
    assert status == 0, out + err
    data = json.loads(out)
    assert data["verdict"] == "pass" and data["diagnosis"] is None
    assert set(data["tensors"]) == {
        "y", "h_T", "c_T", "grad weight_ih_l0", "grad weight_hh_l0", "grad bias_ih_l0",
        "grad bias_hh_l0", "grad x",
    }  # fmt: skip
    assert all(
        t["max_ulp"] is not None and t["verdict"] == "pass" for t in data["tensors"].values()
    )


def test_validate_fails_a_folded_forget_bias_and_names_it(capsys, tmp_path):
    argv = _torch_files(tmp_path, break_forget_bias=True)
    status, out, _ = run(capsys, *argv)
    assert status == 1
    assert "verdict: FAIL" in out and "  - a forget bias of 1 added inside σ(f)" in out
    status, out, _ = run(capsys, *argv, "--diagnose", "never", "--format", "json")
    assert status == 1 and json.loads(out)["diagnosis"] is None


def test_validate_bad_files_exit_2(capsys, tmp_path):
    argv = _torch_files(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    cases = [
        (["--weights", str(tmp_path / "bad.npz")], "weights: "),
        (["--outputs", str(tmp_path / "X.npz")], "outputs: unknown array(s) 'x'"),
        (["--outputs", str(tmp_path / "nope.npz")], "does not exist"),
        (["--layout", "keras"], "unknown array 'weight_ih_l0' for layout keras"),
        (["--layout", "caffe"], "unknown layout 'caffe'"),
        (["--tolerance", "-1"], "must be a finite number of ULPs"),
        (["--attributes", "[1]"], "expected a JSON object"),
        (["--attributes", '{"clip": 1}'], "torch arrays have no node attributes"),
    ]
    for extra, message in cases:
        status, out, err = run(capsys, *argv, *extra)
        assert status == 2 and message in err and "Traceback" not in err and out == "", extra


def test_a_closed_pipe_ends_validate_quietly(tmp_path):
    argv = _torch_files(tmp_path)
    assert _with_closed_pipe(*argv) == (0, "")
    argv = _torch_files(tmp_path, break_forget_bias=True)
    assert _with_closed_pipe(*argv) == (1, "")  # 1: the numbers fail, pipe or not


def _plot_points(path) -> dict[str, list[float]]:
    """The sequence plot's points: quantity → value at each step, in step order."""
    import xml.etree.ElementTree as ET

    points: dict[str, list[tuple[int, float]]] = {}
    for e in ET.parse(path).getroot().iter():
        if e.get("class") == "point":
            points.setdefault(e.get("data-quantity"), []).append(
                (int(e.get("data-step")), float(e.get("data-value")))
            )
    return {q: [v for _, v in sorted(vs)] for q, vs in points.items()}


def test_example_plot_writes_the_values_along_t(capsys, tmp_path):
    target = tmp_path / "seq.svg"
    status, out, err = run(capsys, "example", "seed-sequence", "--plot", str(target))
    assert status == 0 and err == "" and out.startswith("The spec's sentence example")
    ref = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"])
    points = _plot_points(target)
    for q in ("f", "i", "g", "c", "o", "h"):
        assert points[q] == [float(rounded(step[q], 2)) for step in ref], q
    assert 'class="sequence-plot"' in target.read_text(encoding="utf-8")
    # hand mode plots the hand calculation's values, whatever the format printed
    status, out, _ = run(
        capsys, "example", "seed-sequence", "--hand", "--format", "json", "--plot", str(target)
    )
    assert status == 0 and json.loads(out)["example"] == "seed-sequence"
    hand = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"], hand_places={"default": 2})
    assert _plot_points(target)["g"] == [float(rounded(step["g"], 2)) for step in hand]


def test_example_plot_of_one_step_has_one_point_a_quantity(capsys, tmp_path):
    target = tmp_path / "one.svg"
    status, _, _ = run(capsys, "example", "seed-step", "--plot", str(target))
    assert status == 0
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    points = _plot_points(target)
    assert points["c"] == [float(rounded(ref["c"], 3))] and points["f"] == [0.62]
    assert all(len(vs) == 1 for vs in points.values()) and len(points) == 6


@pytest.mark.parametrize(
    "argv, message",
    [
        (("seed-step", "--plot", "{missing}/x.svg"), "cannot write"),
        (("vector-demo", "--plot", "{tmp}/v.svg"), "vector-demo is a vector cell"),
    ],
)
def test_example_plot_bad_input_is_exit_2_with_one_line(capsys, tmp_path, argv, message):
    argv = [a.format(missing=tmp_path / "no-such-folder", tmp=tmp_path) for a in argv]
    status, out, err = run(capsys, "example", *argv)
    assert status == 2 and out == "" and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
