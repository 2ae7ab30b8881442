"""The generated PyTorch module against the certified reference, in normwise ULPs."""

from __future__ import annotations

import ast
import importlib.resources
import shutil
import subprocess
import sys

import numpy as np
import pytest

from symlstm.cell import Cell, Variant
from symlstm.cli import main
from symlstm.codegen.torch_code import generate_torch, torch_module
from symlstm.errors import ParameterError, SymLSTMError

from lstm_reference import VARIANTS

torch = pytest.importorskip(
    "torch", reason="torch is not installed: the torch extra, pip install '.[torch]'"
)

#: The bound tests/test_codegen.py enforces on the NumPy module and the docs state.
NORMWISE_ULP_BOUND = 64


def _cases():
    rng = np.random.default_rng(2027)
    for name in VARIANTS:
        for dtype in (np.float64, np.float32):
            n, m = int(rng.integers(1, 7)), int(rng.integers(1, 6))
            T, B = int(rng.integers(1, 7)), int(rng.integers(1, 4))
            yield pytest.param(
                name, dtype, n, m, T, B, None, id=f"{name}-{np.dtype(dtype).name}-n{n}m{m}T{T}B{B}"
            )
    for name, dtype, n, m, q, T, B in (  # with projections (proj_size q < n)
        ("textbook", np.float64, 5, 3, 2, 5, 2),
        ("textbook", np.float32, 5, 3, 2, 5, 2),
        ("peephole", np.float32, 4, 2, 3, 4, 2),
        ("coupled", np.float64, 3, 2, 2, 4, 2),
    ):
        yield pytest.param(name, dtype, n, m, T, B, q, id=f"proj-{name}-{np.dtype(dtype).name}")


def _random_inputs(mod, dtype, n, m, T, B, q, seed):
    rng = np.random.default_rng(seed)
    shapes = mod.shapes(n, m) if q is None else mod.shapes(n, m, q)
    params = {k: (rng.normal(size=s) / np.sqrt(n + m)).astype(dtype) for k, s in shapes.items()}
    p = n if q is None else q  # the components of h
    x = rng.normal(size=(T, B, m)).astype(dtype)
    h0, c0 = rng.normal(size=(B, p)).astype(dtype), rng.normal(size=(B, n)).astype(dtype)
    return params, x, h0, c0


@pytest.mark.parametrize(("name", "dtype", "n", "m", "T", "B", "q"), list(_cases()))
def test_forward_and_autograd_within_the_ulp_bound_of_the_certified_reference(
    name, dtype, n, m, T, B, q
):
    from symlstm.certified.run import normwise_ulps, reference

    variant = Variant(**VARIANTS[name])
    mod = torch_module(variant, projection=q is not None)
    params, x, h0, c0 = _random_inputs(mod, dtype, n, m, T, B, q, seed=[n, m, T, B])
    rng = np.random.default_rng([T, B, n, m])
    p = h0.shape[1]
    dy = rng.normal(size=(T, B, p)).astype(dtype)
    dhT, dcT = rng.normal(size=(B, p)).astype(dtype), rng.normal(size=(B, n)).astype(dtype)

    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    inputs = {k: torch.tensor(v, requires_grad=True) for k, v in (("x", x), ("h0", h0), ("c0", c0))}
    y, h_T, c_T = mod.forward(leaves, inputs["x"], inputs["h0"], inputs["c0"])
    assert y.dtype == h_T.dtype == c_T.dtype == torch.from_numpy(x).dtype
    loss = (y * torch.from_numpy(dy)).sum()
    loss = loss + (h_T * torch.from_numpy(dhT)).sum() + (c_T * torch.from_numpy(dcT)).sum()
    loss.backward()
    grads = {k: t.grad.numpy() for k, t in {**leaves, **inputs}.items()}

    cell = Cell("vector", variant, hidden_size=n, input_size=m, proj_size=q)
    ref = reference(cell, params, x, h0, c0, dy=dy, dhT=dhT, dcT=dcT)
    groups = {
        "outputs y": [(ref.y, y.detach().numpy()), (ref.h_T, h_T.detach().numpy())],
        "final c": [(ref.c_T, c_T.detach().numpy())],
        "parameter gradient": [(ref.grads[k], grads[k]) for k in mod.PARAMETERS],
        "input gradients": [(ref.grads[k], grads[k]) for k in ("x", "h0", "c0")],
    }
    report = {k: normwise_ulps(pairs, np.dtype(dtype)) for k, pairs in groups.items()}
    assert max(report.values()) <= NORMWISE_ULP_BOUND, report


