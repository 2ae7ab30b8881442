"""The document audit: claims data, verdicts against an independent reference, bad files."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import mpmath
import pytest

from symlstm.claims.audit import audit, load_claims, parse_quantity
from symlstm.errors import (
    ArgumentError,
    ExampleFileError,
    ExpressionError,
    SymLSTMError,
    UndefinedError,
    UnknownNameError,
)
from symlstm.examples import load_example
from symlstm.render.worked import worked_example

from lstm_reference import SEED_SEQUENCE, SEED_STEP, rounded, scalar_trace, vector_trace

SPEC = Path(__file__).parent / "data" / "spec.txt"

# The two built-in examples, written out independently of their data files.
REFERENCE = {
    "seed-step": dict(w=SEED_STEP, xs=["0.5"], h0="0.2", c0="0.4", hand={"default": 3, "f": 2}),
    "seed-sequence": dict(
        w=SEED_SEQUENCE, xs=["0.2", "0.4", "0.6"], h0="0", c0="0", hand={"default": 2}
    ),
}


def _places(text: str) -> int:
    return len(text.partition(".")[2])


def _value(quantity: str, step: dict) -> mpmath.mpf:
    # The claims' quantities are our own trusted test data: names and * with numbers.
    with mpmath.workdps(80):
        return eval(quantity, {"__builtins__": {}}, dict(step))


@pytest.fixture(scope="module")
def spec_report():
    return audit()


def test_every_spec_claim_holds_and_matches_the_reference(spec_report):
    traces = {}
    for name, ref in REFERENCE.items():
        traces[name] = (
            scalar_trace(ref["w"], ref["xs"], ref["h0"], ref["c0"]),
            scalar_trace(ref["w"], ref["xs"], ref["h0"], ref["c0"], hand_places=ref["hand"]),
        )
    assert len(spec_report.results) == 39
    for r in spec_report.results:
        c = r.claim
        exact_steps, hand_steps = traces[c.example]
        exact = rounded(_value(c.quantity, exact_steps[c.t - 1]), _places(c.claimed))
        hand = rounded(_value(c.quantity, hand_steps[c.t - 1]), _places(c.claimed))
        assert r.exact.rounded == exact, c
        assert r.hand.rounded == hand, c
        assert r.exact.correct == (exact == c.claimed)
        assert r.hand.correct == (hand == c.claimed)
    # Under the weights the spec states, exactly one claim is wrong: f_3 of section 8.
    assert [
        (r.claim.line, r.claim.t, r.claim.quantity, r.claim.claimed) for r in spec_report.wrong
    ] == [(159, 3, "f", "0.61")]
    assert spec_report.wrong[0].exact.rounded == spec_report.wrong[0].hand.rounded == "0.62"


def test_hand_mode_is_the_worked_examples_arithmetic_on_the_sequence_third_step(spec_report):
    # Hand calculation adds the rounded products a worked example shows (issue 13):
    # C_3 = 0.62 × 0.15 + 0.6 × 0.34 = 0.09 + 0.20 = 0.29, h_3 = 0.65 × 0.28 = 0.18.
    third = [
        r for r in spec_report.results if r.claim.example == "seed-sequence" and r.claim.t == 3
    ]
    by_quantity = {r.claim.quantity: r for r in third}
    assert by_quantity["c"].hand.rounded == "0.29" and by_quantity["c"].hand.correct
    assert by_quantity["h"].hand.rounded == "0.18" and by_quantity["c"].modes == ["exact", "hand"]
    worked = worked_example(load_example("seed-sequence"), mode="hand").text()
    assert "= 0.62 × 0.15 + 0.6 × 0.34 = 0.09 + 0.20 = 0.29" in worked


def test_exact_values_have_ten_certified_digits(spec_report):
    f = next(r for r in spec_report.results if r.claim.quantity == "f" and r.claim.line == 70)
    with mpmath.workdps(40):
        assert f.exact.value == mpmath.nstr(1 / (1 + mpmath.exp(-mpmath.mpf("0.49"))), 10)


def test_claims_cover_every_number_of_sections_5_to_8(spec_report):
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    start = next(k for k, line in enumerate(lines, 1) if line.startswith("5. Step-by-Step"))
    end = next(k for k, line in enumerate(lines, 1) if line.startswith("9. In Simple Words"))
    claims_at: dict[int, set[str]] = {}
    for r in spec_report.results:
        claims_at.setdefault(r.claim.line, set()).add(r.claim.claimed)
        # Each claim's number stands on the line it names.
        assert r.claim.claimed in lines[r.claim.line - 1], r.claim
    claimed_anywhere = set().union(*claims_at.values())
    given = {"0.2", "0.4", "0.5", "0.6", "0.7", "0.9"}  # inputs, states, weights
    for number, line in enumerate(lines[start - 1 : end], start):
        for percent in re.findall(r"(\d+(?:\.\d+)?)%", line):
            assert percent in claims_at.get(number, set()), (number, percent)
        for decimal in re.findall(r"\d*\.\d+", line):
            assert (
                decimal in given
                or decimal in claims_at.get(number, set())
                or decimal in claimed_anywhere
            ), (number, decimal)
    # and every computed number of the spec is claimed somewhere: section 5's thirteen
    # intermediates and the nine table entries
    for value in (
        "0.49",
        "0.62",
        "0.42",
        "0.603",
        "0.35",
        "0.336",
        "0.248",
        "0.203",
        "0.451",
        "0.63",
        "0.652",
        "0.423",
        "0.276",
        "0.53",
        "0.05",
        "0.03",
        "0.57",
        "0.15",
        "0.09",
        "0.61",
        "0.29",
        "0.18",
    ):
        assert value in claimed_anywhere


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SECTION5_WEIGHTS_SEQUENCE = """
name = "sequence-with-section-5-weights"
[cell]
kind = "tied"
[parameters]
w_f = "0.7"
w_i = "0.6"
w_g = "0.5"
w_o = "0.9"
b = "0"
[inputs]
x = ["0.2", "0.4", "0.6"]
[digits]
default = 2
"""


def test_a_users_claims_with_section_5_weights_find_f3_wrong(tmp_path):
    _write(tmp_path, "seq.toml", SECTION5_WEIGHTS_SEQUENCE)
    rows = "\n".join(
        f'[[claims]]\nwhere = "table row {t}: {q}"\nexample = "seq.toml"\nt = {t}\n'
        f'quantity = "{q}"\nclaimed = "{v}"\n'
        for t, q, v in ((1, "f", "0.53"), (2, "f", "0.57"), (3, "f", "0.61"), (3, "h", "0.18"))
    )
    claims = _write(tmp_path, "claims.toml", 'title = "mine"\n' + rows)
    report = audit(claims)
    ref = scalar_trace({**SEED_STEP}, ["0.2", "0.4", "0.6"])
    assert rounded(ref[2]["f"], 2) == "0.62"  # the reference agrees f_3 is not 0.61
    assert [r.holds for r in report.results] == [True, True, False, True]
    wrong = report.wrong[0]
    assert wrong.exact.rounded == "0.62" and wrong.claim.claimed == "0.61"
    data = json.loads(report.json())
    assert data["summary"] == {"claims": 4, "hold": 3, "wrong": 1}
    assert data["claims"][2]["correct"] is False and data["claims"][2]["claimed"] == "0.61"
    assert "WRONG" in report.text()


def test_claims_in_json_work_too(tmp_path):
    claims = {
        "title": "json claims",
        "claims": [
            {"where": "x", "example": "seed-step", "t": 1, "quantity": "h", "claimed": "0.2760"},
            {"where": "y", "example": "seed-step", "t": 1, "quantity": "o*s", "claimed": "0.28"},
        ],
    }
    report = audit(_write(tmp_path, "c.json", json.dumps(claims)))
    ref = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4")[0]
    assert report.results[0].exact.rounded == rounded(ref["h"], 4)
    hand = scalar_trace(SEED_STEP, ["0.5"], "0.2", "0.4", hand_places={"default": 3, "f": 2})[0]
    assert report.results[0].hand.rounded == rounded(hand["h"], 4) == "0.2760"
    # 0.2760 is wrong as a rounding of the exact h (0.27584…) but right by hand
    assert report.results[0].modes == ["hand"]
    assert report.results[1].holds


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("title = 'x'\n", ExampleFileError, "non-empty list"),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 1\nquantity = 'f'\n",
            ExampleFileError,
            "missing 'claimed'",
        ),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 1\nquantity = 'f'\nclaimed = 'abc'\n",
            ExampleFileError,
            "not a decimal number",
        ),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 0\nquantity = 'f'\nclaimed = '1'\n",
            ExampleFileError,
            "t must be",
        ),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 2\nquantity = 'f'\nclaimed = '1'\n",
            ExampleFileError,
            "beyond",
        ),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 1\nquantity = 'q'\nclaimed = '1'\n",
            UnknownNameError,
            "unknown name 'q'",
        ),
        (
            "[[claims]]\nexample = 'nope'\nt = 1\nquantity = 'f'\nclaimed = '1'\n",
            UnknownNameError,
            "unknown example 'nope'",
        ),
        (
            "[[claims]]\nexample = 'seed-step'\nt = 1\nquantity = 'f'\nclaimed = '1'\ncolour = 1\n",
            ExampleFileError,
            "unknown key",
        ),
        ("[[claims]\n", ExampleFileError, "not valid TOML"),
    ],
)
def test_bad_claims_files(tmp_path, text, error, match):
    with pytest.raises(error, match=match):
        audit(_write(tmp_path, "claims.toml", text))


def test_missing_claims_file():
    with pytest.raises(ExampleFileError, match="no such file"):
        load_claims("/nonexistent/claims.toml")


@pytest.mark.parametrize("text", ["f + ", "f; import os", "open('x')", "f.__class__", "h[0]"])
def test_quantities_are_parsed_safely(text):
    with pytest.raises(SymLSTMError):
        parse_quantity(text, load_example("seed-step"))


# -- typed claim fields, bounded quantities, nothing undefined (issue 18) ---------------------

GOOD_CLAIM = '[[claims]]\nexample = "seed-step"\nt = 1\nquantity = "f"\nclaimed = "0.62"\n'


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ('t = "abc"', "t must be a step number >= 1, not 'abc'"),
        ("t = [1]", r"t must be a step number >= 1, not '\[1\]' \(list\)"),
        ("t = {a = 1}", r"t must be a step number >= 1, not .* \(dict\)"),
        ("t = 1.5", "t must be a step number"),
        ("t = 0", "t must be a step number >= 1, not '0'"),
        ("t = true", "t must be a step number >= 1, not 'True'"),
        ('t = 1\nline = "abc"', "line must be a line number >= 1, not 'abc'"),
        ("t = 1\nline = -3", "line must be a line number"),
        ("t = 1\nwhere = 3", "where must be text"),
        ("t = 1\nnote = [1]", "note must be text"),
    ],
)
def test_wrongly_typed_claim_fields_name_the_file_and_claim(tmp_path, fields, match):
    text = (
        GOOD_CLAIM
        + '[[claims]]\nexample = "seed-step"\nquantity = "h"\nclaimed = "0.276"\n'
        + fields
        + "\n"
    )
    path = _write(tmp_path, "claims.toml", text)
    with pytest.raises(ExampleFileError, match=match) as info:
        audit(path)
    assert str(info.value).startswith(f"{path}: claim 2")


@pytest.mark.parametrize(
    ("claim", "match"),
    [
        ({"t": None}, "t must be a step number >= 1, not null"),
        ({"t": "1"}, "t must be a step number >= 1, not '1'"),
        ({"quantity": 3}, "quantity must be non-empty text, not '3'"),
        ({"quantity": " "}, "quantity must be non-empty text"),
        ({"example": ["seed-step"]}, "example must be non-empty text"),
        ({"claimed": True}, "claimed must be a decimal number, not 'True'"),
        ({"claimed": {"x": 0.62}}, "claimed must be a decimal number"),
        ({"claimed": "abc"}, "claimed 'abc' is not a decimal number"),
        ({"claimed": "0.6\u0662"}, "is not a decimal number"),
        ({"claimed": "1e999999999"}, "claimed '1e999999999' has an exponent beyond ±400"),
        ({"claimed": "1" * 5000}, r"claimed '1111111111.*\(5000 characters\)"),
    ],
)
def test_wrongly_typed_json_claims_are_refused(tmp_path, claim, match):
    entry = {"where": "my table", "example": "seed-step", "t": 1, "quantity": "f"}
    entry["claimed"] = "0.62"
    entry.update(claim)
    path = _write(tmp_path, "c.json", json.dumps({"claims": [entry]}))
    start = time.perf_counter()
    with pytest.raises(ExampleFileError, match=match) as info:
        audit(path)
    assert time.perf_counter() - start < 2
    assert str(info.value).startswith(f"{path}: claim 1 (my table): ")
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("quantity", "error", "match"),
    [
        ("tanh", ExpressionError, r"the quantity 'tanh': the function tanh needs an argument"),
        ("h/0", UndefinedError, r"the quantity 'h/0' is undefined \(division by zero: 0 is 0\)"),
        ("log(h)", UnknownNameError, "unknown name 'log'"),
        ("h**0.5", ExpressionError, "exponent must be a whole number"),
        ("c\\no\\ns(h)", ExpressionError, r"a control character \(U\+000A\) at position 2"),
        ("h*\u0663", ExpressionError, "the non-ASCII character"),
    ],
)
def test_a_bad_quantity_names_the_file_and_claim(tmp_path, quantity, error, match):
    text = GOOD_CLAIM + (
        f'[[claims]]\nwhere = "§5 h"\nexample = "seed-step"\nt = 1\nquantity = "{quantity}"\n'
        'claimed = "0.276"\n'
    )
    path = _write(tmp_path, "claims.toml", text)
    with pytest.raises(error, match=match) as info:
        audit(path)
    assert str(info.value).startswith(f"{path}: claim 2 (§5 h): the quantity ")


def test_a_quantity_undefined_at_the_values_is_refused(tmp_path):
    """seed-sequence starts from h_0 = 0: 1/h_prev at t = 1 divides by zero."""
    text = '[[claims]]\nexample = "seed-sequence"\nt = 1\nquantity = "1/h_prev"\nclaimed = "1"\n'
    path = _write(tmp_path, "claims.toml", text)
    with pytest.raises(UndefinedError) as info:
        audit(path)
    assert str(info.value) == (
        f"{path}: claim 1: the quantity 1/h_prev is undefined (division by zero: h_prev is 0) "
        "at the example's values (step 1)"
    )


def test_a_quantity_undefined_in_hand_mode_only_is_refused(tmp_path):
    """seed-step's f is 0.6201…; hand calculation rounds it to 0.62, where 1/(f - 0.62) is 1/0."""
    text = GOOD_CLAIM.replace('quantity = "f"', 'quantity = "1/(f - 0.62)"')
    path = _write(tmp_path, "claims.toml", text)
    with pytest.raises(UndefinedError, match="in hand-calculation mode \\(step 1\\)"):
        audit(path)


