"""symlstm.render.plots: a real validation's error along the sequence, drawn as SVG.

torch.nn.LSTM in float32 (the torch extra) is the implementation; a degraded copy of its
outputs, y[t] multiplied by 1 + 4^t·10^-6, is one whose error grows with t.
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from symlstm.cell import Cell
from symlstm.certified.run import reference
from symlstm.cli import main
from symlstm.frameworks.layouts import to_canonical
from symlstm.render.plots import FLOOR, error_panels, error_plot
from symlstm.validation import validate

torch = pytest.importorskip("torch", reason="the torch extra: pip install '.[torch]'")

T, B, N, M = 8, 2, 5, 3
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def run():
    """A float32 torch run with gradients, and the certified reference computed here."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(M, N)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    h0 = rng.normal(size=(1, B, N)).astype(np.float32)
    c0 = rng.normal(size=(1, B, N)).astype(np.float32)
    dy = rng.normal(size=(T, B, N)).astype(np.float32)
    xt, h0t, c0t = (torch.from_numpy(a).requires_grad_(True) for a in (x, h0, c0))
    y, (h_T, c_T) = lstm(xt, (h0t, c0t))
    (y * torch.from_numpy(dy)).sum().backward()
    weights = {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    outputs = {"y": y.detach().numpy(), "h_T": h_T.detach().numpy(), "c_T": c_T.detach().numpy()}
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()} | {
        "dy": dy,
        "x": xt.grad.numpy(),
    }
    _, params = to_canonical("torch", weights, biases="exact")
    exact = reference(
        Cell("vector", hidden_size=N, input_size=M), params, x, h0[0], c0[0], dy=dy, bits=64
    )
    inputs = {"x": x, "h0": h0, "c0": c0}
    return weights, inputs, outputs, grads, exact


def _degraded(outputs):
    y = outputs["y"].copy()
    for t in range(T):
        y[t] *= np.float32(1 + 4.0**t * 1e-6)
    return outputs | {"y": y}


def _panel(svg: str, title: str):
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    (panel,) = (g for g in root.iter(SVG + "g") if g.get("data-title") == title)
    return panel


def _ypos(panel, value: float) -> float:
    lo, hi = (int(d) for d in panel.get("data-decades").split())
    top, bottom = float(panel.get("data-top")), float(panel.get("data-bottom"))
    return top + (hi - math.log10(max(value, FLOOR))) / (hi - lo) * (bottom - top)


def _series(panel, name: str) -> tuple[list[float], list[tuple[float, float]]]:
    (line,) = (p for p in panel.iter(SVG + "polyline") if p.get("data-tensor") == name)
    points = [tuple(float(v) for v in p.split(",")) for p in line.get("points").split()]
    circles = [c for c in panel.iter(SVG + "circle") if c.get("class") == "point"]
    circles = [c for c in circles if c.get("data-tensor") == name]
    assert [int(c.get("data-step")) for c in circles] == list(range(1, T + 1))
    assert [(float(c.get("cx")), float(c.get("cy"))) for c in circles] == points
    return [float(c.get("data-ulp")) for c in circles], points


