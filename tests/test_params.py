"""Parameters, states and inputs: exact values, shorthand, and every way a value can be wrong."""

from __future__ import annotations

import decimal
import time

import numpy as np
import pytest
import sympy

from symlstm.cell import Cell
from symlstm.errors import ParameterError, RangeError, ShapeError, UnknownNameError
from symlstm.params import exact_number, inputs, parameters, state

R = sympy.Rational
SEED = {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"}


def _vector_values(**overrides):
    """Well-formed parameters of a hidden-2, input-3 vector cell (values k/10)."""
    values = {}
    for n, k in enumerate("ifgo"):
        values[f"W_{k}"] = [[f"0.{n}", "0.1", "-0.2"], ["0.3", "0.4", "0.5"]]
        values[f"U_{k}"] = [["0.6", "-0.7"], ["0.8", f"0.{n}"]]
        values[f"b_{k}"] = ["0", f"-0.{n}"]
    values.update(overrides)
    return values


VECTOR = Cell("vector", hidden_size=2, input_size=3)


def test_seed_parameters_are_exact_decimals():
    p = parameters(Cell("tied"), SEED)
    assert p == {
        "w_i": R(3, 5),
        "b_i": 0,
        "w_f": R(7, 10),
        "b_f": 0,
        "w_g": R(1, 2),
        "b_g": 0,
        "w_o": R(9, 10),
        "b_o": 0,
    }
    assert list(p) == list(Cell("tied").parameters)
    assert all(isinstance(v, sympy.Rational) for v in p.values())


def test_float_parameters_keep_their_binary_value():
    p = parameters(Cell("tied"), {**SEED, "w_f": 0.7})
    assert p["w_f"] == R(*(0.7).as_integer_ratio())
    assert p["w_f"] != R(7, 10)


def test_shorthand_b_fills_only_biases_not_given():
    p = parameters(Cell("tied"), {**SEED, "b": "0.25", "b_o": "-1"})
    assert (p["b_i"], p["b_f"], p["b_g"], p["b_o"]) == (R(1, 4), R(1, 4), R(1, 4), R(-1))
    scalar = Cell("scalar", forget_gate="coupled", peephole=True)
    values = {f"{w}_{k}": "1" for k in "igo" for w in "WU"} | {"p_i": 2, "p_o": 3, "b": "0.5"}
    p = parameters(scalar, values)
    assert {k: v for k, v in p.items() if k.startswith("b_")} == {
        "b_i": R(1, 2),
        "b_g": R(1, 2),
        "b_o": R(1, 2),
    }
    assert "b_f" not in p


def test_shorthand_b_is_not_for_vector_cells():
    with pytest.raises(UnknownNameError, match=r"unknown parameter\(s\) 'b'"):
        parameters(VECTOR, {**_vector_values(), "b": "0"})


def test_unknown_parameter_names():
    with pytest.raises(
        UnknownNameError, match=r"unknown parameter\(s\) 'w_x' for a tied cell"
    ) as e:
        parameters(Cell("tied"), {**SEED, "w_x": 1})
    assert "expected: w_i, b_i, w_f, b_f, w_g, b_g, w_o, b_o" in str(e.value)
    # a coupled cell has no forget-gate weight
    with pytest.raises(UnknownNameError, match="'w_f'"):
        parameters(Cell("tied", forget_gate="coupled"), SEED)
    # a tied cell has w, not W
    with pytest.raises(UnknownNameError, match="'W_f'"):
        parameters(Cell("tied"), {**SEED, "W_f": 1})


def test_missing_parameters():
    values = dict(SEED)
    del values["w_o"]
    with pytest.raises(ParameterError, match=r"missing parameter\(s\): w_o$"):
        parameters(Cell("tied"), values)
    with pytest.raises(ParameterError, match=r"missing parameter\(s\): p_i, p_f, p_o"):
        parameters(Cell("tied", peephole=True), SEED)
    with pytest.raises(ParameterError, match=r"missing parameter\(s\): b_i, b_f, b_g, b_o"):
        parameters(Cell("tied"), {k: v for k, v in SEED.items() if k != "b"})


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "abc", True, float("nan"), None, "", {}])
def test_non_numbers_are_refused_with_the_name(bad):
    with pytest.raises(ParameterError, match=r"^w_g: "):
        parameters(Cell("tied"), {**SEED, "w_g": bad})


def test_overflowing_parameter():
    with pytest.raises(RangeError, match=r"^b_o: '1e400' overflows float64"):
        parameters(Cell("tied"), {**SEED, "b_o": "1e400"})
    p = parameters(Cell("tied"), {**SEED, "b_o": "1e308"})
    assert p["b_o"] == sympy.Integer(10) ** 308