HOSTILE_QUANTITIES = [
    "9**9**9**9",
    "h**999999999",
    "sigmoid(h)**1000000",
    "exp(exp(exp(exp(exp(h)))))",
    "-" * 5000 + "h",
    "+".join(["h"] * 20000),
    "(" * 1000 + "h" + ")" * 1000,
    "(" * 30 + "h" + ")" * 30 + "+" + "(" * 40 + "h" + ")" * 40,
    "1e999999999*h",
    "h*" + "9" * 100_000,
    "(h**64)**64",
    "(9**64)**64",
]


@pytest.mark.parametrize("text", HOSTILE_QUANTITIES, ids=lambda t: t[:20])
def test_hostile_quantities_are_refused_within_a_second(text):
    example = load_example("seed-step")

    def hang(signum, frame):
        raise AssertionError(f"parsing {text[:30]!r} hangs")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(10)
    try:
        start = time.perf_counter()
        with pytest.raises(ExpressionError) as info:
            parse_quantity(text, example)
        assert time.perf_counter() - start < 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    message = str(info.value)
    assert message.startswith("the quantity ") and "\n" not in message
    assert len(message) < 300  # long texts are elided


def test_quantities_within_the_limits_still_parse():
    example = load_example("seed-sequence")
    assert str(parse_quantity("h**64 - exp(exp(exp(h)))", example)) == "h**64 - exp(exp(exp(h)))"
    assert str(parse_quantity("(" * 20 + "c" + ")" * 20, example)) == "c"
    assert str(parse_quantity("1.5e-3 * f + 2**-1", example)) == "3*f/2000 + 1/2"


