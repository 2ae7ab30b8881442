"""Issue 18's hostile inputs, from the command line: each exits 2 within seconds with one
line on standard error and no traceback (the classes are tested in depth where they are
refused: test_limits, test_params, test_examples, test_audit, test_calculus,
test_fuzz_*; this is the issue's list, end to end)."""

from __future__ import annotations

import contextlib
import io
import json
import signal
from pathlib import Path

import pytest

from symlstm.cli import main

SEED = (Path(__file__).parent.parent / "symlstm" / "examples" / "seed-step.toml").read_text(
    encoding="utf-8"
)
PARAMS = {"w_f": 1, "w_i": 1, "w_g": 1, "w_o": 1, "b": 0}


def _claim(**fields: str) -> str:
    entry = {"example": '"seed-step"', "t": "1", "quantity": '"f"', "claimed": '"0.62"', **fields}
    return "[[claims]]\n" + "".join(f"{k} = {v}\n" for k, v in entry.items())


# name → (file name, file text or None, argv with {file} for the file's path, message part)
CASES = {
    "undefined loss": (None, None, ["grad", "seed-sequence", "--loss", "1/(h_1-h_1)"], "undefined"),
    "log of 0": (None, None, ["grad", "seed-sequence", "--loss", "log(h_1-h_1)"], "undefined"),
    "huge weight": ("w.toml", SEED.replace('w_f = "0.7"', 'w_f = "1e999999999"'), None, "±400"),
    "huge bare weight": ("w.toml", SEED.replace('w_f = "0.7"', "w_f = 1e999999999"), None, "±400"),
    "huge forget bias": (
        "fb.toml",
        SEED.replace("[cell]\n", '[cell]\nvariant = {forget_bias = "1e999999999"}\n'),
        None,
        "forget_bias",
    ),
    "huge digits": ("d.toml", SEED.replace("default = 3", "default = 1e999999999"), None, "±400"),
    "dps 10^9": (None, None, ["example", "--format", "json", "--dps", "1000000000"], "--dps"),
    "dps 2500": (None, None, ["example", "--format", "json", "--dps", "2500"], "--dps"),
    "digits 5000": (None, None, ["example", "--digits", "5000"], "--digits"),
    "digits 0": (None, None, ["example", "--digits", "0"], "--digits"),
    "power tower": (None, None, ["grad", "seed-sequence", "--loss", "9**9**9**9"], "exponent"),
    "huge power": (None, None, ["grad", "seed-sequence", "--loss", "h_1**999999999"], "exponent"),
    "nested exp": (None, None, ["grad", "seed-sequence", "--loss", "exp(" * 5 + "h_1" + ")" * 5],
                   "nested"),
    "20000 terms": (None, None, ["grad", "seed-sequence", "--loss=" + "+".join(["h_1"] * 20000)],
                    "longer than"),
    "5000 minus signs": (None, None, ["grad", "seed-sequence", "--loss=" + "-" * 5000 + "h_1"],
                         "longer than"),
    "deep JSON": ("deep.json", "[" * 200000 + "]" * 200000, None, "nested more than"),
    "deep TOML": ("deep.toml", "a = " + "[" * 100000 + "]" * 100000, None, "nested more than"),
    "claim t text": ("c.toml", _claim(t='"abc"'), ["audit", "{file}"], "t must be"),
    "claim t nan": ("c.toml", _claim(t="nan"), ["audit", "{file}"], "NaN"),
    "claim t list": ("c.toml", _claim(t="[1]"), ["audit", "{file}"], "t must be"),
    "claim line text": ("c.toml", _claim(line='"abc"'), ["audit", "{file}"], "line must be"),
    "claim a function": ("c.toml", _claim(quantity='"tanh"'), ["audit", "{file}"], "tanh"),
    "claim huge number": ("c.toml", _claim(claimed='"1e999999999"'), ["audit", "{file}"], "400"),
    "claim h/0": ("c.toml", _claim(quantity='"h/0"'), ["audit", "{file}"], "claim 1"),
    "claim newline": ("c.toml", _claim(quantity='"c\\no\\ns(h)"'), ["audit", "{file}"],
                      "control character"),
    "claim escape": ("c.toml", _claim(example='"../../symlstm/examples/seed-step"'),
                     ["audit", "{file}"], "no such file"),
    "digits nan": ("n.toml", SEED.replace("default = 3", "default = nan"), None, "NaN"),
    "notation list": ("n.toml", SEED.replace('notation = "spec"', 'notation = ["spec"]'), None,
                      "notation must be text"),
    "activation list": (
        "v.toml",
        SEED.replace("[cell]\n", '[cell]\nvariant = {gate_activation = ["tanh"]}\n'),
        None,
        "gate_activation must be text",
    ),
    "Arabic digit": ("a.toml", SEED.replace('x = ["0.5"]', 'x = ["٣"]'), None, "ASCII"),
    "JSON NaN": (
        "n.json",
        json.dumps({"cell": {"kind": "tied"}, "parameters": PARAMS, "inputs": {"x": [1]}}).replace(
            '"x": [1]', '"x": [NaN]'
        ),
        None,
        "inputs.x[0]: NaN",
    ),
    "100000 digits": ("l.toml", SEED.replace('x = ["0.5"]', 'x = ["' + "1" * 100000 + '"]'), None,
                      "(100000 digits)"),
    "hidden 300": (
        "h.toml",
        '[cell]\nkind = "vector"\nhidden_size = 300\ninput_size = 1\n[parameters]\n'
        "[inputs]\nx = [[1]]\n",
        None,
        "--allow-large",
    ),
}  # fmt: skip


def _timeout(*_: object) -> None:
    raise TimeoutError


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_in_seconds_with_one_line(name, tmp_path):
    filename, text, argv, message = CASES[name]
    path = tmp_path / (filename or "unused")
    if text is not None:
        path.write_text(text, encoding="utf-8")
    argv = [a.replace("{file}", str(path)) for a in (argv or ["example", "{file}"])]
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(20)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    lines = err.getvalue().splitlines()
    assert status == 2 and out.getvalue() == "", (status, out.getvalue()[:200])
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert message in lines[0], lines[0]
