"""The sequence plot of a worked example (issue 17 item 4): the values its table shows,
along t, one series a quantity."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from symlstm.errors import ArgumentError
from symlstm.examples import load_example
from symlstm.render.html import worked_html
from symlstm.render.plots import SEQUENCE_QUANTITIES, sequence_plot, sequence_series
from symlstm.render.worked import worked_example

from lstm_reference import SEED_SEQUENCE, rounded, scalar_trace


def test_the_plot_shows_the_tables_values_at_every_step():
    worked = worked_example(load_example("seed-sequence"))
    ref = scalar_trace(SEED_SEQUENCE, ["0.2", "0.4", "0.6"])  # independent, mpmath
    series = sequence_series(worked)
    assert list(series) == list(SEQUENCE_QUANTITIES)
    for q, values in series.items():
        assert values == tuple(float(rounded(step[q], 2)) for step in ref), q
    svg = ET.fromstring(sequence_plot(worked))
    points = [e for e in svg.iter() if e.get("class") == "point"]
    assert len(points) == 3 * len(SEQUENCE_QUANTITIES)
    for e in points:
        q, step = e.get("data-quantity"), int(e.get("data-step"))
        assert float(e.get("data-value")) == series[q][step - 1]
    # Higher values are drawn higher (SVG's y grows downwards): C_1 < C_2 < C_3.
    c = sorted((int(e.get("data-step")), float(e.get("cy"))) for e in points
               if e.get("data-quantity") == "c")  # fmt: skip
    assert c[0][1] > c[1][1] > c[2][1]


def test_the_html_page_of_a_sequence_includes_it():
    page = worked_html(worked_example(load_example("seed-sequence")))
    assert 'class="sequence-plot"' in page
    single = worked_html(worked_example(load_example("seed-step")))
    assert 'class="sequence-plot"' not in single  # one step: nothing to draw along t


def test_vector_cells_and_other_objects_are_refused():
    with pytest.raises(ArgumentError, match="scalar cell"):
        sequence_plot(worked_example(load_example("vector-demo")))
    with pytest.raises(ArgumentError, match="WorkedExample"):
        sequence_plot("not a worked example")
