"""Golden outputs: what symlstm prints and returns today, kept byte for byte (issue 16).

Every case is one row of :data:`CASES`, built from the tables below (no code per case):
a ``symlstm`` command line run in-process through :func:`symlstm.cli.main` with stdout
captured, or a Python call of :func:`symlstm.certified.run.reference` whose result is written
as JSON. Each case's output lives in ``tests/golden/<name>.out``; ``tests/golden/MANIFEST.json``
lists every case with its command, expected exit status and the output's sha256.

Usage (from the repository root, in the venv)::

    python tests/golden_cases.py --check     # compare; print the cases that differ, exit 1
    python tests/golden_cases.py --update    # regenerate every output and the manifest
    python tests/golden_cases.py --list      # the case names and commands
    python tests/golden_cases.py --check -k codegen/torch   # only names containing a text
    python -m pytest tests/test_golden.py    # the same comparison, one test per case

``--update`` rewrites everything in one go (about 20 s of CPU, the same as ``--check``):
run it after a change that alters an output on purpose, and review ``git diff tests/golden``
before committing. Cases run in one process, in table order, each from mpmath's default
precision; a case's output does not depend on the others (a subset gives the same bytes).

What is covered:

- ``example``: ``--list``, and each built-in example (``EXAMPLES``) in every ``--format``,
  with ``--hand`` in every format, ``--standalone`` for LaTeX, ``--compact``,
  ``--no-narration`` and ``--notation`` (the other notation), ``--digits``, JSON ``--dps``;
- web pages and pictures: ``example --format html`` (exact and ``--hand``, and without
  the diagram), ``example --format latex --diagram``, ``diagram`` in SVG and TikZ for each
  example, a later step by hand and variants drawn with symbols only, ``derive``, ``grad``
  and ``audit`` as HTML;
- ``audit``: the spec's built-in claims, text and JSON, with and without ``--no-explain``
  (exit status 1: the spec's f_3 is wrong; that is the result, not an error);
- ``equations`` and ``derive``: each kind × each variant of tests/lstm_reference.py's
  ``VARIANTS`` (its keyword options written as ``--variant`` words by ``VARIANT_WORDS``)
  × each format, plus the other notation and ``derive --standalone``;
- ``grad``: the built-in tied examples in every format, several losses, ``--standalone``,
  ``--no-narration``; the vector example's values;
- ``codegen numpy`` for every variant × kind (``--projection`` with ``--kind vector``, the
  only kind that takes it) and ``codegen torch`` for every variant, with and without
  ``--projection``;
- ``validate``, text and JSON, on fixed ``.npz`` inputs (``VALIDATE_DATA``) that the harness
  builds in a temporary folder from ``numpy.random.default_rng(seed)``: torch, keras and
  canonical layouts; passing numbers, numbers that fail (a forget bias of 1 folded in: the
  diagnosis runs), gradients. The claimed numbers are computed by tests/lstm_reference.py
  (mpmath, independent of symlstm), rounded to the claimed dtype and moved a few ULPs by
  the seeded generator; the gradients by symlstm's generated NumPy module in float64,
  rounded to float32. The arrays' sha256 are in the manifest (``inputs``), so a change of
  the inputs is told apart from a change of the outputs;
- ``reference``: :func:`symlstm.certified.run.reference` on fixed inputs (``REFERENCE_DATA``),
  serialised by :func:`reference_json` (the result has no ``to_dict`` of its own): every
  tensor's shape, certified bits and double-double ``hi``/``lo`` as exact ``float.hex``.

Normalised or left out, because they are not symlstm's behaviour:

- the package version: ``symlstm X.Y.Z`` becomes ``symlstm <version>`` (the generated
  modules' docstrings);
- the temporary folder of the validate inputs: ``<data>`` in commands and outputs;
- stderr is not compared (the reference's progress line and timings go there, and only
  on a terminal); only stdout and the exit status are;
- the reference's progress is off (``progress=False``).

Not normalised, so tied to this platform in principle: the diagnosis's "ULPs after the fix"
(validate ``torch-bias-mistake``, ``torch-f32-tolerance``) come from symlstm's float64 NumPy
forward pass, whose last bits may depend on the BLAS; the validate gradients are rounded to
float32 to keep that out of the inputs.

Cases that need an optional package are skipped without it: ``torch`` (codegen torch) and
python-flint (``flint``: reference and validate; mpmath's interval fallback reaches other
working precisions). Only results are captured (exit status 0, or 1 where the result is a
failed check), never error messages (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import importlib.util
import io
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script: lstm_reference sits beside this file
    sys.path.insert(0, str(HERE))

import lstm_reference  # noqa: E402

GOLDEN = HERE / "golden"
MANIFEST = GOLDEN / "MANIFEST.json"
#: Lines of unified diff shown per differing case.
DIFF_LINES = 30

# -- the tables -------------------------------------------------------------------------------

#: The built-in examples (``symlstm example --list``, itself a case).
EXAMPLES = ("seed-step", "seed-sequence", "vector-demo")
#: The examples of the tied (scalar) kind: their gradients have a worked derivation.
TIED_EXAMPLES = ("seed-step", "seed-sequence")
EXAMPLE_FORMATS = ("text", "markdown", "latex", "json")
#: The notation that is not the example's default.
OTHER_NOTATION = {"seed-step": "canonical", "seed-sequence": "canonical", "vector-demo": "spec"}
KINDS = ("tied", "scalar", "vector")
EQUATION_FORMATS = ("text", "markdown", "latex")
DEFAULT_NOTATION = {"tied": "spec", "scalar": "canonical", "vector": "canonical"}

#: tests/lstm_reference.py's variant options (Cell keywords) as ``--variant`` words
#: (``symlstm equations --help``, ``Variant.parse``); test_golden checks the round trip.
VARIANT_WORDS: dict[str, Any] = {
    "peephole": {True: "peephole"},
    "forget_gate": {"coupled": "coupled", "none": "no-forget", "standard": "standard"},
    "forget_bias": "forget-bias={}",
    "gate_activation": "gate={}",
    "candidate_activation": "candidate={}",
    "output_activation": "output={}",
}


def variant_words(options: Mapping[str, Any]) -> str:
    """A variant's keyword options as the command line's ``--variant`` text."""
    words = []
    for key, value in options.items():
        rule = VARIANT_WORDS[key]
        words.append(rule[value] if isinstance(rule, dict) else rule.format(value))
    return ",".join(words)


#: Variant name → ``--variant`` text ("" for the textbook cell: no option given).
VARIANTS = {name: variant_words(opts) for name, opts in lstm_reference.VARIANTS.items()}

#: grad: (case suffix, extra arguments) for the tied examples, beyond the default loss.
GRAD_LOSSES = {
    "seed-step": [
        ("loss-h_T", ["--loss", "h_T"]),
        ("loss-expr", ["--loss", "h_1**2"]),
        ("loss-mse", ["--loss", "mse", "--targets", "0.25"]),
    ],
    "seed-sequence": [
        ("loss-h_T", ["--loss", "h_T"]),
        ("loss-expr", ["--loss", "h_3**2 + h_1*h_2"]),
        ("loss-mse", ["--loss", "mse", "--targets", "0.1,0.2,0.3"]),
        ("loss-mse-json", ["--loss", "mse", "--targets", "0.1,0.2,0.3", "--format", "json"]),
    ],
}

#: validate inputs, by name: the layout the weights are in, the claimed dtype, sizes
#: (T, batch, hidden, input), the seed, what the claimed numbers are (``claimed``: the
#: reference's variant options the "implementation" used), and whether gradients are given.
VALIDATE_DATA: dict[str, dict[str, Any]] = {
    "torch-f32": dict(layout="torch", dtype="float32", sizes=(4, 2, 3, 2), seed=0, claimed={}),
    "torch-bias-mistake": dict(
        layout="torch", dtype="float32", sizes=(3, 2, 2, 2), seed=1, claimed={"forget_bias": 1}
    ),
    "keras-f64": dict(layout="keras", dtype="float64", sizes=(3, 1, 2, 3), seed=2, claimed={}),
    "canonical-f64": dict(
        layout="canonical", dtype="float64", sizes=(2, 2, 2, 1), seed=4, claimed={}
    ),
    # gradients in the torch layout: validate's canonical layout compares every b_k's
    # gradient with b_i's today (validate.run._packed_gradients copies the first bias part)
    "torch-grads": dict(
        layout="torch", dtype="float32", sizes=(3, 2, 2, 2), seed=3, claimed={}, grads=True
    ),
}
#: validate: (case suffix, data name, extra arguments, expected exit status).
VALIDATE_RUNS = [
    ("torch-f32", "torch-f32", [], 0),
    ("torch-f32-diagnose", "torch-f32", ["--diagnose", "always"], 0),
    ("torch-f32-tolerance", "torch-f32", ["--tolerance", "1"], 1),
    ("torch-bias-mistake", "torch-bias-mistake", [], 1),
    ("keras-f64", "keras-f64", ["--time-major"], 0),  # written time-major
    ("torch-grads", "torch-grads", [], 0),
    ("canonical-f64", "canonical-f64", [], 0),
]

#: reference inputs, by name: the cell (kind "vector" or "tied", variant words, sizes
#: hidden, input, proj), the sequence (T, batch), the dtype, the seed, gradients or not.
REFERENCE_DATA: dict[str, dict[str, Any]] = {
    "vector-textbook": dict(variant="", sizes=(2, 3, None), seq=(3, 2), dtype="float64", seed=0),
    "vector-textbook-grads": dict(
        variant="", sizes=(2, 3, None), seq=(3, 2), dtype="float64", seed=0, grads=True
    ),
    "vector-peephole-f32-grads": dict(
        variant="peephole", sizes=(2, 2, None), seq=(2, 1), dtype="float32", seed=1, grads=True
    ),
    "vector-coupled-hard-gate-grads": dict(
        variant="coupled,gate=hard_sigmoid",
        sizes=(2, 2, None),
        seq=(3, 1),
        dtype="float64",
        seed=2,
        grads=True,
    ),
    "vector-softsign-forget-bias": dict(
        variant="candidate=softsign,output=softsign,forget-bias=1",
        sizes=(3, 2, None),
        seq=(2, 2),
        dtype="float64",
        seed=3,
    ),
    "vector-projection-grads": dict(
        variant="", sizes=(3, 2, 2), seq=(3, 1), dtype="float64", seed=4, grads=True
    ),
    "tied-seed-sequence-grads": dict(tied=True, seq=(3, 1), grads=True),
}


@dataclass(frozen=True)
class Case:
    """One golden output: ``call`` is ``"cli"`` (``args``: the argv after ``symlstm``, with
    ``{data}`` for the validate inputs' folder) or ``"reference"`` (``args``: the name of
    its inputs in REFERENCE_DATA)."""

    name: str
    call: str
    args: tuple[str, ...]
    status: int = 0
    needs: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        if self.call == "cli":
            return "symlstm " + shlex.join(self.args)
        return f"reference_json({self.args[0]!r})  # tests/golden_cases.py REFERENCE_DATA"

    @property
    def path(self) -> Path:
        return GOLDEN / f"{self.name}.out"


def _variant_args(words: str) -> list[str]:
    return ["--variant", words] if words else []


def _cases() -> Iterator[Case]:
    cli = "cli"
    yield Case("example/list", cli, ("example", "--list"))
    for ex in EXAMPLES:
        runs = [(fmt, ["--format", fmt]) for fmt in EXAMPLE_FORMATS]
        runs += [(f"hand-{fmt}", ["--hand", "--format", fmt]) for fmt in EXAMPLE_FORMATS]
        runs += [("latex-standalone", ["--format", "latex", "--standalone"])]
        runs += [(f"compact-{fmt}", ["--compact", "--format", fmt]) for fmt in EQUATION_FORMATS]
        runs += [("hand-compact", ["--hand", "--compact"])]
        runs += [
            (f"no-narration-{fmt}", ["--no-narration", "--format", fmt]) for fmt in EQUATION_FORMATS
        ]
        note = OTHER_NOTATION[ex]
        runs += [
            (f"notation-{note}-{fmt}", ["--notation", note, "--format", fmt])
            for fmt in EQUATION_FORMATS
        ]
        runs += [
            ("digits-6", ["--digits", "6"]),
            ("json-dps-50", ["--format", "json", "--dps", "50"]),
        ]
        for suffix, extra in runs:
            yield Case(f"example/{ex}/{suffix}", cli, ("example", ex, *extra))

    # web pages and pictures (issue 17): what a browser and a TeX engine are given
    for ex in EXAMPLES:
        yield Case(f"example/{ex}/html", cli, ("example", ex, "--format", "html"))
        yield Case(f"example/{ex}/hand-html", cli, ("example", ex, "--hand", "--format", "html"))
        for fmt in ("svg", "tikz"):
            yield Case(f"diagram/{ex}/{fmt}", cli, ("diagram", ex, "--format", fmt))
    yield Case(
        "example/seed-step/html-no-diagram", cli, ("example", "--format", "html", "--no-diagram")
    )
    yield Case(
        "example/seed-step/latex-diagram", cli, ("example", "--format", "latex", "--diagram")
    )
    yield Case(
        "diagram/seed-sequence/step-3-hand",
        cli,
        ("diagram", "seed-sequence", "--step", "3", "--hand"),
    )
    for words in ("peephole,coupled", "no-forget"):
        for fmt in ("svg", "tikz"):
            args = ("diagram", "--variant", words, "--format", fmt)
            yield Case(f"diagram/variant-{words.replace(',', '-')}/{fmt}", cli, args)
    for kind in KINDS:
        yield Case(f"derive/{kind}/html", cli, ("derive", "--kind", kind, "--format", "html"))
    for ex in TIED_EXAMPLES:
        yield Case(f"grad/{ex}/html", cli, ("grad", ex, "--format", "html"))
    yield Case("audit/html", cli, ("audit", "--format", "html"), 1)

    for suffix, extra, status in [
        ("text", [], 1),
        ("json", ["--format", "json"], 1),
        ("no-explain-text", ["--no-explain"], 1),
        ("no-explain-json", ["--no-explain", "--format", "json"], 1),
    ]:
        yield Case(f"audit/{suffix}", cli, ("audit", *extra), status)

    for command in ("equations", "derive"):
        for kind in KINDS:
            for vname, words in VARIANTS.items():
                for fmt in EQUATION_FORMATS:
                    args = (command, "--kind", kind, *_variant_args(words), "--format", fmt)
                    yield Case(f"{command}/{kind}/{vname}/{fmt}", cli, args)
            other = "canonical" if DEFAULT_NOTATION[kind] == "spec" else "spec"
            for fmt in EQUATION_FORMATS:
                args = (command, "--kind", kind, "--notation", other, "--format", fmt)
                yield Case(f"{command}/{kind}/notation-{other}/{fmt}", cli, args)
            if command == "derive":
                args = ("derive", "--kind", kind, "--format", "latex", "--standalone")
                yield Case(f"derive/{kind}/latex-standalone", cli, args)
    args = ("derive", "--kind", "vector", "--variant", "peephole,coupled,clip=3")
    yield Case("derive/vector/peephole-coupled-clip", cli, args)

    for ex in TIED_EXAMPLES:
        runs = [(fmt, ["--format", fmt]) for fmt in EXAMPLE_FORMATS]
        runs += [("latex-standalone", ["--format", "latex", "--standalone"])]
        runs += [("no-narration", ["--no-narration"]), ("digits-6", ["--digits", "6"])]
        runs += [("json-dps-50", ["--format", "json", "--dps", "50"])]
        runs += GRAD_LOSSES[ex]
        for suffix, extra in runs:
            yield Case(f"grad/{ex}/{suffix}", cli, ("grad", ex, *extra))
    for fmt in ("text", "json"):  # vector cells: the values only (markdown, latex alike)
        yield Case(f"grad/vector-demo/{fmt}", cli, ("grad", "vector-demo", "--format", fmt))

    for vname, words in VARIANTS.items():
        for kind in KINDS:
            args = ("codegen", "numpy", "--kind", kind, *_variant_args(words))
            yield Case(f"codegen/numpy/{kind}/{vname}", cli, args)
        args = ("codegen", "numpy", "--kind", "vector", "--projection", *_variant_args(words))
        yield Case(f"codegen/numpy/vector-projection/{vname}", cli, args)
        for projection in ((), ("--projection",)):
            suffix = "torch-projection" if projection else "torch"
            args = ("codegen", "torch", *projection, *_variant_args(words))
            yield Case(f"codegen/{suffix}/{vname}", cli, args, needs=("torch",))

    for suffix, data, extra, status in VALIDATE_RUNS:
        spec = VALIDATE_DATA[data]
        files = ["--weights", f"{{data}}/{data}-weights.npz", "--inputs"]
        files += [f"{{data}}/{data}-inputs.npz", "--outputs", f"{{data}}/{data}-outputs.npz"]
        if spec.get("grads"):
            files += ["--grads", f"{{data}}/{data}-grads.npz"]
        for fmt in ("text", "json"):
            args = ("validate", "--layout", spec["layout"], *files, *extra, "--format", fmt)
            yield Case(f"validate/{suffix}/{fmt}", cli, args, status, needs=("flint",))

    for name in REFERENCE_DATA:
        yield Case(f"reference/{name}", "reference", (name,), needs=("flint",))


CASES: dict[str, Case] = {}
for _case in _cases():
    assert _case.name not in CASES, _case.name
    CASES[_case.name] = _case
del _case


# -- fixed inputs -----------------------------------------------------------------------------


def _canonical_random(rng: np.random.Generator, n: int, m: int, dtype: str, peephole=False):
    """Canonical parameters (W_k, U_k, b_k for k in i f g o; p_k with peepholes)."""
    params = {}
    for k in "ifgo":
        params[f"W_{k}"] = (0.6 * rng.standard_normal((n, m))).astype(dtype)
        params[f"U_{k}"] = (0.6 * rng.standard_normal((n, n))).astype(dtype)
        params[f"b_{k}"] = (0.3 * rng.standard_normal(n)).astype(dtype)
    if peephole:
        for k in "ifo":
            params[f"p_{k}"] = (0.5 * rng.standard_normal(n)).astype(dtype)
    return params


def _in_layout(
    layout: str, canonical: dict[str, np.ndarray], gradients: bool = False
) -> dict[str, np.ndarray]:
    """The canonical parameters in a framework's layout, written out by hand (torch: rows
    i f g o and two biases; keras: columns i f c o, W transposed). ``gradients``: they are
    gradients, and each of torch's two biases has the whole db."""
    if layout == "canonical":
        return dict(canonical)
    order = "ifgo"
    W = np.concatenate([canonical[f"W_{k}"] for k in order])
    U = np.concatenate([canonical[f"U_{k}"] for k in order])
    b = np.concatenate([canonical[f"b_{k}"] for k in order])
    if layout == "torch" and gradients:
        return {"weight_ih_l0": W, "weight_hh_l0": U, "bias_ih_l0": b, "bias_hh_l0": b.copy()}
    if layout == "torch":
        # b_ih + b_hh = b exactly: b_ih a multiple of 2^-4 that b - b_ih represents
        b_ih = (np.round(16 * b) / 16).astype(b.dtype)
        b_hh = (b - b_ih).astype(b.dtype)
        assert np.array_equal(b_ih + b_hh, b)
        return {"weight_ih_l0": W, "weight_hh_l0": U, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
    if layout == "keras":
        return {"kernel": W.T.copy(), "recurrent_kernel": U.T.copy(), "bias": b}
    raise ValueError(layout)


def _exact_outputs(params, x, h0, c0, variant: Mapping[str, Any]):
    """y, h_T, c_T by tests/lstm_reference.py (mpmath), as float64 nearest the exact."""
    nested = {k: v.astype(np.float64).tolist() for k, v in params.items()}
    T, B, _ = x.shape
    y = np.empty((T, B, c0.shape[1]))
    h_T, c_T = np.empty_like(h0, np.float64), np.empty_like(c0, np.float64)
    for b in range(B):
        steps = lstm_reference.vector_trace(
            nested,
            x[:, b, :].astype(np.float64).tolist(),
            h0[b].astype(np.float64).tolist(),
            c0[b].astype(np.float64).tolist(),
            variant=dict(variant),
        )
        for t, step in enumerate(steps):
            y[t, b] = [float(v) for v in step["h"]]
        h_T[b] = [float(v) for v in steps[-1]["h"]]
        c_T[b] = [float(v) for v in steps[-1]["c"]]
    return y, h_T, c_T


def _nudged(values: np.ndarray, dtype: str, rng) -> np.ndarray:
    """Rounded to ``dtype``, then each element moved by -2 … 2 ULPs (seeded)."""
    out = values.astype(dtype)
    steps = rng.integers(-2, 3, size=out.shape)
    flat, moves = out.reshape(-1), steps.reshape(-1)
    for index, move in enumerate(moves):
        for _ in range(abs(int(move))):
            flat[index] = np.nextafter(flat[index], np.inf if move > 0 else -np.inf)
    return out


def validate_arrays(name: str) -> dict[str, dict[str, np.ndarray]]:
    """The .npz contents of one VALIDATE_DATA entry: weights, inputs, outputs (grads)."""
    spec = VALIDATE_DATA[name]
    T, B, n, m = spec["sizes"]
    dtype = spec["dtype"]
    rng = np.random.default_rng(spec["seed"])
    canonical = _canonical_random(rng, n, m, dtype)
    weights = _in_layout(spec["layout"], canonical)
    x = rng.standard_normal((T, B, m)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, n))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((B, n))).astype(dtype)
    y, h_T, c_T = _exact_outputs(canonical, x, h0, c0, spec["claimed"])
    outputs = {
        "y": _nudged(y, dtype, rng),
        "h_T": _nudged(h_T, dtype, rng),
        "c_T": _nudged(c_T, dtype, rng),
    }
    files = {"weights": weights, "inputs": {"x": x, "h0": h0, "c0": c0}, "outputs": outputs}
    if spec.get("grads"):
        from symlstm.codegen.numpy_code import numpy_module

        module = numpy_module()
        wide = {k: v.astype(np.float64) for k, v in canonical.items()}
        args = (x.astype(np.float64), h0.astype(np.float64), c0.astype(np.float64))
        *_, cache = module.forward(wide, *args)
        dy = (0.5 * rng.standard_normal((T, B, n))).astype(dtype)
        grads = module.backward(wide, cache, dy.astype(np.float64))
        grads = {k: np.asarray(v).astype(dtype) for k, v in grads.items()}
        inputs = {k: grads.pop(k) for k in ("x", "h0", "c0")}
        files["grads"] = {"dy": dy, **inputs, **_in_layout(spec["layout"], grads, gradients=True)}
    return files


