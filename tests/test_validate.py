"""symlstm.validation: reports, verdicts, NaN rules and the diagnosis, on real implementations.

The implementations under test are torch.nn.LSTM (the torch extra) and symlstm's own
generated NumPy module; broken ones are those same implementations run on weights
changed the way a convention mistake changes them, while validate() is given the
weights as they should have been read.
"""

from __future__ import annotations

import io
import itertools
import json
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symlstm.codegen.numpy_code import numpy_module
from symlstm.errors import ArrayShapeError, DataFileError, ParameterError, SymLSTMError
from symlstm.frameworks.layouts import to_canonical
from symlstm.validation import AS_GIVEN, compare, diagnose, load_npz, tolerance_ulps, validate

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

T, B, N, M = 10, 3, 6, 4


def _torch_run(lstm, x, h0=None, c0=None, dy=None):
    """Run a torch LSTM; the arrays validate() takes, as NumPy."""
    xt = torch.from_numpy(x).requires_grad_(dy is not None)
    state = None
    if h0 is not None:
        state = (torch.from_numpy(h0).requires_grad_(dy is not None),
                 torch.from_numpy(c0).requires_grad_(dy is not None))  # fmt: skip
    y, (h_T, c_T) = lstm(xt, state)
    outputs = {"y": y.detach().numpy(), "h_T": h_T.detach().numpy(), "c_T": c_T.detach().numpy()}
    grads = None
    if dy is not None:
        (y * torch.from_numpy(dy)).sum().backward()
        grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
        grads |= {"dy": dy, "x": xt.grad.numpy()}
        if state is not None:
            grads |= {"h0": state[0].grad.numpy(), "c0": state[1].grad.numpy()}
    return outputs, grads


def _weights(lstm):
    return {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}


def _lstm(seed, dtype=torch.float32, **kwargs):
    torch.manual_seed(seed)
    return torch.nn.LSTM(M, N, dtype=dtype, **kwargs)


def _inputs(seed, dtype=np.float32, steps=T):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(steps, B, M)).astype(dtype),
        "h0": rng.normal(size=(1, B, N)).astype(dtype),
        "c0": rng.normal(size=(1, B, N)).astype(dtype),
    }


# -- the tolerance ------------------------------------------------------------------------------


def test_tolerance_grows_like_the_square_roots_of_steps_and_terms():
    assert tolerance_ulps(1, 1) == 10.0
    assert tolerance_ulps(4, 100) == 56.0  # (8 + 20) · 2
    assert tolerance_ulps(100, 129) == pytest.approx(np.ceil((8 + 2 * 129**0.5) * 10))
    with pytest.raises(ParameterError, match="steps must be a positive integer"):
        tolerance_ulps(0, 3)


# -- real implementations that are right --------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_passes_with_outputs_and_gradients(dtype):
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    lstm = _lstm(0, dtype)
    inputs = _inputs(1, np_dtype)
    dy = np.random.default_rng(2).normal(size=(T, B, N)).astype(np_dtype)
    outputs, grads = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"], dy)
    report = validate("torch", _weights(lstm), inputs, outputs, grads)
    assert report.verdict == "pass", report.text()
    assert report.diagnosis is None  # only run on failure
    asked = validate("torch", _weights(lstm), inputs, outputs, diagnosis=True)
    assert [(fix.fix, fix.agrees) for fix in asked.diagnosis] == [(AS_GIVEN, True)]
    assert "diagnosis: none needed, the outputs agree as given" in asked.text()
    assert not any(line.endswith(" ") for line in asked.text().splitlines())
    names = {"y", "h_T", "c_T", "grad x", "grad h0", "grad c0", "grad weight_ih_l0"}
    assert names | {"grad weight_hh_l0", "grad bias_ih_l0", "grad bias_hh_l0"} == set(
        report.tensors
    )
    for t in report.tensors.values():
        assert 0 < t.normwise_ulp <= t.tolerance / 4  # torch is far inside, but not exact
        assert t.nan == t.inf == t.undefined == 0 and t.worst_index is not None
    y = report.tensors["y"]
    assert y.tolerance == tolerance_ulps(T, M + N + 1)
    assert y.max_abs <= y.normwise_ulp * np.spacing(np_dtype(1)) * 1.0001  # |y| < 1