def test_parse_quantity_audit_and_load_claims_check_their_arguments():
    example = load_example("seed-step")
    with pytest.raises(ArgumentError, match="must be a string, not NoneType"):
        parse_quantity(None, example)
    with pytest.raises(ArgumentError, match="must be an Example"):
        parse_quantity("f", "seed-step")
    with pytest.raises(ArgumentError, match="not int"):
        audit(3)
    with pytest.raises(ArgumentError, match="not list"):
        load_claims(["claims.toml"])


# -- short claims files and vector cells (issue 14) ----------------------------------------


def test_file_level_defaults_and_vector_claims(tmp_path):
    claims = tmp_path / "claims.toml"
    claims.write_text(
        'title = "vector claims"\nexample = "vector-demo"\nt = 1\n'
        '[[claims]]\nwhere = "f_1"\nquantity = "f"\nclaimed = ["0.777", "0.703"]\n'
        '[[claims]]\nwhere = "h_1[1]"\nquantity = "h[1]"\nclaimed = "0.115"\n'
        '[[claims]]\nwhere = "c_2[0]"\nt = 2\nquantity = "c[0]"\nclaimed = "0.9"\n'
        '[[claims]]\nwhere = "o s"\nquantity = "100*o[0]*s[0]"\nclaimed = "15.0"\n',
        encoding="utf-8",
    )
    report = audit(claims)
    got = [(r.claim.t, r.claim.quantity, r.claim.claimed, r.holds) for r in report.results]
    assert got == [
        (1, "f[0]", "0.777", True),
        (1, "f[1]", "0.703", True),
        (1, "h[1]", "0.115", True),
        (2, "c[0]", "0.9", False),
        (1, "100*o[0]*s[0]", "15.0", True),
    ]
    # Independently: the vector reference at 50 digits.
    ex = load_example("vector-demo")
    ref = vector_trace(
        {k: [[str(x) for x in row] if isinstance(row, tuple) else str(row) for row in v]
         for k, v in ex.parameters.items()},
        [[str(x) for x in xs] for xs in ex.inputs],
        [str(x) for x in ex.h0],
        [str(x) for x in ex.c0],
    )  # fmt: skip
    assert report.results[3].exact.rounded == rounded(ref[1]["c"][0], 1)
    assert report.results[4].exact.rounded == rounded(100 * ref[0]["o"][0] * ref[0]["s"][0], 1)