@pytest.mark.parametrize("degrade", [False, True], ids=["torch", "degraded"])
def test_the_plot_of_a_real_validation(run, degrade):
    weights, inputs, outputs, grads, exact = run
    claimed = _degraded(outputs) if degrade else outputs
    report = validate("torch", weights, inputs, claimed, grads, diagnosis=False)
    assert report.passed is not degrade
    # The per-step maxima, independently: ReferenceTensor.ulps, the largest over (B, N).
    expected_y = exact.y.ulps(claimed["y"]).max(axis=(1, 2))
    expected_x = exact.grads["x"].ulps(grads["x"]).max(axis=(1, 2))
    assert report.tensors["y"].step_ulps == tuple(expected_y)
    assert report.tensors["grad x"].step_ulps == tuple(expected_x)
    assert max(report.tensors["y"].step_ulps) == report.tensors["y"].max_ulp
    for name in ("h_T", "c_T", "grad weight_ih_l0"):
        assert report.tensors[name].step_ulps is None
    # Not in the JSON nor the text.
    assert "step" not in report.json() and "step" not in report.text()

    svg = error_plot(report)
    assert [p.title for p in error_panels(report)] == ["outputs", "gradients"]
    for title, name, expected in (
        ("outputs", "y", expected_y),
        ("gradients", "grad x", expected_x),
    ):
        panel = _panel(svg, title)
        values, points = _series(panel, name)
        assert values == pytest.approx(expected, rel=1e-15)
        assert [y for _, y in points] == pytest.approx(
            [_ypos(panel, v) for v in expected], abs=0.01
        )
        (tolerance,) = (e for e in panel.iter(SVG + "line") if e.get("class") == "tolerance")
        tol = report.tensors[name].tolerance
        assert float(tolerance.get("data-ulp")) == tol
        assert float(tolerance.get("y1")) == float(tolerance.get("y2"))
        assert float(tolerance.get("y1")) == pytest.approx(_ypos(panel, tol), abs=0.01)
        (worst,) = (c for c in panel.iter(SVG + "circle") if c.get("class") == "worst")
        assert worst.get("data-tensor") == name
        assert int(worst.get("data-step")) == int(np.argmax(expected)) + 1
        k = int(np.argmax(expected))
        assert (float(worst.get("cx")), float(worst.get("cy"))) == points[k]
    outputs_panel = _panel(svg, "outputs")
    finals = [r for r in outputs_panel.iter(SVG + "rect") if r.get("class") == "point"]
    assert {(r.get("data-tensor"), r.get("data-step")) for r in finals} == {
        ("h_T", str(T)),
        ("c_T", str(T)),
    }
    y_heights = [y for _, y in _series(outputs_panel, "y")[1]]
    if degrade:
        # The error grows with t: every step is drawn higher (smaller y) than the one before.
        assert all(b < a for a, b in itertools.pairwise(y_heights))
        assert np.all(np.diff(expected_y) > 0) and expected_y[-1] > 1e5
        assert (
            int(_panel(svg, "outputs").find(f"{SVG}circle[@class='worst']").get("data-step")) == T
        )
    else:
        assert max(expected_y) < 100
    html = report.html()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1 and 'class="ulp-plot"' in html


def test_the_log_axis_floors_zero_and_puts_infinity_at_the_top(run):
    weights, inputs, outputs, _, _ = run
    claimed = {"y": outputs["y"].copy()}
    claimed["y"][3, 0, 0] = np.nan
    report = validate("torch", weights, inputs, claimed, diagnosis=False)
    assert report.tensors["y"].step_ulps[3] == np.inf
    panel = _panel(error_plot(report), "outputs")
    values, points = _series(panel, "y")
    assert values[3] == np.inf and points[3][1] == float(panel.get("data-top"))
    assert panel.find(f"{SVG}circle[@class='worst']").get("data-step") == "4"


def _files(tmp_path, run, degrade=False):
    weights, inputs, outputs, _, _ = run
    claimed = _degraded(outputs) if degrade else outputs
    for name, arrays in (("W", weights), ("X", inputs), ("Y", claimed)):
        np.savez(tmp_path / f"{name}.npz", **arrays)
    return ["validate", "--layout", "torch", "--weights", str(tmp_path / "W.npz"),
            "--inputs", str(tmp_path / "X.npz"), "--outputs", str(tmp_path / "Y.npz"),
            "--format", "json"]  # fmt: skip


def test_validate_plot_writes_the_svg_and_keeps_the_output(capsys, tmp_path, run):
    argv = _files(tmp_path, run, degrade=True)
    assert main(argv) == 1
    plain = capsys.readouterr().out
    target = tmp_path / "ulps.svg"
    assert main([*argv, "--plot", str(target)]) == 1
    assert capsys.readouterr().out == plain  # the JSON is the same, byte for byte
    root = ET.parse(target).getroot()
    assert root.tag == SVG + "svg" and root.get("class") == "ulp-plot"
    assert len([c for c in root.iter(SVG + "circle") if c.get("class") == "point"]) == T