def test_a_wrong_gradient_fails_alone():
    lstm = _lstm(3, torch.float64)
    inputs = _inputs(4, np.float64)
    dy = np.ones((T, B, N))
    outputs, grads = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"], dy)
    grads["weight_hh_l0"] = grads["weight_hh_l0"] * (1 + 1e-10)  # 1e-10 relative: ~5e5 ULPs
    report = validate("torch", _weights(lstm), inputs, outputs, grads, diagnosis=False)
    failing = [name for name, t in report.tensors.items() if t.verdict == "fail"]
    assert failing == ["grad weight_hh_l0"] and report.verdict == "fail"


def test_generated_numpy_passes_for_every_layout_it_is_given_in():
    rng = np.random.default_rng(5)
    _, params = to_canonical("torch", _weights(_lstm(5, torch.float64)))
    x = rng.normal(size=(T, B, M))
    y, h_T, c_T, _ = numpy_module().forward(params, x)
    from symlstm.frameworks.layouts import from_canonical

    for layout in ("torch", "keras", "onnx", "canonical"):
        weights = from_canonical(layout, params)
        report = validate(layout, weights, {"x": x}, {"y": y, "h_T": h_T, "c_T": c_T},
                          batch_first=False)  # fmt: skip
        assert report.passed, (layout, report.text())


def test_gradients_pass_in_every_layout_they_are_given_in():
    # torch's autograd gradients, repacked into each layout: each layout's bias arrays get
    # their own gate's db_k (the canonical layout's b_f, b_g, b_o were compared with b_i's).
    lstm = _lstm(8, torch.float64)
    inputs = _inputs(9, np.float64)
    dy = np.random.default_rng(10).normal(size=(T, B, N))
    outputs, grads = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"], dy)
    _, params = to_canonical("torch", _weights(lstm))
    # db_k once: torch's two bias arrays each have the gradient db_k, and to_canonical adds them.
    weight_grads = {k: v for k, v in grads.items() if "_l0" in k}
    weight_grads["bias_hh_l0"] = np.zeros_like(weight_grads["bias_hh_l0"])
    _, dparams = to_canonical("torch", weight_grads)
    from symlstm.frameworks.layouts import from_canonical

    extra = {k: v for k, v in grads.items() if "_l0" not in k}
    for layout in ("canonical", "keras", "torch"):
        packed = from_canonical(layout, dparams) if layout != "torch" else grads
        report = validate(layout, from_canonical(layout, params), inputs, outputs,
                          {**packed, **extra}, diagnosis=False, batch_first=False)  # fmt: skip
        assert report.passed, (layout, report.text())
        if layout == "canonical":
            assert {"grad b_i", "grad b_f", "grad b_g", "grad b_o"} <= set(report.tensors)


def test_the_reverse_direction_of_a_bidirectional_torch_lstm():
    lstm = _lstm(6, bidirectional=True)
    inputs = _inputs(7)
    h0 = np.concatenate([inputs["h0"]] * 2)
    c0 = np.concatenate([inputs["c0"]] * 2)
    outputs, _ = _torch_run(lstm, inputs["x"], h0, c0)  # y (T, B, 2n), h_T (2, B, n)
    inputs |= {"h0": h0, "c0": c0}
    report = validate("torch", _weights(lstm), inputs, outputs)  # the whole network
    assert report.passed, report.text()
    assert {"y (forward)", "y (reverse)", "h_T (reverse)"} <= set(report.tensors)
    for slot, direction in enumerate(("forward", "reverse")):  # one unit alone: its own part
        own = {"y": outputs["y"][..., slot * N : (slot + 1) * N], "h_T": outputs["h_T"]}
        report = validate("torch", _weights(lstm), inputs, own, direction=direction)
        assert report.passed, report.text()
    with pytest.raises(ArrayShapeError, match=r"a whole network's y .* given for one unit"):
        validate("torch", _weights(lstm), inputs, outputs, direction="reverse")
    # The forward direction's numbers are not the reverse direction's.
    swapped = dict(outputs, y=np.concatenate([outputs["y"][..., N:], outputs["y"][..., :N]], -1))
    assert not validate("torch", _weights(lstm), inputs, swapped, diagnosis=False).passed


# -- deliberately broken implementations: the verdict and the diagnosis -------------------------