def test_scalar_cell_accepts_a_one_element_list_and_arrays():
    p = parameters(
        Cell("tied"), {**SEED, "w_f": ["0.7"], "w_i": np.array([0.5]), "w_g": np.array(2.0)}
    )
    assert (p["w_f"], p["w_i"], p["w_g"]) == (R(7, 10), R(1, 2), R(2))
    with pytest.raises(ShapeError, match="w_f: expected a number, got a list of 2"):
        parameters(Cell("tied"), {**SEED, "w_f": [1, 2]})
    with pytest.raises(ShapeError, match="w_f"):
        parameters(Cell("tied"), {**SEED, "w_f": [[1]]})
    with pytest.raises(ShapeError, match="w_f"):
        parameters(Cell("tied"), {**SEED, "w_f": np.zeros((2,))})


def test_vector_parameters_are_exact_nested_tuples():
    p = parameters(VECTOR, _vector_values())
    assert p["W_i"] == ((0, R(1, 10), R(-1, 5)), (R(3, 10), R(2, 5), R(1, 2)))
    assert p["U_o"] == ((R(3, 5), R(-7, 10)), (R(4, 5), R(3, 10)))
    assert p["b_f"] == (0, R(-1, 10))
    assert list(p) == list(VECTOR.parameters)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("W_i", ["1", "2", "3"], r"W_i: expected shape \(2, 3\)"),
        ("W_i", [[1, 2, 3], [1, 2]], r"W_i: expected shape \(2, 3\), got 2 row\(s\) of 2/3"),
        ("W_i", [[1, 2, 3], [1, 2, 3], [1, 2, 3]], r"W_i: expected shape \(2, 3\), got 3 row"),
        ("W_i", [[1, 2], [3, 4], [5, 6]], r"W_i: expected shape \(2, 3\)"),
        ("W_i", "1", r"W_i: expected shape \(2, 3\), got a single number"),
        ("U_f", [[1, 2, 3], [4, 5, 6]], r"U_f: expected shape \(2, 2\), got 2 row\(s\) of 3"),
        ("U_f", [[1, 2], 3], r"U_f: expected shape \(2, 2\)"),
        ("b_g", [1, 2, 3], r"b_g: expected 2 number\(s\), got 3 item\(s\)"),
        ("b_g", [[1], [2]], r"b_g: expected 2 number\(s\), got 2 row\(s\) of 1"),
        ("b_g", 0, r"b_g: expected shape \(2,\), got a single number"),
        ("b_o", [1, [2]], r"b_o: expected 2 number\(s\)"),
    ],
)
def test_vector_shape_errors_name_the_parameter(name, value, message):
    with pytest.raises(ShapeError, match=message):
        parameters(VECTOR, _vector_values(**{name: value}))


def test_vector_element_errors_name_the_element():
    values = _vector_values(W_o=[[1, 2, 3], [4, "nan", 6]])
    with pytest.raises(ParameterError, match=r"W_o\[1\]\[1\]: 'nan' is not a finite number"):
        parameters(VECTOR, values)
    with pytest.raises(RangeError, match=r"b_i\[0\]"):
        parameters(VECTOR, _vector_values(b_i=["1e999", 0]))


def test_numpy_arrays_are_accepted_at_their_exact_values():
    w = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], dtype=np.float64)
    b = np.array([0.5, -0.25], dtype=np.float32)
    p = parameters(VECTOR, _vector_values(W_g=w, b_g=b))
    assert p["W_g"] == tuple(
        tuple(R(*float(v).as_integer_ratio()) for v in row) for row in w.tolist()
    )
    assert p["W_g"][0][0] != R(1, 10)  # the float64 nearest 0.1, not 1/10
    assert p["b_g"] == (R(1, 2), R(-1, 4))


@pytest.mark.parametrize(
    ("name", "array"),
    [
        ("W_g", np.zeros((3, 2))),
        ("W_g", np.zeros((6,))),
        ("b_g", np.zeros((2, 1))),
        ("U_g", np.zeros((2, 3))),
    ],
)
def test_numpy_arrays_of_the_wrong_shape(name, array):
    with pytest.raises(ShapeError, match=f"^{name}: expected shape"):
        parameters(VECTOR, _vector_values(**{name: array}))


# -- state and inputs ------------------------------------------------------------------------------


def test_state_defaults_to_zeros_and_is_exact():
    assert state(Cell("tied"), "h_prev") == 0
    assert state(VECTOR, "c_prev") == (0, 0)
    assert state(Cell("tied"), "c_prev", "0.4") == R(2, 5)
    assert state(VECTOR, "h_prev", ["0.2", 0.5]) == (R(1, 5), R(1, 2))
    with pytest.raises(ShapeError, match=r"h_prev: expected 2 number\(s\), got 3"):
        state(VECTOR, "h_prev", [1, 2, 3])
    with pytest.raises(ParameterError, match="c_prev: 'x' is not a number"):
        state(Cell("tied"), "c_prev", "x")
    with pytest.raises(UnknownNameError, match="a state is 'h_prev' or 'c_prev', not 'h0'"):
        state(Cell("tied"), "h0", 1)