def test_validate_plot_to_an_unwritable_path_exits_2_with_one_line(capsys, tmp_path, run):
    argv = _files(tmp_path, run)
    target = tmp_path / "no such folder" / "ulps.svg"
    assert main([*argv, "--plot", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"symlstm validate: cannot write {target}: No such file or directory\n")
    assert not target.exists()


# -- a whole network: a panel per output tensor along t, per direction ---------------------------


@pytest.fixture(scope="module")
def network():
    """A float32 2-layer bidirectional torch network with an initial state and gradients."""
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(M, N, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(T, B, M)).astype(np.float32)
    h0, c0 = (rng.normal(size=(4, B, N)).astype(np.float32) for _ in range(2))
    dy = rng.normal(size=(T, B, 2 * N)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    y, (h_T, c_T) = lstm(xt, (torch.from_numpy(h0), torch.from_numpy(c0)))
    (y * torch.from_numpy(dy)).sum().backward()
    weights = {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    outputs = {"y": y.detach().numpy(), "h_T": h_T.detach().numpy(), "c_T": c_T.detach().numpy()}
    grads = {k: p.grad.numpy() for k, p in lstm.named_parameters()}
    grads |= {"dy": dy, "x": xt.grad.numpy()}
    return weights, {"x": x, "h0": h0, "c0": c0}, outputs, grads


def test_a_network_has_a_panel_per_direction_of_its_output_and_one_for_dx(network):
    weights, inputs, outputs, grads = network
    y = outputs["y"].copy()
    y[1, :, N:] *= np.float32(1 + 1e-3)  # the reverse direction, step 2: ~10^4 ULPs off
    report = validate("torch", weights, inputs, outputs | {"y": y}, grads, diagnosis=False)
    assert [t for t, v in report.tensors.items() if v.verdict == "fail"] == ["y (reverse)"]
    panels = error_panels(report)
    assert [p.title for p in panels] == ["outputs (forward)", "outputs (reverse)", "gradients"]
    assert [[s.name for s in p.series] for p in panels] == [
        ["y (forward)", "h_T (layer 1, forward)", "c_T (layer 1, forward)"],
        ["y (reverse)", "h_T (layer 1, reverse)", "c_T (layer 1, reverse)"],
        ["grad x"],
    ]
    svg = error_plot(report)
    root = ET.fromstring(svg)
    assert int(root.get("height")) == 3 * 230
    for title, name in (
        ("outputs (forward)", "y (forward)"),
        ("outputs (reverse)", "y (reverse)"),
        ("gradients", "grad x"),
    ):
        panel = _panel(svg, title)
        tensor = report.tensors[name]
        values, points = _series(panel, name)
        assert values == list(tensor.step_ulps) and max(values) == tensor.max_ulp
        assert [y for _, y in points] == pytest.approx([_ypos(panel, v) for v in values], abs=0.01)
        (tolerance,) = (e for e in panel.iter(SVG + "line") if e.get("class") == "tolerance")
        assert float(tolerance.get("data-ulp")) == tensor.tolerance
        (worst,) = (c for c in panel.iter(SVG + "circle") if c.get("class") == "worst")
        assert int(worst.get("data-step")) == int(np.argmax(values)) + 1
    # torch's own numbers: a few ULPs; the tampered step stands out, ringed at t = 2.
    forward = report.tensors["y (forward)"].step_ulps
    reverse = report.tensors["y (reverse)"].step_ulps
    assert max(forward) < 100 and reverse[1] > 1000 and max(reverse[:1] + reverse[2:]) < 100
    # Layer 0's tolerance (8 + 2·√9)·√8 → 40 and layer 1's (8 + 2·√16)·√8 → 46, added
    # like a random walk: ⌈√(40² + 46²)⌉ = 61.
    assert report.tensors["y (reverse)"].tolerance == 61
    # Each direction's final states as squares: the forward's at t = T, the reverse's at
    # t = 1, where it ends; the legend names the kinds, the panel's title the unit.
    for title, direction, step in (("outputs (forward)", "forward", T), ("outputs (reverse)",
                                   "reverse", 1)):  # fmt: skip
        panel = _panel(svg, title)
        finals = [r for r in panel.iter(SVG + "rect") if r.get("class") == "point"]
        assert {(r.get("data-tensor"), int(r.get("data-step"))) for r in finals} == {
            (f"h_T (layer 1, {direction})", step),
            (f"c_T (layer 1, {direction})", step),
        }
        legend = [t.text for t in panel.iter(SVG + "text") if t.text in ("y", "h_T", "c_T")]
        assert legend == ["y", "h_T", "c_T"]


def test_validate_plot_of_a_network_from_the_command_line(capsys, tmp_path, network):
    weights, inputs, outputs, _ = network
    for name, arrays in (("W", weights), ("X", inputs), ("Y", outputs)):
        np.savez(tmp_path / f"{name}.npz", **arrays)
    target = tmp_path / "ulps.svg"
    argv = ["validate", "--layout", "torch", "--weights", str(tmp_path / "W.npz"),
            "--inputs", str(tmp_path / "X.npz"), "--outputs", str(tmp_path / "Y.npz"),
            "--plot", str(target)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr()
    root = ET.parse(target).getroot()
    titles = [g.get("data-title") for g in root.iter(SVG + "g") if g.get("class") == "panel"]
    assert titles == ["outputs (forward)", "outputs (reverse)"]
    points = [c for c in root.iter(SVG + "circle") if c.get("class") == "point"]
    assert len(points) == 2 * T