def _broken_torch(change, seed=8):
    """torch run on weights changed by ``change`` (in place); the weights as they should be."""
    lstm = _lstm(seed)
    weights = _weights(lstm)
    with torch.no_grad():
        change({k: v for k, v in lstm.named_parameters()})
    inputs = _inputs(seed + 1)
    outputs, _ = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"])
    return weights, inputs, outputs


def _blocks(p):
    return p.view(4, N, *p.shape[1:])


def test_wrong_gate_order_is_diagnosed():
    # The implementation takes torch's blocks (i, f, g, o) as (i, g, f, o): swap f and g.
    def swap(params):
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            b = _blocks(params[name])
            b[[1, 2]] = b[[2, 1]].clone()

    report = validate("torch", *_broken_torch(swap))
    assert report.verdict == "fail"
    assert report.tensors["y"].normwise_ulp > 1e5
    best = report.diagnosis[0]
    assert best.agrees and best.max_ulp_after <= 5
    assert (
        best.fix == "gate blocks read in the order i, g, f, o (the torch layout packs i, f, g, o)"
    )
    assert all(fix.agrees for fix in report.diagnosis)


def test_every_gate_order_is_told_apart():
    lstm = _lstm(9, torch.float64)
    weights = _weights(lstm)
    _, params = to_canonical("torch", weights, biases="exact")
    x = np.random.default_rng(9).normal(size=(T, B, M))
    module = numpy_module()
    order = ("i", "f", "g", "o")
    for assumed in itertools.permutations(order):
        if assumed == order:
            continue
        wrong = {f"{p}_{k}": np.asarray(params[f"{p}_{t}"], dtype=np.float64)
                 for t, k in zip(order, assumed, strict=True) for p in "WUb"}  # fmt: skip
        y = module.forward(wrong, x)[0]
        fixes = diagnose("torch", weights, {"x": x}, {"y": y})
        assert fixes[0].agrees and fixes[0].fix.startswith(
            f"gate blocks read in the order {', '.join(assumed)} "
        ), (assumed, fixes)


def test_forget_bias_folded_in_is_diagnosed():
    def fold(params):
        _blocks(params["bias_ih_l0"])[1] += 1

    report = validate("torch", *_broken_torch(fold))
    assert report.verdict == "fail"
    assert [fix.fix for fix in report.diagnosis] == ["a forget bias of 1 added inside σ(f)"]


def test_transposed_recurrent_matrix_is_diagnosed():
    def transpose(params):
        b = _blocks(params["weight_hh_l0"])
        b[:] = b.transpose(1, 2).clone()

    report = validate("torch", *_broken_torch(transpose))
    assert report.verdict == "fail"
    assert report.diagnosis[0].fix == "each gate's recurrent matrix U_k transposed"


def test_a_dropped_bias_and_swapped_states_are_diagnosed():
    def drop(params):
        params["bias_hh_l0"].zero_()

    report = validate("torch", *_broken_torch(drop))
    assert report.diagnosis[0].fix == "bias_hh_l0 not added"
    weights, inputs, outputs = _broken_torch(lambda params: None, seed=10)
    swapped = dict(outputs, h_T=outputs["c_T"], c_T=outputs["h_T"])
    report = validate("torch", weights, inputs, swapped)
    assert [t.verdict for t in report.tensors.values()] == ["pass", "fail", "fail"]
    assert report.diagnosis[0].fix == "h_T and c_T swapped on output"


def test_hard_sigmoid_and_a_dropped_tanh_are_diagnosed():
    from symlstm.cell import Variant

    _, params = to_canonical("torch", _weights(_lstm(11, torch.float64)))
    x = 2 * np.random.default_rng(11).normal(size=(T, B, M))
    weights = {f"{p}_{k}": params[f"{p}_{k}"] for p in "WUb" for k in "ifgo"}
    for variant, fix in (
        (Variant(gate_activation="hard_sigmoid"), "the gates' sigmoid replaced by hard_sigmoid: "),
        (Variant(output_activation="identity"), "no tanh on the cell state"),
    ):
        y = numpy_module(variant).forward(params, x)[0]
        fixes = diagnose("canonical", weights, {"x": x}, {"y": y})
        assert fixes[0].agrees and fixes[0].fix.startswith(fix), fixes