def test_inputs_scalar_cells():
    assert inputs(Cell("tied"), ["0.2", "0.4", 0.5]) == (R(1, 5), R(2, 5), R(1, 2))
    assert inputs(Cell("scalar"), np.array([0.25, 0.75])) == (R(1, 4), R(3, 4))
    with pytest.raises(ShapeError, match="inputs: the sequence is empty"):
        inputs(Cell("tied"), [])
    with pytest.raises(ShapeError, match="inputs: expected a sequence of steps"):
        inputs(Cell("tied"), "0.5")
    with pytest.raises(ShapeError, match="inputs: expected a sequence of steps"):
        inputs(Cell("tied"), 0.5)
    with pytest.raises(ParameterError, match=r"x\[2\]: 'abc' is not a number"):
        inputs(Cell("tied"), ["0.1", "abc"])


def test_inputs_vector_cells():
    xs = inputs(VECTOR, [["0.1", "0.2", "0.3"], [1, 2, 3]])
    assert xs == ((R(1, 10), R(1, 5), R(3, 10)), (1, 2, 3))
    assert inputs(VECTOR, np.array([[0.5, 0.25, 0.0]])) == ((R(1, 2), R(1, 4), 0),)
    with pytest.raises(ShapeError, match=r"x\[2\]: expected 3 number\(s\), got 2"):
        inputs(VECTOR, [[1, 2, 3], [1, 2]])
    with pytest.raises(ShapeError, match=r"x\[1\]: expected shape \(3,\), got a single number"):
        inputs(VECTOR, [1, 2, 3])
    with pytest.raises(ShapeError, match=r"x\[1\]: expected shape \(3,\)"):
        inputs(VECTOR, np.zeros((2, 4)))


# -- hostile numbers: refused on their text, at once, naming the value ---------------------------


def _raises_fast(error, match, call, *args):
    start = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        call(*args)
    assert time.perf_counter() - start < 1.0
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    return info.value


@pytest.mark.parametrize(
    "huge",
    ["1e999999999", decimal.Decimal("1e999999999"), "-1e-999999999", 10**100_000, "0e999999999"],
    ids=["text", "Decimal", "tiny", "int", "zero"],
)
def test_huge_exponents_are_refused_within_a_second(huge):
    cell = Cell("tied")
    _raises_fast(RangeError, r"^w_f: .*flows float64", parameters, cell, {**SEED, "w_f": huge})
    _raises_fast(RangeError, r"^x\[2\]: ", inputs, cell, ["0.5", huge])
    _raises_fast(RangeError, r"^c_prev: ", state, cell, "c_prev", huge)
    _raises_fast(RangeError, r"^W_i\[1\]\[0\]: ", parameters, VECTOR,
                 _vector_values(W_i=[["0", "0", "0"], [huge, "0", "0"]]))  # fmt: skip


def test_long_numbers_are_refused_and_elided_in_the_message():
    long = "1234567890" * 10_000
    err = _raises_fast(ParameterError, "significant digits", parameters, Cell("tied"),
                       {**SEED, "b": "0." + long})  # fmt: skip
    assert "…" in str(err) and long not in str(err)


@pytest.mark.parametrize("digit", ["٣", "0.٥", "१", "３"])
def test_non_ascii_digits_are_not_numbers(digit):
    with pytest.raises(ParameterError, match=r"^w_f: .*only ASCII digits"):
        parameters(Cell("tied"), {**SEED, "w_f": digit})


@pytest.mark.parametrize("flag", [True, np.bool_(False)])
def test_booleans_are_not_numbers_anywhere(flag):
    with pytest.raises(ParameterError, match="boolean"):
        inputs(Cell("tied"), [flag])
    with pytest.raises(ParameterError, match="boolean"):
        parameters(VECTOR, _vector_values(b_i=[flag, "0"]))


def test_exact_number_is_the_one_checked_conversion():
    assert exact_number("0.25", "x") == R(1, 4)
    assert exact_number(decimal.Decimal("1e-400"), "x") == R(1, 10**400)
    with pytest.raises(RangeError, match="overflows float64"):
        exact_number("1e400", "x")  # within the text limit; to_rational says it overflows


@pytest.mark.parametrize(
    ("cell", "values", "error"),
    [
        ("tied", None, ParameterError),
        ("tied", [("w_f", 1)], ParameterError),
        ("tied", {1: "0.5"}, UnknownNameError),
        (None, SEED, ParameterError),
    ],
)
def test_parameters_refuses_wrong_argument_types(cell, values, error):
    with pytest.raises(error):
        parameters(Cell(cell) if cell else cell, values)
