"""Shared test set-up: every test starts and ends with mpmath's default global precision."""

from __future__ import annotations

import mpmath
import pytest


@pytest.fixture(autouse=True)
def _reset_mpmath_state():
    """Put mpmath's global precision back to its defaults after each test."""
    yield
    mpmath.mp.dps = 15
    mpmath.iv.prec = 53


#: Long tests (a second or more each on the development machine, measured with
#: ``--durations``), marked ``slow`` here by name so that ``python -m pytest -m "not slow"``
#: is a fast loop; the default ``python -m pytest`` runs them all. The symbolic proofs,
#: the documentation builds, the golden outputs and the benchmark scripts are marked in
#: their own files.
SLOW_TESTS = frozenset(
    {
        # subprocesses of the command on a closed pipe or a full disk, audits end to end
        "tests/test_cli.py::test_a_closed_pipe_ends_the_output_quietly",
        "tests/test_cli.py::test_a_full_disk_exits_2_with_one_line",
        "tests/test_cli.py::test_audit_exit_statuses",
        "tests/test_cli.py::test_a_closed_pipe_in_process_returns_the_status",
        "tests/test_cli.py::test_a_closed_pipe_keeps_the_exit_status_of_audit",
        "tests/test_cli.py::test_a_closed_pipe_ends_validate_quietly",
        # searches for explanations of wrong claims
        "tests/test_explain.py::test_the_command_prints_and_writes_the_explanations",
        "tests/test_explain.py::test_the_spec_f3_is_explained_by_w_f_065_first",
        "tests/test_explain.py::test_initial_state_carried_over_from_an_earlier_example",
        "tests/test_explain.py::test_slips_in_the_claim",
        # generated modules against the certified reference, central differences
        "tests/test_codegen.py::test_forward_and_backward_within_the_ulp_bound_of_the_certified_reference",
        "tests/test_codegen_torch.py::test_cli_writes_a_module_that_runs",
        "tests/test_calculus.py::test_loss_make_checks_its_arguments",
        "tests/test_calculus.py::test_vector_cells_match_central_differences",
        "tests/test_calculus.py::test_projected_vector_cells_match_central_differences",
        "tests/test_calculus.py::test_long_scalar_sequences_match_central_differences",
        # every line of every generated example checked; LaTeX compiled with pdflatex
        "tests/test_render_check.py::test_generated_examples_have_no_false_line",
        "tests/test_render_check.py::test_grad_worked_gradients_have_no_false_line",
        "tests/test_render_check.py::test_builtin_examples_have_no_false_line",
        "tests/test_render_worked.py::test_standalone_latex_has_no_overfull_box",
        "tests/test_render_worked.py::test_standalone_latex_compiles_and_is_not_blank",
        "tests/test_render_gradients.py::test_derivations_compile",
        "tests/test_render_gradients.py::test_worked_gradient_latex_compiles",
        "tests/test_render_document.py::test_endless_loop_times_out",
        # diagnosis searches, ONNX Runtime, hostile and huge inputs refused in seconds
        "tests/test_validate.py::test_no_single_mistake_reports_the_nearest",
        "tests/test_validate.py::test_onnx_runtime_with_its_attributes_passes_and_an_undeclared_clip_is_found",
        "tests/test_draft.py::test_hostile_documents_are_read_in_seconds",
        "tests/test_budget.py::test_a_file_of_a_million_steps_is_refused_with_its_estimate",
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