# -- what the module is ------------------------------------------------------------------------


def test_every_variant_generates_a_torch_only_module():
    for name, opts in VARIANTS.items():
        for projection in (False, True):
            tree = ast.parse(generate_torch(Variant(**opts), projection=projection))
            imported = {
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            }
            assert imported == {"torch"}, name
            functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
            assert {"forward", "shapes"} <= functions and "backward" not in functions


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the test extra")
def test_generated_modules_are_lint_and_format_clean(tmp_path):
    variants = [Variant(**opts) for opts in VARIANTS.values()]
    variants.append(Variant.parse("peephole,clip=3/2,gate=hard_sigmoid_relu6,output=relu"))
    for k, variant in enumerate(variants):
        for projection in (False, True):
            source = generate_torch(variant, projection=projection)
            (tmp_path / f"lstm_{k}_{projection}.py").write_text(source)
    for command in (["ruff", "check", "--no-cache"], ["ruff", "format", "--check", "--no-cache"]):
        done = subprocess.run(
            [*command, "--isolated", "--line-length", "100", str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_runtime_is_copied_verbatim_and_the_step_printed(name, projection):
    """forward, _prepare and _tensor are torch_runtime's (read, not imported); the step and
    shapes are printed."""
    source = importlib.resources.files("symlstm.codegen").joinpath("torch_runtime.py")
    runtime = _functions(source.read_text())
    functions = _functions(generate_torch(Variant(**VARIANTS[name]), projection=projection))
    assert set(functions) == {"forward", "_prepare", "_tensor", "shapes", "_step"}
    for function in ("forward", "_prepare", "_tensor"):
        assert functions[function] == runtime[function], function
    assert functions["_step"] != runtime["_step"] and functions["shapes"] != runtime["shapes"]


def _hand_step(a, c_prev, p):
    """The textbook step written by hand (PyTorch's gate order i, f, g, o)."""
    i, f, g, o = a.split(c_prev.shape[1], dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_the_runtime_with_a_hand_written_step_is_torch_nn_lstm():
    """torch_runtime's loop and checks, run with a step written by hand, give torch.nn.LSTM's
    outputs and autograd gradients (the generated module's runtime on its own)."""
    source = importlib.resources.files("symlstm.codegen").joinpath("torch_runtime.py")
    runtime: dict = {}
    exec(compile(source.read_text(), "torch_runtime", "exec"), runtime)
    generated = torch_module()
    assert generated.GATES == ("i", "f", "o", "g")
    runtime.update(
        GATES=("i", "f", "g", "o"),
        PARAMETERS=generated.PARAMETERS,
        shapes=generated.shapes,
        _step=_hand_step,
    )
    n, m, T, B = 4, 3, 5, 2
    gen = torch.Generator().manual_seed(3)
    lstm = torch.nn.LSTM(m, n, dtype=torch.float64)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
    blocks = {
        "W": lstm.weight_ih_l0.chunk(4),
        "U": lstm.weight_hh_l0.chunk(4),
        "b": lstm.bias_ih_l0.chunk(4),
    }
    params = {f"{w}_{k}": blocks[w][j] for w in "WUb" for j, k in enumerate("ifgo")}
    x = torch.randn(T, B, m, generator=gen, dtype=torch.float64)
    h0, c0 = (torch.randn(B, n, generator=gen, dtype=torch.float64) for _ in range(2))
    y, h_T, c_T = runtime["forward"](params, x, h0, c0)
    expected, (h_n, c_n) = lstm(x, (h0[None], c0[None]))
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-14)
    torch.testing.assert_close(c_T, c_n[0], rtol=0, atol=1e-14)
    torch.testing.assert_close(h_T, h_n[0], rtol=0, atol=1e-14)
    grads = torch.autograd.grad(y.sum(), (lstm.weight_ih_l0, lstm.weight_hh_l0))
    again = torch.autograd.grad(expected.sum(), (lstm.weight_ih_l0, lstm.weight_hh_l0))
    for got, want in zip(grads, again, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-13)
    with pytest.raises(KeyError, match="missing parameters: W_i"):
        runtime["forward"]({k: v for k, v in params.items() if k != "W_i"}, x)


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {node.name: ast.dump(node) for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_printed_step_is_the_cells_equations():
    source = generate_torch("peephole,coupled")
    # one matmul for all steps' input projections, one per step for the recurrent part
    assert source.count("torch.addmm(") == 2
    assert "a = torch.addmm(A[t], h, UT)" in source and "h, c = _step(a, c, p)" in source
    assert "a_i, a_g, a_o = a.split(c_prev.shape[1], dim=1)" in source  # the printed step
    assert "    c = c_prev * (1 - i) + g * i\n" in source  # f = 1 - i, inline
    assert "    o = torch.sigmoid(a_o + c * p_o)\n" in source
    clipped = generate_torch("clip=3/2,gate=hard_sigmoid")
    assert "f = torch.clamp(torch.clamp(a_f, -1.5, 1.5) / 5 + 0.5, 0, 1)" in clipped
    projected = generate_torch(projection=True)
    assert "m = o * torch.tanh(c)" in projected and "h = torch.matmul(m, WhrT)" in projected
    assert "    return m, c\n" in projected


def test_clip_and_relu_run_against_the_reference():
    from symlstm.certified.run import normwise_ulps, reference

    variant = Variant.parse("peephole,clip=1/2,output=relu")
    mod = torch_module(variant)
    params, x, h0, c0 = _random_inputs(mod, np.float64, 3, 2, 4, 2, None, seed=9)
    params = {k: v * 4 for k, v in params.items()}  # the clip bites
    y, _h_T, c_T = mod.forward({k: torch.from_numpy(v) for k, v in params.items()}, x, h0, c0)
    ref = reference(Cell("vector", variant, hidden_size=3, input_size=2), params, x, h0, c0)
    assert normwise_ulps([(ref.y, y.numpy()), (ref.c_T, c_T.numpy())], np.float64) <= 8


def test_errors_are_clear():
    with pytest.raises(ParameterError, match="projection must be true or false"):
        generate_torch(projection=1)
    mod = torch_module()
    params, x, h0, _c0 = _random_inputs(mod, np.float64, 3, 2, 2, 2, None, seed=1)
    params = {k: torch.from_numpy(v) for k, v in params.items()}
    with pytest.raises(KeyError, match="missing parameters: W_i"):
        mod.forward({k: v for k, v in params.items() if k != "W_i"}, x)
    with pytest.raises(KeyError, match="unknown parameters: p_i"):
        mod.forward({**params, "p_i": torch.zeros(3)}, x)
    with pytest.raises(ValueError, match=r"W_f has shape \(2, 2\), expected \(3, 2\)"):
        mod.forward({**params, "W_f": torch.zeros(2, 2)}, x)
    with pytest.raises(ValueError, match=r"x must be \(T, batch, input\)"):
        mod.forward(params, x[0])
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        mod.forward(params, torch.zeros(2, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"h0 has shape \(3,\), expected \(2, 3\)"):
        mod.forward(params, x, h0[0])
    y, h_T, c_T = mod.forward(params, torch.zeros(0, 2, 2, dtype=torch.float64))
    assert tuple(y.shape) == (0, 2, 3) and not h_T.any() and not c_T.any()


def test_without_torch_the_module_asks_for_the_extra(monkeypatch):
    from symlstm.codegen import torch_code as codegen_torch
    from symlstm.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'symlstm\[torch\]'"):
        codegen_torch._compile.__wrapped__(generate_torch())  # past the cache of compiled ones
    assert "import torch" in generate_torch()  # printing the source needs no torch


def test_the_printer_fails_loudly_on_an_unknown_function():
    import sympy

    from symlstm.codegen.torch_code import TorchStepPrinter

    with pytest.raises(SymLSTMError, match="no PyTorch form for besselj"):
        TorchStepPrinter().doprint(sympy.besselj(0, sympy.Symbol("z")))


# -- stability ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["textbook", "peephole", "hard-gate", "softsign"])
def test_huge_pre_activations_stay_finite_and_saturate(name, dtype):
    mod = torch_module(Variant(**VARIANTS[name]))
    gen = torch.Generator().manual_seed(4)
    shapes = mod.shapes(4, 3)
    params = {k: torch.randn(s, generator=gen, dtype=dtype) for k, s in shapes.items()}
    params = {k: v.sign() if k.startswith("W") else v for k, v in params.items()}
    x = (torch.randn(3, 2, 3, generator=gen, dtype=dtype).sign() * 1000).requires_grad_()
    leaves = {k: v.requires_grad_() for k, v in params.items()}
    y, _h_T, c_T = mod.forward(leaves, x)
    (y.sum() + c_T.sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(c_T).all()
    assert all(torch.isfinite(v.grad).all() for v in leaves.values())
    assert torch.isfinite(x.grad).all()
    assert (y.abs() <= 1).all()


@pytest.mark.parametrize("name", ["textbook", "peephole-coupled"])
def test_nan_in_gives_nan_in_that_batch_row_only(name):
    mod = torch_module(Variant(**VARIANTS[name]))
    params, x, h0, c0 = _random_inputs(mod, np.float64, 3, 2, 3, 3, None, seed=7)
    x[1, 0, 1] = np.nan
    params = {k: torch.from_numpy(v) for k, v in params.items()}
    y, h_T, c_T = mod.forward(params, x, h0, c0)
    assert not y[0].isnan().any()  # before the NaN: untouched
    assert y[1:, 0].isnan().all() and not y[:, 1:].isnan().any()  # only its batch row
    assert h_T[0].isnan().all() and c_T[0].isnan().all()
    assert not h_T[1:].isnan().any() and not c_T[1:].isnan().any()


# -- the command --------------------------------------------------------------------------------


def test_cli_writes_a_module_that_runs(tmp_path):
    target = tmp_path / "lstm_torch_peephole.py"
    assert main(["codegen", "torch", "--variant", "peephole", "-o", str(target)]) == 0
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch, lstm_torch_peephole as m; "
            "p = {k: torch.full(s, 0.1, requires_grad=True) for k, s in m.shapes(2, 3).items()}; "
            "y, h, c = m.forward(p, torch.ones(4, 1, 3)); y.sum().backward(); "
            "print(y.dtype, tuple(y.shape), tuple(p['p_o'].grad.shape))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "torch.float32 (4, 1, 2) (2,)"
    assert target.read_text() == generate_torch("peephole")


@pytest.mark.parametrize(
    "argv", [[], ["--variant", "peephole,clip=3/2,gate=hard_sigmoid"], ["--projection"]]
)
def test_the_header_names_the_command_that_printed_it(capsys, argv):
    assert main(["codegen", "torch", *argv]) == 0
    source = capsys.readouterr().out
    command = next(line.split() for line in source.splitlines() if "symlstm codegen" in line)
    assert main([arg.strip("'") for arg in command[1:]]) == 0
    assert capsys.readouterr().out == source


@pytest.mark.parametrize("kind", ["scalar", "tied"])
def test_cli_torch_is_for_vector_cells_only(capsys, kind):
    assert main(["codegen", "torch", "--kind", kind]) == 2
    assert "--kind vector" in capsys.readouterr().err