def test_no_single_mistake_reports_the_nearest():
    weights, inputs, outputs = _broken_torch(lambda params: None, seed=12)
    noise = np.random.default_rng(12).normal(size=outputs["y"].shape).astype(np.float32)
    report = validate("torch", weights, inputs, {"y": outputs["y"] + 1e-3 * noise})
    assert report.verdict == "fail" and len(report.diagnosis) == 3
    assert not any(fix.agrees for fix in report.diagnosis)
    assert "no single convention mistake" in report.text()


# -- NaN and infinity ---------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_nan_inputs_must_come_out_nan(bias):
    lstm = _lstm(13, bias=bias)
    inputs = _inputs(14)
    inputs["x"][3, 1, 2] = np.nan  # batch row 1 is undefined from step 3 on
    outputs, _ = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"])
    report = validate("torch", _weights(lstm), inputs, outputs)
    y = report.tensors["y"]
    assert report.passed, report.text()
    assert y.undefined == y.nan == (T - 3) * N and report.tensors["h_T"].undefined == N
    # An implementation that turns the NaNs into numbers fails, and says so.
    scrubbed = {k: np.nan_to_num(v) for k, v in outputs.items()}
    report = validate("torch", _weights(lstm), inputs, scrubbed, diagnosis=False)
    assert report.tensors["y"].problems == (
        f"{(T - 3) * N} finite where NaN or infinite inputs leave the exact value undefined",
    )


def test_a_nan_bias_makes_everything_undefined_and_nan_where_finite_fails():
    lstm = _lstm(15)
    with torch.no_grad():
        lstm.bias_hh_l0[0] = float("nan")  # unit 0 of i: h_1[0], then every h_t, is NaN
    inputs = _inputs(16)
    outputs, _ = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"])
    report = validate("torch", _weights(lstm), inputs, outputs)
    assert report.passed and report.tensors["y"].undefined == B * (1 + (T - 1) * N)
    clean = _lstm(17)
    outputs, _ = _torch_run(clean, inputs["x"], inputs["h0"], inputs["c0"])
    outputs["y"][0, 0, 0] = np.nan
    report = validate("torch", _weights(clean), inputs, outputs, diagnosis=False)
    assert report.tensors["y"].problems == ("1 NaN or infinite where the exact value is finite",)
    assert report.tensors["y"].max_ulp == np.inf


def test_infinite_input_saturates_where_the_exact_limit_is_finite():
    # x = +inf with positive input weights: every pre-activation is +inf, every gate
    # saturates at 1, and the exact limits are finite: c_1 = c_0 + 1, h_1 = tanh(c_1).
    weights = {"W": np.full((1, 4 * N, 1), 0.5), "R": np.zeros((1, 4 * N, N))}
    x = np.ones((2, 1, 1))
    x[0] = np.inf
    _, params = to_canonical("onnx", weights)
    y, _, c_T, _ = numpy_module().forward(params, x)
    assert np.isfinite(y).all()
    report = validate("onnx", weights, {"x": x}, {"y": y, "c_T": c_T})
    assert report.passed and report.tensors["y"].undefined == 0


# -- the report's forms -------------------------------------------------------------------------


def test_json_contract():
    weights, inputs, outputs = _broken_torch(lambda p: _blocks(p["bias_ih_l0"])[1].add_(1), 18)
    data = json.loads(validate("torch", weights, inputs, outputs).json())
    assert data["verdict"] == "fail" and data["dtype"] == "float32"
    assert data["sizes"] == {"T": T, "batch": B, "hidden": N, "input": M}
    y = data["tensors"]["y"]
    assert set(y) >= {"max_abs", "max_rel", "max_ulp", "worst_index", "nan", "inf", "verdict"}
    assert isinstance(y["max_abs"], str) and float(y["max_abs"]) > 0.01  # decimal strings
    assert isinstance(y["max_ulp"], float) and len(y["worst_index"]) == 3
    assert data["diagnosis"][0]["fix"] == "a forget bias of 1 added inside σ(f)"
    assert data["diagnosis"][0]["max_ulp_after"] < 10


def test_compare_counts_and_locates():
    from symlstm.certified.run import ReferenceTensor

    exact = ReferenceTensor(np.array([[1.0, -2.0], [np.nan, 4.0]]), np.zeros((2, 2)), 106)
    claimed = np.array([[1.0, -2.0 - 2**-20], [np.inf, 4.0]])
    r = compare("t", exact, claimed, tolerance=5)
    assert r.worst_index == (0, 1) and r.max_abs == 2**-20 and r.inf == 1 and r.undefined == 1
    assert r.normwise_ulp == 2**-20 / np.spacing(4.0) and r.verdict == "fail"
    with pytest.raises(SymLSTMError, match=r"t: shape \(3,\), expected \(2, 2\)"):
        compare("t", exact, np.zeros(3), tolerance=5)