@pytest.mark.parametrize(
    ("example", "quantity", "message"),
    [
        ("vector-demo", "h", "h is a vector in this cell; name a component"),
        ("vector-demo", "h[2]", "h has components h[0] to h[1]"),
        ("seed-step", "h[0]", "h is one number in seed-step's tied cell"),
    ],
)
def test_components_fit_the_cell(tmp_path, example, quantity, message):
    claims = tmp_path / "c.toml"
    claims.write_text(
        f'[[claims]]\nexample = "{example}"\nt = 1\nquantity = "{quantity}"\nclaimed = "0.1"\n',
        encoding="utf-8",
    )
    with pytest.raises(UnknownNameError, match=re.escape(message)):
        audit(claims)


def test_a_vector_claim_needs_a_plain_name(tmp_path):
    claims = tmp_path / "c.toml"
    claims.write_text(
        '[[claims]]\nexample = "vector-demo"\nt = 1\nquantity = "2*h"\nclaimed = ["0.1"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ExampleFileError, match="needs a quantity that is one name"):
        load_claims(claims)
    claims.write_text('example = 3\n[[claims]]\nt = 1\nquantity = "h"\nclaimed = "0.1"\n')
    with pytest.raises(ExampleFileError, match="example must be non-empty text"):
        load_claims(claims)
    claims.write_text('exemple = "x"\n[[claims]]\nt = 1\nquantity = "h"\nclaimed = "0.1"\n')
    with pytest.raises(ExampleFileError, match="unknown top-level key"):
        load_claims(claims)
