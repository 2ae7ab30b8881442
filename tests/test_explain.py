"""Possible explanations of wrong claims (issue 14): the search finds what the data says.

Each suggested change is checked independently: the explanation w_f = 0.65 for the
spec's f_3 against the plain-mpmath reference of tests/lstm_reference.py, slips and
conventions on claims files made here with known mistakes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from symlstm.claims.audit import audit
from symlstm.claims.explain import explain
from symlstm.errors import ArgumentError

from lstm_reference import SEED_SEQUENCE, SPEC_TABLE, rounded, scalar_trace


@pytest.fixture(scope="module")
def spec_explained():
    return explain(audit())


def test_the_spec_f3_is_explained_by_w_f_065_first(spec_explained):
    (found,) = spec_explained
    assert (found.result.claim.t, found.result.claim.quantity) == (3, "f")
    changes = [e.change for e in found.explanations]
    assert changes[0] == "w_f = 0.65 (the example has 0.7)"
    assert "all 38 claims that held still hold" in found.explanations[0].detail
    # Independently: with w_f = 0.65 the whole table of section 8 holds.
    ref = scalar_trace({**SEED_SEQUENCE, "w_f": "0.65"}, ["0.2", "0.4", "0.6"])
    for name, column in SPEC_TABLE.items():
        assert [rounded(r[name], 2) for r in ref] == column
    # w_f = 0.6, one step of the stated grid, would break f_2 (0.56 ≠ 0.57): not offered.
    ref = scalar_trace({**SEED_SEQUENCE, "w_f": "0.6"}, ["0.2", "0.4", "0.6"])
    assert rounded(ref[1]["f"], 2) == "0.56"
    assert not any(c.startswith("w_f = 0.6 ") for c in changes)
    # Truncation: σ(0.7 (h_2 + 0.6)) = 0.6181… truncates to 0.61.
    assert any(c.startswith("truncation: the exact value 0.618174") for c in changes)


def test_the_command_prints_and_writes_the_explanations():
    run = [sys.executable, "-m", "symlstm", "audit"]
    text = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert text.returncode == 1
    assert "39 claims: 38 hold, 1 wrong" in text.stdout
    assert "1. w_f = 0.65 (the example has 0.7)" in text.stdout
    out = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, timeout=120)
    claims = json.loads(out.stdout)["claims"]
    wrong = [c for c in claims if not c["correct"]]
    assert [(c["t"], c["quantity"]) for c in wrong] == [(3, "f")]
    assert wrong[0]["explanations"][0] == {
        "kind": "parameter",
        "change": "w_f = 0.65 (the example has 0.7)",
        "detail": wrong[0]["explanations"][0]["detail"],
    }
    assert all("explanations" not in c for c in claims if c["correct"])
    quiet = subprocess.run([*run, "--no-explain"], capture_output=True, text=True, timeout=120)
    assert "Possible explanations" not in quiet.stdout and quiet.returncode == 1


def _claims(tmp_path, body: str):
    path = tmp_path / "claims.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_slips_in_the_claim(tmp_path):
    # seed-step: h_t = 0.276 written 0.267 (swapped), i_t = 0.603 written 0.62 (that is f_t).
    path = _claims(
        tmp_path,
        'example = "seed-step"\nt = 1\n'
        '[[claims]]\nwhere = "h"\nquantity = "h"\nclaimed = "0.267"\n'
        '[[claims]]\nwhere = "i"\nquantity = "i"\nclaimed = "0.62"\n'
        '[[claims]]\nwhere = "c"\nquantity = "c"\nclaimed = "0.451"\n',
    )
    found = {e.result.claim.quantity: e for e in explain(audit(path))}
    assert "two digits swapped: 0.276 written 0.267" in [e.change for e in found["h"].explanations]
    assert "copied from f at t = 1" in [e.change for e in found["i"].explanations]


def test_initial_state_carried_over_from_an_earlier_example(tmp_path):
    # Claims computed with section 5's state carried into the sequence (h_0 = 0.2, C_0 = 0.4):
    # C_1 = 0.53·0.4 + … = 0.27 by the reference below, not the example's 0.05.
    ref = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"], "0.2", "0.4")
    c1 = rounded(ref[0]["c"], 2)
    path = _claims(
        tmp_path,
        '[[claims]]\nwhere = "section 5"\nexample = "seed-step"\nt = 1\nquantity = "c"\n'
        'claimed = "0.451"\n'
        f'[[claims]]\nwhere = "C_1"\nexample = "seed-sequence"\nt = 1\nquantity = "c"\n'
        f'claimed = "{c1}"\n',
    )
    (found,) = explain(audit(path))
    changes = [e.change for e in found.explanations]
    assert "h_0 = 0.2, C_0 = 0.4: the state at the start of seed-step carried over" in changes, (
        changes
    )


def test_bounded_and_says_so(tmp_path):
    (found,) = explain(audit(), max_candidates=0)
    assert found.note == "the search stopped at its bound; there may be more"
    assert not any(e.kind == "parameter" for e in found.explanations)
    assert "(the search stopped at its bound" in found.text()


def test_nothing_found_is_said(tmp_path):
    # 9.99 is no rounding, slip or small change of anything in seed-step.
    path = _claims(
        tmp_path,
        '[[claims]]\nwhere = "far off"\nexample = "seed-step"\nt = 1\nquantity = "h"\n'
        'claimed = "9.99"\n',
    )
    (found,) = explain(audit(path), max_candidates=50)
    assert found.explanations == []
    assert "no small change found that makes it hold" in found.text()
    assert explain(audit(_claims(tmp_path, '[[claims]]\nexample = "seed-step"\nt = 1\n'
                                 'quantity = "h"\nclaimed = "0.276"\n'))) == []  # fmt: skip


def test_bad_argument():
    with pytest.raises(ArgumentError):
        explain("not a report")