def _array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def write_validate_inputs(folder: Path) -> dict[str, str]:
    """Write every VALIDATE_DATA entry's .npz files into ``folder``; their digests."""
    digests = {}
    for name in VALIDATE_DATA:
        for role, arrays in validate_arrays(name).items():
            np.savez(folder / f"{name}-{role}.npz", **arrays)
            digests[f"{name}-{role}.npz"] = _array_digest(arrays)
    return digests


def reference_inputs(name: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The cell, parameters and keyword arguments (x, h0, c0, dy, dhT) of one
    REFERENCE_DATA entry."""
    from symlstm.cell import Cell, Variant
    from symlstm.certified.run import vector_form

    spec = REFERENCE_DATA[name]
    T, B = spec["seq"]
    if spec.get("tied"):
        # the spec's sequence (section 6): inputs 0.2, 0.4, 0.6 from h0 = c0 = 0
        cell, params = vector_form(Cell("tied"), lstm_reference.SEED_SEQUENCE)
        kwargs: dict[str, Any] = {"x": np.array([0.2, 0.4, 0.6])[:, None, None]}
        if spec.get("grads"):
            kwargs["dy"] = np.ones((T, B, 1))
        return cell, params, kwargs
    n, m, p = spec["sizes"]
    dtype = spec["dtype"]
    rng = np.random.default_rng(spec["seed"])
    variant = Variant.parse(spec["variant"])
    cell = Cell("vector", variant, hidden_size=n, input_size=m, proj_size=p)
    params = {
        key: (0.6 * rng.standard_normal(cell.shape(key))).astype(dtype) for key in cell.parameters
    }
    out = p or n
    kwargs = {
        "x": rng.standard_normal((T, B, m)).astype(dtype),
        "h0": (0.5 * rng.standard_normal((B, out))).astype(dtype),
        "c0": (0.5 * rng.standard_normal((B, n))).astype(dtype),
    }
    if spec.get("grads"):
        kwargs["dy"] = rng.standard_normal((T, B, out)).astype(dtype)
        kwargs["dhT"] = rng.standard_normal((B, out)).astype(dtype)
    return cell, params, kwargs


def _tensor_dict(t: Any) -> dict[str, Any]:
    return {
        "shape": list(t.shape),
        "certified_bits": t.certified_bits,
        "hi": [float(v).hex() for v in t.hi.reshape(-1)],
        "lo": [float(v).hex() for v in t.lo.reshape(-1)],
    }


def reference_json(name: str) -> str:
    """:func:`symlstm.certified.run.reference` on REFERENCE_DATA[name], as JSON."""
    from symlstm.certified.run import reference

    cell, params, kwargs = reference_inputs(name)
    r = reference(cell, params, progress=False, **kwargs)
    result = {
        "cell": {"kind": cell.kind, "variant": cell.variant.label()},
        "bits": r.bits,
        "certified_bits": r.certified_bits,
        "y": _tensor_dict(r.y),
        "h_T": _tensor_dict(r.h_T),
        "c_T": _tensor_dict(r.c_T),
        "grads": None if r.grads is None else {k: _tensor_dict(v) for k, v in r.grads.items()},
    }
    return json.dumps(result, indent=1, sort_keys=True) + "\n"


# -- running ----------------------------------------------------------------------------------


def available(needs: tuple[str, ...]) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in needs)


def _version() -> str:
    from importlib.metadata import version

    return version("symlstm")


class Runner:
    """Runs cases in this process. The validate inputs are written once, on first use,
    into a temporary folder that :meth:`close` removes."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory | None = None
        self.input_digests: dict[str, str] = {}
        self._version = f"symlstm {_version()}"

    def data_folder(self) -> str:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="symlstm-golden-")
            self.input_digests = write_validate_inputs(Path(self._folder.name))
        return self._folder.name

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, case: Case) -> tuple[int, str, str]:
        """The case's exit status, normalised stdout and stderr."""
        import mpmath

        mpmath.mp.dps, mpmath.iv.prec = 15, 53  # every case from mpmath's defaults
        folder = None
        if case.call == "cli":
            from symlstm.cli import main

            argv = list(case.args)
            if any("{data}" in a for a in argv):
                folder = self.data_folder()
                argv = [a.replace("{data}", folder) for a in argv]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(argv)
            text, errors = out.getvalue(), err.getvalue()
        elif case.call == "reference":
            status, text, errors = 0, reference_json(case.args[0]), ""
        else:
            raise ValueError(f"unknown call {case.call!r}")
        text = text.replace(self._version, "symlstm <version>")
        if folder is not None:
            text = text.replace(folder, "<data>")
            errors = errors.replace(folder, "<data>")
        return status, text, errors


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        return {"inputs": {}, "cases": []}
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def compare(case: Case, entry: Mapping[str, Any] | None, runner: Runner) -> str | None:
    """None when the case gives its golden output; otherwise what differs (a short
    unified diff of the first lines)."""
    if entry is None:
        return f"{case.name}: no golden output (a new case?): run --update"
    status, text, errors = runner.run(case)
    problems = []
    if status != entry["status"]:
        problems.append(f"exit status {status}, golden {entry['status']}")
        if errors:
            problems.append("stderr: " + errors.strip()[-500:])
    golden = case.path.read_text(encoding="utf-8") if case.path.exists() else None
    if golden is None:
        problems.append(f"golden/{case.name}.out is missing")
        golden = ""
    elif sha256(golden) != entry["sha256"]:
        problems.append(f"golden/{case.name}.out does not match the manifest's sha256")
    if text != golden or sha256(text) != entry["sha256"]:
        diff = difflib.unified_diff(
            golden.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"golden/{case.name}.out",
            "now",
            n=1,
        )
        lines = list(diff)
        shown = "".join(lines[:DIFF_LINES])
        if not shown.endswith("\n"):
            shown += "\n"
        if len(lines) > DIFF_LINES:
            shown += f"... ({len(lines) - DIFF_LINES} more diff lines)\n"
        problems.append("output differs:\n" + shown)
    if not problems:
        return None
    return f"{case.name} ({case.command}): " + "; ".join(problems)


