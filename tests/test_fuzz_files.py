"""Fuzzing the file readers: the only outcomes are a result or a SymLSTMError, in bounded time.

Example files (TOML and JSON: random text, random mutations of the built-in
``seed-step.toml``, hostile values put at random keys), claims files (mutations of the
built-in ``seed-claims.toml``) and ``.npz`` archives (random headers and declared sizes,
bytes flipped in a real file), each read as the command line reads it. Every case must
end in well under a second with a result or a :class:`~symlstm.errors.SymLSTMError`
(never another exception, a hang, or a huge allocation: the ``.npz`` cases run under
:mod:`tracemalloc` with a bound on the peak).

Each test runs ``SYMLSTM_FUZZ_EXAMPLES`` cases (default 25, a few seconds); set it higher
for a longer run, e.g. ``SYMLSTM_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz_files.py``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import threading
import time
import tracemalloc
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symlstm.errors import DataFileError, SymLSTMError
from symlstm.examples import load_example, parse_example, read_data_file
from symlstm.validation import load_npz

EXAMPLES = int(os.environ.get("SYMLSTM_FUZZ_EXAMPLES", "25"))
#: Wall-clock bound of one case (the readers refuse hostile input well within it).
SECONDS = 2.0
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=int(SECONDS * 1000),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="SYMLSTM_FUZZ_EXAMPLES" not in os.environ,
    database=None,  # the default run is the same every time; a long run reports its seeds
)

SEED_STEP = (resources.files("symlstm.examples") / "seed-step.toml").read_text(encoding="utf-8")
SEED_CLAIMS = (resources.files("symlstm.examples") / "seed-claims.toml").read_text(encoding="utf-8")

#: Values a hostile file puts where a number, a name or a table is expected (TOML syntax).
HOSTILE_TOML = [
    "1e999999999", "-1e-999999999", "'1e999999999'", "1" + "0" * 5000, "'" + "9" * 100_000 + "'",
    "nan", "inf", "-inf", "'nan'", "'٣'", "'0.٥'", "true", "false", "[]", "[1]", "[[1]]",
    "['tanh']", "{}", "{a = 1}", "1979-05-27", "'abc'", "''", "0", "-0.0", "1e400", "1e-400",
    "0x10", "1_000", "'1/3'", "[" * 70 + "]" * 70, "'../../x'", "'seed-sequence'", "3.5",
    "'c\\no\\ns(h)'", "-1", "1001", "'1e400'", "1e308", "'tied'", "'vector'",
]  # fmt: skip
#: The same for JSON.
HOSTILE_JSON = [
    "1e999999999", "-1e-999999999", '"1e999999999"', "1" + "0" * 5000, "NaN", "Infinity",
    "-Infinity", '"nan"', '"٣"', "true", "false", "null", "[]", "[1]", '["tanh"]', "{}",
    '{"a": 1}', '"abc"', "0", "1e400", "[" * 70 + "]" * 70, '"../../x"', "3.5", "-1",
]  # fmt: skip
#: Fragments that a mutation inserts anywhere in the text.
FRAGMENTS = ["[", "]", "{", "}", '"', "'", "=", "\n", "#", ",", ".", "[[", "]]", '"""', "'''",
             "\\", "e", "_", "٣", "\x00", "\ufeff"]  # fmt: skip


class _Hung(Exception):
    """Raised by the alarm when a case runs past HANG_SECONDS (so a hang fails, not stalls)."""


#: Past this, a case is stopped by an alarm and reported as hung.
HANG_SECONDS = 10.0


def _alarm(signum, frame):
    raise _Hung(f"still running after {HANG_SECONDS} s")


def _outcome(call, *args):
    """Run ``call``; return its result or its SymLSTMError; assert it took under SECONDS."""
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    start = time.perf_counter()
    try:
        result = call(*args)
    except SymLSTMError as err:
        result = err
        assert str(err) and "\n" not in str(err).strip() and len(str(err)) < 2000, repr(err)
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS, f"{elapsed:.2f} s"
    return result


def _load_and_certify(path: Path):
    """What ``symlstm example FILE`` does before printing: load, then certify."""
    example = load_example(path)
    return example.certify()


@st.composite
def _mutated(draw, text: str, hostile: list[str]) -> str:
    """``text`` with a few random edits: a value replaced, a fragment inserted, a cut."""
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 3))
        if choice == 0 and "=" in text:  # a TOML value replaced by a hostile one
            lines = text.split("\n")
            candidates = [k for k, line in enumerate(lines) if "=" in line]
            k = draw(st.sampled_from(candidates))
            key = lines[k].split("=", 1)[0]
            lines[k] = f"{key}= {draw(st.sampled_from(hostile))}"
            text = "\n".join(lines)
        elif choice == 1:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif choice == 2 and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
    return text


# -- example files --------------------------------------------------------------------------------


@FUZZ
@given(text=_mutated(SEED_STEP, HOSTILE_TOML))
def test_mutations_of_seed_step_give_a_result_or_a_clear_error(tmp_path, text):
    path = tmp_path / "mutant.toml"
    path.write_text(text, encoding="utf-8")
    result = _outcome(_load_and_certify, path)
    if isinstance(result, SymLSTMError):
        assert str(path) in str(result) or "mutant.toml" not in str(result)


