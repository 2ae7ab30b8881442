"""Golden outputs (issue 16): every case of tests/golden_cases.py gives its stored output.

A failure names the case and shows a short diff. After a change that alters an output on
purpose: ``python tests/golden_cases.py --update``, then review ``git diff tests/golden``.
"""

from __future__ import annotations

import golden_cases
import pytest

pytestmark = [pytest.mark.golden, pytest.mark.slow]  # 376 commands, about 30 s

_MANIFEST = golden_cases.load_manifest()
_ENTRIES = {entry["name"]: entry for entry in _MANIFEST["cases"]}


@pytest.fixture(scope="module")
def runner():
    with golden_cases.Runner() as r:
        yield r


@pytest.mark.parametrize("name", list(golden_cases.CASES))
def test_golden_output(name, runner):
    case = golden_cases.CASES[name]
    for needed in case.needs:
        pytest.importorskip(needed)
    problem = golden_cases.compare(case, _ENTRIES.get(name), runner)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_manifest_lists_exactly_the_cases():
    assert sorted(_ENTRIES) == sorted(golden_cases.CASES)
    for name, entry in _ENTRIES.items():
        assert entry["command"] == golden_cases.CASES[name].command, name


def test_validate_inputs_unchanged(runner):
    pytest.importorskip("flint")
    assert golden_cases.inputs_changed(_MANIFEST, runner) is None


@pytest.mark.parametrize("name", list(golden_cases.VARIANTS))
def test_variant_words_are_the_reference_variants(name):
    """The ``--variant`` words of each case mean tests/lstm_reference.py's options."""
    from symlstm.cell import Variant

    options = golden_cases.lstm_reference.VARIANTS[name]
    assert Variant.parse(golden_cases.VARIANTS[name]) == Variant(**options)