def selected(pattern: str | None) -> list[Case]:
    return [c for c in CASES.values() if pattern is None or pattern in c.name]


def update(pattern: str | None = None) -> int:
    """Regenerate the outputs (all, or the names containing ``pattern``) and the manifest."""
    manifest = load_manifest()
    entries = {e["name"]: e for e in manifest["cases"]}
    cases = selected(pattern)
    with Runner() as runner:
        runner.data_folder()  # the input digests, even when no validate case is selected
        for case in cases:
            if not available(case.needs):
                print(f"skipped {case.name}: needs {', '.join(case.needs)} (entry kept)")
                continue
            status, text, errors = runner.run(case)
            if status != case.status:
                raise SystemExit(
                    f"{case.name}: exit status {status}, expected {case.status}: "
                    f"{errors.strip()[-500:]}"
                )
            case.path.parent.mkdir(parents=True, exist_ok=True)
            case.path.write_text(text, encoding="utf-8", newline="")
            entries[case.name] = {
                "name": case.name,
                "command": case.command,
                "status": status,
                "sha256": sha256(text),
                "bytes": len(text.encode("utf-8")),
            }
        digests = runner.input_digests
    if pattern is None:  # a full update drops what is no longer a case
        entries = {name: e for name, e in entries.items() if name in CASES}
        for path in GOLDEN.rglob("*.out"):
            if path.relative_to(GOLDEN).with_suffix("").as_posix() not in CASES:
                path.unlink()
        for folder in sorted(GOLDEN.rglob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    manifest = {
        "generator": "tests/golden_cases.py",
        "usage": "python tests/golden_cases.py --check (compare, exit 1 on a difference) | "
        "--update (regenerate every output and this manifest); see its docstring",
        "normalised": "'symlstm <version>' for the package version; '<data>' for the "
        "validate inputs' temporary folder; stderr not compared",
        "inputs": digests,
        "cases": [entries[name] for name in CASES if name in entries]
        + [e for name, e in entries.items() if name not in CASES],
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases and {MANIFEST.relative_to(HERE.parent)}")
    return 0


def check(pattern: str | None = None) -> int:
    """Compare every case (or the names containing ``pattern``); 1 if any differs."""
    manifest = load_manifest()
    entries = {e["name"]: e for e in manifest["cases"]}
    failures, skipped = [], []
    with Runner() as runner:
        cases = selected(pattern)
        for case in cases:
            if not available(case.needs):
                skipped.append(case.name)
                continue
            problem = compare(case, entries.get(case.name), runner)
            if problem:
                failures.append(problem)
        if any("{data}" in a for c in cases for a in c.args):
            changed = inputs_changed(manifest, runner)
            if changed:
                failures.append(changed)
    if pattern is None:
        stale = sorted(set(entries) - set(CASES))
        if stale:
            failures.append(f"in the manifest but no longer a case: {', '.join(stale)}")
    for failure in failures:
        print(failure, end="\n\n" if not failure.endswith("\n") else "\n")
    note = f", {len(skipped)} skipped (missing packages)" if skipped else ""
    print(f"{len(cases) - len(skipped)} cases checked{note}: {len(failures)} differ")
    return 1 if failures else 0


def inputs_changed(manifest: Mapping[str, Any], runner: Runner) -> str | None:
    """A message when the validate inputs built now differ from the manifest's digests."""
    runner.data_folder()
    if runner.input_digests == manifest.get("inputs"):
        return None
    changed = sorted(
        k
        for k in set(runner.input_digests) | set(manifest.get("inputs", {}))
        if runner.input_digests.get(k) != manifest.get("inputs", {}).get(k)
    )
    return (
        "the validate inputs built by the harness changed (the validate cases' differences, "
        f"if any, may come from them): {', '.join(changed)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare with the golden outputs")
    mode.add_argument("--update", action="store_true", help="regenerate the golden outputs")
    mode.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("-k", dest="pattern", help="only the cases whose name contains this")
    args = parser.parse_args(argv)
    if args.list:
        for case in selected(args.pattern):
            print(f"{case.name}\t{case.command}")
        return 0
    start = time.perf_counter()
    status = update(args.pattern) if args.update else check(args.pattern)
    print(f"({time.perf_counter() - start:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