# -- bad input ----------------------------------------------------------------------------------


def _good():
    lstm = _lstm(19)
    inputs = _inputs(20)
    outputs, _ = _torch_run(lstm, inputs["x"], inputs["h0"], inputs["c0"])
    return _weights(lstm), inputs, outputs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w, i, o: i.pop("x"), r"inputs: missing x"),
        (lambda w, i, o: o.clear(), r"outputs: none given"),
        (lambda w, i, o: o.update(z=o["y"]), r"outputs: unknown array\(s\) 'z'"),
        (lambda w, i, o: i.update(x=i["x"].astype(np.float64)), r"x is float64 but y is float32"),
        (lambda w, i, o: i.update(x=i["x"][..., :2]), r"x has shape \(10, 3, 2\), expected"),
        (lambda w, i, o: o.update(y=o["y"][:-1]), r"outputs: y has shape \(9, 3, 6\), expected"),
        (lambda w, i, o: o.update(h_T=o["h_T"][0, :2]), r"outputs: h_T has shape \(2, 6\)"),
        (lambda w, i, o: o.update(y=o["y"].astype(np.int32)), r"y is int32; expected float"),
        (
            lambda w, i, o: w.pop("weight_hh_l0"),
            r"torch: missing arrays \(layer 0, forward\): weight_hh_l0",
        ),
    ],
)
def test_bad_input_is_a_clear_error(change, message):
    weights, inputs, outputs = _good()
    change(weights, inputs, outputs)
    with pytest.raises(SymLSTMError, match=message):
        validate("torch", weights, inputs, outputs)


def test_bad_gradient_files_are_clear_errors():
    weights, inputs, outputs = _good()
    with pytest.raises(DataFileError, match="grads: missing dy"):
        validate("torch", weights, inputs, outputs, {"x": inputs["x"]})
    with pytest.raises(DataFileError, match=r"grads: unknown array\(s\) 'weight'"):
        validate("torch", weights, inputs, outputs, {"dy": outputs["y"], "weight": outputs["y"]})
    with pytest.raises(DataFileError, match="grads: weight_ih_l0 has shape"):
        validate(
            "torch", weights, inputs, outputs, {"dy": outputs["y"], "weight_ih_l0": outputs["y"]}
        )


# -- the file reader ----------------------------------------------------------------------------


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_load_npz_reads_what_numpy_writes(tmp_path):
    path = tmp_path / "a.npz"
    arrays = {"x": np.arange(6.0).reshape(2, 3), "k": np.asfortranarray(np.eye(2, dtype="f4"))}
    np.savez_compressed(path, **arrays)
    got = load_npz(path)
    assert set(got) == {"x", "k"} and got["k"].dtype == np.float32
    assert all(np.array_equal(got[k], v) for k, v in arrays.items())
    big_endian = tmp_path / "b.npz"
    np.savez(big_endian, x=np.arange(3.0).astype(">f8"))
    assert load_npz(big_endian)["x"].dtype.byteorder in "=<|"


def test_load_npz_refuses_objects_and_lying_headers(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, x=np.array([1, "a"], dtype=object))
    with pytest.raises(DataFileError, match="dtype object is not a real number type"):
        load_npz(path)
    with pytest.raises(DataFileError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")
    # A header that claims far more data than the member holds.
    data = _npz_bytes(x=np.zeros(4))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = archive.read("x.npy")
    forged = member.replace(b"(4,)", b"(1000000000,)")
    with zipfile.ZipFile(tmp_path / "f.npz", "w") as archive:
        archive.writestr("x.npy", forged)
    with pytest.raises(DataFileError, match="claims shape"):
        load_npz(tmp_path / "f.npz")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_load_npz_fuzzed_bytes_give_arrays_or_a_clear_error(tmp_path, data):
    original = _npz_bytes(x=np.arange(12.0, dtype=np.float32).reshape(3, 4), h0=np.ones(2))
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(raw))
    try:
        arrays = load_npz(path, "weights")
    except DataFileError as err:
        assert str(err).startswith("weights: ")
    else:
        assert all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in arrays.values())


