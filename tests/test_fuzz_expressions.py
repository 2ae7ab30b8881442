"""Fuzzing losses and claim quantities: the only outcomes are a result or a SymLSTMError, fast,
and never an undefined value certified.

Token soups are drawn from names, numbers, operators, functions, parentheses, whitespace
and a little unicode. The default run is a few seconds; set ``SYMLSTM_FUZZ_EXAMPLES``
(for example 2000) for a longer one.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import mpmath
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symlstm.claims.audit import parse_quantity
from symlstm.derive.gradients import Loss, certify_gradients
from symlstm.errors import SymLSTMError
from symlstm.examples import load_example

EXAMPLES = int(os.environ.get("SYMLSTM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a hang or a huge computation fails the test
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not os.environ.get("SYMLSTM_FUZZ_EXAMPLES"),
)

NAMES = ["h_1", "h_2", "h_3", "h", "c", "f", "x", "h_prev", "q", "h_9", "__import__", "e"]
FUNCTIONS = ["exp", "log", "tanh", "sigmoid", "sqrt", "eval"]
NUMBERS = ["0", "1", "2", "0.5", "1e3", "9" * 60, "1e999999999", "64", "65", ".5", "3."]
OPERATORS = ["+", "-", "*", "/", "**", "**", "^", "%", ",", ";", "."]
SPACES = [" ", "  ", "\t", "\n", "\x00"]
UNICODE = ["٣", "σ", "−", "ｈ", "\u200b"]

token = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(FUNCTIONS).map(lambda f: f + "("),
    st.sampled_from(NUMBERS),
    st.sampled_from(OPERATORS),
    st.sampled_from(["(", ")", "(", ")"]),
    st.sampled_from(SPACES),
    st.sampled_from(UNICODE),
)
soup = st.lists(token, min_size=0, max_size=40).map("".join)


@st.composite
def well_formed(draw, names=("h_1", "h_2", "h_3"), depth=0):
    """An expression that parses (mostly): it reaches the evaluation, not only the parser."""
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from([*names, "0", "1", "2", "0.5", "3"]))
    kind = draw(st.sampled_from(["op", "op", "fn", "pow", "neg"]))
    if kind == "fn":
        fn = draw(st.sampled_from(["exp", "log", "tanh", "sigmoid"]))
        return f"{fn}({draw(well_formed(names, depth + 1))})"
    if kind == "pow":
        return f"({draw(well_formed(names, depth + 1))})**{draw(st.integers(-3, 70))}"
    if kind == "neg":
        return f"-{draw(well_formed(names, depth + 1))}"
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    return f"({draw(well_formed(names, depth + 1))}{op}{draw(well_formed(names, depth + 1))})"


SEQUENCE = load_example("seed-sequence")
STEP = load_example("seed-step")


def _is_finite_decimal(text: str) -> bool:
    return math.isfinite(float(mpmath.mpf(text)))


def _certify(loss: str):
    return certify_gradients(
        SEQUENCE.cell,
        SEQUENCE.parameters,
        SEQUENCE.inputs,
        SEQUENCE.h0,
        SEQUENCE.c0,
        significant=6,
        loss=loss,
    )


@FUZZ
@given(st.one_of(soup, well_formed()))
def test_a_loss_is_parsed_or_refused(text):
    try:
        loss = Loss.make(text, steps=3, cell=SEQUENCE.cell)
    except SymLSTMError as err:
        assert "\n" not in str(err) and len(str(err)) < 400
        return
    assert loss.expression is not None


@FUZZ
@given(well_formed())
def test_a_certified_gradient_is_finite_and_defined(text):
    try:
        grads = _certify(text)
    except SymLSTMError as err:
        assert "\n" not in str(err)
        return
    for value in grads.decimals.values():
        for v in value if isinstance(value, tuple) else (value,):
            assert _is_finite_decimal(v), (text, v)


@FUZZ
@given(st.one_of(soup, well_formed(("h", "c", "f", "h_prev", "x"))))
def test_a_claim_quantity_is_parsed_or_refused(text):
    try:
        expr = parse_quantity(text, STEP)
    except SymLSTMError as err:
        assert "\n" not in str(err) and len(str(err)) < 400
        return
    assert not expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)


def test_the_bounds_hold_in_a_subprocess():
    """Inputs that used to hang, each refused within a second; the whole run is bounded by a
    timeout, so a regression fails instead of hanging the suite."""
    script = r"""
import time, sys
from symlstm.derive.gradients import Loss
from symlstm.errors import SymLSTMError
cases = ["9**9**9**9", "h_1**999999999", "sigmoid(h_1)**1000000", "exp(exp(exp(exp(exp(h_1)))))",
         "-" * 5000 + "h_1", "+".join(["h_1"] * 20000), "(" * 5000 + "h_1" + ")" * 5000,
         "1e999999999*h_1", "(h_1**64)**64**64", "((9**64)**64)**64", "1/(h_1-h_1)"]
for text in cases:
    start = time.perf_counter()
    try:
        Loss.make(text, steps=3)
        print("accepted", text[:20]); sys.exit(1)
    except SymLSTMError:
        pass
    if time.perf_counter() - start > 1:
        print("slow", text[:20]); sys.exit(1)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stdout + done.stderr


def test_a_huge_but_allowed_loss_finishes():
    """The largest powers and nesting the limits allow still evaluate quickly."""

    def hang(signum, frame):
        raise AssertionError("the loss takes more than 20 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        start = time.perf_counter()
        with pytest.raises(SymLSTMError, match=r"float64|undefined"):
            _certify("exp(exp(exp(h_3 * 700)))**64 * (h_1 - h_2)**-64")
        grads = _certify("exp(exp(exp(h_3)))**64 * (h_1 - h_2)**-64")
        assert all(_is_finite_decimal(v) for v in grads.decimals.values() if isinstance(v, str))
        assert time.perf_counter() - start < 20
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