@FUZZ
@given(text=st.text(max_size=300), suffix=st.sampled_from([".toml", ".json"]))
def test_random_text_gives_data_or_a_clear_error(tmp_path, text, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = _outcome(read_data_file, path)
    assert isinstance(result, dict | SymLSTMError)


def _json_values():
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
        | st.sampled_from(["1e999999999", "٣", "nan", "0.5", "1" + "0" * 2000]),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                   max_size=3),
        max_leaves=8,
    )  # fmt: skip


@FUZZ
@given(data=st.data())
def test_json_examples_with_values_replaced_anywhere(tmp_path, data):
    example = {
        "name": "fuzz",
        "cell": {"kind": "tied", "variant": {"forget_bias": "0"}},
        "parameters": {"w_f": "0.7", "w_i": "0.6", "w_g": "0.5", "w_o": "0.9", "b": "0"},
        "initial": {"h": "0.2", "c": "0.4"},
        "inputs": {"x": ["0.5"]},
        "targets": {"y": ["0.25"]},
        "digits": {"default": 3, "f": 2},
    }
    for _ in range(data.draw(st.integers(1, 3))):
        table = data.draw(st.sampled_from(sorted(k for k, v in example.items() if v)))
        if isinstance(example[table], dict) and example[table]:
            key = data.draw(st.sampled_from(sorted(example[table])))
            example[table][key] = data.draw(_json_values())
        else:
            example[table] = data.draw(_json_values())
    text = json.dumps(example)
    if data.draw(st.booleans()):  # a raw hostile literal in place of one value
        literal = data.draw(st.sampled_from(HOSTILE_JSON))
        text = text.replace('"0.5"', literal, 1)
    path = tmp_path / "fuzz.json"
    path.write_text(text, encoding="utf-8")
    _outcome(_load_and_certify, path)
    _outcome(lambda d: parse_example(d, origin="api"), example)  # the same, through the API


# -- claims files ---------------------------------------------------------------------------------


@FUZZ
@given(text=_mutated(SEED_CLAIMS[:2500], HOSTILE_TOML))
def test_mutations_of_the_claims_file_give_a_result_or_a_clear_error(tmp_path, text):
    from symlstm.claims.audit import load_claims

    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    _outcome(load_claims, path)


# -- .npz archives --------------------------------------------------------------------------------


def _npy_header(shape: tuple, descr: str, fortran: bool = False) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _zip_one(name: str, stream: bytes, crc: int, declared: int, method: int = 8) -> bytes:
    """A zip of one member whose declared uncompressed size is ``declared``, whatever it holds."""
    encoded = name.encode()
    fields = (20, 0, method, 0, 0x21, crc, len(stream), declared, len(encoded), 0)
    local = struct.pack("<I5H3I2H", 0x04034B50, *fields) + encoded + stream
    central = struct.pack("<I6H3I5H2I", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<I4H2IH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


_SHAPES = st.lists(
    st.one_of(st.integers(0, 6), st.integers(0, 2**40), st.sampled_from([2**28, 2**31, 2**62])),
    max_size=4,
).map(tuple)
_DESCRS = st.sampled_from(["<f8", ">f4", "<f2", "<i4", "|u1", "|b1", "<c16", "|O", "|V8", "<U3",
                           "<f16", "<M8[s]"])  # fmt: skip


@FUZZ
@given(
    shape=_SHAPES,
    descr=_DESCRS,
    fortran=st.booleans(),
    held=st.integers(0, 4096),
    declared=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    stored=st.booleans(),
)
def test_npz_headers_and_declared_sizes_are_checked_before_decompressing(
    tmp_path, shape, descr, fortran, held, declared, stored
):
    try:
        head = _npy_header(shape, descr, fortran)
    except (ValueError, TypeError):
        head = _npy_header((1,), "<f8")  # numpy refuses to write this header itself
    raw = head + bytes(held)
    if stored:
        stream, method = raw, 0
    else:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        stream, method = compressor.compress(raw) + compressor.flush(), 8
    size = len(raw) if declared is None else declared
    path = tmp_path / "fuzz.npz"
    path.write_bytes(_zip_one("x.npy", stream, zlib.crc32(raw), size, method))
    tracemalloc.start()
    try:
        result = _outcome(load_npz, path, "weights")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak
    if isinstance(result, SymLSTMError):
        assert isinstance(result, DataFileError) and str(result).startswith("weights: ")
    else:
        assert result["x"].dtype.kind in "fiu" and result["x"].nbytes <= held


@FUZZ
@given(data=st.data())
def test_npz_bytes_flipped_anywhere(tmp_path, data):
    buffer = io.BytesIO()
    arrays = {"W": np.arange(12.0).reshape(3, 4), "b": np.ones(4, dtype=np.float32)}
    if data.draw(st.booleans()):
        np.savez_compressed(buffer, **arrays)
    else:
        np.savez(buffer, **arrays)
    raw = bytearray(buffer.getvalue())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        result = _outcome(load_npz, path, "inputs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak
    assert isinstance(result, dict | DataFileError)