def _npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    """A version-1.0 .npy header (magic, length, dict padded to 64 bytes) for ``shape``."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _zeros_deflate(head: bytes, zeros: int, chunk: int = 2**24) -> tuple[bytes, int]:
    """A raw deflate stream of ``head`` then ``zeros`` zero bytes, and its CRC-32, built fast:
    after a full flush, every further chunk of zeros compresses to the same bytes."""
    assert zeros % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head + bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    block = bytes(chunk)
    for _ in range(zeros // chunk):
        crc = zlib.crc32(block, crc)
    return first + again * (zeros // chunk - 1) + compressor.flush(), crc


def _write_zip(path, members: list[tuple[str, bytes, int, int]]) -> None:
    """A zip of deflated members (name, raw deflate stream, CRC-32, declared size), by hand,
    so that the declared uncompressed size can be anything."""
    local, central = bytearray(), bytearray()
    for name, stream, crc, size in members:
        offset, encoded = len(local), name.encode()
        fields = (20, 0, 8, 0, 0x21, crc, len(stream), size, len(encoded), 0)
        local += struct.pack("<I5H3I2H", 0x04034B50, *fields) + encoded + stream
        central += struct.pack("<I6H3I5H2I", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset)
        central += encoded
    end = struct.pack("<I4H2IH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(local), 0)  # fmt: skip
    path.write_bytes(bytes(local + central + end))


def _refused_quickly_and_small(path, match: str, *, seconds: float = 0.5, megabytes: int = 16):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataFileError, match=match) as info:
            load_npz(path, "weights")
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds and peak < megabytes * 2**20, (elapsed, peak)
    assert str(info.value).startswith(f"weights: {path}") and "\n" not in str(info.value)


def test_load_npz_refuses_2_gib_of_zeros_before_decompressing(tmp_path):
    head = _npy_header((2**28,))  # 2 GiB of float64 zeros, declared honestly everywhere
    stream, crc = _zeros_deflate(head, 2**31)
    path = tmp_path / "bomb.npz"
    _write_zip(path, [("W.npy", stream, crc, len(head) + 2**31)])
    assert path.stat().st_size < 3 * 2**20
    with zipfile.ZipFile(path) as archive:  # a well-formed zip, as numpy would read it
        assert archive.getinfo("W.npy").file_size == len(head) + 2**31
    _refused_quickly_and_small(path, r"'W\.npy' is 2,147,483,776 bytes uncompressed; at most "
                               r"1,073,741,824 \(MAX_NPZ_MEMBER_BYTES")  # fmt: skip


def test_load_npz_refuses_a_header_that_claims_more_than_the_budget(tmp_path):
    # The zip says 160 bytes; the header claims a 2 GiB array: refused on the header alone.
    head = _npy_header((2**28,))
    raw = head + bytes(32)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = compressor.compress(raw) + compressor.flush()
    path = tmp_path / "liar.npz"
    _write_zip(path, [("x.npy", stream, zlib.crc32(raw), len(raw))])
    _refused_quickly_and_small(path, r"x: the header claims shape \(268435456,\) "
                               r"\(2,147,483,648 bytes\); at most")  # fmt: skip


def test_load_npz_refuses_a_stream_longer_than_the_zip_declares(tmp_path):
    # Header and zip agree on 4 numbers, but the stream inflates to 2 GiB: only the declared
    # bytes are ever inflated, and the CRC then fails.
    head = _npy_header((4,))
    stream, crc = _zeros_deflate(head, 2**31)
    path = tmp_path / "long.npz"
    _write_zip(path, [("x.npy", stream, crc, len(head) + 32)])
    _refused_quickly_and_small(path, r"not a readable \.npz file \(Bad CRC-32")


def test_load_npz_refuses_sizes_that_disagree_and_odd_dtypes(tmp_path):
    for shape, descr, extra, match in [
        ((2,), "<f8", 32, r"claims shape \(2,\) \(16 bytes\) but the member holds 32"),
        ((8,), "<f8", 32, r"claims shape \(8,\) \(64 bytes\) but the member holds 32"),
        ((2,), "<c16", 32, r"dtype complex128 is not a real number type"),
        ((2,), "|b1", 2, r"dtype bool is not a real number type"),
        ((2,), "|V8", 16, r"is not a real number type"),
    ]:
        raw = _npy_header(shape, descr) + bytes(extra)
        path = tmp_path / "odd.npz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", raw)
        _refused_quickly_and_small(path, match)


def test_load_npz_bounds_the_total_and_the_member_count(tmp_path, monkeypatch):
    path = tmp_path / "many.npz"
    np.savez(path, **{f"a{k}": np.zeros(100) for k in range(5)})
    assert len(load_npz(path)) == 5
    monkeypatch.setattr("symlstm.validation.npz.MAX_NPZ_TOTAL_BYTES", 3000)
    _refused_quickly_and_small(path, r"bytes uncompressed in all with this array; at most 3,000 "
                               r"\(MAX_NPZ_TOTAL_BYTES")  # fmt: skip
    monkeypatch.setattr("symlstm.validation.npz.MAX_NPZ_MEMBERS", 4)
    _refused_quickly_and_small(path, r"5 members; at most 4 \(MAX_NPZ_MEMBERS")


@pytest.mark.parametrize("bad", [None, 3, b"w.npz", ["w.npz"]])
def test_load_npz_refuses_arguments_that_are_not_paths(bad):
    with pytest.raises(DataFileError, match=r"^weights: expected the path of an \.npz file"):
        load_npz(bad, "weights")


# -- ONNX Runtime: node attributes, an undeclared clip, batch-major arrays ----------------------


def _onnx_runtime_lstm(weights: dict, x: np.ndarray, **attributes):
    """One ONNX LSTM node (opset 14) run by ONNX Runtime: the node and Y, Y_h, Y_c."""
    pytest.importorskip("onnx", reason="the onnx extra: pip install '.[onnx]'")
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install '.[onnx]'")
    from onnx import TensorProto, helper, numpy_helper

    n = weights["R"].shape[-1]
    node = helper.make_node("LSTM", ["X", *weights], ["Y", "Y_h", "Y_c"], hidden_size=n,
                            **attributes)  # fmt: skip
    graph = helper.make_graph(
        [node],
        "lstm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ("Y", "Y_h", "Y_c")],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return node, session.run(None, {"X": x})


def _onnx_weights(seed, scale=2.0):
    rng = np.random.default_rng(seed)
    return {
        "W": (scale * rng.normal(size=(1, 4 * N, M))).astype(np.float32),
        "R": (scale * rng.normal(size=(1, 4 * N, N))).astype(np.float32),
        "B": rng.normal(size=(1, 8 * N)).astype(np.float32),
    }


def test_onnx_runtime_with_its_attributes_passes_and_an_undeclared_clip_is_found():
    from symlstm.frameworks.layouts import read_onnx_attributes

    weights = _onnx_weights(21)
    x = np.random.default_rng(22).normal(size=(T, B, M)).astype(np.float32)
    node, (y, h_T, c_T) = _onnx_runtime_lstm(weights, x, clip=2.7)
    outputs = {"y": y, "h_T": h_T, "c_T": c_T}  # y is (T, 1, B, n), as ONNX has it
    attributes = read_onnx_attributes(node)
    assert validate("onnx", weights, {"x": x}, outputs, attributes=attributes).passed
    report = validate("onnx", weights, {"x": x}, outputs)  # the clip not declared
    assert report.verdict == "fail"
    assert report.diagnosis[0].fix == "pre-activations clipped to ±2.7 (ONNX's clip)"


def test_onnx_batch_major_arrays_are_read_with_layout_1():
    # onnxruntime refuses layout = 1 ("Batchwise recurrent operations are not supported"):
    # the generated module's time-major numbers, given batch-major as such a node has them.
    weights = _onnx_weights(23, scale=0.5)
    _, params = to_canonical("onnx", weights)
    x = np.random.default_rng(24).normal(size=(T, B, M)).astype(np.float32)
    y, h_T, c_T, _ = numpy_module().forward(params, x)
    inputs = {"x": x.swapaxes(0, 1)}  # (B, T, m)
    outputs = {"y": y.swapaxes(0, 1)[:, :, None], "h_T": h_T[:, None], "c_T": c_T[:, None]}
    report = validate("onnx", weights, inputs, outputs, attributes={"layout": 1})
    assert report.passed and report.tensors["y"].shape == (T, B, N)
    with pytest.raises(ArrayShapeError, match=r"outputs: y has shape \(3, 10, 1, 6\).*batch-major"):
        validate("onnx", weights, inputs, outputs)
